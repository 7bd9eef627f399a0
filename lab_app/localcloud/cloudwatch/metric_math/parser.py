"""Metric-math text -> AST (lark LALR grammar + Transformer)."""
from __future__ import annotations

import functools
import re
from pathlib import Path

from lark import Lark, Token, Transformer, UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken

from lab_app.localcloud.cloudwatch.metric_math import ast

GRAMMAR = (Path(__file__).with_name("grammar.lark")).read_text()
MAX_EXPRESSION_CHARS = 2048     # MetricDataQuery.Expression: 1-2048 characters (botocore's model)


class ExpressionError(ValueError):
    """A metric-math expression CloudWatch would reject; ``str()`` is the reason (without the query Id)."""


@functools.lru_cache(maxsize=1)
def _parser() -> Lark:
    return Lark(GRAMMAR, parser="lalr", maybe_placeholders=False)


def _unquote(token: str) -> str:
    return re.sub(r"\\(.)", r"\1", token[1:-1])


def _fold(items: list) -> ast.Node:
    """``a OP b OP c`` (left-associative), from the flat list lark gives for repeated operators."""
    node = items[0]
    for i in range(1, len(items), 2):
        op = str(items[i])
        op = {"&&": "AND", "||": "OR"}.get(op, op)
        node = ast.Binary(op, node, items[i + 1])
    return node


class _ToAst(Transformer):
    def number(self, items):
        return ast.Number(float(items[0]))

    def string(self, items):
        return ast.String(_unquote(str(items[0])))

    def ref(self, items):
        return ast.Ref(str(items[0]))

    def args(self, items):
        return tuple(items)

    def call(self, items):
        return ast.Call(str(items[0]).upper(), items[1] if len(items) > 1 else ())

    def array(self, items):
        return ast.Array(items[0] if items else ())

    def neg(self, items):
        return ast.Unary("-", items[0])

    def not_(self, items):
        return ast.Unary("NOT", items[1])

    def or_expr(self, items):
        return _fold(items)

    def and_expr(self, items):
        return _fold(items)

    def comparison(self, items):
        return _fold(items)

    def sum(self, items):
        return _fold(items)

    def product(self, items):
        return _fold(items)

    def power(self, items):
        return ast.Binary("^", items[0], items[1])

    def unary(self, items):  # unary plus
        return items[-1]


@functools.lru_cache(maxsize=512)
def parse(text: str) -> ast.Node:
    """The AST of one expression; :class:`ExpressionError` with CloudWatch-style wording when it is not valid."""
    if not isinstance(text, str) or not text.strip():
        raise ExpressionError("Expression must not be empty.")
    if len(text) > MAX_EXPRESSION_CHARS:
        raise ExpressionError(f"Expression must not be longer than {MAX_EXPRESSION_CHARS} characters.")
    try:
        tree = _parser().parse(text)
    except UnexpectedCharacters as error:
        raise ExpressionError(f"Unexpected character '{text[error.pos_in_stream]}' at position "
                              f"{error.column}.") from None
    except UnexpectedEOF:
        raise ExpressionError("Unexpected end of expression.") from None
    except UnexpectedToken as error:
        token: Token = error.token
        if token.type == "$END":
            raise ExpressionError("Unexpected end of expression.") from None
        raise ExpressionError(f"Syntax error: unexpected '{token}' at position {token.column}.") from None
    except UnexpectedInput as error:  # pragma: no cover - the three above cover lark's LALR errors
        raise ExpressionError(f"Syntax error at position {getattr(error, 'column', '?')}.") from None
    return _ToAst().transform(tree)
