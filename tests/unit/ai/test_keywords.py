import random
import re

import pytest
from distill_ai import keywords, segment

from tests.unit.ai import keywords_reference


def kw(text: str, n: int = 8, lang: str | None = "en") -> list[str]:
    return keywords.keywords(segment.for_keywords(segment.blocks(text)), n, lang)


def _stems(phrase: str) -> set[str]:
    return {keywords.stem(w) for w in phrase.split()}


@pytest.mark.parametrize("page", ["article", "recipe_page", "field_notes"])
def test_no_keyword_repeats_another(page: str, request: pytest.FixtureRequest) -> None:
    text, _, lang = request.getfixturevalue(page)
    found = kw(text, 8, lang)
    assert len(found) == 8
    for i, a in enumerate(found):
        for b in found[i + 1 :]:
            assert not (_stems(a) <= _stems(b) or _stems(b) <= _stems(a)), (a, b)


def test_recipe_keywords_are_things_not_fragments(recipe_page: tuple) -> None:
    text, _, lang = recipe_page
    found = kw(text, 8, lang)
    assert {"pancakes", "ricotta"} <= set(found)
    assert "mornings start" not in found and "start late" not in found
    assert not ({"Saturday", "Saturday mornings"} <= set(found))


def test_names_keep_their_capitals_and_common_words_are_lower_case(field_notes: tuple) -> None:
    text, _, lang = field_notes
    found = kw(text, 8, lang)
    assert "Elm Street" in found
    assert "community garden" in found


def test_select_prefers_the_better_phrase_and_fills_with_unrelated_ones() -> None:
    ranked = ["Saturday mornings", "morning light", "mornings start", "Saturday", "ricotta", "lemon zest", "lemon"]
    assert keywords.select(ranked, 3) == ["Saturday mornings", "ricotta", "lemon zest"]
    # Fewer unrelated phrases than asked: phrases sharing a word come back, sub-phrases never
    # ("mornings start" is "mornings" once "start" is discounted, and "lemon" is inside "lemon zest").
    assert keywords.select(ranked, 5) == ["Saturday mornings", "ricotta", "lemon zest", "morning light"]


@pytest.mark.parametrize(
    "phrase", ["Street opened", "moved forty", "master of Vik", "start late", "Forty-two families", "main", "2024"]
)
def test_fragments_are_refused(phrase: str) -> None:
    assert not keywords.acceptable(phrase)


@pytest.mark.parametrize("phrase", ["community garden", "Elm Street", "regional fisheries board", "ricotta"])
def test_things_are_accepted(phrase: str) -> None:
    assert keywords.acceptable(phrase)


def test_unknown_language_falls_back_to_english_stop_words() -> None:
    text = "The harbour master moved the fishing boats. The fishing boats stayed safe in the harbour."
    assert "fishing boats" in kw(text, 3, "xx")


def test_empty_text_and_zero_wanted() -> None:
    assert kw("", 5) == []
    assert kw("The harbour master moved the boats.", 0) == []


@pytest.mark.parametrize("page", ["article", "recipe_page", "field_notes"])
def test_scores_agree_with_the_yake_package(page: str, request: pytest.FixtureRequest) -> None:
    """Our single-pass YAKE ranks like the reference implementation (its top 15 phrases, mostly the same)."""
    import yake

    text, _, _ = request.getfixturevalue(page)
    t = segment.for_keywords(segment.blocks(text))
    ref = yake.KeywordExtractor(lan="en", n=3, top=1000, dedupLim=1.0, windowsSize=1).extract_keywords(t)
    theirs = [k.lower() for k, _ in sorted(ref, key=lambda x: x[1]) if keywords.acceptable(k)][:15]
    ours = [k.lower() for k, _ in keywords.yake_scores(t) if keywords.acceptable(k)][:15]
    assert len(set(theirs) & set(ours)) >= 11, (theirs, ours)
    assert theirs[0] == ours[0]


def test_other_languages_use_their_stop_words() -> None:
    text = (
        "Die Gemeinde baute den Hafen nach dem Sturm wieder auf. Der neue Hafen hat eine höhere Mauer. "
        "Die Fischer im Hafen sind zufrieden mit der Mauer."
    )
    found = kw(text, 4, "de")
    assert "Hafen" in found
    assert not any(w.lower() in ("die", "der", "den", "dem", "mit") for k in found for w in k.split())


# Words, names, acronyms, numbers, plurals, apostrophes, stop words, punctuation of every
# kind and sentence ends: what the token and sentence rules of YAKE look at.
VOCAB = (
    "The the a of and is was Harbour harbour harbours harbour's NASA U.S. 2024 3.5 x2 e-mail don't Über über "
    "café Café naïve — – … “quoted” ‘x’ , . ! ? ; : ( ) - ' 12,000 1.2.3 ALLCAPS iPhone O'Neil rock-and-roll "
    "runs ran opened quickly storms storm stress glasses class bus buses city cities de la le el los . . ."
).split()


def _random_text(rng: random.Random) -> str:
    words = [rng.choice(VOCAB) for _ in range(rng.randint(0, 300))]
    text = " ".join(words)
    if rng.random() < 0.5:
        text = re.sub(r" (?=[,.!?;:])", "", text)
    if rng.random() < 0.3:
        text = text.replace(" . ", ".\n\n")
    return text


@pytest.mark.parametrize("seed", range(12))
def test_scores_are_those_of_the_reference_loop(seed: int) -> None:
    """_Scored counts in C what keywords_reference counts token by token: the same phrases
    with the same scores (bit for bit), so the same keywords."""
    rng = random.Random(seed)
    for _ in range(25):
        text = _random_text(rng)
        lang = rng.choice(["en", "fr", "de", "xx"])
        n = rng.choice([1, 2, 3, 3, 4])
        assert sorted(keywords._candidates(text, lang, n)) == sorted(keywords_reference._candidates(text, lang, n))


@pytest.mark.parametrize("page", ["article", "recipe_page", "field_notes"])
def test_sample_scores_are_those_of_the_reference_loop(page: str, request: pytest.FixtureRequest) -> None:
    text, _, _ = request.getfixturevalue(page)
    t = segment.for_keywords(segment.blocks(text))
    assert sorted(keywords._candidates(t, "en", 3)) == sorted(keywords_reference._candidates(t, "en", 3))


def test_phrases_of_equal_score_come_in_phrase_order() -> None:
    # Phrases of the same shape tie and are read alphabetically, not in the text's order.
    text = "zebra crossing apple orchard apple orchard zebra crossing"
    ranked = list(keywords._ranked(text, "en"))
    assert ranked == [p for _, p in sorted(keywords._candidates(text, "en", 3))]
    scores = dict((p, s) for s, p in keywords._candidates(text, "en", 3))
    assert any(scores[a] == scores[b] for a in ranked for b in ranked if a != b)
