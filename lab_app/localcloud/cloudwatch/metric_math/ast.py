"""The metric-math syntax tree: plain frozen dataclasses (no lark types past the parser)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Union


@dataclass(frozen=True)
class Number:
    value: float


@dataclass(frozen=True)
class String:
    value: str


@dataclass(frozen=True)
class Ref:
    """An Id of another query in the request (``m1``), or a keyword argument such as ``REPEAT``."""

    name: str


@dataclass(frozen=True)
class Call:
    name: str                # upper case, as CloudWatch spells functions
    args: tuple["Node", ...]


@dataclass(frozen=True)
class Array:
    items: tuple["Node", ...]


@dataclass(frozen=True)
class Unary:
    op: str                  # "-" or "NOT"
    operand: "Node"


@dataclass(frozen=True)
class Binary:
    op: str                  # + - * / ^ == != < <= > >= AND OR
    left: "Node"
    right: "Node"


Node = Union[Number, String, Ref, Call, Array, Unary, Binary]


def references(node: Node) -> set[str]:
    """Every Id an expression names (keywords such as REPEAT included; the caller filters)."""
    if isinstance(node, Ref):
        return {node.name}
    if isinstance(node, Call):
        return set().union(*(references(a) for a in node.args)) if node.args else set()
    if isinstance(node, Array):
        return set().union(*(references(a) for a in node.items)) if node.items else set()
    if isinstance(node, Unary):
        return references(node.operand)
    if isinstance(node, Binary):
        return references(node.left) | references(node.right)
    return set()


def calls(node: Node) -> set[str]:
    if isinstance(node, Call):
        return {node.name}.union(*(calls(a) for a in node.args))
    if isinstance(node, Array):
        return set().union(*(calls(a) for a in node.items)) if node.items else set()
    if isinstance(node, Unary):
        return calls(node.operand)
    if isinstance(node, Binary):
        return calls(node.left) | calls(node.right)
    return set()
