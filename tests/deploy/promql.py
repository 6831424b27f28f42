"""A small PromQL parser for checking rules and dashboards where promtool is not installed.

It knows the whole expression grammar (binary operators with precedence, `bool`, vector
matching, aggregations, functions, selectors, ranges, subqueries, offset and @), checks the
types of function arguments (rate() needs a range, histogram_quantile() a scalar and a
vector, ...) and regular expressions, and returns the metric names an expression reads.
It does not evaluate anything.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

AGGREGATIONS = {"sum", "min", "max", "avg", "group", "stddev", "stdvar", "count", "count_values", "bottomk", "topk"}
AGGREGATIONS |= {"quantile", "limitk", "limit_ratio"}
AGG_WITH_PARAM = {"count_values", "bottomk", "topk", "quantile", "limitk", "limit_ratio"}
V, M, S, STR = "vector", "matrix", "scalar", "string"
_OVER_TIME = ("avg", "min", "max", "sum", "count", "last", "present", "stddev", "stdvar")
# Function name -> argument types (a trailing "?" marks optional ones) and result type.
FUNCTIONS: dict[str, tuple[tuple[str, ...], str]] = {
    **{f: ((M,), V) for f in ("rate", "irate", "increase", "delta", "idelta", "deriv", "changes", "resets")},
    **{f"{f}_over_time": ((M,), V) for f in _OVER_TIME},
    "quantile_over_time": ((S, M), V),
    "predict_linear": ((M, S), V),
    "absent_over_time": ((M,), V),
    **{f: ((V,), V) for f in ("abs", "ceil", "floor", "exp", "ln", "log2", "log10", "sqrt", "absent", "timestamp")},
    "round": ((V, S + "?"), V),
    "clamp": ((V, S, S), V),
    "clamp_min": ((V, S), V),
    "clamp_max": ((V, S), V),
    "histogram_quantile": ((S, V), V),
    "label_replace": ((V, STR, STR, STR, STR), V),
    "vector": ((S,), V),
    "scalar": ((V,), S),
    "time": ((), S),
    "sort": ((V,), V),
    "sort_desc": ((V,), V),
}
COMPARISON = {"==", "!=", "<", "<=", ">", ">="}
# Lowest precedence first.
LEVELS: list[set[str]] = [{"or"}, {"and", "unless"}, COMPARISON, {"+", "-"}, {"*", "/", "%", "atan2"}, {"^"}]
DURATION = re.compile(r"^(\d+(ms|s|m|h|d|w|y))+$")
TOKEN = re.compile(
    r"""\s*(?:
      (?P<dur>\d+(?:ms|s|m|h|d|w|y)(?:\d+(?:ms|s|m|h|d|w|y))*(?![\w.]))
    | (?P<num>0x[0-9a-fA-F]+|\d+(?:\.\d*)?(?:[eE][+-]?\d+)?(?![\w.])|\.\d+(?:[eE][+-]?\d+)?)
    | (?P<str>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')
    | (?P<id>[a-zA-Z_][a-zA-Z0-9_:]*)
    | (?P<op>==|!=|=~|!~|<=|>=|[-+*/%^<>=(){}\[\],:@])
    )""",
    re.X,
)


class PromQLError(ValueError):
    pass


@dataclass
class Parsed:
    type: str
    metrics: set[str] = field(default_factory=set)


def tokenize(expr: str) -> list[tuple[str, str]]:
    out, pos = [], 0
    text = expr.rstrip()
    while pos < len(text):
        m = TOKEN.match(text, pos)
        if not m or m.end() == pos:
            raise PromQLError(f"cannot read {text[pos : pos + 20]!r} (at {pos})")
        kind = m.lastgroup or ""
        out.append((kind, m.group(kind)))
        pos = m.end()
    return out


class _Parser:
    def __init__(self, expr: str) -> None:
        self.toks = tokenize(expr)
        self.i = 0

    def peek(self, k: int = 0) -> tuple[str, str]:
        return self.toks[self.i + k] if self.i + k < len(self.toks) else ("end", "")

    def take(self, value: str | None = None, kind: str | None = None) -> str:
        k, v = self.peek()
        if (value is not None and v != value) or (kind is not None and k != kind):
            raise PromQLError(f"expected {value or kind}, found {v or 'the end'!r}")
        self.i += 1
        return v

    def accept(self, value: str) -> bool:
        if self.peek()[1] == value and self.peek()[0] in ("op", "id"):
            self.i += 1
            return True
        return False

    def labels(self) -> list[str]:
        self.take("(")
        names = []
        while not self.accept(")"):
            names.append(self.take(kind="id"))
            if self.peek()[1] != ")":
                self.take(",")
        return names

    def binary(self, level: int = 0) -> Parsed:
        if level == len(LEVELS):
            return self.unary()
        left = self.binary(level + 1)
        while self.peek()[1] in LEVELS[level] and self.peek()[0] in ("op", "id"):
            op = self.take()
            if self.accept("bool") and op not in COMPARISON:
                raise PromQLError(f"bool only follows a comparison, not {op}")
            if self.peek()[1] in ("on", "ignoring"):
                self.i += 1
                self.labels()
                if self.peek()[1] in ("group_left", "group_right"):
                    self.i += 1
                    if self.peek()[1] == "(":
                        self.labels()
            right = self.binary(level + 1) if op != "^" else self.binary(level)  # ^ is right-associative
            for side in (left, right):
                if side.type in (M, STR):
                    raise PromQLError(f"{op} needs instant vectors or scalars, not a {side.type}")
            if op in ("and", "or", "unless") and S in (left.type, right.type):
                raise PromQLError(f"{op} works on vectors only")
            left = Parsed(V if V in (left.type, right.type) else S, left.metrics | right.metrics)
        return left

    def unary(self) -> Parsed:
        if self.peek()[1] in ("-", "+") and self.peek()[0] == "op":
            self.i += 1
            return self.unary()
        return self.postfix(self.primary())

    def postfix(self, node: Parsed) -> Parsed:
        while True:
            if self.peek()[1] == "[":
                self.i += 1
                self.duration()
                if self.accept(":"):
                    if self.peek()[1] != "]":
                        self.duration()
                    if node.type != V:
                        raise PromQLError("a subquery needs an instant vector")
                elif not getattr(node, "selector", False):
                    raise PromQLError("a range [..] follows a selector (or use a subquery [..:..])")
                self.take("]")
                node = Parsed(M, node.metrics)
            elif self.accept("offset"):
                self.accept("-")
                self.duration()
            elif self.accept("@"):
                self.take(kind="num")
            else:
                return node

    def duration(self) -> None:
        k, v = self.peek()
        if k != "dur" or not DURATION.match(v):
            raise PromQLError(f"expected a duration such as 5m, found {v or 'the end'!r}")
        self.i += 1

    def primary(self) -> Parsed:
        k, v = self.peek()
        if k == "num":
            self.i += 1
            return _node(S)
        if k == "str":
            self.i += 1
            return _node(STR)
        if v == "(" and k == "op":
            self.i += 1
            inner = self.binary()
            self.take(")")
            return _node(inner.type, inner.metrics)
        if v == "{" and k == "op":
            return self.selector(None)
        if k == "id":
            if v in AGGREGATIONS:
                return self.aggregation()
            if self.peek(1)[1] == "(":
                return self.call()
            return self.selector(self.take())
        raise PromQLError(f"unexpected {v or 'end of expression'!r}")

    def aggregation(self) -> Parsed:
        name = self.take()
        if self.peek()[1] in ("by", "without"):
            self.i += 1
            self.labels()
        self.take("(")
        if name in AGG_WITH_PARAM:
            self.binary()
            self.take(",")
        inner = self.binary()
        self.take(")")
        if self.peek()[1] in ("by", "without"):
            self.i += 1
            self.labels()
        if inner.type != V:
            raise PromQLError(f"{name}() aggregates an instant vector, not a {inner.type}")
        return _node(V, inner.metrics)

    def call(self) -> Parsed:
        name = self.take()
        if name not in FUNCTIONS:
            raise PromQLError(f"unknown function {name}()")
        want, result = FUNCTIONS[name]
        self.take("(")
        args: list[Parsed] = []
        while not self.accept(")"):
            args.append(self.binary())
            if self.peek()[1] != ")":
                self.take(",")
        required = [t for t in want if not t.endswith("?")]
        if not len(required) <= len(args) <= len(want):
            raise PromQLError(f"{name}() takes {len(want)} arguments, not {len(args)}")
        for n, (arg, t) in enumerate(zip(args, want, strict=False)):
            if arg.type != t.rstrip("?"):
                raise PromQLError(f"argument {n + 1} of {name}() must be a {t.rstrip('?')}, not a {arg.type}")
        return _node(result, set().union(*(a.metrics for a in args)) if args else set())

    def selector(self, metric: str | None) -> Parsed:
        names = {metric} if metric else set()
        if self.accept("{"):
            while not self.accept("}"):
                label = self.take(kind="id")
                op = self.take()
                if op not in ("=", "!=", "=~", "!~"):
                    raise PromQLError(f"bad label matcher {label}{op}")
                value = _unquote(self.take(kind="str"))
                if op in ("=~", "!~"):
                    try:
                        re.compile(value)
                    except re.error as e:
                        raise PromQLError(f"bad regular expression {value!r}: {e}") from None
                if label == "__name__" and op == "=":
                    names.add(value)
                if self.peek()[1] != "}":
                    self.take(",")
        if not names:
            raise PromQLError("a selector needs a metric name")
        node = _node(V, names)
        node.selector = True  # type: ignore[attr-defined]
        return node


def _node(t: str, metrics: set[str] | None = None) -> Parsed:
    n = Parsed(t, set(metrics or ()))
    n.selector = False  # type: ignore[attr-defined]
    return n


def _unquote(s: str) -> str:
    body = s[1:-1]
    return re.sub(r"\\(.)", r"\1", body)


def parse(expr: str) -> Parsed:
    """The expression's type and the metric names it reads; PromQLError when it is not PromQL."""
    p = _Parser(expr)
    out = p.binary()
    if p.peek()[0] != "end":
        raise PromQLError(f"unexpected {p.peek()[1]!r} after a complete expression")
    return out
