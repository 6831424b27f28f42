import pytest
from distill_ai.jsonfix import BadJson, parse_object


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ('{"summary": "x"}', {"summary": "x"}),
        ('```json\n{"a": [1, 2,],}\n```', {"a": [1, 2]}),
        ('Sure! Here it is: {"summary": "a {b}", "k": ["c"]} Hope this helps.', {"summary": "a {b}", "k": ["c"]}),
        ('{"summary": "abc", "keywords": ["a", "b', {"summary": "abc", "keywords": ["a"]}),
        ('{"summary": "abc", "keyw', {"summary": "abc"}),
        ('{"summary": "abc", "keywords":', {"summary": "abc"}),
        ('{"summary": "a \\"quoted\\" word", "n": 1', {"summary": 'a "quoted" word', "n": 1}),
        ("{'summary': 'x', 'ok': true, 'none': null}", {"summary": "x", "ok": True, "none": None}),
        ('[{"a": 1}]', {"a": 1}),
    ],
)
def test_fixable_answers(content: str, expected: dict) -> None:
    assert parse_object(content) == expected


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        ("", "empty"),
        (None, "empty"),
        ("I cannot help with that.", "no JSON object"),
        ("[1, 2]", "a JSON list"),
        ('{"a": nope}', "not valid JSON"),
        ('"just a string"', "a JSON str"),
    ],
)
def test_unfixable_answers_say_why(content: str | None, reason: str) -> None:
    with pytest.raises(BadJson, match=reason):
        parse_object(content)
