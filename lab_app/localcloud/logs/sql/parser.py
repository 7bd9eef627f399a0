"""OpenSearch SQL (StartQuery ``queryLanguage="SQL"``) -> the Logs Insights AST, which ``insights.to_sql`` runs on
DuckDB with bound parameters.

The subset (the commands of "OpenSearch Structured Query Language (SQL)" in the CloudWatch Logs guide that map
onto one log-group scan): ``SELECT`` (``*``, expressions, ``AS`` aliases), ``FROM`` one backticked log group
name or ``logGroups(logGroupIdentifier: ['a', 'b'])``, ``WHERE`` (comparisons, ``AND``/``OR``/``NOT``, ``LIKE``
with ``%`` and ``_``, ``IN``, ``IS [NOT] NULL``, ``BETWEEN``), ``GROUP BY``, ``HAVING`` (over the SELECT list's
names or aggregates), ``ORDER BY`` and ``LIMIT``; functions ``COUNT(*)``, ``COUNT``, ``COUNT(DISTINCT)``, ``SUM``,
``AVG``, ``MIN``, ``MAX``, ``LOWER``, ``UPPER``, ``LENGTH``, ``CONCAT``, ``TRIM``, ``ABS``, ``FLOOR``, ``CEIL``,
``COALESCE``. ``SELECT *`` shows Insights' default fields (``@timestamp``, ``@message``, ``@logStream``,
``@log``). Anything else (JOIN, subqueries, UNION, window functions, other functions) is a
``MalformedQueryException`` saying what the subset is. ``FROM `filterIndex('field' = 'value')``` (or ``in
['a', 'b']``) reads every log group of the Region that is indexed on the field, as the SQL page documents, through
the Insights ``filterIndex`` command.
"""
from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from pathlib import Path

from lark import Lark, Token, UnexpectedInput, v_args

from lab_app.localcloud.logs.exceptions import MalformedQueryException
from lab_app.localcloud.logs.insights import ast
from lab_app.localcloud.logs.insights.operators import OperatorRules
from lab_app.localcloud.logs.insights.operators import like_regex as _like_regex

GRAMMAR = Path(__file__).with_name("grammar.lark").read_text()
SUBSET = ("the local CloudWatch Logs runs the SQL subset SELECT ... FROM `LogGroup` (or `logGroups(logGroupIdentifier: "
          "[...])`) [WHERE] [GROUP BY] [HAVING] [ORDER BY] [LIMIT]; JOIN, subqueries and UNION are not available")
FUNCTIONS = {"lower": "tolower", "upper": "toupper", "length": "strlen", "concat": "concat", "trim": "trim",
             "abs": "abs", "floor": "floor", "ceil": "ceil", "ceiling": "ceil", "coalesce": "coalesce"}
AGGREGATES = {"count", "sum", "avg", "min", "max"}
_SOURCE = re.compile(r"logGroups\(\s*logGroupIdentifier\s*:\s*\[(?P<items>[^\]]*)\]\s*\)", re.I)
# FROM `filterIndex('field' = 'value')` or `filterIndex('field' in ['a', 'b'])`: every log group indexed on field
_FILTER_INDEX = re.compile(r"filterIndex\(\s*['`](?P<field>[^'`]+)['`]\s*(?:=\s*(?P<one>'[^']*'|\d+(?:\.\d+)?)"
                           r"|in\s*[\[(](?P<many>[^\])]*)[\])])\s*\)", re.I)
ALL_GROUPS = ("*",)     # the groups of a filterIndex source: all of the Region's, then the indexed ones


@dataclass(frozen=True)
class SqlQuery:
    groups: tuple            # log group names or ARNs from FROM
    query: ast.Query         # what Insights runs


@functools.lru_cache(maxsize=1)
def _parser() -> Lark:
    return Lark(GRAMMAR, parser="lalr", propagate_positions=True, maybe_placeholders=False)


def _string(token: str) -> str:
    return token[1:-1].replace("''", "'")


def _has_aggregate(node) -> bool:
    if isinstance(node, ast.Call):
        return node.name in {"count", "count_distinct", "sum", "avg", "min", "max"} or any(
            _has_aggregate(a) for a in node.args)
    return any(_has_aggregate(getattr(node, a)) for a in ("left", "right", "expr") if hasattr(node, a))


class ToAst(OperatorRules):
    COMPARE_ALIASES = {"<>": "!="}

    def __init__(self, text: str):
        super().__init__()
        self.text = text

    def _src(self, meta) -> str:
        return self.text[meta.start_pos:meta.end_pos].strip()

    # ---- leaves
    def column(self, items):
        text = str(items[0])
        return ast.Field(text[1:-1] if text.startswith("`") else text, items[0].start_pos, items[0].end_pos)

    def alias(self, items):
        text = str(items[0])
        return text[1:-1] if text.startswith("`") else text

    def number(self, items):
        return ast.Number(float(items[0]))

    def string(self, items):
        return ast.String(_string(str(items[0])))

    @v_args(meta=True)
    def call(self, meta, items):
        name, args = str(items[0]).lower(), tuple(i for i in items[1:] if i is not None)
        if name in AGGREGATES:
            return ast.Call(name, args, meta.start_pos, meta.end_pos)
        if name not in FUNCTIONS:
            raise MalformedQueryException(f"SQL function {name.upper()}() is not available: {SUBSET}; functions: "
                                          f"{', '.join(sorted(n.upper() for n in {*FUNCTIONS, *AGGREGATES}))}",
                                          meta.start_pos, meta.end_pos)
        return ast.Call(FUNCTIONS[name], args, meta.start_pos, meta.end_pos)

    @v_args(meta=True)
    def call_star(self, meta, items):
        if str(items[0]).lower() != "count":
            raise MalformedQueryException("Only COUNT takes *", meta.start_pos, meta.end_pos)
        return ast.Call("count", (ast.Star(),), meta.start_pos, meta.end_pos)

    @v_args(meta=True)
    def call_distinct(self, meta, items):
        if str(items[0]).lower() != "count":
            raise MalformedQueryException("DISTINCT is available in COUNT(DISTINCT x) only", meta.start_pos,
                                          meta.end_pos)
        return ast.Call("count_distinct", (items[2],), meta.start_pos, meta.end_pos)

    # ---- operators
    def like(self, items):
        return ast.Like(items[0], ast.Regex(_like_regex(_string(str(items[2])))))

    def not_like(self, items):
        return ast.Like(items[0], ast.Regex(_like_regex(_string(str(items[3])))), negate=True)

    def in_(self, items):
        return ast.In(items[0], tuple(i for i in items[2:] if not isinstance(i, Token)))

    def not_in(self, items):
        return ast.In(items[0], tuple(i for i in items[3:] if not isinstance(i, Token)), negate=True)

    def is_null(self, items):
        return ast.Not(ast.Call("ispresent", (items[0],)))

    def is_not_null(self, items):
        return ast.Call("ispresent", (items[0],))

    def between(self, items):
        value, low, high = items[0], items[2], items[4]
        return ast.BinOp("and", ast.Compare(">=", value, low), ast.Compare("<=", value, high))

    # ---- clauses
    @v_args(meta=True)
    def item(self, meta, items):
        expr = items[0]
        alias = items[-1] if len(items) > 1 and isinstance(items[-1], str) and not isinstance(items[-1], Token) \
            else None
        text = self.text[meta.start_pos:meta.end_pos]
        if isinstance(expr, ast.Field) and alias is None:
            text = expr.name      # `@message` is named @message
        elif alias is not None:
            text = re.split(r"\s+(?:as\s+)?`?" + re.escape(alias) + r"`?\s*$", text, flags=re.I)[0]
        return ast.Item(expr, alias, text.strip(), meta.start_pos, meta.end_pos)

    def select_star(self, items):
        return "*"

    def select_list(self, items):
        return tuple(items)

    def source(self, items):
        text = str(items[0])[1:-1].strip()
        index = _FILTER_INDEX.fullmatch(text)
        if index:
            values = [index.group("one")] if index.group("one") else re.findall(r"'[^']*'|\d+(?:\.\d+)?",
                                                                               index.group("many") or "")
            if not values:
                raise MalformedQueryException("filterIndex(...) names no value", items[0].start_pos, items[0].end_pos)
            literals = tuple(ast.String(v[1:-1]) if v.startswith("'") else ast.Number(float(v)) for v in values)
            field = ast.Field(index.group("field"))
            expr = ast.Compare("=", field, literals[0]) if len(literals) == 1 else ast.In(field, literals)
            return ALL_GROUPS, ast.FilterIndex(field.name, expr)
        match = _SOURCE.fullmatch(text)
        if match:
            names = re.findall(r"'([^']*)'|\"([^\"]*)\"", match.group("items"))
            groups = tuple(a or b for a, b in names)
            if not groups:
                raise MalformedQueryException("logGroups(logGroupIdentifier: [...]) names no log group",
                                              items[0].start_pos, items[0].end_pos)
            return groups
        if "(" in text:
            raise MalformedQueryException(f"Unsupported FROM source {text!r}: {SUBSET}", items[0].start_pos,
                                          items[0].end_pos)
        return (text,)

    def where(self, items):
        return ("where", items[1])

    def group_by(self, items):
        return ("group", tuple(items[2:]))

    def having(self, items):
        return ("having", items[1])

    def order_key(self, items):
        return (items[0], len(items) > 1 and str(items[1]).lower() == "desc")

    def order_by(self, items):
        return ("order", tuple(items[2:]))

    def limit(self, items):
        return ("limit", int(items[1]))

    def select(self, items):
        select_list, groups = items[1], items[3]
        clauses = dict(c for c in items[4:] if isinstance(c, tuple))
        commands: list = []
        if len(groups) == 2 and isinstance(groups[1], ast.FilterIndex):
            groups, index = groups
            commands.append(index)
        if "where" in clauses:
            commands.append(ast.Filter(clauses["where"]))
        star = select_list == "*"
        aggregated = not star and any(_has_aggregate(i.expr) for i in select_list)
        keys = clauses.get("group", ())
        if keys or aggregated:
            if star:
                raise MalformedQueryException("SELECT * cannot be grouped: name the GROUP BY keys and aggregates",
                                              0, len(self.text))
            by, aggs, names = [], [], []
            for expr in keys:
                same = next((i for i in select_list if _key(i.expr) == _key(expr)), None)
                by.append(same if same is not None else ast.Item(expr, None, _text_of(self.text, expr)))
            for item in select_list:
                if _has_aggregate(item.expr):
                    aggs.append(item)
                elif not any(_key(b.expr) == _key(item.expr) for b in by):
                    raise MalformedQueryException(
                        f"'{item.text}' must be in GROUP BY or inside an aggregate function", item.start, item.end)
                names.append(item.name)
            if not aggs:
                aggs.append(ast.Item(ast.Call("count", (ast.Star(),)), "_count", "_count"))
            commands.append(ast.Stats(tuple(aggs), tuple(by)))
            rename = {_key(i.expr): i.name for i in aggs}
            if "having" in clauses:
                commands.append(ast.Filter(_by_name(clauses["having"], rename)))
            ordering = [(_by_name(e, rename), d) for e, d in clauses.get("order", ())]
            if ordering:
                commands.append(ast.Sort(tuple(ordering)))
            if "limit" in clauses:
                commands.append(ast.Limit(clauses["limit"]))
            commands.append(ast.Display(tuple(names)))
        else:
            if "having" in clauses:
                raise MalformedQueryException("HAVING needs GROUP BY or an aggregate", 0, len(self.text))
            if not star:
                commands.append(ast.Fields(select_list))
            if clauses.get("order"):
                commands.append(ast.Sort(clauses["order"]))
            if "limit" in clauses:
                commands.append(ast.Limit(clauses["limit"]))
            if not star:
                commands.append(ast.Display(tuple(i.name for i in select_list)))
        return SqlQuery(groups, ast.Query(tuple(commands), self.text))

    def start(self, items):
        return items[0]


def _key(node) -> str:
    """A node without its source offsets: compares a GROUP BY key or a HAVING aggregate with a SELECT item."""
    return repr(_positionless(node))


def _positionless(node):
    if isinstance(node, ast.Field):
        return ast.Field(node.name)
    if isinstance(node, ast.Call):
        return ast.Call(node.name, tuple(_positionless(a) for a in node.args))
    if isinstance(node, ast.BinOp):
        return ast.BinOp(node.op, _positionless(node.left), _positionless(node.right))
    return node


def _text_of(text: str, node) -> str:
    if isinstance(node, ast.Field):
        return node.name
    return text[getattr(node, "start", 0):getattr(node, "end", 0)].strip() or repr(node)


def _by_name(node, rename: dict):
    """HAVING / ORDER BY after GROUP BY: an aggregate of the SELECT list is read by its output name."""
    if isinstance(node, ast.Call) and _key(node) in rename:
        return ast.Field(rename[_key(node)])
    if isinstance(node, ast.Call) and _has_aggregate(node):
        raise MalformedQueryException(f"{node.name.upper()}(...) in HAVING or ORDER BY must also be in the SELECT "
                                      "list", node.start, node.end)
    if isinstance(node, ast.BinOp):
        return ast.BinOp(node.op, _by_name(node.left, rename), _by_name(node.right, rename))
    if isinstance(node, ast.Compare):
        return ast.Compare(node.op, _by_name(node.left, rename), _by_name(node.right, rename))
    if isinstance(node, ast.Not):
        return ast.Not(_by_name(node.expr, rename))
    return node


@functools.lru_cache(maxsize=256)
def parse(text: str) -> SqlQuery:
    """SQL text -> (log groups, Insights AST), or MalformedQueryException with the position."""
    if not text or not text.strip():
        raise MalformedQueryException("The query string is empty.", 0, 0)
    try:
        tree = _parser().parse(text)
    except UnexpectedInput as error:
        pos = getattr(error, "pos_in_stream", None)
        pos = len(text) if pos is None else pos
        found = repr(text[pos:pos + 12]) if pos < len(text) else "end of query"
        raise MalformedQueryException(f"SQL syntax error at character {pos} near {found}: {SUBSET}", pos,
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
