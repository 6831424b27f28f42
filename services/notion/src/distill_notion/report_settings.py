"""Settings of the report worker (DISTILL_REPORT_*), part of the export service's settings."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

from distill_core.settings import Settings
from pydantic import Field, field_validator
from pydantic_settings import NoDecode


def _paths(v: Any) -> Any:
    if isinstance(v, str):
        return [Path(p.strip()) for p in v.replace(";", ",").split(",") if p.strip()]
    return v


class ReportSettings(Settings):
    report_concurrency: int = Field(2, ge=1, le=64, description="Reports made at once per process.")
    report_timeout: float = Field(300.0, gt=0, description="Seconds one attempt at a report may take.")
    report_max_attempts: int = Field(
        3, ge=1, le=20, description="Attempts before a report fails (a worker that died counts)."
    )
    report_backoff: Annotated[list[float], NoDecode] = Field(
        default_factory=lambda: [5.0, 30.0], description="Delay before attempt 2, 3, ... (seconds)."
    )
    report_max_bytes: int = Field(
        64 * 1024 * 1024, ge=1024, le=512 * 1024 * 1024, description="Largest report kept; bigger ones fail."
    )
    report_page_size: Literal["A4", "Letter"] = Field("A4", description="Paper size of PDF reports.")
    report_font: Path | None = Field(
        None, description="A TTF/OTF font for PDF reports instead of the bundled DejaVu Sans."
    )
    report_font_bold: Path | None = Field(None, description="Its bold face (default: report_font).")
    report_fallback_fonts: Annotated[list[Path], NoDecode] = Field(
        default_factory=list,
        description="Fonts tried for characters the main font lacks (e.g. a CJK font), comma separated.",
    )

    @field_validator("report_backoff", mode="before")
    @classmethod
    def _split(cls, v: Any) -> Any:
        if isinstance(v, str):
            return [float(x) for x in v.replace(";", ",").split(",") if x.strip()]
        return v

    @field_validator("report_fallback_fonts", mode="before")
    @classmethod
    def _fonts(cls, v: Any) -> Any:
        return _paths(v)

    @field_validator("report_font", "report_font_bold", "report_fallback_fonts")
    @classmethod
    def _exists(cls, v: Any) -> Any:
        for p in v if isinstance(v, list) else [v]:
            if p is not None and not Path(p).is_file():
                raise ValueError(f"font file {p} does not exist")
        return v
