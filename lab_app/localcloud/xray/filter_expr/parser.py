"""Filter expression text -> AST (lark LALR grammar + Transformer), with errors a learner can act on."""
from __future__ import annotations

import json
import re
from functools import lru_cache
from pathlib import Path

from lark import Lark, Transformer, UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken
from lark.exceptions import VisitError

from lab_app.localcloud.syntax_hints import SyntaxHints
from lab_app.localcloud.xray.exceptions import InvalidRequestException
from lab_app.localcloud.xray.filter_expr import ast

BOOL_KEYWORDS = {"ok", "error", "fault", "throttle", "partial"}
NUMBER_KEYWORDS = {"responsetime", "duration", "http.status"}
STRING_KEYWORDS = {"http.url", "http.method", "http.useragent", "http.clientip", "user"}
NUMBER_OPS = {"=", "!=", "<", "<=", ">", ">="}
STRING_OPS = {"=", "!=", "CONTAINS", "BEGINSWITH", "ENDSWITH"}
# Documented by X-Ray, deliberately not implemented by the local stand-in: rejected, never ignored.
UNSUPPORTED = {
    "inferred", "first", "last", "remote", "root", "index", "coverage", "name", "type", "json",
    "rootcause", "fault.rootcause", "error.rootcause", "responsetime.rootcause",
    "rootcause.fault", "rootcause.error", "rootcause.responsetime", "instance.id", "resource.arn",
    "availabilityzone", "cause",
}

GRAMMAR = (Path(__file__).with_name("grammar.lark")).read_text()


class FilterSyntaxError(InvalidRequestException):
    pass


class _Unsupported(Exception):
    pass


class _BadExpression(Exception):
    pass


def _unquote(token: str) -> str:
    return json.loads(token)


class ToAst(Transformer):
    def string(self, items):
        return _unquote(items[0])

    def number(self, items):
        return float(items[0])

    def true(self, _):
        return True

    def false(self, _):
        return False

    def dotted(self, items):
        return ("kw", ".".join(str(t) for t in items))

    def bracketed(self, items):
        head, key = (str(t) for t in items)
        if head.lower() != "annotation":
            raise _BadExpression(f"'{head}[...]' is not a keyword; only annotation[key] uses brackets")
        return ("kw", f"annotation.{key}")

    # --- conditions --------------------------------------------------------------------------
    def op(self, items):
        text = str(items[0])
        return text.upper() if text.isalpha() else text

    def comparison(self, items):
        (_, name), op, value = items
        lname = name.lower()
        if lname.startswith("annotation."):
            key = name.split(".", 1)[1]
            if isinstance(value, bool) and op not in ("=", "!="):
                raise _BadExpression(f"annotation.{key}: a boolean value takes = or !=, not {op}")
            if isinstance(value, float) and op not in NUMBER_OPS:
                raise _BadExpression(f"annotation.{key}: {op} needs a string value in double quotes")
            if isinstance(value, str) and op not in STRING_OPS:
                raise _BadExpression(f"annotation.{key}: {op} needs a number value")
            return ast.AnnotationCompare(key, op, value)
        if lname in BOOL_KEYWORDS:
            if op not in ("=", "!=") or not isinstance(value, bool):
                raise _BadExpression(f"'{name}' is a boolean keyword: use '{name}', '!{name}' or '{name} = true|false'")
            return ast.BoolKeyword(lname, value if op == "=" else not value)
        if lname in NUMBER_KEYWORDS:
            if op not in NUMBER_OPS:
                raise _BadExpression(f"'{name}' is a number keyword: {op} is not allowed (use = != < <= > >=)")
            if not isinstance(value, float):
                raise _BadExpression(f"'{name}' is a number keyword: compare it with a number, e.g. {name} > 1")
            return ast.Compare(lname, op, value)
        if lname in STRING_KEYWORDS:
            if op not in STRING_OPS:
                raise _BadExpression(f"'{name}' is a string keyword: {op} is not allowed (use = != CONTAINS BEGINSWITH ENDSWITH)")
            if not isinstance(value, str):
                raise _BadExpression(f'\'{name}\' is a string keyword: compare it with a string in double quotes, e.g. {name} = "x"')
            return ast.Compare(lname, op, value)
        if lname in ("group.name", "group.arn"):
            if op != "=" or not isinstance(value, str):
                raise _BadExpression(f'{name} takes = and a string in double quotes')
            return ast.GroupRef(lname.split(".")[1], value)
        self._unknown(name)

    def bare(self, items):
        (_, name), = items
        lname = name.lower()
        if lname in BOOL_KEYWORDS:
            return ast.BoolKeyword(lname, True)
        if lname.startswith("annotation.") or lname in NUMBER_KEYWORDS or lname in STRING_KEYWORDS:
            raise _BadExpression(f"'{name}' needs an operator and a value, e.g. {name} = ...")
        self._unknown(name)

    def _unknown(self, name: str):
        if name.lower() in UNSUPPORTED or name.lower().split(".")[0] in ("rootcause", "json"):
            raise _Unsupported(
                f"The filter keyword '{name}' is part of X-Ray's filter language but the local cloud stand-in does "
                f"not implement it; remove it, or run this query against AWS X-Ray")
        known = sorted(BOOL_KEYWORDS | NUMBER_KEYWORDS | STRING_KEYWORDS) + ["annotation.<key>", "service()", "edge()", "group.name"]
        raise _BadExpression(f"unknown keyword '{name}'; known keywords: {', '.join(known)}")

    def bare_id(self, items):
        raise _Unsupported("id(...) on its own is not implemented by the local cloud stand-in; use it inside "
                           "service(id(name: \"...\", type: \"...\")) or edge(...)")

    def not_(self, items):
        inner = items[0]
        if isinstance(inner, ast.BoolKeyword):
            return ast.BoolKeyword(inner.name, not inner.value)
        return ast.Not(inner)

    def and_(self, items):
        return items[0] if len(items) == 1 else ast.And(tuple(items))

    def or_(self, items):
        return items[0] if len(items) == 1 else ast.Or(tuple(items))

    # --- scopes --------------------------------------------------------------------------------
    def ref_name(self, items):
        return ast.ServiceRef(name=_unquote(items[0]))

    def id_pair(self, items):
        key, value = str(items[0]).lower(), _unquote(items[1])
        if key not in ("name", "type", "names", "account.id"):
            raise _BadExpression(f"id(...) takes name: and type:, not {key}:")
        if key in ("names", "account.id"):
            raise _Unsupported(f"id({key}: ...) is not implemented by the local cloud stand-in; use name: and type:")
        return key, value

    def id_call(self, items):
        pairs = dict(items[1:])
        return ast.ServiceRef(name=pairs.get("name"), type=pairs.get("type"))

    def block(self, items):
        return items[0] if items else None

    def service_scope(self, items):
        ref = items[1] if items[1] is not None else ast.ServiceRef()
        return ast.ServiceScope(ref, items[2])

    def edge_scope(self, items):
        return ast.EdgeScope(items[1], items[2], items[3])


_EXAMPLES = {
    "a comparison is missing its value (e.g. responsetime > 5)": ["responsetime >", "http.status =", "duration < 2 AND ok AND responsetime >="],
    "a string must be in double quotes (e.g. http.url CONTAINS \"/api\")": ["http.url CONTAINS api", "user = bob"],
    "AND/OR needs a condition on both sides": ["ok AND", "ok OR", "AND ok", "OR ok", "ok AND AND fault"],
    "parentheses or braces are not balanced": ["(ok", "ok)", "service(\"a\") { ok", "service(\"a\") ok }", "((ok)"],
    "an operator needs a keyword on its left (e.g. duration > 1)": ["> 5", "= 1", "!= 2"],
    "service(...) takes a name in double quotes or id(name: \"...\", type: \"...\")": ["service(a)", "service(1)"],
    "edge(...) takes two services: edge(\"source\", \"destination\")": ["edge(\"a\")", "edge()"],
}


@lru_cache(maxsize=1)
def _parser() -> Lark:
    return Lark(GRAMMAR, parser="lalr", propagate_positions=False, maybe_placeholders=True)


_HINTS = SyntaxHints(_parser, _EXAMPLES)


def parse(text: str) -> ast.Expr:
    """Parse a filter expression; raises InvalidRequestException saying where and what is wrong."""
    if text is None or not str(text).strip():
        raise FilterSyntaxError("The filter expression is empty")
    if len(text) > 2000:
        raise FilterSyntaxError("The filter expression is longer than 2000 characters")
    bare_text = re.sub(r'"(\\.|[^"\\])*"', '""', text)
    found = re.search(r"\b(rootcause|json)\b", bare_text, re.IGNORECASE)
    if found:
        raise InvalidRequestException(
            f"The filter keyword '{found.group(1)}' (root-cause and JSON filters) is part of X-Ray's filter language "
            f"but the local cloud stand-in does not implement it; remove it, or run this query against AWS X-Ray")
    parser = _parser()
    try:
        tree = parser.parse(text)
    except UnexpectedInput as exc:
        hint = _HINTS.hint(exc)
        where = f"line {exc.line}, column {exc.column}" if getattr(exc, "line", -1) not in (-1, None) else "the end"
        if isinstance(exc, UnexpectedEOF):
            where = "the end of the expression"
        if isinstance(exc, UnexpectedToken):
            got = f"unexpected '{exc.token}'" if exc.token.type != "$END" else "unexpected end of expression"
            if exc.token.type == "$END":
                where = "the end of the expression"
        elif isinstance(exc, UnexpectedCharacters):
            got = f"unexpected character {text[exc.pos_in_stream]!r}"
        else:
            got = "unexpected end of expression"
        context = exc.get_context(text).rstrip("\n") if hasattr(exc, "get_context") else ""
        message = f"Invalid filter expression at {where}: {got}"
        if hint:
            message += f" ({hint})"
        if context:
            message += f"\n{context}"
        raise FilterSyntaxError(message) from None
    try:
        return ToAst().transform(tree)
    except VisitError as exc:
        inner = exc.orig_exc
        if isinstance(inner, _Unsupported):
            raise InvalidRequestException(str(inner)) from None
        if isinstance(inner, _BadExpression):
            raise FilterSyntaxError(f"Invalid filter expression: {inner}") from None
        raise
