"""What flows through the AI stage: the document in, what is wanted, the analysis and usage out."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class Document:
    """The text to work on, with what the parser knew about it."""

    text: str
    title: str = ""
    language: str | None = None
    url: str = ""


@dataclass(frozen=True, slots=True)
class Want:
    """Which results to produce and how many of each."""

    summary: bool = True
    keywords: bool = True
    insights: bool = True
    summary_sentences: int = 3
    n_keywords: int = 8
    n_insights: int = 3

    @property
    def anything(self) -> bool:
        return self.summary or self.keywords or (self.insights and self.n_insights > 0)

    def fields(self) -> list[str]:
        """The JSON keys asked of a model, in order."""
        out = []
        if self.summary:
            out.append("summary")
        if self.keywords:
            out.append("keywords")
        if self.insights and self.n_insights > 0:
            out.append("insights")
        return out


@dataclass(slots=True)
class Analysis:
    """Summary, keywords and insights of one document (None / empty where not wanted)."""

    summary: str | None = None
    keywords: list[str] = field(default_factory=list)
    insights: list[str] = field(default_factory=list)


@dataclass(slots=True)
class Usage:
    """What the model calls of one item cost; stored in ai_outputs.usage (summed by GetStatistics)."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    requests: int = 0
    latency_ms: int = 0
    repairs: int = 0
    chunks: int = 0
    estimated: bool = False  # the server gave no token counts: ours are estimates
    truncated: bool = False  # the text was longer than max_input_tokens
    cached: int = 0  # chunk results reused from an earlier attempt

    def add_call(self, prompt_tokens: int, completion_tokens: int, latency_ms: float, *, estimated: bool) -> None:
        self.prompt_tokens += int(prompt_tokens)
        self.completion_tokens += int(completion_tokens)
        self.requests += 1
        self.latency_ms += int(latency_ms)
        self.estimated = self.estimated or estimated

    def as_dict(self, **extra: Any) -> dict[str, Any]:
        d: dict[str, Any] = {
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "total_tokens": self.prompt_tokens + self.completion_tokens,
            "requests": self.requests,
            "latency_ms": self.latency_ms,
        }
        for k in ("repairs", "chunks", "cached"):
            if getattr(self, k):
                d[k] = getattr(self, k)
        for k in ("estimated", "truncated"):
            if getattr(self, k):
                d[k] = True
        d.update({k: v for k, v in extra.items() if v is not None})
        return d
