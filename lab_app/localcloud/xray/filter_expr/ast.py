"""The filter-expression AST: plain dataclasses, no parsing and no SQL here."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Union

Value = Union[str, float, bool]


@dataclass(frozen=True)
class BoolKeyword:
    """ok, error, fault, throttle, partial (optionally ``= true/false`` or negated with ``!``)."""
    name: str
    value: bool = True


@dataclass(frozen=True)
class Compare:
    """``keyword op value`` for number and string keywords."""
    keyword: str
    op: str
    value: Value


@dataclass(frozen=True)
class AnnotationCompare:
    key: str
    op: str
    value: Value


@dataclass(frozen=True)
class GroupRef:
    """``group.name = "x"`` / ``group.arn = "..."``: the traces the group's own expression selects."""
    field: str
    value: str


@dataclass(frozen=True)
class ServiceRef:
    name: str | None = None
    type: str | None = None


@dataclass(frozen=True)
class ServiceScope:
    """``service("name") { ... }``; the body is evaluated against that service's segments."""
    ref: ServiceRef
    body: "Expr | None" = None


@dataclass(frozen=True)
class EdgeScope:
    """``edge("a", "b") { ... }``; the body is evaluated against the calls from a to b."""
    source: ServiceRef
    target: ServiceRef
    body: "Expr | None" = None


@dataclass(frozen=True)
class Not:
    expr: "Expr"


@dataclass(frozen=True)
class And:
    items: tuple = field(default_factory=tuple)


@dataclass(frozen=True)
class Or:
    items: tuple = field(default_factory=tuple)


Expr = Union[BoolKeyword, Compare, AnnotationCompare, GroupRef, ServiceScope, EdgeScope, Not, And, Or]
