"""Export stage settings (DISTILL_EXPORT_*, DISTILL_NOTION_*).

The runner knobs of the stage (DISTILL_NOTION_CONCURRENCY, _TIMEOUT, _MAX_ATTEMPTS,
_BACKOFF, _ACK_WAIT, _BATCH_SIZE) come from the shared base; the names below must not
collide with them.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import NoDecode

from distill_notion.notion_properties import DEFAULT_NAMES, FIELDS
from distill_notion.report_settings import ReportSettings

NOTION_VERSIONS = ("2025-09-03", "2022-06-28")


class ExportSettings(ReportSettings):  # the report worker runs in this service too
    export_destination: Literal["markdown", "notion"] = Field("markdown", description="Default destination.")
    export_dir: Path = Field(Path("./exports"), description="Folder of the Markdown destination.")

    notion_token: SecretStr | None = Field(None, description="The Notion integration token (a secret).")
    notion_base_url: str = Field("https://api.notion.com", description="The API's /v1/... paths are appended.")
    notion_database_id: str = Field("", description="Default database (or data source) id or URL.")
    notion_version: Literal["2025-09-03", "2022-06-28"] = Field(
        "2025-09-03",
        description="Pinned Notion-Version: 2025-09-03 creates pages under data sources, 2022-06-28 under databases.",
    )
    notion_property_names: Annotated[dict[str, str], NoDecode] = Field(
        default_factory=dict,
        description="Property names of this deployment's database, e.g. 'title=Title,tags=Topics' or JSON.",
    )
    notion_ingredients_as: Literal["to_do", "bulleted"] = Field(
        "to_do", description="Recipe ingredients as a to-do list or a bulleted list."
    )
    notion_rate_limit: float = Field(
        3.0, gt=0, le=1000, description="Requests per second per integration token, across every replica."
    )
    notion_rate_burst: int = Field(3, ge=1, le=100, description="Requests that may go at once after a quiet spell.")
    notion_max_wait: float = Field(
        20.0, gt=0, description="Longest in-process wait for the rate limit; longer gives the job back for later."
    )
    notion_request_timeout: float = Field(30.0, gt=0, description="Seconds one HTTP request to Notion may take.")
    notion_retries: int = Field(3, ge=0, le=10, description="In-process retries of a 409 / 5xx answer.")
    notion_lookup: Literal["always", "after_attempt"] = Field(
        "always",
        description="Query for an existing page before every create, or only when an earlier attempt may have "
        "created one (half the requests for new items).",
    )
    notion_schema_ttl: float = Field(300.0, ge=0, description="Seconds a database's schema is cached.")

    @field_validator("notion_property_names", mode="before")
    @classmethod
    def _names(cls, v: Any) -> Any:
        if isinstance(v, str):
            s = v.strip()
            if not s:
                return {}
            if s.startswith("{"):
                v = json.loads(s)
            else:
                v = {}
                for part in s.split(","):
                    key, sep, name = part.partition("=")
                    if not sep or not name.strip():
                        raise ValueError(f"expected field=Property Name pairs separated by commas, got {part!r}")
                    v[key.strip()] = name.strip()
        unknown = set(v) - set(FIELDS)
        if unknown:
            raise ValueError(f"unknown field(s) {sorted(unknown)}: the fields are {', '.join(FIELDS)}")
        return v

    @property
    def property_names(self) -> dict[str, str]:
        return {**DEFAULT_NAMES, **self.notion_property_names}
