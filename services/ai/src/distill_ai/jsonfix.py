"""The JSON object in a model's answer, with the slips models make fixed locally.

Fixed without asking the model again: Markdown code fences, prose around the object,
trailing commas, Python-style literals ({'a': True}), and an answer cut off by the token
limit (open strings, arrays and objects are closed). Anything else raises BadJson with a
short reason, which the caller sends back to the model in its one repair request.
"""

from __future__ import annotations

import ast
import json
import re
from typing import Any

_FENCE = re.compile(r"^\s*```[\w-]*\s*\n?(.*?)\n?\s*```\s*$", re.S)
_TRAILING_COMMA = re.compile(r",\s*([}\]])")


class BadJson(ValueError):
    """The answer holds no readable JSON object."""


def parse_object(content: str | None) -> dict[str, Any]:
    """The JSON object in content (BadJson saying why there is none)."""
    if content is None or not content.strip():
        raise BadJson("the answer was empty")
    text = content.strip()
    if m := _FENCE.match(text):
        text = m.group(1).strip()
    for candidate in _candidates(text):
        obj = _loads(candidate)
        if isinstance(obj, dict):
            return obj
        if isinstance(obj, list) and len(obj) == 1 and isinstance(obj[0], dict):
            return obj[0]
        if obj is not None:
            raise BadJson(f"the answer is a JSON {type(obj).__name__}, not an object")
    if "{" not in text:
        raise BadJson("the answer holds no JSON object: " + _preview(text))
    raise BadJson("the answer is not valid JSON: " + _preview(text))


def _preview(text: str, n: int = 80) -> str:
    t = " ".join(text.split())
    return repr(t[:n] + ("…" if len(t) > n else ""))


def _candidates(text: str) -> list[str]:
    out = [text]
    start = text.find("{")
    if start >= 0:
        body, closed = _balanced(text, start)
        out.append(body if closed else _close(body))
    return out


def _loads(s: str) -> Any:
    for t in (s, _TRAILING_COMMA.sub(r"\1", s)):
        try:
            return json.loads(t)
        except ValueError:
            pass
    try:  # {'summary': 'x', 'ok': True}: a Python literal
        return ast.literal_eval(
            re.sub(r"\btrue\b", "True", re.sub(r"\bfalse\b", "False", re.sub(r"\bnull\b", "None", s)))
        )
    except (ValueError, SyntaxError, MemoryError, RecursionError, TypeError):
        return None


def _outside_strings(text: str, start: int = 0) -> tuple[list[tuple[int, str]], bool]:
    """(index, char) of every character of text[start:] outside JSON strings, and whether it ends inside one."""
    out: list[tuple[int, str]] = []
    in_str = esc = False
    for i in range(start, len(text)):
        c = text[i]
        if in_str:
            if esc:
                esc = False
            elif c == "\\":
                esc = True
            elif c == '"':
                in_str = False
        elif c == '"':
            in_str = True
        else:
            out.append((i, c))
    return out, in_str


def _balanced(text: str, start: int) -> tuple[str, bool]:
    """From text[start] ("{") to its matching "}", and whether it was found."""
    depth = 0
    for i, c in _outside_strings(text, start)[0]:
        if c in "{[":
            depth += 1
        elif c in "}]":
            depth -= 1
            if depth == 0:
                return text[start : i + 1], True
    return text[start:], False


def _close(body: str) -> str:
    """A cut-off object closed: the open string ended, a dangling key or comma dropped, brackets closed."""
    stack: list[str] = []
    chars, in_str = _outside_strings(body)
    for _, c in chars:
        if c in "{[":
            stack.append("}" if c == "{" else "]")
        elif c in "}]" and stack:
            stack.pop()
    s = (body + ('"' if in_str else "")).rstrip()
    s = re.sub(r'([,{])\s*"[^"]*"\s*:?\s*$', r"\1", s)  # a key with no value, or a cut-off array item
    s = re.sub(r"[,:]\s*$", "", s)
    return s + "".join(reversed(stack))
