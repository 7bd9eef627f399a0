"""Honeycomb query specifications: JSON -> dataclasses (:func:`parse_spec`) -> DuckDB SQL with bound parameters.

The subset of Honeycomb's query spec the notebooks need, with Honeycomb's names and rules:

- ``calculations``: ``COUNT`` (no column), ``SUM``, ``AVG``, ``MIN``, ``MAX``, ``COUNT_DISTINCT``,
  percentiles ``P001 P01 P05 P10 P25 P50 P75 P90 P95 P99 P999`` and ``HEATMAP`` over a column.
  Result keys are Honeycomb's: ``COUNT``, ``P99(duration_ms)``, ``HEATMAP(duration_ms)``.
- ``filters`` with ``= != > >= < <= starts-with does-not-start-with contains does-not-contain exists
  does-not-exist in not-in`` and ``filter_combination`` ``AND`` (default) / ``OR``.
- ``breakdowns``, ``orders`` (by a calculation or a breakdown), ``havings``, ``limit``.
- Time: ``time_range`` (seconds, default 7200) ending now, or with ``start_time`` / ``end_time`` (epoch
  seconds) exactly as Honeycomb combines them; ``granularity`` (seconds) for the time series.

Columns are Honeycomb's names for OTel span fields (``name``, ``service.name``, ``duration_ms``,
``trace.trace_id``, ``trace.span_id``, ``trace.parent_id``, ``span.kind``, ``status_code``, ``error``, ...);
any other name is looked up in the span attributes, then the resource attributes, as Honeycomb
flattens both into one event.

``HEATMAP`` values are ``{"buckets": [{"lower", "upper", "count"}, ...]}`` over 30 equal-width buckets
shared by every group of the query (Honeycomb draws its heatmap on one shared axis).
Percentiles are exact (linear interpolation, ``quantile_cont``); Honeycomb's are close approximations.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from typing import Any

ALL_DATASETS = "__all__"
HEATMAP_BUCKETS = 30
DEFAULT_TIME_RANGE = 7200

PERCENTILES = {"P001": 0.001, "P01": 0.01, "P05": 0.05, "P10": 0.10, "P25": 0.25, "P50": 0.50, "P75": 0.75,
               "P90": 0.90, "P95": 0.95, "P99": 0.99, "P999": 0.999}
COLUMN_OPS = {"SUM", "AVG", "MIN", "MAX", "COUNT_DISTINCT", "HEATMAP", *PERCENTILES}
CALC_OPS = {"COUNT"} | COLUMN_OPS
FILTER_OPS = {"=", "!=", ">", ">=", "<", "<=", "starts-with", "does-not-start-with", "contains",
              "does-not-contain", "exists", "does-not-exist", "in", "not-in"}
HAVING_OPS = {"=", "!=", ">", ">=", "<", "<="}
SPEC_KEYS = {"calculations", "filters", "filter_combination", "breakdowns", "orders", "havings", "limit",
             "time_range", "start_time", "end_time", "granularity"}

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


class QuerySpecError(ValueError):
    """An invalid query specification (HTTP 400 with Honeycomb's error body)."""


@dataclass(frozen=True)
class Calculation:
    op: str
    column: str | None = None

    @property
    def key(self) -> str:
        return self.op if self.column is None else f"{self.op}({self.column})"


@dataclass(frozen=True)
class Filter:
    column: str
    op: str
    value: Any = None


@dataclass(frozen=True)
class Order:
    op: str | None = None
    column: str | None = None
    order: str = "descending"


@dataclass(frozen=True)
class Having:
    calculate_op: str
    op: str
    value: float
    column: str | None = None


@dataclass
class QuerySpec:
    calculations: list[Calculation] = field(default_factory=lambda: [Calculation("COUNT")])
    filters: list[Filter] = field(default_factory=list)
    filter_combination: str = "AND"
    breakdowns: list[str] = field(default_factory=list)
    orders: list[Order] = field(default_factory=list)
    havings: list[Having] = field(default_factory=list)
    limit: int | None = None
    time_range: int | None = None
    start_time: int | None = None
    end_time: int | None = None
    granularity: int | None = None

    def to_json(self) -> dict:
        """The spec as Honeycomb echoes it back (None fields left out)."""
        def clean(d):
            return {k: v for k, v in d.items() if v is not None}
        out: dict[str, Any] = {
            "calculations": [clean(asdict(c)) for c in self.calculations],
            "filters": [clean(asdict(f)) if f.op not in ("exists", "does-not-exist") else
                        {"column": f.column, "op": f.op} for f in self.filters],
            "filter_combination": self.filter_combination,
            "breakdowns": list(self.breakdowns),
            "orders": [clean(asdict(o)) for o in self.orders],
            "havings": [clean(asdict(h)) for h in self.havings],
        }
        for name in ("limit", "time_range", "start_time", "end_time", "granularity"):
            value = getattr(self, name)
            if value is not None:
                out[name] = value
        return out

    def window(self, now: float) -> tuple[float, float]:
        """[start, end) in epoch seconds, combining time_range/start_time/end_time like Honeycomb."""
        if self.start_time is not None and self.end_time is not None:
            return float(self.start_time), float(self.end_time)
        rng = self.time_range or DEFAULT_TIME_RANGE
        if self.start_time is not None:
            return float(self.start_time), float(self.start_time + rng)
        if self.end_time is not None:
            return float(self.end_time - rng), float(self.end_time)
        return now - rng, now


# --- parsing --------------------------------------------------------------------------------------
def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _column_name(value, where: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise QuerySpecError(f"{where}: column must be a non-empty string")
    if '"' in value or "\\" in value or len(value) > 255:
        raise QuerySpecError(f"{where}: invalid column name {value!r}")
    return value


def parse_spec(payload: Any) -> QuerySpec:
    """Validate a query spec (a decoded JSON object) and build the dataclass AST."""
    if not isinstance(payload, dict):
        raise QuerySpecError("the query spec must be a JSON object")
    unknown = set(payload) - SPEC_KEYS
    if unknown:
        raise QuerySpecError(f"unknown query spec field(s) {sorted(unknown)}; supported: {sorted(SPEC_KEYS)}")
    spec = QuerySpec()

    calcs = payload.get("calculations")
    if calcs is not None:
        if not isinstance(calcs, list):
            raise QuerySpecError("calculations must be a list")
        parsed = []
        for i, calc in enumerate(calcs):
            if not isinstance(calc, dict) or not isinstance(calc.get("op"), str):
                raise QuerySpecError(f"calculations[{i}]: each calculation needs an op, e.g. {{\"op\": \"COUNT\"}}")
            op = calc["op"].upper()
            if op not in CALC_OPS:
                raise QuerySpecError(f"calculations[{i}]: unsupported op {calc['op']!r}; use one of {sorted(CALC_OPS)}")
            column = calc.get("column")
            if op == "COUNT":
                if column is not None:
                    raise QuerySpecError(f"calculations[{i}]: COUNT does not take a column")
            else:
                column = _column_name(column, f"calculations[{i}] ({op})")
            parsed.append(Calculation(op, column))
        if parsed:
            spec.calculations = parsed
        if len({c.key for c in spec.calculations}) != len(spec.calculations):
            raise QuerySpecError("calculations: the same calculation appears twice")

    filters = payload.get("filters")
    if filters is not None:
        if not isinstance(filters, list):
            raise QuerySpecError("filters must be a list")
        for i, flt in enumerate(filters):
            if not isinstance(flt, dict):
                raise QuerySpecError(f"filters[{i}] must be an object with column, op and value")
            column = _column_name(flt.get("column"), f"filters[{i}]")
            op = flt.get("op")
            if op not in FILTER_OPS:
                raise QuerySpecError(f"filters[{i}]: unsupported op {op!r}; use one of {sorted(FILTER_OPS)}")
            value = flt.get("value")
            if op in ("exists", "does-not-exist"):
                if value is not None:
                    raise QuerySpecError(f"filters[{i}]: {op} does not take a value")
            elif op in ("in", "not-in"):
                if not isinstance(value, list) or not value or not all(
                        isinstance(v, (str, int, float, bool)) for v in value):
                    raise QuerySpecError(f"filters[{i}]: {op} needs a non-empty list of values")
            elif not isinstance(value, (str, int, float, bool)):
                raise QuerySpecError(f"filters[{i}]: {op} needs a string, number or boolean value")
            if op in ("starts-with", "does-not-start-with", "contains", "does-not-contain") and not isinstance(value, str):
                raise QuerySpecError(f"filters[{i}]: {op} needs a string value")
            spec.filters.append(Filter(column, op, value))

    combination = payload.get("filter_combination", "AND")
    if combination not in ("AND", "OR"):
        raise QuerySpecError("filter_combination must be AND or OR")
    spec.filter_combination = combination

    breakdowns = payload.get("breakdowns")
    if breakdowns is not None:
        if not isinstance(breakdowns, list):
            raise QuerySpecError("breakdowns must be a list of column names")
        spec.breakdowns = [_column_name(b, f"breakdowns[{i}]") for i, b in enumerate(breakdowns)]
        if len(set(spec.breakdowns)) != len(spec.breakdowns):
            raise QuerySpecError("breakdowns: the same column appears twice")

    orders = payload.get("orders")
    if orders is not None:
        if not isinstance(orders, list):
            raise QuerySpecError("orders must be a list")
        keys = {c.key for c in spec.calculations}
        for i, order in enumerate(orders):
            if not isinstance(order, dict):
                raise QuerySpecError(f"orders[{i}] must be an object")
            direction = order.get("order", "ascending")
            if direction not in ("ascending", "descending"):
                raise QuerySpecError(f"orders[{i}]: order must be ascending or descending")
            op, column = order.get("op"), order.get("column")
            if op is not None:
                if not isinstance(op, str) or op.upper() not in CALC_OPS:
                    raise QuerySpecError(f"orders[{i}]: unsupported op {op!r}")
                op = op.upper()
                if op == "HEATMAP":
                    raise QuerySpecError(f"orders[{i}]: results cannot be ordered by a HEATMAP")
                key = op if op == "COUNT" else f"{op}({column})"
                if key not in keys:
                    raise QuerySpecError(f"orders[{i}]: {key} is not one of the query's calculations")
            elif column not in spec.breakdowns:
                raise QuerySpecError(f"orders[{i}]: order by a calculation (op) or by one of the breakdowns")
            spec.orders.append(Order(op, column, direction))

    havings = payload.get("havings")
    if havings is not None:
        if not isinstance(havings, list):
            raise QuerySpecError("havings must be a list")
        keys = {c.key for c in spec.calculations}
        for i, having in enumerate(havings):
            if not isinstance(having, dict):
                raise QuerySpecError(f"havings[{i}] must be an object")
            op, hop, value, column = having.get("calculate_op"), having.get("op"), having.get("value"), having.get("column")
            if not isinstance(op, str) or op.upper() in ("HEATMAP",) or op.upper() not in CALC_OPS:
                raise QuerySpecError(f"havings[{i}]: unsupported calculate_op {op!r}")
            op = op.upper()
            key = op if op == "COUNT" else f"{op}({column})"
            if key not in keys:
                raise QuerySpecError(f"havings[{i}]: {key} is not one of the query's calculations")
            if hop not in HAVING_OPS:
                raise QuerySpecError(f"havings[{i}]: unsupported op {hop!r}; use one of {sorted(HAVING_OPS)}")
            if not isinstance(value, (int, float)) or isinstance(value, bool) or not math.isfinite(value):
                raise QuerySpecError(f"havings[{i}]: value must be a number")
            spec.havings.append(Having(op, hop, value, column))

    limit = payload.get("limit")
    if limit is not None:
        if not _is_int(limit) or not 1 <= limit <= 10_000:
            raise QuerySpecError("limit must be an integer between 1 and 10000")
        spec.limit = limit

    for name in ("time_range", "start_time", "end_time", "granularity"):
        value = payload.get(name)
        if value is not None:
            if not _is_int(value) or value < 0 or value > 10**11:
                raise QuerySpecError(f"{name} must be a non-negative integer number of seconds")
            setattr(spec, name, value)
    if spec.time_range is not None and spec.time_range <= 0:
        raise QuerySpecError("time_range must be positive")
    if spec.start_time is not None and spec.end_time is not None:
        if spec.time_range is not None:
            raise QuerySpecError("specify at most two of time_range, start_time and end_time")
        if spec.end_time <= spec.start_time:
            raise QuerySpecError("end_time must be after start_time")
    if spec.granularity is not None:
        rng = (spec.end_time - spec.start_time) if spec.start_time is not None and spec.end_time is not None \
            else (spec.time_range or DEFAULT_TIME_RANGE)
        if spec.granularity == 0 or spec.granularity > rng / 10 or spec.granularity < rng / 1000:
            raise QuerySpecError(f"granularity must be between time_range/1000 and time_range/10 "
                                 f"({math.ceil(rng / 1000)}..{int(rng // 10)} s for this query)")
    return spec


# --- compiling ------------------------------------------------------------------------------------
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

    def calc(self, calc: Calculation) -> str:
        if calc.op == "COUNT":
            return "count(*)"
        if calc.op == "COUNT_DISTINCT":
            expr, _ = self.column(calc.column)
            return f"count(DISTINCT {expr})"
        expr = self.numeric(calc.column)
        if calc.op in PERCENTILES:
            return f"quantile_cont({expr}, {PERCENTILES[calc.op]!r})"
        return {"SUM": "sum", "AVG": "avg", "MIN": "min", "MAX": "max"}[calc.op] + f"({expr})"

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
        sql_op = {"=": "=", "!=": "<>", ">": ">", ">=": ">=", "<": "<", "<=": "<="}[op]
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            target = expr if kind == "num" else f"TRY_CAST({expr} AS DOUBLE)"
            cond = f"{target} {sql_op} {self.bind(float(value))}"
        else:
            cond = f"{text} {sql_op} {self.bind(_text(value))}"
        # Honeycomb: != matches events where the column is missing too
        return f"(coalesce({cond}, {'true' if op == '!=' else 'false'}))"


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _dt(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, tz=timezone.utc).replace(tzinfo=None)


def _where(compiler: Compiler, spec: QuerySpec, dataset: str, start: float, end: float) -> str:
    parts = [f"start_time >= {compiler.bind(_dt(start))}", f"start_time < {compiler.bind(_dt(end))}"]
    if dataset != ALL_DATASETS:
        parts.append(f"dataset = {compiler.bind(dataset)}")
    if spec.filters:
        joiner = f" {spec.filter_combination} "
        parts.append("(" + joiner.join(compiler.filter(f) for f in spec.filters) + ")")
    return " AND ".join(parts)


def _plain(value: Any) -> Any:
    """numpy/pandas scalars -> JSON-ready Python values (NaN/NaT -> None)."""
    if value is None:
        return None
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def compile_results(spec: QuerySpec, table: str, dataset: str, start: float, end: float,
                    limit: int) -> tuple[str, list[Any], list[str], list[str]]:
    """SQL for the results table: (sql, params, breakdown aliases, calculation aliases)."""
    c = Compiler()
    selects, b_alias, c_alias = [], [], []
    for i, name in enumerate(spec.breakdowns):
        expr, _ = c.column(name)
        selects.append(f"{expr} AS b{i}")
        b_alias.append(f"b{i}")
    for i, calc in enumerate(spec.calculations):
        sql = "NULL" if calc.op == "HEATMAP" else c.calc(calc)
        selects.append(f"{sql} AS c{i}")
        c_alias.append(f"c{i}")
    where = _where(c, spec, dataset, start, end)
    inner = f"SELECT {', '.join(selects)} FROM {table} WHERE {where} GROUP BY ALL"
    keys = [calc.key for calc in spec.calculations]
    outer_where = []
    for having in spec.havings:
        alias = c_alias[keys.index(having.calculate_op if having.calculate_op == "COUNT"
                                   else f"{having.calculate_op}({having.column})")]
        sql_op = {"=": "=", "!=": "<>", ">": ">", ">=": ">=", "<": "<", "<=": "<="}[having.op]
        outer_where.append(f"{alias} {sql_op} {c.bind(float(having.value))}")
    order_sql = []
    for order in spec.orders:
        if order.op is not None:
            alias = c_alias[keys.index(order.op if order.op == "COUNT" else f"{order.op}({order.column})")]
        else:
            alias = b_alias[spec.breakdowns.index(order.column)]
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


def run(store, table: str, spec: QuerySpec, dataset: str, now: float, limit: int = 10_000,
        series: bool = True) -> dict:
    """Run a spec; returns Honeycomb's ``data`` object: ``{"results": [{"data": {...}}], "series": [...]}``."""
    start, end = spec.window(now)
    limit = min(limit, spec.limit or limit)
    sql, params, b_alias, c_alias = compile_results(spec, table, dataset, start, end, limit)
    frame = store.query_df(sql, params)
    rows = []
    for record in frame.itertuples(index=False):
        values = record._asdict()
        data = {name: _plain(values[b]) for name, b in zip(spec.breakdowns, b_alias)}
        for calc, alias in zip(spec.calculations, c_alias):
            if calc.op != "HEATMAP":
                data[calc.key] = _plain(values[alias])
        rows.append(data)
    heatmaps = [calc for calc in spec.calculations if calc.op == "HEATMAP"]
    for calc in heatmaps:
        _fill_heatmap(store, table, spec, dataset, start, end, calc, rows)
    out: dict[str, Any] = {"results": [{"data": row} for row in rows]}
    if series:
        out["series"] = _series(store, table, spec, dataset, start, end)
    return out


def _fill_heatmap(store, table, spec, dataset, start, end, calc: Calculation, rows: list[dict]) -> None:
    c = Compiler()
    value = c.numeric(calc.column)
    where = _where(c, spec, dataset, start, end)
    lo, hi = store.execute(f"SELECT min({value}), max({value}) FROM {table} WHERE {where}", c.params)[0]
    empty = {"buckets": []}
    if lo is None:
        for row in rows:
            row[calc.key] = empty
        return
    width = (hi - lo) / HEATMAP_BUCKETS if hi > lo else 1.0
    c = Compiler()
    selects = []
    for i, name in enumerate(spec.breakdowns):
        expr, _ = c.column(name)
        selects.append(f"{expr} AS b{i}")
    value = c.numeric(calc.column)
    bucket = f"least(CAST(floor(({value} - {c.bind(lo)}) / {c.bind(width)}) AS INTEGER), {HEATMAP_BUCKETS - 1})"
    where = _where(c, spec, dataset, start, end)
    sql = (f"SELECT {', '.join(selects + [bucket + ' AS bucket'])}, count(*) AS n FROM {table} "
           f"WHERE {where} AND {value} IS NOT NULL GROUP BY ALL")
    counts: dict[tuple, dict[int, int]] = {}
    for rec in store.query_df(sql, c.params).itertuples(index=False):
        values = rec._asdict()
        key = tuple(_plain(values[f"b{i}"]) for i in range(len(spec.breakdowns)))
        counts.setdefault(key, {})[int(values["bucket"])] = int(values["n"])
    for row in rows:
        key = tuple(row[name] for name in spec.breakdowns)
        per = counts.get(key, {})
        row[calc.key] = {"buckets": [
            {"lower": lo + i * width, "upper": lo + (i + 1) * width, "count": per.get(i, 0)}
            for i in range(HEATMAP_BUCKETS)]}


def _series(store, table, spec, dataset, start, end) -> list[dict]:
    calcs = [calc for calc in spec.calculations if calc.op != "HEATMAP"]
    if not calcs:
        return []
    granularity = spec.granularity or max(1, int((end - start) // 100))
    c = Compiler()
    selects = [f"floor(epoch(start_time) / {c.bind(float(granularity))}) * {c.bind(float(granularity))} AS t"]
    for i, name in enumerate(spec.breakdowns):
        expr, _ = c.column(name)
        selects.append(f"{expr} AS b{i}")
    for i, calc in enumerate(calcs):
        selects.append(f"{c.calc(calc)} AS c{i}")
    where = _where(c, spec, dataset, start, end)
    sql = f"SELECT {', '.join(selects)} FROM {table} WHERE {where} GROUP BY ALL ORDER BY ALL LIMIT 100000"
    out = []
    for rec in store.query_df(sql, c.params).itertuples(index=False):
        values = rec._asdict()
        data = {name: _plain(values[f"b{i}"]) for i, name in enumerate(spec.breakdowns)}
        for i, calc in enumerate(calcs):
            data[calc.key] = _plain(values[f"c{i}"])
        moment = datetime.fromtimestamp(float(values["t"]), tz=timezone.utc)
        out.append({"time": moment.strftime("%Y-%m-%dT%H:%M:%SZ"), "data": data})
    return out
