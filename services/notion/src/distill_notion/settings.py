"""Export stage settings (DISTILL_EXPORT_*, DISTILL_NOTION_*)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from distill_core.settings import Settings
from pydantic import Field, SecretStr


class ExportSettings(Settings):
    export_destination: Literal["markdown", "notion"] = Field("markdown", description="Default destination.")
    export_dir: Path = Field(Path("./exports"), description="Folder of the Markdown destination.")
    notion_token: SecretStr | None = None
    notion_base_url: str = "https://api.notion.com"
    notion_database_id: str = ""
    notion_version: str = "2022-06-28"
