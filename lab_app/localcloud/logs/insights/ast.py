"""The Logs Insights AST: plain dataclasses. ``text``/``start``/``end`` point back into the query."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Union


@dataclass(frozen=True)
class Node:
    pass


@dataclass(frozen=True)
class Field(Node):
    name: str
    start: int = 0
    end: int = 0


@dataclass(frozen=True)
class Number(Node):
    value: float


@dataclass(frozen=True)
class String(Node):
    value: str


@dataclass(frozen=True)
class Regex(Node):
    pattern: str          # already converted to RE2 syntax: (?P<name>...)
    start: int = 0
    end: int = 0


@dataclass(frozen=True)
class Duration(Node):
    ms: int
    text: str


@dataclass(frozen=True)
class Star(Node):
    pass


@dataclass(frozen=True)
class Call(Node):
    name: str             # lower-cased
    args: tuple
    start: int = 0
    end: int = 0


@dataclass(frozen=True)
class BinOp(Node):
    op: str               # + - * / % ^ and or
    left: Node
    right: Node


@dataclass(frozen=True)
class Not(Node):
    expr: Node


@dataclass(frozen=True)
class Neg(Node):
    expr: Node


@dataclass(frozen=True)
class Compare(Node):
    op: str
    left: Node
    right: Node


@dataclass(frozen=True)
class Like(Node):
    expr: Node
    pattern: Node
    negate: bool = False


@dataclass(frozen=True)
class In(Node):
    expr: Node
    items: tuple
    negate: bool = False


Expr = Union[Field, Number, String, Regex, Duration, Star, Call, BinOp, Not, Neg, Compare, Like, In]


@dataclass(frozen=True)
class Item:
    expr: Node
    alias: str | None
    text: str             # the source text, used as the column name when there is no alias
    start: int = 0
    end: int = 0

    @property
    def name(self) -> str:
        return self.alias or self.text


# ---- commands
@dataclass(frozen=True)
class Fields:
    items: tuple


@dataclass(frozen=True)
class Display:
    names: tuple


@dataclass(frozen=True)
class Filter:
    expr: Node


@dataclass(frozen=True)
class Stats:
    items: tuple
    by: tuple


@dataclass(frozen=True)
class Sort:
    keys: tuple           # ((expr, descending), ...)


@dataclass(frozen=True)
class Limit:
    n: int


@dataclass(frozen=True)
class Parse:
    source: str           # field name, @message by default
    regex: str            # RE2 pattern with one group per name
    names: tuple
    group_index: tuple    # the group number of each name


@dataclass(frozen=True)
class Dedup:
    names: tuple


@dataclass(frozen=True)
class FilterIndex:
    field: str            # the indexed field
    expr: Node            # field = value, or field IN [values]


@dataclass(frozen=True)
class Pattern:
    expr: Node            # @message, a parsed field or a string function of them


@dataclass(frozen=True)
class Unnest:
    source: str           # a field holding a list (jsonParse)
    alias: str            # the field each element becomes


Command = Union[Fields, Display, Filter, Stats, Sort, Limit, Parse, Dedup, FilterIndex, Pattern, Unnest]


@dataclass(frozen=True)
class Query:
    commands: tuple
    text: str
