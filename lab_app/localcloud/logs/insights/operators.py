"""The lark transformer rules every language that becomes the Insights AST shares (Insights itself, SQL, PPL):
boolean and arithmetic operators, negation, comparisons, LIKE patterns. A language's transformer inherits them and
names its spellings of the comparison operators in ``COMPARE_ALIASES`` (SQL's ``<>``, PPL's ``==``)."""
from __future__ import annotations

import re
from typing import ClassVar

from lark import Transformer

from lab_app.localcloud.logs.insights import ast


def like_regex(pattern: str) -> str:
    """A LIKE pattern (``%`` any run, ``_`` one character) as the anchored regex Insights' ``like`` takes."""
    out = "".join(".*" if ch == "%" else "." if ch == "_" else re.escape(ch) for ch in pattern)
    return f"(?s)^{out}$"


def binary(op: str):
    """The rule for a binary operator: its operands are the first and last children (a grammar that keeps the
    operator token has it in between)."""
    def method(self, items):
        return ast.BinOp(op, items[0], items[-1])
    return method


class OperatorRules(Transformer):
    COMPARE_ALIASES: ClassVar[dict[str, str]] = {}

    or_ = binary("or")
    and_ = binary("and")
    add = binary("+")
    sub = binary("-")
    mul = binary("*")
    div = binary("/")
    mod = binary("%")

    def not_(self, items):
        return ast.Not(items[-1])

    def neg(self, items):
        return ast.Neg(items[0])

    def compare(self, items):
        op = str(items[1])
        return ast.Compare(self.COMPARE_ALIASES.get(op, op), items[0], items[2])
