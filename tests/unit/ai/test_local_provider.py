"""The local provider: a short text analysed on the event loop, a long one in a worker thread, the same either way."""

from __future__ import annotations

import threading

import pytest
from distill_ai.providers import local
from distill_ai.results import Analysis, Document, Usage, Want


@pytest.fixture
def threads(monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    """Whether each analysis ran off the event loop's thread."""
    seen: list[bool] = []
    real = local.analyze_sync
    loop_thread = threading.get_ident()

    def spy(doc: Document, want: Want) -> Analysis:
        seen.append(threading.get_ident() != loop_thread)
        return real(doc, want)

    monkeypatch.setattr(local, "analyze_sync", spy)
    return seen


async def test_a_short_text_is_analysed_on_the_loop_and_a_long_one_in_a_thread(
    article: tuple[str, str, str | None], threads: list[bool]
) -> None:
    text, title, lang = article
    short = Document(text=text[: local.INLINE_CHARS], title=title, language=lang)
    long = Document(text=(text + "\n\n") * (local.INLINE_CHARS // len(text) + 1), title=title, language=lang)
    assert len(long.text) > local.INLINE_CHARS
    p = local.LocalProvider()
    for doc in (short, long):
        assert (await p.analyze(doc, Want(), Usage())).keywords
    assert threads == [False, True]


async def test_the_analysis_is_the_same_on_the_loop_and_in_a_thread(
    article: tuple[str, str, str | None], monkeypatch: pytest.MonkeyPatch
) -> None:
    text, title, lang = article
    doc = Document(text=text, title=title, language=lang)
    p = local.LocalProvider()
    inline = await p.analyze(doc, Want(), Usage())
    monkeypatch.setattr(local, "INLINE_CHARS", 0)
    threaded = await p.analyze(doc, Want(), Usage())
    assert inline == threaded == local.analyze_sync(doc, Want())
    assert inline.keywords and inline.summary
