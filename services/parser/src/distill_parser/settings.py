"""Parser settings (DISTILL_PARSER_*)."""

from __future__ import annotations

from distill_core.settings import Settings
from pydantic import Field


class ParserSettings(Settings):
    parser_allow_private_networks: bool = Field(
        False, description="Allow fetching loopback/private/link-local addresses (development only)."
    )
    parser_max_bytes: int = Field(10 * 1024 * 1024, ge=1024, description="Largest response body read.")
    parser_connect_timeout: float = Field(10.0, gt=0)
    parser_read_timeout: float = Field(20.0, gt=0, description="Longest wait for the next bytes.")
    parser_total_timeout: float = Field(45.0, gt=0, description="Longest a whole fetch may take.")
    parser_max_redirects: int = Field(5, ge=0, le=20)
    parser_per_host_concurrency: int = Field(4, ge=1)
    parser_user_agent: str = "Mozilla/5.0 (compatible; DistillBot/0.1; +https://github.com/distill)"
    parser_extract_threads: int = Field(2, ge=1, le=32, description="Threads for CPU-bound extraction.")
