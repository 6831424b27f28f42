"""Sample texts for the AI tests: the demo pages as the parser extracts them, and a recipe caption."""

from __future__ import annotations

from pathlib import Path

SAMPLES = Path(__file__).resolve().parents[3] / "samples" / "pages"


def parsed(name: str) -> tuple[str, str, str | None]:
    """(text, title, language) of a sample page, through the real parser."""
    from distill_parser import extract

    p = SAMPLES / name
    ct = "text/html" if p.suffix == ".html" else "text/plain"
    ex = extract.extract(p.read_bytes(), ct, f"http://samples.test/{name}")
    return ex.text, ex.title or "", ex.language


CAPTION = """Creamy garlic pasta 🍝 ready in 20 minutes!

Ingredients:
200g spaghetti
3 cloves garlic, minced
1 cup heavy cream
50g parmesan
fresh basil
Salt & pepper

Method:
1. Cook the pasta in salted water.
2. Fry garlic in butter for 1 minute.
3. Add cream and parmesan, simmer 5 minutes.
4. Toss with pasta and serve.

Serves 2 #pasta #italianfood #dinner"""
