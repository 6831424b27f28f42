from distill_ai.chunking import chunk_text, estimate_tokens, truncate_tokens


def _long_text(paragraphs: int = 40) -> str:
    return "\n\n".join(
        f"Paragraph {i} tells how the harbour of village {i} rebuilt its breakwater after the storm. "
        f"It took {i + 2} months and cost {i * 10} thousand kroner. The fishermen were pleased."
        for i in range(paragraphs)
    )


def test_estimate_errs_high_for_english() -> None:
    assert estimate_tokens("") == 0
    assert estimate_tokens("The harbour master moved forty boats.") >= 8


def test_chunks_fit_the_budget_and_cut_at_paragraphs() -> None:
    text = _long_text()
    chunks = chunk_text(text, 300)
    assert len(chunks) > 5
    assert all(estimate_tokens(c) <= 300 for c in chunks)
    assert all(c.startswith("Paragraph") and c.endswith("pleased.") for c in chunks)
    assert "\n".join(chunks).replace("\n", "") == text.replace("\n", "")  # nothing lost, nothing repeated


def test_overlap_repeats_the_end_of_the_previous_chunk() -> None:
    chunks = chunk_text(_long_text(), 300, overlap_tokens=80)
    assert chunks[1].split("\n")[0] == chunks[0].split("\n")[-1]


def test_a_paragraph_longer_than_the_budget_is_cut_at_sentences_then_words() -> None:
    para = " ".join(f"Sentence number {i} is about the weather." for i in range(100))
    chunks = chunk_text(para, 100)
    assert all(estimate_tokens(c) <= 100 for c in chunks)
    one_sentence = "word " * 1000
    assert all(estimate_tokens(c) <= 100 for c in chunk_text(one_sentence, 100))


def test_short_text_is_one_chunk() -> None:
    assert chunk_text("A short page.", 1000) == ["A short page."]


def test_truncate() -> None:
    text = _long_text()
    cut, was_cut = truncate_tokens(text, 200)
    assert was_cut and estimate_tokens(cut) <= 200 and text.startswith(cut)
    assert truncate_tokens("short", 200) == ("short", False)
