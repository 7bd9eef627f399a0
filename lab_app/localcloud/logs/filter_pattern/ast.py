"""The filter-pattern AST: plain dataclasses, no parsing or evaluation here."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Union


# ---- values on the right of a comparison
@dataclass(frozen=True)
class Text:
    """A quoted or bare string; ``*`` is a wildcard."""
    text: str


@dataclass(frozen=True)
class Number:
    value: float


@dataclass(frozen=True)
class Regex:
    pattern: str


Value = Union[Text, Number, Regex]


# ---- term patterns
@dataclass(frozen=True)
class Term:
    kind: str  # "word" | "phrase" | "regex"
    text: str


@dataclass(frozen=True)
class TermPattern:
    required: tuple[Term, ...] = ()
    optional: tuple[Term, ...] = ()   # ?term: at least one must match (when any are given)
    excluded: tuple[Term, ...] = ()   # -term: none may match


@dataclass(frozen=True)
class MatchAll:
    """The empty pattern: every event matches."""


# ---- JSON patterns
@dataclass(frozen=True)
class Selector:
    text: str                      # "$.a.b[0]"
    path: tuple[Union[str, int], ...]  # ("a", "b", 0); "*" is a wildcard step


@dataclass(frozen=True)
class JCompare:
    selector: Selector
    op: str
    value: Value


@dataclass(frozen=True)
class JCheck:
    selector: Selector
    check: str  # "null" | "exists" | "not_exists" | "true" | "false"


@dataclass(frozen=True)
class JAnd:
    left: "JExpr"
    right: "JExpr"


@dataclass(frozen=True)
class JOr:
    left: "JExpr"
    right: "JExpr"


JExpr = Union[JCompare, JCheck, JAnd, JOr]


@dataclass(frozen=True)
class JsonPattern:
    expr: JExpr


# ---- space-delimited patterns
@dataclass(frozen=True)
class DCompare:
    name: str
    op: str
    value: Value


@dataclass(frozen=True)
class DName:
    name: str


@dataclass(frozen=True)
class DAnd:
    left: "DExpr"
    right: "DExpr"


@dataclass(frozen=True)
class DOr:
    left: "DExpr"
    right: "DExpr"


DExpr = Union[DCompare, DName, DAnd, DOr]


@dataclass(frozen=True)
class DField:
    name: str              # the field's name (the first name in its expression)
    condition: DExpr | None


@dataclass(frozen=True)
class Ellipsis_:
    """``...``: any number of fields."""


@dataclass(frozen=True)
class DelimitedPattern:
    fields: tuple[Union[DField, Ellipsis_], ...] = field(default_factory=tuple)


Pattern = Union[MatchAll, TermPattern, JsonPattern, DelimitedPattern]
