from distill_ai import segment


def test_a_title_line_is_a_heading_not_part_of_the_first_sentence(article: tuple) -> None:
    text, title, _ = article
    bs = segment.blocks(text)
    assert bs[0].kind == "heading" and bs[0].text == title
    assert bs[1].kind == "prose" and bs[1].text.startswith("When the first storm")


def test_wrapped_plain_text_lines_join_into_paragraphs(field_notes: tuple) -> None:
    text, _, _ = field_notes
    bs = segment.blocks(text)
    assert [b.kind for b in bs] == ["heading", "prose", "prose", "prose", "prose"]
    assert "Forty-two families now rent plots, up from thirty last year" in bs[1].text


def test_headings_and_list_items(recipe_page: tuple) -> None:
    text, _, _ = recipe_page
    kinds = {b.text: b.kind for b in segment.blocks(text)}
    assert kinds["Ingredients"] == "heading" and kinds["Method"] == "heading"
    assert kinds["- 250 g ricotta"] == "item"
    assert segment.strip_marker("- 250 g ricotta") == "250 g ricotta"


def test_a_wrap_before_a_capitalised_word_stays_inside_the_paragraph() -> None:
    text = "The committee met on a cold morning in the village hall near the harbour to discuss the\nBremnes channel."
    assert [b.kind for b in segment.blocks(text)] == ["prose"]


def test_sentences_do_not_end_at_abbreviations() -> None:
    s = segment.split_sentences("Dr. Smith arrived at noon. The meeting began. It ended at 3 p.m. sharp!")
    assert s == ["Dr. Smith arrived at noon.", "The meeting began.", "It ended at 3 p.m. sharp!"]


def test_usable_counts_words() -> None:
    assert not segment.usable("", 3)
    assert not segment.usable("  🍝 !! 123 ", 3)
    assert not segment.usable("Yum yum", 3)
    assert segment.usable("Pasta for dinner tonight", 3)
