"""YAML front matter exactly as PyYAML's `safe_dump` writes it, for a fraction of the CPU.

PyYAML's pure-Python emitter looks at every character of every value several times (about
a millisecond for a page's front matter: a third of the export's CPU). Almost every value
Distill writes is one PyYAML would emit plain: a title, a URL, a sentence, a keyword, a
count. Those are written here directly, `key: value` or `key:` and `- item` lines; any
other value (one that needs quotes, a date-like or number-like string, a long or
multi-line one, a float, None, a bool) goes through `yaml.safe_dump` on its own, so the
file is byte for byte what dumping the whole mapping would give (tests/unit/notion
compare); a mapping with nested containers is dumped whole.
"""

from __future__ import annotations

import re
from typing import Any

import yaml
from yaml.nodes import ScalarNode
from yaml.resolver import Resolver

WIDTH = 1000  # PyYAML folds a plain line longer than this: such values take the slow path
_OPTIONS: dict[str, Any] = {"allow_unicode": True, "sort_keys": False, "width": WIDTH}
_STR = "tag:yaml.org,2002:str"
_RESOLVER = Resolver()  # the implicit types (bool, null, int, float, timestamp) SafeDumper checks

# Characters PyYAML writes unescaped with allow_unicode (no controls, no line breaks, no
# BOM, no U+FFFE/U+FFFF/U+10FFFF); a first character that is no YAML indicator; no
# leading or trailing space. ": ", a final ":" and " #" are checked apart.
_PLAIN = re.compile(
    r"(?![\s\-?:,\[\]{}#&*!|>'\"%@`.])"
    r"[\x20-\x7e\xa0-\u2027\u202a-\ud7ff\ue000-\ufefe\uff00-\ufffd\U00010000-\U0010fffe]+"
    r"(?<! )"
)


def plain(s: str, room: int) -> bool:
    """PyYAML would write `s` as a plain scalar on one line of at most `room` characters."""
    return (
        0 < len(s) <= room
        and _PLAIN.fullmatch(s) is not None
        and ": " not in s
        and " #" not in s
        and not s.endswith(":")
        and _RESOLVER.resolve(ScalarNode, s, (True, False)) == _STR
    )


def _per_key(data: dict[str, Any]) -> bool:
    """Dumping the keys one by one gives what dumping the mapping gives: no value holds a
    mapping or a list of anything but strings, and no list is there twice (PyYAML writes
    a container met again as an alias, `&id001` ... `*id001`)."""
    lists = 0
    ids = set()
    for v in data.values():
        t = type(v)
        if t is list:
            if not all(type(x) is str for x in v):
                return False
            lists += 1
            ids.add(id(v))
        elif t is dict:
            return False
    return len(ids) == lists and bool(data)


def dump(data: dict[str, Any]) -> str:
    """`yaml.safe_dump(data, allow_unicode=True, sort_keys=False, width=1000).strip()`."""
    if not _per_key(data):
        return yaml.safe_dump(data, **_OPTIONS).strip()
    lines: list[str] = []
    for k, v in data.items():
        if type(k) is str and plain(k, 120):
            room = WIDTH - len(k) - 4
            if type(v) is str and plain(v, room):
                lines.append(f"{k}: {v}")
                continue
            if type(v) is int:
                lines.append(f"{k}: {v}")
                continue
            if type(v) is list and v and all(type(x) is str and plain(x, WIDTH - 4) for x in v):
                lines.append(f"{k}:")
                lines.extend(f"- {x}" for x in v)
                continue
        lines.append(yaml.safe_dump({k: v}, **_OPTIONS).rstrip("\n"))
    return "\n".join(lines).strip()
