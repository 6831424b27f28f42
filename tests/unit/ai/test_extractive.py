from distill_ai import extractive


def test_summary_quotes_sentences_of_the_text_without_the_title(article: tuple) -> None:
    text, title, _ = article
    r = extractive.summarize(text, title=title, n_sentences=3)
    assert not r.summary.startswith(title)
    assert r.summary.startswith("When the first storm of the season")
    sentences = [s for s in r.summary.split(". ") if s]
    assert len(sentences) == 3
    assert all(s.rstrip(".") in text for s in sentences)


def test_short_texts_get_about_a_third_of_their_sentences(recipe_page: tuple) -> None:
    text, title, _ = recipe_page
    r = extractive.summarize(text, title=title, n_sentences=3)
    assert 1 <= r.summary.count(". ") + 1 <= 2  # 5 prose sentences: two at most
    assert "250 g ricotta" not in r.summary  # list items are not summary sentences
    assert "Ingredients" not in r.summary


def test_insights_carry_a_figure_or_name_and_repeat_nothing_of_the_summary(article: tuple) -> None:
    text, title, _ = article
    r = extractive.summarize(text, title=title, n_sentences=3, n_insights=3)
    assert len(r.insights) == 3
    for s in r.insights:
        assert s not in r.summary
        assert any(c.isdigit() for c in s) or any(w[:1].isupper() for w in s.split()[1:])


def test_deterministic(field_notes: tuple) -> None:
    text, title, _ = field_notes
    assert extractive.summarize(text, title=title) == extractive.summarize(text, title=title)


def test_text_of_list_items_only_is_still_summarised() -> None:
    text = "- Bring the water to the boil in a large pot.\n- Add the pasta and cook it for ten minutes."
    r = extractive.summarize(text)
    assert r.summary == "Bring the water to the boil in a large pot."


def test_text_without_sentences_gives_its_words() -> None:
    assert extractive.summarize("Gallery\nPhotos of the harbour").summary == "Gallery Photos of the harbour"
