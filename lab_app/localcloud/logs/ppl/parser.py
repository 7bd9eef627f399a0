"""OpenSearch PPL (StartQuery ``queryLanguage="PPL"``) -> the Logs Insights AST, which ``insights.to_sql`` runs on
DuckDB with bound parameters.

The subset (commands of "Supported PPL commands" that CloudWatch Logs runs and that map onto one scan of the log
groups StartQuery names): ``fields``, ``where``, ``stats <agg> [as name], ... [by field, ...]`` (``count()``,
``count(f)``, ``sum``, ``avg``, ``min``, ``max``, ``distinct_count`` / ``dc``), ``sort [+|-]field, ...``,
``head [N]`` (10 by default, as PPL's), ``eval name = expr, ...`` and ``dedup field, ...``. Expressions:
comparisons (``=`` or ``==``, ``!=``, ``<``...), ``and`` / ``or`` / ``not``, ``in (...)``, arithmetic, and the
functions ``like(f, 'a%')``, ``isnull``, ``isnotnull``, ``lower``, ``upper``, ``length``, ``concat``, ``trim``,
``abs``, ``floor``, ``ceil``. Anything else (join, lookup, parse, patterns, other functions) is a
``MalformedQueryException`` naming the subset.
"""
from __future__ import annotations

import functools
import re
from pathlib import Path

from lark import Lark, UnexpectedInput, v_args

from lab_app.localcloud.logs.exceptions import MalformedQueryException
from lab_app.localcloud.logs.insights import ast
from lab_app.localcloud.logs.insights.operators import OperatorRules
from lab_app.localcloud.logs.insights.operators import like_regex as _like_regex

GRAMMAR = Path(__file__).with_name("grammar.lark").read_text()
SUBSET = ("the local CloudWatch Logs runs the PPL commands fields, where, stats ... by, sort, head, eval and dedup; "
          "join, lookup, parse and patterns are not available")
FUNCTIONS = {"lower": "tolower", "upper": "toupper", "length": "strlen", "concat": "concat", "trim": "trim",
             "abs": "abs", "floor": "floor", "ceil": "ceil", "ceiling": "ceil"}
AGGREGATES = {"count": "count", "sum": "sum", "avg": "avg", "min": "min", "max": "max",
              "distinct_count": "count_distinct", "dc": "count_distinct"}
HEAD_DEFAULT = 10


@functools.lru_cache(maxsize=1)
def _parser() -> Lark:
    return Lark(GRAMMAR, parser="lalr", propagate_positions=True, maybe_placeholders=False)


def _string(token: str) -> str:
    return re.sub(r"\\(.)", lambda m: {"n": "\n", "t": "\t"}.get(m.group(1), m.group(1)), token[1:-1])


class ToAst(OperatorRules):
    COMPARE_ALIASES = {"==": "="}

    def __init__(self, text: str):
        super().__init__()
        self.text = text

    def column(self, items):
        text = str(items[0])
        return ast.Field(text[1:-1] if text.startswith("`") else text, items[0].start_pos, items[0].end_pos)

    def name(self, items):
        text = str(items[0])
        return text[1:-1] if text.startswith("`") else text

    def number(self, items):
        return ast.Number(float(items[0]))

    def string(self, items):
        return ast.String(_string(str(items[0])))

    @v_args(meta=True)
    def call(self, meta, items):
        name, args = str(items[0]).lower(), tuple(i for i in items[1:] if i is not None)
        if name == "like":
            if len(args) != 2 or not isinstance(args[1], ast.String):
                raise MalformedQueryException("like(field, 'pattern') takes a field and a string", meta.start_pos,
                                              meta.end_pos)
            return ast.Like(args[0], ast.Regex(_like_regex(args[1].value)))
        if name in ("isnull", "isnotnull"):
            present = ast.Call("ispresent", args, meta.start_pos, meta.end_pos)
            return ast.Not(present) if name == "isnull" else present
        if name in AGGREGATES:
            if name == "count" and not args:
                args = (ast.Star(),)
            return ast.Call(AGGREGATES[name], args, meta.start_pos, meta.end_pos)
        if name not in FUNCTIONS:
            raise MalformedQueryException(f"PPL function {name}() is not available: {SUBSET}", meta.start_pos,
                                          meta.end_pos)
        return ast.Call(FUNCTIONS[name], args, meta.start_pos, meta.end_pos)

    def in_(self, items):
        return ast.In(items[0], tuple(items[2:]))

    # ---- commands
    def fields_cmd(self, items):
        columns = items[1:]
        return [ast.Fields(tuple(ast.Item(c, None, c.name, c.start, c.end) for c in columns)),
                ast.Display(tuple(c.name for c in columns))]

    def where_cmd(self, items):
        return [ast.Filter(items[1])]

    @v_args(meta=True)
    def agg(self, meta, items):
        call = items[0]
        if not isinstance(call, ast.Call) or call.name not in AGGREGATES.values():
            raise MalformedQueryException("stats takes aggregations such as count(), avg(field) or "
                                          "distinct_count(field)", meta.start_pos, meta.end_pos)
        alias = items[-1] if len(items) > 1 else None
        text = self.text[call.start:call.end].strip()
        return ast.Item(call, alias, text, meta.start_pos, meta.end_pos)

    def stats_cmd(self, items):
        aggs = [i for i in items if isinstance(i, ast.Item)]
        by = [ast.Item(c, None, c.name, c.start, c.end) for c in items if isinstance(c, ast.Field)]
        # PPL shows the aggregations first, then the group-by fields
        return [ast.Stats(tuple(aggs), tuple(by)), ast.Display(tuple([a.name for a in aggs] + [b.name for b in by]))]

    def sort_asc(self, items):
        return (items[-1], False)

    def sort_desc(self, items):
        return (items[-1], True)

    def sort_cmd(self, items):
        return [ast.Sort(tuple(items[1:]))]

    def head_cmd(self, items):
        return [ast.Limit(int(items[1]) if len(items) > 1 else HEAD_DEFAULT)]

    def assignment(self, items):
        name, expr = items
        text = self.text[getattr(expr, "start", 0):getattr(expr, "end", 0)].strip() or name
        return ast.Item(expr, name, text)

    def eval_cmd(self, items):
        return [ast.Fields(tuple(items[1:]))]

    def dedup_cmd(self, items):
        return [ast.Dedup(tuple(c.name for c in items[1:]))]

    def start(self, items):
        commands = [c for group in items for c in group]
        return ast.Query(tuple(commands), self.text)


@functools.lru_cache(maxsize=256)
def parse(text: str) -> ast.Query:
    """PPL text -> the Insights AST, or MalformedQueryException with the position."""
    if not text or not text.strip():
        raise MalformedQueryException("The query string is empty.", 0, 0)
    try:
        tree = _parser().parse(text)
    except UnexpectedInput as error:
        pos = getattr(error, "pos_in_stream", None)
        pos = len(text) if pos is None else pos
        found = repr(text[pos:pos + 12]) if pos < len(text) else "end of query"
        raise MalformedQueryException(f"PPL syntax error at character {pos} near {found}: {SUBSET}", pos,
                                      pos) from None
    try:
        return ToAst(text).transform(tree)
    except RecursionError:
        raise MalformedQueryException("The query nests too deeply.", 0, len(text)) from None
    except Exception as error:
        inner = getattr(error, "orig_exc", error)
        if isinstance(inner, MalformedQueryException):
            raise inner from None
        raise
