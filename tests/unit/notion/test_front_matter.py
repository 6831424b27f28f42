"""front_matter.dump writes exactly what yaml.safe_dump writes, for any value."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime
from typing import Any

import pytest
import yaml
from distill_notion.destinations import front_matter as fm
from distill_notion.destinations import markdown as md

from tests.unit.notion.test_markdown import doc


def reference(data: dict[Any, Any]) -> str:
    return yaml.safe_dump(data, allow_unicode=True, sort_keys=False, width=1000).strip()


HOSTILE: list[Any] = [
    "plain words",
    "Bench page 12",
    "https://example.com/a?b=c&d=e#frag",
    "http://127.0.0.1:8080/p/1",
    "a: b",
    "a:b",
    "ends with colon:",
    ":leading colon",
    "::",
    "a #not a comment",
    "a#b",
    "#hash",
    "- dash",
    "-dash",
    "-",
    "--",
    "---",
    "...",
    ".hidden",
    "? question",
    "?question",
    "question?",
    "it's",
    "'quoted'",
    '"double"',
    'say "hi"',
    "[list]",
    "{map}",
    "a, b",
    "a [b] {c}",
    "&anchor",
    "*alias",
    "!tag",
    "|literal",
    ">folded",
    "%directive",
    "@at",
    "`tick`",
    "=",
    "<<",
    "~",
    "yes",
    "no",
    "Yes",
    "NO",
    "on",
    "off",
    "true",
    "False",
    "null",
    "Null",
    "y",
    "n",
    "0",
    "1",
    "-1",
    "+1",
    "007",
    "0x1F",
    "0o17",
    "0b101",
    "1_000",
    "1e3",
    "1.5",
    "-.5",
    ".5",
    ".inf",
    "-.Inf",
    ".nan",
    "1:30",
    "190:20:30",
    "2024-05-01",
    "2024-05-01 12:00:00",
    "2024-05-01T12:00:00Z",
    "2024-5-1",
    "12:00",
    "Crème brûlée",
    "日本語のタイトル",
    "emoji 🍰 cake",
    "Ελληνικά",
    "right-to-left עברית",
    "zero\u200bwidth",
    "line\u2028sep",
    "para\u2029sep",
    "nel\x85here",
    "bom\ufeff",
    "\ufeffbom first",
    "nbsp\xa0inside",
    "\xa0leading nbsp",
    "tab\tinside",
    "\ttab first",
    "bell\x07",
    "null\x00byte",
    "del\x7f",
    "esc\x1b[0m",
    "surrogate-free \U0001f600",
    "private \ue000 use",
    "\ufffe",
    "\uffff",
    " leading space",
    "trailing space ",
    "two  spaces",
    "multi\nline",
    "multi\n\nparagraph",
    "trailing newline\n",
    "\nleading newline",
    "carriage\rreturn",
    "crlf\r\nline",
    "",
    " ",
    "x" * 990,
    "x" * 995,
    "x" * 1000,
    "y " * 600,
    "word " * 199 + "end",
    "a" * 120,
    "back\\slash",
    "percent % sign",
    "a | b",
    "a > b",
    "a - b",
    "a -- b",
    "a ? b",
    "a : b",
    "a ! b",
    "a & b",
    "a * b",
    "C++",
    "C#",
    "e-mail",
    "key: value # comment",
    0,
    1,
    -7,
    10**30,
    True,
    False,
    None,
    0.0,
    1.5,
    -2.25,
    1e300,
    float("inf"),
    float("nan"),
    date(2024, 5, 1),
    datetime(2024, 5, 1, 12, 0, tzinfo=UTC),
    [],
    ["one"],
    ["one", "two: three", "- four", "", "yes", "2024", "multi\nline", " sp"],
    ["a", 1, None, 2.5, True],
    [["nested"], {"k": "v"}],
    {},
    {"inner": "value", "n": 1},
    {"deep": {"er": ["x", "y: z"]}},
]

KEYS: list[Any] = [
    "title",
    "k",
    "with space",
    "colon: key",
    "- dash",
    "yes",
    "123",
    "",
    "ключ",
    "x" * 130,
    "multi\nline",
    1,
    None,
    True,
    2.5,
]


@pytest.mark.parametrize("value", HOSTILE, ids=lambda v: repr(v)[:40])
def test_every_hostile_value_as_safe_dump_writes_it(value: Any) -> None:
    for key in ("key", "title", "a_much_longer_key_name_" * 3):
        data = {key: value}
        assert fm.dump(data) == reference(data)
    # in a list, among plain ones
    data = {"tags": ["plain", value, "other"] if not isinstance(value, list) else value}
    assert fm.dump(data) == reference(data)


@pytest.mark.parametrize("key", KEYS, ids=lambda v: repr(v)[:40])
def test_every_key_as_safe_dump_writes_it(key: Any) -> None:
    for value in ("plain", 3, ["a", "b"], "a: b", None):
        data = {key: value, "after": "x"}
        assert fm.dump(data) == reference(data)


def test_all_hostile_values_in_one_mapping() -> None:
    data = {f"k{i}": v for i, v in enumerate(HOSTILE)}
    assert fm.dump(data) == reference(data)


def test_a_list_there_twice_is_an_alias_as_safe_dump_writes_it() -> None:
    shared = ["a", "b"]
    data = {"tags": shared, "keywords": shared}
    out = fm.dump(data)
    assert out == reference(data)
    assert "&id001" in out


def test_empty_mapping() -> None:
    assert fm.dump({}) == reference({}) == "{}"


def test_plain_fast_path_is_taken_for_plain_values() -> None:
    # the shortcut itself, not the fallback: the lines we write for ordinary values
    assert fm.plain("Bench page 12", 100)
    assert fm.plain("https://example.com/a?b=c", 100)
    for s in ("yes", "2024-05-01", "1.5", "a: b", "a #b", "-x", " x", "x ", "", "a\nb", "x" * 101):
        assert not fm.plain(s, 100)


def test_a_real_front_matter() -> None:
    data = md.front_matter({**doc(), "properties": {"project": "desserts", "status": "yes", "n": "12"}})
    assert fm.dump(data) == reference(data)


# Pieces that hostile strings are made of: indicators, quotes, spaces, breaks, digits,
# date and number shapes, YAML words, unicode of every plane, controls.
PIECES = [
    *"abcXYZ019 -:#?,[]{}&*!|>'\"%@`.~=<+_/\\\t\n\r",
    "\x00",
    "\x07",
    "\x1b",
    "\x7f",
    "\x85",
    "\xa0",
    "\u2028",
    "\u2029",
    "\ufeff",
    "\ufffe",
    "é",
    "ß",
    "日本",
    "🍰",
    "\ue000",
    ": ",
    " #",
    "- ",
    "? ",
    "---",
    "...",
    "yes",
    "no",
    "null",
    "true",
    "~",
    "2024-05-01",
    "12:30",
    "1e3",
    "0x1f",
    ".inf",
    "<<",
    "  ",
    "word",
    "Bench page",
    "http://h/p?q=1",
]


def random_string(rng: random.Random) -> str:
    if rng.random() < 0.05:
        return rng.choice(["x", "word "]) * rng.randint(150, 600)
    return "".join(rng.choice(PIECES) for _ in range(rng.randint(0, 8)))


def random_value(rng: random.Random, depth: int = 0) -> Any:
    r = rng.random()
    if r < 0.55:
        return random_string(rng)
    if r < 0.65:
        return rng.choice([0, 1, -3, 42, 10**20, True, False, None, 0.5, -1.25, 3.0])
    if r < 0.9 or depth > 1:
        return [random_string(rng) for _ in range(rng.randint(0, 4))]
    if r < 0.95:
        return [random_value(rng, depth + 1) for _ in range(rng.randint(0, 3))]
    return {random_string(rng): random_value(rng, depth + 1) for _ in range(rng.randint(0, 3))}


@pytest.mark.parametrize("seed", range(20))
def test_random_mappings_as_safe_dump_writes_them(seed: int) -> None:
    rng = random.Random(seed)
    for _ in range(150):
        data: dict[Any, Any] = {}
        for _ in range(rng.randint(1, 8)):
            key = random_string(rng) if rng.random() < 0.3 else rng.choice(["title", "url", "tags", "summary"])
            data[key] = random_value(rng)
        assert fm.dump(data) == reference(data), data
