"""PostgreSQL: models, engine, migrations."""
