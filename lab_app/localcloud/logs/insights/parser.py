"""Query text -> AST: the lark grammar, a Transformer, and learner-friendly syntax errors.

Errors are :class:`MalformedQueryException` with the character offsets of the problem, the way
CloudWatch Logs reports them in ``queryCompileError.location``.
"""
from __future__ import annotations

import functools
import re
from pathlib import Path

from lark import Lark, Token, UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken, v_args

from lab_app.localcloud.logs.exceptions import MalformedQueryException
from lab_app.localcloud.logs.insights import ast
from lab_app.localcloud.logs.insights.operators import OperatorRules, binary
from lab_app.localcloud.logs.re2 import re2_error
from lab_app.localcloud.syntax_hints import SyntaxHints

GRAMMAR = Path(__file__).with_name("grammar.lark").read_text()

UNITS_MS = {"ms": 1, "s": 1000, "sec": 1000, "m": 60_000, "min": 60_000, "h": 3_600_000, "d": 86_400_000,
            "w": 7 * 86_400_000, "mo": 30 * 86_400_000, "q": 91 * 86_400_000, "y": 365 * 86_400_000}

# Typical mistakes -> a message a learner can act on (lark's match_examples).
ERROR_EXAMPLES = {
    "A command must follow '|': fields, display, filter, filterIndex, stats, sort, limit, parse, dedup, pattern or unnest.": [
        "fields @message | | limit 1", "fields @message |", "limit 5 | select x"],
    "'stats' needs an aggregate such as count(*), avg(field) or pct(field, 99).": [
        "stats by route", "stats"],
    "'limit' takes a whole number, e.g. 'limit 20'.": ["limit", "limit x", "limit -1", "limit 2.5"],
    "Unbalanced parentheses or brackets.": ["stats count(* by route", "filter (a = 1", "filter a in [1, 2"],
    "A comparison is missing its right-hand side.": ["filter status =", "filter a >", "filter status = | limit 1"],
    "Unknown command: a query is commands separated by '|' (fields, display, filter, filterIndex, stats, sort, limit, "
    "parse, dedup, pattern, unnest).": [
        "select @message", "where status = 500", "fields @message | where x = 1"],
}


@functools.lru_cache(maxsize=1)
def _parser() -> Lark:
    return Lark(GRAMMAR, parser="lalr", propagate_positions=True, maybe_placeholders=False)


_HINTS = SyntaxHints(_parser, ERROR_EXAMPLES)


def _unquote(token: str) -> str:
    body = token[1:-1]
    return re.sub(r"\\(.)", lambda m: {"n": "\n", "t": "\t"}.get(m.group(1), m.group(1)), body)


_NAMED_GROUP = re.compile(r"\(\?<(?![=!])")


def to_re2(pattern: str, flags: str = "") -> str:
    """AWS uses ``(?<name>...)``; RE2 (DuckDB) and Python want ``(?P<name>...)``."""
    converted = _NAMED_GROUP.sub("(?P<", pattern)
    inline = "".join(f for f in flags if f in "ims")
    return f"(?{inline}){converted}" if inline else converted


def _regex_token(token: Token) -> str:
    text = str(token)
    end = text.rfind("/")
    return to_re2(text[1:end].replace("\\/", "/"), text[end + 1:])


def _field_name(token_or_tree) -> str:
    text = str(token_or_tree)
    return text[1:-1] if text.startswith("`") else text


class ToAst(OperatorRules):
    def __init__(self, text: str):
        super().__init__()
        self.text = text

    # ---- leaves
    def name(self, items):
        return _field_name(items[0])

    @v_args(meta=True)
    def field(self, meta, items):
        return ast.Field(items[0], meta.start_pos, meta.end_pos)

    def number(self, items):
        return ast.Number(float(items[0]))

    def duration(self, items):
        text = str(items[0])
        m = re.fullmatch(r"(\d+)([a-z]+)", text)
        return ast.Duration(int(m.group(1)) * UNITS_MS[m.group(2)], text)

    def string(self, items):
        return ast.String(_unquote(str(items[0])))

    def regex(self, items):
        tok = items[0]
        pattern = _regex_token(tok)
        _check_regex(pattern, tok.start_pos, tok.end_pos)
        return ast.Regex(pattern, tok.start_pos, tok.end_pos)

    def star(self, items):
        return ast.Star()

    @v_args(meta=True)
    def call(self, meta, items):
        name = str(items[0]).lower()
        return ast.Call(name, tuple(i for i in items[1:] if i is not None), meta.start_pos, meta.end_pos)

    # ---- operators: or_, and_, + - * / %, not_, neg and compare are OperatorRules'; Insights adds ^
    pow = binary("^")

    def like(self, items):
        return ast.Like(items[0], items[1])

    def like_op(self, items):
        return ast.Like(items[0], items[2])

    def not_like(self, items):
        return ast.Like(items[0], items[1], negate=True)

    def list(self, items):
        return tuple(i for i in items if i is not None)

    def in_(self, items):
        return ast.In(items[0], items[1])

    def not_in(self, items):
        return ast.In(items[0], items[1], negate=True)

    # ---- commands
    @v_args(meta=True)
    def item(self, meta, items):
        alias = items[1] if len(items) > 1 else None
        expr = items[0]
        # The default column name is the expression's own text, as AWS shows it.
        end = meta.end_pos
        text = self.text[meta.start_pos:end]
        if alias is not None:
            text = re.split(r"\s+as\s+", text, flags=re.I)[0].strip()
        return ast.Item(expr, alias, text.strip(), meta.start_pos, end)

    def fields_cmd(self, items):
        return ast.Fields(tuple(items))

    def display_cmd(self, items):
        return ast.Display(tuple(items))

    def filter_cmd(self, items):
        return ast.Filter(items[0])

    def stats_cmd(self, items):
        aggs, by, seen_by = [], [], False
        for item in items:
            if isinstance(item, Token):  # the BY keyword
                seen_by = True
            elif seen_by:
                by.append(item)
            else:
                aggs.append(item)
        for item in aggs:
            if not _has_aggregate(item.expr):
                raise MalformedQueryException(
                    f"stats: '{item.text}' is not an aggregate; use count(*), sum, avg, min, max, pct, "
                    "count_distinct, stddev, earliest or latest (group with 'by')", item.start, item.end)
        return ast.Stats(tuple(aggs), tuple(by))

    def sort_key(self, items):
        desc = len(items) > 1 and str(items[1]).lower() == "desc"
        return (items[0], desc)

    def sort_cmd(self, items):
        return ast.Sort(tuple(items))

    def limit_cmd(self, items):
        return ast.Limit(int(items[0]))

    def parse_glob(self, items):
        source = "@message"
        if isinstance(items[0], str) and not isinstance(items[0], Token):
            source, items = items[0], items[1:]
        pattern_tok, names = items[0], tuple(items[1:])
        glob = _unquote(str(pattern_tok))
        stars = glob.count("*")
        if stars != len(names):
            raise MalformedQueryException(
                f"parse: the pattern has {stars} '*' but {len(names)} names follow 'as'",
                pattern_tok.start_pos, pattern_tok.end_pos)
        parts = glob.split("*")
        regex = ""
        for i, part in enumerate(parts[:-1]):
            last = i == len(parts) - 2 and parts[-1] == ""
            regex += re.escape(part) + ("(.*)" if last else "(.*?)")
        regex += re.escape(parts[-1])
        return ast.Parse(source, regex, names, tuple(range(1, len(names) + 1)))

    def parse_regex(self, items):
        source = "@message"
        if len(items) == 2:
            source, items = items[0], items[1:]
        tok = items[0]
        pattern = _regex_token(tok)
        compiled = _check_regex(pattern, tok.start_pos, tok.end_pos)
        if not compiled.groupindex:
            raise MalformedQueryException(
                "parse with a regular expression needs named groups such as (?<status>\\d+)",
                tok.start_pos, tok.end_pos)
        names = tuple(sorted(compiled.groupindex, key=compiled.groupindex.get))
        return ast.Parse(source, pattern, names, tuple(compiled.groupindex[n] for n in names))

    def dedup_cmd(self, items):
        return ast.Dedup(tuple(items))

    @v_args(meta=True)
    def filter_index_cmd(self, meta, items):
        expr = items[1]
        literal = (ast.String, ast.Number)
        if isinstance(expr, ast.Compare) and expr.op == "=" and isinstance(expr.left, ast.Field) \
                and isinstance(expr.right, literal):
            return ast.FilterIndex(expr.left.name, expr)
        if isinstance(expr, ast.In) and not expr.negate and isinstance(expr.expr, ast.Field) and expr.items \
                and all(isinstance(i, literal) for i in expr.items):
            return ast.FilterIndex(expr.expr.name, expr)
        raise MalformedQueryException(
            "filterIndex takes an indexed field compared with = to a value, or IN a list of values, e.g. "
            "filterIndex requestId = \"abc\" or filterIndex status in [500, 503]", meta.start_pos, meta.end_pos)

    def pattern_cmd(self, items):
        return ast.Pattern(items[0])

    def unnest_cmd(self, items):
        return ast.Unnest(items[0], items[1])

    def start(self, items):
        return ast.Query(tuple(items), self.text)


AGGREGATES = {"count", "count_distinct", "sum", "avg", "min", "max", "pct", "percentile", "stddev",
              "earliest", "latest", "sortsfirst", "sortslast"}


def _has_aggregate(node) -> bool:
    if isinstance(node, ast.Call):
        return node.name in AGGREGATES or any(_has_aggregate(a) for a in node.args)
    for attr in ("left", "right", "expr", "pattern"):
        if hasattr(node, attr) and _has_aggregate(getattr(node, attr)):
            return True
    return False


def _check_regex(pattern: str, start: int, end: int):
    try:
        compiled = re.compile(pattern)
    except re.error as exc:
        raise MalformedQueryException(f"Invalid regular expression: {exc}", start, end) from None
    problem = re2_error(pattern)
    if problem:
        raise MalformedQueryException(f"Unsupported regular expression: {problem}", start, end)
    return compiled


@functools.lru_cache(maxsize=256)
def parse(text: str) -> ast.Query:
    """Parse Logs Insights query text into an AST or raise MalformedQueryException(position)."""
    if not text or not text.strip():
        raise MalformedQueryException("The query string is empty.", 0, 0)
    parser = _parser()
    try:
        tree = parser.parse(text)
    except UnexpectedInput as exc:
        raise _syntax_error(text, exc) from None
    try:
        query = ToAst(text).transform(tree)
    except Exception as exc:
        inner = getattr(exc, "orig_exc", exc)
        if isinstance(inner, MalformedQueryException):
            raise inner from None
        raise
    _validate(query, text)
    return query


def _syntax_error(text: str, exc: UnexpectedInput) -> MalformedQueryException:
    pos = exc.pos_in_stream if getattr(exc, "pos_in_stream", None) is not None else len(text)
    if isinstance(exc, UnexpectedEOF) or (isinstance(exc, UnexpectedToken) and exc.token.type == "$END"):
        pos = len(text)
    hint = _HINTS.hint(exc)
    if isinstance(exc, UnexpectedCharacters):
        found = repr(text[pos]) if pos < len(text) else "end of query"
    elif isinstance(exc, UnexpectedToken):
        found = "end of query" if exc.token.type == "$END" else repr(str(exc.token))
    else:
        found = "end of query"
    line = text.count("\n", 0, pos) + 1
    column = pos - (text.rfind("\n", 0, pos) + 1) + 1
    message = f"unexpected {found} at line {line}, column {column} (character {pos})"
    if hint:
        message += f": {hint}"
    end = pos + (len(str(exc.token)) if isinstance(exc, UnexpectedToken) and exc.token.type != "$END" else 0)
    return MalformedQueryException(message, pos, end)


def index_fields(query: ast.Query) -> list[str]:
    """The fields the query's ``filterIndex`` commands name (the log groups read must be indexed on them)."""
    return list(dict.fromkeys(c.field for c in query.commands if isinstance(c, ast.FilterIndex)))


def _validate(query: ast.Query, text: str) -> None:
    aggregated = False
    for command in query.commands:
        if isinstance(command, (ast.Stats, ast.Pattern)):
            aggregated = True
        if isinstance(command, ast.FilterIndex) and aggregated:
            raise MalformedQueryException("filterIndex reads log events: put it before stats and pattern.", 0,
                                          len(text))
        if isinstance(command, ast.Stats) and not command.items:
            raise MalformedQueryException("'stats' needs at least one aggregate function such as count(*).", 0,
                                          len(text))
        if isinstance(command, ast.Limit) and not (1 <= command.n <= 100_000):
            raise MalformedQueryException("limit must be between 1 and 100000.", 0, len(text))
