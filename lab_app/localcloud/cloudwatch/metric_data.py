"""GetMetricData: metric queries and metric-math expressions over the metric store.

Also what the alarm evaluator uses for metric-math alarms (:func:`evaluate_queries`), so an alarm on an
expression sees exactly what GetMetricData returns for the same queries.

Rules followed (CloudWatch's GetMetricData reference): every query has an Id matching ``^[a-z][a-zA-Z0-9_]*$``,
unique in the request; exactly one of MetricStat and Expression; only queries with ``ReturnData`` (default
true) are returned; the start time is rounded down (to the minute for periods of a minute or more); results
are newest first unless ``ScanBy`` is ``TimestampAscending``; ``MaxDatapoints`` (default 100,800) caps a page
and the rest comes with a NextToken; each result has ``StatusCode`` Complete (PartialData when cut by the
page) and ``Messages``.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from lab_app.localcloud.aws import paging
from lab_app.localcloud.cloudwatch import metric_math
from lab_app.localcloud.cloudwatch.exceptions import InvalidNextToken, ValidationError
from lab_app.localcloud.cloudwatch.metric_math import ast as math_ast
from lab_app.localcloud.cloudwatch.metric_math.evaluate import KEYWORDS
from lab_app.localcloud.cloudwatch.metrics import (
    MetricId,
    MetricStore,
    align_start,
    canonical_stat,
    dims_key,
    dims_of,
    valid_period,
)

ID_PATTERN = re.compile(r"^[a-z][a-zA-Z0-9_]*$")
MAX_QUERIES = 500
MAX_DATAPOINTS_DEFAULT = 100_800
SCAN_BY = ("TimestampDescending", "TimestampAscending")


@dataclass
class Query:
    id: str
    where: str                       # "MetricDataQueries.member.N"
    metric: MetricId | None = None
    stat: str | None = None
    period: int | None = None
    expression: math_ast.Node | None = None
    expression_text: str | None = None
    label: str | None = None
    return_data: bool = True


def parse_queries(queries: Any, member: str = "MetricDataQueries", alarm: bool = False) -> list[Query]:
    """Validate MetricDataQueries (or an alarm's Metrics) as CloudWatch does; ValidationError otherwise."""
    if not isinstance(queries, list) or not queries:
        raise ValidationError(f"The parameter {member} is required and must contain at least one query.")
    if len(queries) > MAX_QUERIES:
        raise ValidationError(f"The collection {member} must not have a size greater than {MAX_QUERIES}.")
    problems, parsed, seen = [], [], set()
    for i, q in enumerate(queries, 1):
        where = f"{member}.member.{i}"
        qid = q.get("Id") if isinstance(q, dict) else None
        if not isinstance(qid, str) or not ID_PATTERN.match(qid):
            problems.append(f"The value {qid} for parameter {where}.Id is not matching the expected pattern "
                            "^[a-z][a-zA-Z0-9_]*$.")
            continue
        if qid in seen:
            problems.append(f"The value {qid} for parameter {where}.Id is not unique.")
            continue
        seen.add(qid)
        has_stat, has_expr = q.get("MetricStat") is not None, q.get("Expression") is not None
        if has_stat == has_expr:
            problems.append(f"Exactly one of the parameters {where}.MetricStat and {where}.Expression must be "
                            "specified.")
            continue
        query = Query(qid, where, label=q.get("Label"), return_data=bool(q.get("ReturnData", True)))
        if has_stat:
            ms = q["MetricStat"]
            metric = ms.get("Metric") or {}
            if not metric.get("MetricName") or not metric.get("Namespace"):
                problems.append(f"The parameters {where}.MetricStat.Metric.Namespace and "
                                f"{where}.MetricStat.Metric.MetricName are required.")
                continue
            stat = canonical_stat(ms.get("Stat"))
            if stat is None:
                problems.append(f"The value {ms.get('Stat')} for parameter {where}.MetricStat.Stat is not valid.")
                continue
            if not valid_period(ms.get("Period")):
                problems.append(f"The parameter {where}.MetricStat.Period must be 1, 5, 10, 20, 30, 60, or a "
                                "multiple of 60.")
                continue
            query.metric = MetricId(metric["Namespace"], metric["MetricName"],
                                    dims_key(dims_of(metric.get("Dimensions"))), ms.get("Unit"))
            query.stat, query.period = stat, int(ms["Period"])
        else:
            text = q["Expression"]
            try:
                query.expression = metric_math.parse(text)
            except metric_math.ExpressionError as error:
                problems.append(f"Error in expression {qid}: {error}")
                continue
            query.expression_text = text
            if q.get("Period") is not None:
                if not valid_period(q["Period"]):
                    problems.append(f"The parameter {where}.Period must be 1, 5, 10, 20, 30, 60, or a multiple "
                                    "of 60.")
                    continue
                query.period = int(q["Period"])
        parsed.append(query)
    if not problems:
        ids = {q.id for q in parsed}
        for q in parsed:
            if q.expression is None:
                continue
            unknown = [name for name in sorted(math_ast.references(q.expression))
                       if name not in ids and name not in KEYWORDS]
            if unknown:
                problems.append(f"Error in expression {q.id}: Unrecognized metric or expression id: {unknown[0]}.")
            unknown_fn = sorted(math_ast.calls(q.expression) - set(metric_math.FUNCTIONS))
            if unknown_fn:
                problems.append(f"Error in expression {q.id}: Unknown function: {unknown_fn[0]}.")
        if not problems:
            cycle = _cycle(parsed)
            if cycle:
                problems.append(f"Error in expression {cycle}: Circular dependency between expressions.")
    if problems:
        raise ValidationError("\n".join(problems))
    if alarm and sum(1 for q in parsed if q.return_data) != 1:
        raise ValidationError("Metrics list must contain exactly one metric matching the ThresholdMetricId "
                              "parameter or exactly one element of the metrics list should return data.")
    return parsed


def _cycle(queries: list[Query]) -> str | None:
    graph = {q.id: (math_ast.references(q.expression) if q.expression is not None else set()) for q in queries}
    state: dict[str, int] = {}

    def visit(node: str) -> str | None:
        state[node] = 1
        for nxt in graph.get(node, ()):
            if nxt not in graph:
                continue
            if state.get(nxt) == 1:
                return node
            if state.get(nxt) is None:
                found = visit(nxt)
                if found:
                    return found
        state[node] = 2
        return None

    for qid in graph:
        if state.get(qid) is None:
            found = visit(qid)
            if found:
                return found
    return None


def evaluate_queries(store: MetricStore, account_id: str, region: str, queries: list[Query], start: float,
                     end: float) -> dict[str, Any]:
    """Id -> value (a pandas Series indexed by period start, NaN where missing; or a scalar) for every query."""
    periods = [q.period for q in queries if q.metric is not None and q.period]
    base_period = min(periods) if periods else (next((q.period for q in queries if q.period), None) or 60)
    grid_start = align_start(start, base_period)
    grid = pd.Index(np.arange(grid_start, end, base_period, dtype=float))
    values: dict[str, Any] = {}
    by_id = {q.id: q for q in queries}
    order = [q.id for q in queries]

    # the plain statistics of unit-less metric queries: one statement per period (percentiles and units: one each)
    batched: dict[tuple[int, MetricId], dict[float, dict[str, float]]] = {}
    for period in {q.period for q in queries if q.metric is not None}:
        plain = [q.metric for q in queries if q.metric is not None and q.period == period and not q.metric.unit
                 and not q.stat.startswith("p")]
        s = align_start(start, period)
        for metric, buckets in store.sums_many(account_id, region, plain, period, s, end).items():
            batched[(period, metric)] = buckets

    def metric_series(q: Query) -> pd.Series:
        s = align_start(start, q.period)
        if (q.period, q.metric) in batched:
            points = {t: row[q.stat] for t, row in batched[(q.period, q.metric)].items()}
        else:
            points = store.series(account_id, region, q.metric, q.stat, q.period, s, end)
        index = pd.Index(np.arange(s, end, q.period, dtype=float))
        series = pd.Series(points, dtype=float).reindex(index)
        series.name = q.label or q.metric.name
        return series

    def lookup(qid: str):
        if qid in values:
            return values[qid]
        q = by_id[qid]
        if q.metric is not None:
            values[qid] = metric_series(q)
        else:
            scope = metric_math.Scope(lookup=lookup, metrics=metrics, grid=grid, period_of=period_of)
            result = metric_math.evaluate(q.expression, scope)
            if isinstance(result, pd.Series) and q.label:
                result.name = q.label
            values[qid] = result
        return values[qid]

    def metrics(prefix: str) -> list:
        return [lookup(qid) for qid in order if by_id[qid].metric is not None and qid.startswith(prefix)]

    def period_of(qid: str) -> int:
        q = by_id[qid]
        if q.period:
            return q.period
        refs = [r for r in math_ast.references(q.expression) if r in by_id] if q.expression is not None else []
        return max((period_of(r) for r in refs), default=base_period)

    for q in queries:
        try:
            lookup(q.id)
        except metric_math.ExpressionError as error:
            raise ValidationError(f"Error in expression {q.id}: {error}") from None
    values["__grid__"] = grid
    return values


def _points(value: Any, grid: pd.Index) -> tuple[list[float], list[float]]:
    """(timestamps, values) of the datapoints a result has (missing periods are left out)."""
    if isinstance(value, list):
        raise ValidationError("An expression that returns data must return a single time series, not an array "
                              "(use SUM, AVG, MIN or MAX, or give each series its own query).")
    if not isinstance(value, pd.Series):
        if value is None or not math.isfinite(float(value)):
            return [], []
        value = pd.Series(float(value), index=grid)
    present = value.dropna()
    return [float(t) for t in present.index], [float(v) for v in present.to_numpy()]


def get_metric_data(store: MetricStore, account_id: str, region: str, params: dict) -> dict:
    from lab_app.localcloud.cloudwatch.models import epoch

    if params.get("StartTime") is None or params.get("EndTime") is None:
        raise ValidationError("The parameters StartTime and EndTime are required.")
    start, end = epoch(params["StartTime"]), epoch(params["EndTime"])
    if end <= start:
        raise ValidationError("The parameter StartTime must be less than the parameter EndTime.")
    scan_by = params.get("ScanBy", "TimestampDescending")
    if scan_by not in SCAN_BY:
        raise ValidationError(f"1 validation error detected: Value '{scan_by}' at 'scanBy' failed to satisfy "
                              f"constraint: Member must satisfy enum value set: [{', '.join(SCAN_BY)}]")
    max_points = params.get("MaxDatapoints", MAX_DATAPOINTS_DEFAULT)
    if not isinstance(max_points, int) or max_points < 1:
        raise ValidationError("The parameter MaxDatapoints must be greater than 0.")
    queries = parse_queries(params.get("MetricDataQueries"))
    offset = 0
    if params.get("NextToken"):
        try:
            offset = int(paging.decode(params["NextToken"])["offset"])
        except (paging.InvalidToken, KeyError, TypeError, ValueError):
            raise InvalidNextToken("The service couldn't process your request because the next token is "
                                   "invalid.") from None
    values = evaluate_queries(store, account_id, region, queries, start, end)
    grid = values["__grid__"]
    results, position, budget, more = [], 0, max_points, False
    for q in queries:
        if not q.return_data:
            continue
        timestamps, vals = _points(values[q.id], grid)
        if scan_by == "TimestampDescending":
            timestamps, vals = timestamps[::-1], vals[::-1]
        # the page: skip what earlier pages returned, stop at MaxDatapoints
        skip = max(0, min(len(timestamps), offset - position))
        position += len(timestamps)
        timestamps, vals = timestamps[skip:], vals[skip:]
        take = min(len(timestamps), budget)
        cut = take < len(timestamps)
        more = more or cut
        budget -= take
        value = values[q.id]
        label = q.label or (value.name if isinstance(value, pd.Series) and value.name else None) or \
            (q.metric.name if q.metric is not None else q.id)
        results.append({"Id": q.id, "Label": label, "Timestamps": timestamps[:take], "Values": vals[:take],
                        "StatusCode": "PartialData" if cut else "Complete", "Messages": []})
    body: dict[str, Any] = {"MetricDataResults": results, "Messages": []}
    if more:
        body["NextToken"] = paging.encode({"offset": offset + max_points})
    return body
