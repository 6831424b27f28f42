"""Parser settings (DISTILL_PARSER_*); docs/parser.md explains each."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from distill_core.settings import Settings
from pydantic import Field, field_validator
from pydantic_settings import NoDecode

from distill_parser.ssrf import parse_networks

USER_AGENT = "Mozilla/5.0 (compatible; DistillBot/0.1; +https://github.com/distill/distill)"


class ParserSettings(Settings):
    parser_allow_private_networks: bool = Field(
        False, description="Allow fetching loopback/private/link-local addresses (development only)."
    )
    parser_allowed_networks: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Non-public networks that may be fetched anyway (CIDR, comma separated: 10.20.0.0/16,fd00:1::/64).",
    )
    parser_max_bytes: int = Field(10 * 1024 * 1024, ge=1024, description="Largest response body read (decoded).")
    parser_connect_timeout: float = Field(10.0, gt=0, description="Longest wait for a connection.")
    parser_read_timeout: float = Field(20.0, gt=0, description="Longest wait for the next bytes.")
    parser_total_timeout: float = Field(45.0, gt=0, description="Longest a whole fetch may take (network time).")
    parser_max_redirects: int = Field(5, ge=0, le=20)
    parser_per_host_concurrency: int = Field(4, ge=1, description="Requests at once to one host (per process).")
    parser_host_delay: float = Field(
        0.25, ge=0, le=60, description="Seconds between request starts to one public host (per process)."
    )
    parser_http2: bool = Field(True, description="Offer HTTP/2 to HTTPS servers (ALPN).")
    parser_user_agent: str = USER_AGENT
    parser_max_retry_after_waits: int = Field(
        5, ge=0, description="Retry-After waits an item may take before further waits use its attempts."
    )
    parser_extract_threads: int = Field(
        2, ge=1, le=32, description="Threads for files that may need OCR (PDF, images), and pages when processes is 0."
    )
    parser_extract_processes: int = Field(
        1, ge=0, le=64, description="Worker processes that read web pages (HTML, text); 0 reads them in threads."
    )
    parser_extract_timeout: float = Field(
        30.0, gt=0, description="Seconds one page may take in a worker process before that process is replaced."
    )

    # OCR of images and of PDF pages without a text layer, and uploaded files (docs/files.md).
    parser_ocr_engine: Literal["rapidocr", "tesseract", "off"] = Field(
        "rapidocr", description="rapidocr (models in the wheel), tesseract (when installed) or off."
    )
    parser_ocr_languages: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: ["en"], description="Languages to read (ISO 639-1 or Tesseract codes, comma separated)."
    )
    parser_ocr_max_pixels: int = Field(
        40_000_000, ge=10_000, description="Largest image or PDF page OCR decodes (pixels, from the header)."
    )
    parser_ocr_max_pages: int = Field(50, ge=1, description="Pages read by OCR per file (TIFF frames, PDF pages).")
    parser_ocr_time_limit: float = Field(
        45.0, gt=0, description="Seconds of OCR per file; keep below DISTILL_PARSER_TIMEOUT."
    )
    parser_ocr_dpi: int = Field(200, ge=50, le=600, description="Resolution of PDF pages drawn without images.")
    parser_ocr_threads: int = Field(0, ge=0, le=64, description="Threads per OCR run (0: the engine's default).")
    parser_max_file_bytes: int = Field(
        100 * 1024 * 1024, ge=1024, description="Largest uploaded file the parser reads (bytes)."
    )

    @field_validator("parser_allowed_networks", mode="before")
    @classmethod
    def _split(cls, v: Any) -> Any:
        if isinstance(v, str):
            v = [x for x in v.replace(";", ",").split(",") if x.strip()]
        parse_networks(v)  # a bad entry is named here, at start-up
        return [str(x).strip() for x in v]

    @field_validator("parser_ocr_languages", mode="before")
    @classmethod
    def _split_languages(cls, v: Any) -> Any:
        if isinstance(v, str):
            return [x.strip() for x in v.replace("+", ",").split(",") if x.strip()]
        return v

    @field_validator("parser_user_agent")
    @classmethod
    def _names_distill(cls, v: str) -> str:
        if "distill" not in v.lower():
            raise ValueError("the User-Agent must name Distill (sites need to know who is fetching)")
        return v
