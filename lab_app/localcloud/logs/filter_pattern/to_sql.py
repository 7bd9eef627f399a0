"""A filter-pattern AST -> a DuckDB condition with bound parameters, where SQL alone can decide the match."""
from __future__ import annotations

from lab_app.localcloud.logs.filter_pattern import ast


def to_sql(pattern: ast.Pattern, column: str, params: dict) -> str | None:
    """A SQL condition equivalent to the pattern (bound parameters), or None when only Python can decide.

    Term patterns push down completely; JSON and space-delimited patterns are evaluated in Python.
    """
    if isinstance(pattern, ast.MatchAll):
        return "TRUE"
    if not isinstance(pattern, ast.TermPattern):
        return None

    def one(term: ast.Term) -> str:
        name = f"fp{len(params)}"
        if term.kind == "regex":
            params[name] = term.text
            return f"regexp_matches({column}, ${name})"
        params[name] = term.text
        return f"contains({column}, ${name})"

    parts = [one(t) for t in pattern.required]
    if pattern.optional:
        parts.append("(" + " OR ".join(one(t) for t in pattern.optional) + ")")
    parts += [f"NOT {one(t)}" for t in pattern.excluded]
    return " AND ".join(parts) if parts else "TRUE"
