"""Compile a filter-expression AST to a DuckDB WHERE clause with bound parameters.

Three scopes: the trace (table ``xray_traces``), one service's segments inside ``service(...) {}`` (table
``xray_nodes``) and the calls between two services inside ``edge(...) {}`` (table ``xray_edges``). Every
user value becomes a ``?`` parameter; only our own column names are written into the SQL text.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

from lab_app.localcloud.xray.exceptions import InvalidRequestException
from lab_app.localcloud.xray.filter_expr import ast

# keyword -> column, per scope (the same names exist on traces, nodes and edges)
COLUMNS = {
    "responsetime": "response_time", "duration": "duration", "http.status": "http_status",
    "http.url": "http_url", "http.method": "http_method", "http.useragent": "user_agent",
    "http.clientip": "client_ip",
}
BOOL_COLUMNS = {"fault": "has_fault", "error": "has_error", "throttle": "has_throttle", "partial": "is_partial"}
SQL_OPS = {"=": "=", "!=": "IS DISTINCT FROM", "<": "<", "<=": "<=", ">": ">", ">=": ">="}


@dataclass
class Compiled:
    sql: str
    params: list[Any] = field(default_factory=list)


class Compiler:
    """``Compiler(resolve_group).compile(ast)`` -> Compiled(sql, params) over alias ``t`` (xray_traces)."""

    def __init__(self, resolve_group: Callable[[str, str], ast.Expr] | None = None, depth: int = 0):
        self.resolve_group = resolve_group
        self.depth = depth
        self.params: list[Any] = []
        self._alias = 0

    def compile(self, expr: ast.Expr) -> Compiled:
        sql = self._expr(expr, "trace", "t")
        return Compiled(sql, self.params)

    # --- helpers -----------------------------------------------------------------------------------
    def _new_alias(self, prefix: str) -> str:
        self._alias += 1
        return f"{prefix}{self._alias}"

    def _bind(self, value: Any) -> str:
        self.params.append(value)
        return "?"

    def _ref(self, ref: ast.ServiceRef, alias: str, name_col: str = "name", type_col: str = "type") -> list[str]:
        parts = []
        if ref.name is not None:
            parts.append(f"{alias}.{name_col} = {self._bind(ref.name)}")
        if ref.type is not None:
            parts.append(f"{alias}.{type_col} = {self._bind(ref.type)}")
        return parts

    # --- the walk ------------------------------------------------------------------------------------
    def _expr(self, expr: ast.Expr, scope: str, alias: str) -> str:
        if isinstance(expr, ast.And):
            return "(" + " AND ".join(self._expr(e, scope, alias) for e in expr.items) + ")"
        if isinstance(expr, ast.Or):
            return "(" + " OR ".join(self._expr(e, scope, alias) for e in expr.items) + ")"
        if isinstance(expr, ast.Not):
            return f"(NOT {self._expr(expr.expr, scope, alias)})"
        if isinstance(expr, ast.BoolKeyword):
            if expr.name == "ok":
                sql = f"(NOT (coalesce({alias}.has_fault, false) OR coalesce({alias}.has_error, false) OR coalesce({alias}.has_throttle, false)))"
            else:
                sql = f"coalesce({alias}.{BOOL_COLUMNS[expr.name]}, false)"
            return sql if expr.value else f"(NOT {sql})"
        if isinstance(expr, ast.Compare):
            if expr.keyword == "user":
                return self._user(expr, scope, alias)
            return self._compare(f"{alias}.{COLUMNS[expr.keyword]}", expr.op, expr.value)
        if isinstance(expr, ast.AnnotationCompare):
            return self._annotation(expr, scope, alias)
        if isinstance(expr, ast.ServiceScope):
            _at_trace_scope(scope, "service(...) cannot be nested inside service() or edge()")
            n = self._new_alias("n")
            conds = [f"{n}.trace_id = {alias}.trace_id", *self._ref(expr.ref, n)]
            if expr.body is not None:
                conds.append(self._expr(expr.body, "node", n))
            return f"EXISTS (SELECT 1 FROM xray_nodes {n} WHERE {' AND '.join(conds)})"
        if isinstance(expr, ast.EdgeScope):
            _at_trace_scope(scope, "edge(...) cannot be nested inside service() or edge()")
            e = self._new_alias("e")
            conds = [f"{e}.trace_id = {alias}.trace_id",
                     *self._ref(expr.source, e, "src_name", "src_type"),
                     *self._ref(expr.target, e, "dst_name", "dst_type")]
            if expr.body is not None:
                conds.append(self._expr(expr.body, "edge", e))
            return f"EXISTS (SELECT 1 FROM xray_edges {e} WHERE {' AND '.join(conds)})"
        if isinstance(expr, ast.GroupRef):
            _at_trace_scope(scope, "group.* cannot be used inside service() or edge()")
            if self.resolve_group is None or self.depth > 3:
                raise InvalidRequestException("Invalid filter expression: group references cannot be nested this deep")
            inner = self.resolve_group(expr.field, expr.value)
            sub = Compiler(self.resolve_group, self.depth + 1)
            sub._alias = self._alias + 100
            compiled = sub._expr(inner, scope, alias)
            self.params.extend(sub.params)
            self._alias = sub._alias
            return compiled
        raise InvalidRequestException(f"Invalid filter expression: cannot evaluate {type(expr).__name__}")

    def _compare(self, column: str, op: str, value: Any) -> str:
        if op in SQL_OPS:
            return f"({column} {SQL_OPS[op]} {self._bind(value)})"
        func = {"CONTAINS": "contains", "BEGINSWITH": "starts_with", "ENDSWITH": "ends_with"}[op]
        return f"coalesce({func}({column}, {self._bind(value)}), false)"

    def _user(self, expr: ast.Compare, scope: str, alias: str) -> str:
        if scope == "node":
            return self._compare(f'{alias}."user"', expr.op, expr.value)
        if scope == "edge":
            raise InvalidRequestException("Invalid filter expression: 'user' is not available inside edge()")
        u = self._new_alias("u")
        cond = self._compare(f'{u}."user"', expr.op, expr.value)
        return f'EXISTS (SELECT 1 FROM xray_nodes {u} WHERE {u}.trace_id = {alias}.trace_id AND {u}."user" IS NOT NULL AND {cond})'

    def _annotation(self, expr: ast.AnnotationCompare, scope: str, alias: str) -> str:
        a = self._new_alias("a")
        conds = [f"{a}.trace_id = {alias}.trace_id", f"{a}.key = {self._bind(expr.key)}"]
        if scope == "node":
            conds.append(f"{a}.service = {alias}.name")
        if isinstance(expr.value, bool):
            conds.append(f"{a}.vtype = 'boolean'")
            conds.append(self._compare(f"{a}.b_value", expr.op, expr.value))
        elif isinstance(expr.value, float):
            conds.append(f"{a}.vtype = 'number'")
            conds.append(self._compare(f"{a}.n_value", expr.op, expr.value))
        else:
            conds.append(f"{a}.vtype = 'string'")
            conds.append(self._compare(f"{a}.s_value", expr.op, expr.value))
        return f"EXISTS (SELECT 1 FROM xray_annotations {a} WHERE {' AND '.join(conds)})"


def _at_trace_scope(scope: str, problem: str) -> None:
    if scope != "trace":
        raise InvalidRequestException(f"Invalid filter expression: {problem}")


def to_sql(expr: ast.Expr, resolve_group: Callable[[str, str], ast.Expr] | None = None) -> Compiled:
    return Compiler(resolve_group).compile(expr)
