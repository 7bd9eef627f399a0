"""A :class:`~.ast.QuerySpec` -> DuckDB SQL over the metric points table (one row per data point), computed over
Honeycomb *events*: the points sharing an ``event_id`` are one event whose fields are the attributes and one field
per metric (:mod:`lab_app.localcloud.honeycomb.metrics`). Every value and name is a bound parameter.

- An inner query ``p`` takes the points of the window and dataset and adds, per event, the value of every metric
  field a filter or breakdown names (a window function over ``event_id``), and ``first_of_event``.
- Calculations over a number field (gauge, sum) aggregate that metric's values in SQL. Calculations over a histogram
  or summary field, and ``HEATMAP`` over any field, are finished by the backend: delta histogram points come merged
  per group and bucket from :func:`metric_merged_sql`; cumulative points (and summaries) come one by one, in time
  order, from :func:`metric_values_sql`, to be turned into increases first.
- ``COUNT`` and calculations over attribute fields count each event once (``first_of_event``).
- Other names are attributes: the point's, then the resource's; ``service.name`` and ``library.name`` too.
"""
from __future__ import annotations

from typing import Any

from lab_app.localcloud.honeycomb.exceptions import QuerySpecError
from lab_app.localcloud.honeycomb.query.ast import PERCENTILES, Calculation, QuerySpec
from lab_app.localcloud.honeycomb.query.to_sql import AGGREGATES, Compiler, _dt

NUMERIC_TYPES = ("gauge", "sum")
DISTRIBUTION_TYPES = ("histogram", "exponential_histogram", "summary")
KNOWN_COLUMNS = {"service.name": ("service", "str"), "service_name": ("service", "str"),
                 "library.name": ("scope_name", "str"),
                 # every metric event carries these (husky's buildEventFromDataPoint)
                 "meta.signal_type": ("'metric'", "str"), "meta.annotation_type": ("'metric_event'", "str")}
DERIVED_FROM = ("histogram", "summary")   # the point kinds Honeycomb adds <name>.count, .sum, .avg, .pNN fields for


class MetricsCompiler(Compiler):
    def __init__(self, metrics: dict[str, str]) -> None:
        super().__init__()
        self.metrics = metrics
        self.fields: dict[str, str] = {}       # metric name -> alias of its per-event value in ``p``

    def column(self, name: str) -> tuple[str, str]:
        if name in KNOWN_COLUMNS:
            return KNOWN_COLUMNS[name]
        kind = self.metrics.get(name)
        if kind in DISTRIBUTION_TYPES:
            raise QuerySpecError(f"{name!r} is a {kind} field: filter and group by attributes or number fields; "
                                 "use it in HEATMAP, percentiles, AVG, SUM, MIN or MAX")
        if self.is_number(name):
            return self.fields[name], "num"
        return self._attr(name)

    def derived_base(self, name: str) -> str | None:
        """The histogram or summary metric a field like ``<name>.p99`` / ``<name>.count`` was derived from."""
        if name in self.metrics:
            return None
        base = name.rpartition(".")[0]
        return base if self.metrics.get(base) in DERIVED_FROM else None

    def is_number(self, name: str | None) -> bool:
        """A number field of the events: a gauge or sum metric, or a field derived from a histogram or summary."""
        return name is not None and (self.metrics.get(name) in NUMERIC_TYPES or self.derived_base(name) is not None)

    def value_expr(self, name: str) -> str:
        """A number field's value on the row of the point that carries it (NULL on the event's other rows)."""
        base = self.derived_base(name)
        if base is None:
            return f"CASE WHEN metric_name = {self.bind(name)} THEN value END"
        path = '$."' + name + '"'
        return (f"CASE WHEN metric_name = {self.bind(base)} THEN "
                f"TRY_CAST(json_extract_string(fields, {self.bind(path)}) AS DOUBLE) END")

    def referenced(self, spec: QuerySpec) -> list[str]:
        """Number fields that filters and breakdowns name (they need per-event values)."""
        names = [f.column for f in spec.filters] + list(spec.breakdowns)
        out = []
        for name in names:
            if self.is_number(name) and name not in out:
                out.append(name)
        return out

    def inner(self, spec: QuerySpec, table: str, dataset: str, start: float, end: float) -> str:
        selects = ["*", "row_number() OVER (PARTITION BY event_id) = 1 AS first_of_event"]
        for i, name in enumerate(self.referenced(spec)):
            alias = f"m{i}"
            selects.append(f"max({self.value_expr(name)}) OVER (PARTITION BY event_id) AS {alias}")
            self.fields[name] = alias
        where = (f"timestamp >= {self.bind(_dt(start))} AND timestamp < {self.bind(_dt(end))} "
                 f"AND dataset = {self.bind(dataset)}")
        return f"SELECT {', '.join(selects)} FROM {table} WHERE {where}"

    def filters(self, spec: QuerySpec) -> str:
        if not spec.filters:
            return "true"
        return "(" + f" {spec.filter_combination} ".join(self.filter(f) for f in spec.filters) + ")"

    def is_python(self, calc: Calculation) -> bool:
        """Computed by the backend from the points, not in SQL: every calculation over a histogram or summary field
        (cumulative points must be turned into increases first), and HEATMAP over anything."""
        return calc.op == "HEATMAP" or self.metrics.get(calc.column or "") in DISTRIBUTION_TYPES

    def calc(self, calc: Calculation) -> str:
        if calc.op == "COUNT":
            return "count(*) FILTER (WHERE first_of_event)"
        kind = self.metrics.get(calc.column)
        if self.is_number(calc.column):
            value = self.value_expr(calc.column)
            if calc.op == "COUNT_DISTINCT":
                return f"count(DISTINCT {value})"
            if calc.op in PERCENTILES:
                return f"quantile_cont({value}, {PERCENTILES[calc.op]!r})"
            return AGGREGATES[calc.op] + f"({value})"
        if kind in DISTRIBUTION_TYPES:
            raise QuerySpecError(f"{calc.op} is not available on the {kind} field {calc.column!r}")
        # an attribute field: once per event
        if calc.op == "COUNT_DISTINCT":
            expr, _ = self.column(calc.column)
            return f"count(DISTINCT CASE WHEN first_of_event THEN {expr} END)"
        expr = f"CASE WHEN first_of_event THEN {self.numeric(calc.column)} END"
        if calc.op in PERCENTILES:
            return f"quantile_cont({expr}, {PERCENTILES[calc.op]!r})"
        return AGGREGATES[calc.op] + f"({expr})"


def _time_bucket(c: MetricsCompiler, granularity: int | None) -> list[str]:
    if not granularity:
        return []
    return [f"floor(epoch(timestamp) / {c.bind(float(granularity))}) * {c.bind(float(granularity))} AS t"]


def metric_groups_sql(spec: QuerySpec, table: str, dataset: str, start: float, end: float, metrics: dict[str, str],
                      granularity: int | None = None) -> tuple[str, list[Any], set[int]]:
    """One row per group (``b0``..., and ``t`` with a granularity) with the SQL calculations as ``c0``...;
    returns (sql, params, indexes of the calculations the backend computes itself)."""
    c = MetricsCompiler(metrics)
    inner = c.inner(spec, table, dataset, start, end)
    selects = _time_bucket(c, granularity) + c.breakdowns(spec)
    python: set[int] = set()
    for i, calc in enumerate(spec.calculations):
        if c.is_python(calc):
            python.add(i)
            selects.append(f"NULL AS c{i}")
        else:
            selects.append(f"{c.calc(calc)} AS c{i}")
    where = c.filters(spec)
    sql = f"WITH p AS ({inner}) SELECT {', '.join(selects)} FROM p WHERE {where} GROUP BY ALL LIMIT 100000"
    return sql, c.params, python


CUMULATIVE = "(temporality = 'cumulative' OR quantiles IS NOT NULL)"    # summaries' count and sum are cumulative


def metric_merged_sql(spec: QuerySpec, table: str, dataset: str, start: float, end: float, metrics: dict[str, str],
                      granularity: int | None, column: str) -> tuple[str, list[Any]]:
    """The delta points of a histogram field merged in SQL, per group: rows with ``lo``/``hi``/``n`` per bucket, and
    one row per group with ``lo`` NULL and the totals ``total_count``, ``total_sum``, ``vmin``, ``vmax``."""
    c = MetricsCompiler(metrics)
    inner = c.inner(spec, table, dataset, start, end)
    keys = _time_bucket(c, granularity) + c.breakdowns(spec)
    where = c.filters(spec)
    name = c.bind(column)
    aliases = (["t"] if granularity else []) + [f"b{i}" for i in range(len(spec.breakdowns))]
    group = ", ".join(aliases)
    lead = group + ", " if group else ""
    points = (f"SELECT {', '.join(keys + ['bucket_lower', 'bucket_upper', 'bucket_counts', 'count', 'sum', 'min', 'max'])}"
              f" FROM p WHERE {where} AND metric_name = {name} AND NOT coalesce({CUMULATIVE}, false)")
    totals = (f"SELECT {lead}NULL::DOUBLE AS lo, NULL::DOUBLE AS hi, NULL::BIGINT AS n, sum(count) AS total_count, "
              f"sum(sum) AS total_sum, min(min) AS vmin, max(max) AS vmax FROM d GROUP BY ALL")
    buckets = (f"SELECT {lead}lo, hi, sum(c) AS n, NULL, NULL, NULL, NULL FROM (SELECT {lead}unnest(bucket_lower) AS lo, "
               f"unnest(bucket_upper) AS hi, unnest(bucket_counts) AS c FROM d WHERE bucket_counts IS NOT NULL) "
               f"GROUP BY ALL")
    return f"WITH p AS ({inner}), d AS ({points}) {totals} UNION ALL {buckets}", c.params


def metric_values_sql(spec: QuerySpec, table: str, dataset: str, start: float, end: float, metrics: dict[str, str],
                      granularity: int | None, column: str, cumulative_only: bool = False) -> tuple[str, list[Any]]:
    """The points (distributions: buckets, min, max, quantiles) or values (``v``) of one field, with their group;
    ``cumulative_only``: only the cumulative distribution points (the delta ones come merged from
    :func:`metric_merged_sql`)."""
    c = MetricsCompiler(metrics)
    inner = c.inner(spec, table, dataset, start, end)
    selects = _time_bucket(c, granularity) + c.breakdowns(spec)
    kind = metrics.get(column)
    if kind in DISTRIBUTION_TYPES:
        selects += ["bucket_lower", "bucket_upper", "bucket_counts", "count", "sum", "min", "max", "quantiles",
                    "temporality", "time_unix_nano", "start_time_unix_nano", "attributes AS series_attributes",
                    "resource_attributes AS series_resource"]
    elif c.is_number(column):
        selects.append(f"{c.value_expr(column)} AS v")
    else:
        selects.append(f"{c.numeric(column)} AS v")
    where = c.filters(spec)          # bound in the order the text reads: select list, filters, then the field
    if c.is_number(column) or kind is not None:
        cond = f"metric_name = {c.bind(c.derived_base(column) or column)}"
    else:
        cond = "first_of_event"
    if cumulative_only:
        cond += f" AND coalesce({CUMULATIVE}, false)"
    return (f"WITH p AS ({inner}) SELECT {', '.join(selects)} FROM p WHERE {where} AND {cond} "
            "ORDER BY time_unix_nano"), c.params
