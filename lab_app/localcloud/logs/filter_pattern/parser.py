"""Filter pattern text -> AST (lark LALR grammar + Transformer)."""
from __future__ import annotations

import functools
import re
from pathlib import Path

from lark import Lark, Transformer, UnexpectedInput

from lab_app.localcloud.logs.filter_pattern import ast
from lab_app.localcloud.logs.re2 import re2_error

GRAMMAR = (Path(__file__).with_name("grammar.lark")).read_text()


class FilterPatternError(ValueError):
    def __init__(self, message: str, position: int):
        super().__init__(message)
        self.position = position


@functools.lru_cache(maxsize=1)
def _parser() -> Lark:
    return Lark(GRAMMAR, start=["term_pattern", "json_pattern", "delimited_pattern"], parser="lalr")


def _unquote(token: str) -> str:
    inner = token[1:-1]
    return re.sub(r'\\(.)', r'\1', inner)


def selector(text: str) -> ast.Selector:
    path: list = []
    for dotted, index, star in re.findall(r'\.([A-Za-z0-9_@\-]+|\*)|\[(\d+)\]|\[(\*)\]', text[1:]):
        if index:
            path.append(int(index))
        elif star:
            path.append("*")
        else:
            path.append(dotted)
    return ast.Selector(text=text, path=tuple(path))


class ToAst(Transformer):
    # values
    def v_string(self, items):
        return ast.Text(_unquote(str(items[0])))

    def v_number(self, items):
        return ast.Number(float(items[0]))

    def v_regex(self, items):
        return ast.Regex(str(items[0])[1:-1])

    def v_bare(self, items):
        return ast.Text(str(items[0]))

    # terms
    def phrase(self, items):
        return ast.Term("phrase", _unquote(str(items[0])))

    def regex(self, items):
        return ast.Term("regex", str(items[0])[1:-1])

    def word(self, items):
        return ast.Term("word", str(items[0]))

    def term(self, items):
        if len(items) == 2:
            return (str(items[0]), items[1])
        return ("", items[0])

    def term_pattern(self, items):
        required, optional, excluded = [], [], []
        for prefix, term in items:
            {"": required, "?": optional, "-": excluded}[prefix].append(term)
        return ast.TermPattern(tuple(required), tuple(optional), tuple(excluded))

    # JSON
    def j_compare(self, items):
        sel, op, value = items
        return ast.JCompare(selector(str(sel)), str(op), value)

    def j_is_null(self, items):
        return ast.JCheck(selector(str(items[0])), "null")

    def j_exists(self, items):
        return ast.JCheck(selector(str(items[0])), "exists")

    def j_not_exists(self, items):
        return ast.JCheck(selector(str(items[0])), "not_exists")

    def j_is_bool(self, items):
        return ast.JCheck(selector(str(items[0])), str(items[1]).lower())

    def j_and(self, items):
        return ast.JAnd(items[0], items[1])

    def j_or(self, items):
        return ast.JOr(items[0], items[1])

    def json_pattern(self, items):
        return ast.JsonPattern(items[0])

    # delimited
    def d_name(self, items):
        return ast.DName(str(items[0]))

    def d_compare(self, items):
        return ast.DCompare(str(items[0]), str(items[1]), items[2])

    def d_and(self, items):
        return ast.DAnd(items[0], items[1])

    def d_or(self, items):
        return ast.DOr(items[0], items[1])

    def ellipsis(self, items):
        return ast.Ellipsis_()

    def dfield(self, items):
        expr = items[0]
        first = expr
        while isinstance(first, (ast.DAnd, ast.DOr)):
            first = first.left
        if isinstance(expr, ast.DName):
            return ast.DField(expr.name, None)
        return ast.DField(first.name, expr)

    def delimited_pattern(self, items):
        names = [f.name for f in items if isinstance(f, ast.DField)]
        if len(names) != len(set(names)):
            raise FilterPatternError("Duplicate field names in a space-delimited filter pattern", 0)
        return ast.DelimitedPattern(tuple(items))


@functools.lru_cache(maxsize=256)
def parse(text: str | None) -> ast.Pattern:
    """Parse a CloudWatch Logs filter pattern; raises FilterPatternError with the position of the problem."""
    stripped = (text or "").strip()
    if stripped in ("", '""'):
        return ast.MatchAll()
    start = {"{": "json_pattern", "[": "delimited_pattern"}.get(stripped[0], "term_pattern")
    try:
        tree = _parser().parse(stripped, start=start)
        pattern = ToAst().transform(tree)
    except UnexpectedInput as exc:
        pos = getattr(exc, "pos_in_stream", None) or 0
        context = exc.get_context(stripped, 20).splitlines()[0] if stripped else ""
        kind = {"json_pattern": "JSON", "delimited_pattern": "space-delimited"}.get(start, "term")
        raise FilterPatternError(
            f"Invalid {kind} filter pattern at character {pos + 1}: {context!r}", pos) from None
    except Exception as exc:  # errors raised inside the transformer
        inner = getattr(exc, "orig_exc", exc)
        if isinstance(inner, FilterPatternError):
            raise inner from None
        raise
    for regex in _regexes(pattern):
        try:
            re.compile(regex)
        except re.error as exc:
            raise FilterPatternError(f"Invalid regular expression %{regex}%: {exc}", 0) from None
        problem = re2_error(regex)
        if problem:
            raise FilterPatternError(f"Unsupported regular expression %{regex}%: {problem}", 0)
    return pattern


def _regexes(node):
    if isinstance(node, (ast.Regex,)):
        yield node.pattern
    elif isinstance(node, ast.Term) and node.kind == "regex":
        yield node.text
    elif isinstance(node, ast.TermPattern):
        for group in (node.required, node.optional, node.excluded):
            for t in group:
                yield from _regexes(t)
    elif hasattr(node, "__dataclass_fields__"):
        for name in node.__dataclass_fields__:
            child = getattr(node, name)
            if isinstance(child, tuple):
                for c in child:
                    yield from _regexes(c)
            else:
                yield from _regexes(child)
