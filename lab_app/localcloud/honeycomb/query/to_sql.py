"""A :class:`~.ast.QuerySpec` -> DuckDB SQL over the spans table; every value and attribute path a bound parameter.

Columns are Honeycomb's names for OTel span fields (``name``, ``service.name``, ``duration_ms``,
``trace.trace_id``, ``trace.span_id``, ``trace.parent_id``, ``span.kind``, ``status_code``, ``error``, ...);
any other name is looked up in the span attributes, then the resource attributes, as Honeycomb
flattens both into one event. Percentiles are exact (linear interpolation, ``quantile_cont``); Honeycomb's are
close approximations.

:func:`to_sql` is the results table; :func:`heatmap_range_sql`, :func:`heatmap_sql` and :func:`series_sql` are
the statements behind ``HEATMAP`` columns and the time series (run by
:meth:`lab_app.localcloud.honeycomb.models.HoneycombBackend.run_query`).
"""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from lab_app.localcloud.honeycomb.query.ast import (
    ALL_DATASETS,
    HEATMAP_BUCKETS,
    PERCENTILES,
    Calculation,
    Filter,
    QuerySpec,
)

# Honeycomb column name -> (SQL expression over the spans table, type)
KNOWN_COLUMNS: dict[str, tuple[str, str]] = {
    "name": ("name", "str"),
    "service.name": ("service", "str"),
    "service_name": ("service", "str"),
    "duration_ms": ("duration_ms", "num"),
    "trace.trace_id": ("trace_id", "str"),
    "trace.span_id": ("span_id", "str"),
    "trace.parent_id": ("parent_id", "str"),
    "span.kind": ("kind", "str"),
    "status_code": ("status_code", "num"),
    "status_message": ("status_message", "str"),
    "error": ("error", "bool"),
    "http.route": ("http_route", "str"),
    "library.name": ("scope_name", "str"),
}
COMPARE = {"=": "=", "!=": "<>", ">": ">", ">=": ">=", "<": "<", "<=": "<="}
AGGREGATES = {"SUM": "sum", "AVG": "avg", "MIN": "min", "MAX": "max"}


class Compiler:
    """Builds SQL fragments; every value and attribute path is a bound parameter."""

    def __init__(self) -> None:
        self.params: list[Any] = []

    def column(self, name: str) -> tuple[str, str]:
        if name in KNOWN_COLUMNS:
            return KNOWN_COLUMNS[name]
        return self._attr(name)

    def _attr(self, name: str) -> tuple[str, str]:
        path = '$."' + name + '"'
        self.params.extend([path, path])
        expr = "coalesce(json_extract_string(attributes, ?), json_extract_string(resource_attributes, ?))"
        return expr, "str"

    def bind(self, value: Any) -> str:
        self.params.append(value)
        return "?"

    def numeric(self, name: str) -> str:
        expr, kind = self.column(name)
        return expr if kind == "num" else f"TRY_CAST({expr} AS DOUBLE)"

    def breakdowns(self, spec: QuerySpec) -> list[str]:
        """``<expr> AS b0``, ``b1`` ... for the spec's breakdowns."""
        return [f"{self.column(name)[0]} AS b{i}" for i, name in enumerate(spec.breakdowns)]

    def calc(self, calc: Calculation) -> str:
        if calc.op == "COUNT":
            return "count(*)"
        if calc.op == "COUNT_DISTINCT":
            expr, _ = self.column(calc.column)
            return f"count(DISTINCT {expr})"
        expr = self.numeric(calc.column)
        if calc.op in PERCENTILES:
            return f"quantile_cont({expr}, {PERCENTILES[calc.op]!r})"
        return AGGREGATES[calc.op] + f"({expr})"

    def filter(self, flt: Filter) -> str:
        expr, kind = self.column(flt.column)
        op, value = flt.op, flt.value
        if op == "exists":
            return f"({expr} IS NOT NULL)"
        if op == "does-not-exist":
            return f"({expr} IS NULL)"
        text = f"CAST({expr} AS VARCHAR)"
        if op in ("starts-with", "does-not-start-with"):
            neg = "NOT " if op.startswith("does-not") else ""
            return f"(coalesce({neg}starts_with({text}, {self.bind(value)}), {'true' if neg else 'false'}))"
        if op in ("contains", "does-not-contain"):
            neg = "NOT " if op.startswith("does-not") else ""
            return f"(coalesce({neg}(strpos({text}, {self.bind(value)}) > 0), {'true' if neg else 'false'}))"
        if op in ("in", "not-in"):
            if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value):
                target, values = (expr if kind == "num" else f"TRY_CAST({expr} AS DOUBLE)"), [float(v) for v in value]
            else:
                target, values = text, [_text(v) for v in value]
            marks = ", ".join(self.bind(v) for v in values)
            neg = "NOT " if op == "not-in" else ""
            return f"(coalesce({target} {neg}IN ({marks}), {'true' if neg else 'false'}))"
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            target = expr if kind == "num" else f"TRY_CAST({expr} AS DOUBLE)"
            cond = f"{target} {COMPARE[op]} {self.bind(float(value))}"
        else:
            cond = f"{text} {COMPARE[op]} {self.bind(_text(value))}"
        # Honeycomb: != matches events where the column is missing too
        return f"(coalesce({cond}, {'true' if op == '!=' else 'false'}))"

    def where(self, spec: QuerySpec, dataset: str, start: float, end: float) -> str:
        parts = [f"start_time >= {self.bind(_dt(start))}", f"start_time < {self.bind(_dt(end))}"]
        if dataset != ALL_DATASETS:
            parts.append(f"dataset = {self.bind(dataset)}")
        if spec.filters:
            joiner = f" {spec.filter_combination} "
            parts.append("(" + joiner.join(self.filter(f) for f in spec.filters) + ")")
        return " AND ".join(parts)


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _dt(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, tz=timezone.utc).replace(tzinfo=None)


def to_sql(spec: QuerySpec, table: str, dataset: str, start: float, end: float,
           limit: int) -> tuple[str, list[Any], list[str], list[str]]:
    """SQL for the results table: (sql, params, breakdown aliases, calculation aliases)."""
    c = Compiler()
    selects = c.breakdowns(spec)
    b_alias = [f"b{i}" for i in range(len(spec.breakdowns))]
    c_alias = [f"c{i}" for i in range(len(spec.calculations))]
    for alias, calc in zip(c_alias, spec.calculations):
        selects.append(f"{'NULL' if calc.op == 'HEATMAP' else c.calc(calc)} AS {alias}")
    where = c.where(spec, dataset, start, end)
    inner = f"SELECT {', '.join(selects)} FROM {table} WHERE {where} GROUP BY ALL"
    alias_of = {calc.key: alias for calc, alias in zip(spec.calculations, c_alias)}
    outer_where = [f"{alias_of[having.calculation.key]} {COMPARE[having.op]} {c.bind(float(having.value))}"
                   for having in spec.havings]
    order_sql = []
    for order in spec.orders:
        alias = (alias_of[order.calculation.key] if order.calculation is not None
                 else b_alias[spec.breakdowns.index(order.column)])
        order_sql.append(f"{alias} {'DESC' if order.order == 'descending' else 'ASC'} NULLS LAST")
    if not spec.orders:
        first = next((a for a, calc in zip(c_alias, spec.calculations) if calc.op != "HEATMAP"), None)
        if first:
            order_sql.append(f"{first} DESC NULLS LAST")
    order_sql.extend(f"{b} ASC NULLS LAST" for b in b_alias)
    sql = f"SELECT * FROM ({inner}) AS r"
    if outer_where:
        sql += " WHERE " + " AND ".join(outer_where)
    if order_sql:
        sql += " ORDER BY " + ", ".join(order_sql)
    sql += f" LIMIT {c.bind(int(limit))}"
    return sql, c.params, b_alias, c_alias


def heatmap_range_sql(spec: QuerySpec, table: str, dataset: str, start: float, end: float,
                      calc: Calculation) -> tuple[str, list[Any]]:
    """``min``/``max`` of a HEATMAP column over the query's events: the shared axis of every group's buckets."""
    c = Compiler()
    # parameters are positional: an attribute column binds its key each time it is written into the SQL
    low, high = c.numeric(calc.column), c.numeric(calc.column)
    where = c.where(spec, dataset, start, end)
    return f"SELECT min({low}), max({high}) FROM {table} WHERE {where}", c.params


def heatmap_sql(spec: QuerySpec, table: str, dataset: str, start: float, end: float, calc: Calculation,
                lo: float, width: float) -> tuple[str, list[Any]]:
    """Counts per (breakdowns..., bucket) with ``HEATMAP_BUCKETS`` buckets of ``width`` from ``lo``."""
    c = Compiler()
    selects = c.breakdowns(spec)
    # parameters are positional: the column is written (and its parameters bound) in the order the SQL reads
    bucket = (f"least(CAST(floor(({c.numeric(calc.column)} - {c.bind(lo)}) / {c.bind(width)}) AS INTEGER), "
              f"{HEATMAP_BUCKETS - 1})")
    where = c.where(spec, dataset, start, end)
    sql = (f"SELECT {', '.join(selects + [bucket + ' AS bucket'])}, count(*) AS n FROM {table} "
           f"WHERE {where} AND {c.numeric(calc.column)} IS NOT NULL GROUP BY ALL")
    return sql, c.params


def series_sql(spec: QuerySpec, table: str, dataset: str, start: float, end: float,
               calcs: list[Calculation], granularity: int) -> tuple[str, list[Any]]:
    """One row per (time bucket ``t``, breakdowns ``b0``...) with the calculations as ``c0``..."""
    c = Compiler()
    selects = [f"floor(epoch(start_time) / {c.bind(float(granularity))}) * {c.bind(float(granularity))} AS t"]
    selects += c.breakdowns(spec)
    selects += [f"{c.calc(calc)} AS c{i}" for i, calc in enumerate(calcs)]
    where = c.where(spec, dataset, start, end)
    return f"SELECT {', '.join(selects)} FROM {table} WHERE {where} GROUP BY ALL ORDER BY ALL LIMIT 100000", c.params
