"""The fonts of PDF reports, found without importing fpdf2 (the export service imports
report_pdf, and with it fpdf2 and fontTools, only when it makes its first PDF)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

FONT_DIR = Path(__file__).parent / "fonts"
# Used as fallbacks when present and none are configured (Debian's fonts-noto-cjk, fonts-wqy-zenhei, ...).
SYSTEM_FALLBACKS = (
    Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc"),
    Path("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc"),
    Path("/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf"),
)


@dataclass(frozen=True)
class Fonts:
    regular: Path
    bold: Path
    fallbacks: tuple[Path, ...] = ()


def resolve_fonts(regular: Path | None = None, bold: Path | None = None, fallbacks: list[Path] | None = None) -> Fonts:
    """The configured fonts, else the bundled DejaVu Sans; fallbacks found on the system when none are given."""
    found = tuple(fallbacks) if fallbacks else tuple(p for p in SYSTEM_FALLBACKS if p.is_file())
    if regular is None:
        return Fonts(FONT_DIR / "DejaVuSans.ttf", bold or FONT_DIR / "DejaVuSans-Bold.ttf", found)
    return Fonts(regular, bold or regular, found)
