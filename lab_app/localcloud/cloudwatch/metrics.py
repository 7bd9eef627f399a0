"""The metric store: every CloudWatch datapoint of the local cloud in one DuckDB table.

PutMetricData (boto3, awscli), metric-filter values and embedded-metric-format log events all land here;
GetMetricStatistics, GetMetricData (with metric math), ListMetrics and the alarm evaluator read from it.
A period's statistics are one ``GROUP BY`` over the period's bucket (bound parameters only).

One row per value: ``value`` is the value itself (``NULL`` for a statistic set), ``n``/``total``/``lo``/``hi``
are its sample count, sum, minimum and maximum (a value with ``Counts`` weight c has n = c, total = c * v).
Standard-resolution data are stored on their minute (CloudWatch keeps them at 1-minute granularity);
high-resolution data (StorageResolution 1) on their second.
"""
from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from typing import Any, Iterable, Sequence

import numpy as np

from lab_app.localcloud.aws import paging
from lab_app.localcloud.cloudwatch.exceptions import (
    InvalidNextToken,
    InvalidParameterCombination,
    InvalidParameterValue,
    MissingParameter,
)
from lab_app.localcloud.store import Store

METRICS_TABLE = "cw_metric_data"
METRICS_DDL = f"""
CREATE TABLE IF NOT EXISTS {METRICS_TABLE} (
    account_id VARCHAR,
    region VARCHAR,
    namespace VARCHAR,
    metric_name VARCHAR,
    dims VARCHAR,
    unit VARCHAR,
    ts DOUBLE,
    value DOUBLE,
    n DOUBLE,
    total DOUBLE,
    lo DOUBLE,
    hi DOUBLE,
    resolution INTEGER
)"""

UNITS = ("Seconds", "Microseconds", "Milliseconds", "Bytes", "Kilobytes", "Megabytes", "Gigabytes", "Terabytes",
         "Bits", "Kilobits", "Megabits", "Gigabits", "Terabits", "Percent", "Count", "Bytes/Second",
         "Kilobytes/Second", "Megabytes/Second", "Gigabytes/Second", "Terabytes/Second", "Bits/Second",
         "Kilobits/Second", "Megabits/Second", "Gigabits/Second", "Terabits/Second", "Count/Second", "None")
STATISTICS = ("SampleCount", "Average", "Sum", "Minimum", "Maximum")
STAT_ALIASES = {"SampleCount": "SampleCount", "Average": "Average", "Avg": "Average", "Sum": "Sum",
                "Minimum": "Minimum", "Min": "Minimum", "Maximum": "Maximum", "Max": "Maximum"}
PERCENTILE = re.compile(r"^p(\d{1,2}(?:\.\d{1,10})?|100)$")
MAX_DATA_PER_PUT = 1000
MAX_VALUES_PER_DATUM = 150
MAX_DIMENSIONS = 30
MAX_STATISTICS_DATAPOINTS = 1440
PAST_LIMIT_S = 14 * 86400
FUTURE_LIMIT_S = 2 * 3600
LIST_PAGE = 500


def dims_key(dimensions: Iterable[tuple[str, str]]) -> str:
    """The canonical text of a dimension set (sorted by name): equal sets have equal keys."""
    return json.dumps(sorted([str(n), str(v)] for n, v in dimensions), separators=(",", ":"))


def dims_of(params_dimensions: Any) -> list[tuple[str, str]]:
    return [(d["Name"], d["Value"]) for d in (params_dimensions or [])]


def valid_period(period: Any, *, high_resolution_ok: bool = True) -> bool:
    return isinstance(period, int) and not isinstance(period, bool) and period > 0 and (
        period % 60 == 0 or (high_resolution_ok and period in (1, 5, 10, 20, 30)))


def canonical_stat(stat: Any) -> str | None:
    """``Sum`` / ``Average`` / ... / ``p99`` (the statistics the local cloud computes), or None."""
    if not isinstance(stat, str):
        return None
    if stat in STAT_ALIASES:
        return STAT_ALIASES[stat]
    match = PERCENTILE.match(stat)
    if match and 0 <= float(match.group(1)) <= 100:
        return stat
    return None


def align_start(start: float, period: int) -> float:
    """CloudWatch rounds a start time down: to the minute for periods of a minute or more, to the period below."""
    step = 60 if period >= 60 else period
    return math.floor(start / step) * step


def percentile(values: np.ndarray, weights: np.ndarray, pct: float) -> float:
    """Nearest rank over weighted values (the rule :func:`rules.aggregate` uses for alarms)."""
    order = np.argsort(values, kind="stable")
    v, w = values[order], weights[order]
    cumulative = np.cumsum(w)
    rank = max(1.0, math.ceil(pct / 100 * cumulative[-1]))
    return float(v[min(len(v) - 1, int(np.searchsorted(cumulative, rank - 1e-9)))])


@dataclass(frozen=True)
class MetricId:
    namespace: str
    name: str
    dims: str                # dims_key(...)
    unit: str | None = None  # only data with this unit (None: every unit)

    @property
    def dimensions(self) -> list[dict]:
        return [{"Name": n, "Value": v} for n, v in json.loads(self.dims)]


class MetricStore:
    def __init__(self, store: Store, clock):
        self.store = store
        self.clock = clock

    def setup(self) -> float | None:
        self.store.ensure_table(METRICS_TABLE, METRICS_DDL)
        return self.store.execute(f"SELECT max(ts) FROM {METRICS_TABLE}")[0][0]

    def count(self) -> int:
        return self.store.count(METRICS_TABLE)

    # ---- writing ----------------------------------------------------------------------------------
    def put_metric_data(self, account_id: str, region: str, params: dict) -> None:
        """PutMetricData, validated as CloudWatch does (the whole request fails on one bad datum)."""
        namespace = params.get("Namespace")
        if not namespace:
            raise MissingParameter("The parameter Namespace is required.")
        if not isinstance(namespace, str) or namespace.startswith("AWS/") or len(namespace) > 255 \
                or not re.fullmatch(r"[^:].*", namespace):
            raise InvalidParameterValue(f"The value {namespace} for parameter Namespace is not valid.")
        data = params.get("MetricData")
        if not data:
            raise MissingParameter("The parameter MetricData is required.")
        if not isinstance(data, list) or len(data) > MAX_DATA_PER_PUT:
            raise InvalidParameterValue(f"The collection MetricData must not have a size greater than "
                                        f"{MAX_DATA_PER_PUT}.")
        now = self.clock.now()
        for i, datum in enumerate(data, 1):
            self.validate_datum(datum, f"MetricData.member.{i}", now)
        self.put(account_id, region, namespace, data)

    def validate_datum(self, datum: dict, where: str, now: float) -> None:
        if not isinstance(datum, dict) or not datum.get("MetricName"):
            raise MissingParameter(f"The parameter {where}.MetricName is required.")
        has = [k for k in ("Value", "StatisticValues", "Values") if datum.get(k) is not None]
        if len(has) > 1:
            raise InvalidParameterCombination(f"The parameters {where}.{has[0]} and {where}.{has[1]} are "
                                              "mutually exclusive and you have specified both.")
        if not has:
            raise InvalidParameterCombination(f"At least one of the parameters {where}.Value, "
                                              f"{where}.StatisticValues or {where}.Values must be specified.")
        unit = datum.get("Unit")
        if unit is not None and unit not in UNITS:
            raise InvalidParameterValue(f"The value {unit} for parameter {where}.Unit is not valid.")
        resolution = datum.get("StorageResolution", 60)
        if resolution not in (1, 60):
            raise InvalidParameterValue(f"The value {resolution} for parameter {where}.StorageResolution is "
                                        "not valid. Valid values are 1 and 60.")
        dims = datum.get("Dimensions") or []
        if len(dims) > MAX_DIMENSIONS:
            raise InvalidParameterValue(f"The collection {where}.Dimensions must not have a size greater than "
                                        f"{MAX_DIMENSIONS}.")
        names = [d.get("Name") for d in dims]
        for j, d in enumerate(dims, 1):
            if not d.get("Name") or d.get("Value") in (None, ""):
                raise InvalidParameterValue(f"The value for parameter {where}.Dimensions.member.{j} is not valid: "
                                            "Name and Value must both be non-empty.")
        if len(set(names)) != len(names):
            raise InvalidParameterValue(f"No metric may have duplicate dimension names: {where}.Dimensions.")
        if "Values" in has:
            values, counts = datum["Values"], datum.get("Counts")
            if len(values) > MAX_VALUES_PER_DATUM:
                raise InvalidParameterValue(f"The collection {where}.Values must not have a size greater than "
                                            f"{MAX_VALUES_PER_DATUM}.")
            if counts is not None and len(counts) != len(values):
                raise InvalidParameterValue(f"The parameters {where}.Values and {where}.Counts must be of the "
                                            "same size.")
        if "StatisticValues" in has:
            sv = datum["StatisticValues"]
            missing = [k for k in ("SampleCount", "Sum", "Minimum", "Maximum") if sv.get(k) is None]
            if missing:
                raise MissingParameter(f"The parameter {where}.StatisticValues.{missing[0]} is required.")
            if sv["SampleCount"] <= 0 or sv["Minimum"] > sv["Maximum"]:
                raise InvalidParameterValue(f"The value for parameter {where}.StatisticValues is not valid.")
        ts = datum.get("Timestamp")
        if ts is not None:
            if not (now - PAST_LIMIT_S <= float(ts) <= now + FUTURE_LIMIT_S):
                raise InvalidParameterValue(f"The parameter {where}.Timestamp must specify a time no more than "
                                            "two weeks in the past and no more than two hours in the future.")

    def put(self, account_id: str, region: str, namespace: str, data: Sequence[dict]) -> int:
        """Store data (the PutMetricData datum shape; ``Timestamp`` epoch seconds or datetime)."""
        from lab_app.localcloud.cloudwatch.models import epoch

        now = self.clock.now()
        cols: dict[str, list] = {k: [] for k in ("metric_name", "dims", "unit", "ts", "value", "n", "total", "lo",
                                                 "hi", "resolution")}

        def row(datum, ts, value, n, total, lo, hi, resolution):
            cols["metric_name"].append(datum["MetricName"])
            cols["dims"].append(dims_key(dims_of(datum.get("Dimensions"))))
            cols["unit"].append(datum.get("Unit") or "None")
            cols["ts"].append(ts)
            cols["value"].append(value)
            cols["n"].append(n)
            cols["total"].append(total)
            cols["lo"].append(lo)
            cols["hi"].append(hi)
            cols["resolution"].append(resolution)

        for datum in data:
            resolution = int(datum.get("StorageResolution") or 60)
            raw_ts = datum.get("Timestamp")
            ts = epoch(raw_ts) if raw_ts is not None else now
            ts = math.floor(ts / 60) * 60.0 if resolution == 60 else math.floor(ts)
            if datum.get("Value") is not None:
                v = float(datum["Value"])
                row(datum, ts, v, 1.0, v, v, v, resolution)
            elif datum.get("Values") is not None:
                counts = datum.get("Counts") or [1.0] * len(datum["Values"])
                for v, c in zip(datum["Values"], counts):
                    v, c = float(v), float(c)
                    if c > 0:
                        row(datum, ts, v, c, v * c, v, v, resolution)
            elif datum.get("StatisticValues") is not None:
                sv = datum["StatisticValues"]
                row(datum, ts, None, float(sv["SampleCount"]), float(sv["Sum"]), float(sv["Minimum"]),
                    float(sv["Maximum"]), resolution)
        n = len(cols["ts"])
        if not n:
            return 0
        import pandas as pd

        df = pd.DataFrame({
            "account_id": [account_id] * n, "region": [region] * n, "namespace": [namespace] * n,
            "metric_name": cols["metric_name"], "dims": cols["dims"], "unit": cols["unit"],
            "ts": np.array(cols["ts"], dtype=float),
            "value": pd.array(cols["value"], dtype="Float64"),   # NULL for a statistic set
            **{k: np.array(cols[k], dtype=float) for k in ("n", "total", "lo", "hi")},
            "resolution": np.array(cols["resolution"], dtype=np.int32)})
        return self.store.insert_frame(METRICS_TABLE, df)

    # ---- reading ----------------------------------------------------------------------------------
    def series(self, account_id: str, region: str, metric: MetricId, stat: str, period: int, start: float,
               end: float) -> dict[float, float]:
        """One statistic per period bucket (bucket start -> value) over [start, end), buckets from ``start``."""
        result = self.statistics(account_id, region, metric, [stat], period, start, end)
        return {ts: row[stat] for ts, row in result.items() if row.get(stat) is not None}

    def statistics(self, account_id: str, region: str, metric: MetricId, stats: Sequence[str], period: int,
                   start: float, end: float) -> dict[float, dict[str, Any]]:
        """bucket start -> {stat: value, "Unit": unit} for every bucket with data."""
        where = ["account_id = ?", "region = ?", "namespace = ?", "metric_name = ?", "dims = ?", "ts >= ?",
                 "ts < ?"]
        args: list[Any] = [account_id, region, metric.namespace, metric.name, metric.dims, start, end]
        if metric.unit:
            where.append("unit = ?")
            args.append(metric.unit)
        bucket = "(? + floor((ts - ?) / ?) * ?)"
        rows = self.store.execute(
            f"SELECT {bucket} AS b, sum(n), sum(total), min(lo), max(hi), min(unit), max(unit) FROM {METRICS_TABLE} "
            f"WHERE {' AND '.join(where)} GROUP BY b ORDER BY b", [start, start, period, period, *args])
        out: dict[float, dict[str, Any]] = {}
        for b, n, total, lo, hi, unit_lo, unit_hi in rows:
            out[float(b)] = {"SampleCount": float(n), "Sum": float(total), "Minimum": float(lo),
                             "Maximum": float(hi), "Average": float(total) / float(n) if n else None,
                             "Unit": unit_lo if unit_lo == unit_hi else "None"}
        pcts = [s for s in stats if s.startswith("p")]
        if pcts and out:
            raw = self.store.execute(
                f"SELECT {bucket} AS b, value, n FROM {METRICS_TABLE} WHERE {' AND '.join(where)} "
                "AND value IS NOT NULL ORDER BY b", [start, start, period, period, *args])
            if raw:
                arr = np.array(raw, dtype=float)
                for b in np.unique(arr[:, 0]):
                    sel = arr[arr[:, 0] == b]
                    for s in pcts:
                        out[float(b)][s] = percentile(sel[:, 1], sel[:, 2], float(s[1:]))
        return out

    def sums_many(self, account_id: str, region: str, metrics: Sequence[MetricId], period: int, start: float,
                  end: float) -> dict[MetricId, dict[float, dict[str, float]]]:
        """The non-percentile statistics of several metrics (no unit filter) in one statement: metric -> bucket ->
        {SampleCount, Sum, Minimum, Maximum, Average}. What GetMetricData and metric-math alarms read."""
        wanted = list(dict.fromkeys(metrics))
        if not wanted:
            return {}
        match = " OR ".join("(namespace = ? AND metric_name = ? AND dims = ?)" for _ in wanted)
        args: list[Any] = [start, start, period, period, account_id, region, start, end]
        for m in wanted:
            args += [m.namespace, m.name, m.dims]
        rows = self.store.execute(
            f"SELECT namespace, metric_name, dims, (? + floor((ts - ?) / ?) * ?) AS b, sum(n), sum(total), min(lo), "
            f"max(hi) FROM {METRICS_TABLE} WHERE account_id = ? AND region = ? AND ts >= ? AND ts < ? AND ({match}) "
            "GROUP BY namespace, metric_name, dims, b", args)
        out: dict[MetricId, dict[float, dict[str, float]]] = {m: {} for m in wanted}
        for namespace, name, dims, b, n, total, lo, hi in rows:
            out[MetricId(namespace, name, dims)][float(b)] = {
                "SampleCount": float(n), "Sum": float(total), "Minimum": float(lo), "Maximum": float(hi),
                "Average": float(total) / float(n)}
        return out

    def get_metric_statistics(self, account_id: str, region: str, params: dict) -> dict:
        from lab_app.localcloud.cloudwatch.models import epoch

        for key in ("Namespace", "MetricName", "StartTime", "EndTime", "Period"):
            if params.get(key) is None:
                raise MissingParameter(f"The parameter {key} is required.")
        stats, extended = params.get("Statistics") or [], params.get("ExtendedStatistics") or []
        if not stats and not extended:
            raise MissingParameter("Must specify either Statistics or ExtendedStatistics.")
        if stats and extended:
            raise InvalidParameterCombination("Must specify either Statistics or ExtendedStatistics, but not both.")
        for i, s in enumerate(stats, 1):
            if s not in STATISTICS:
                raise InvalidParameterValue(f"The value {s} for parameter Statistics.member.{i} is not valid.")
        for i, s in enumerate(extended, 1):
            if not PERCENTILE.match(s):
                raise InvalidParameterValue(f"The value {s} for parameter ExtendedStatistics.member.{i} is not "
                                            "valid.")
        period = params["Period"]
        if not valid_period(period):
            raise InvalidParameterValue("The parameter Period must be 1, 5, 10, 20, 30, 60, or any multiple of 60.")
        start, end = epoch(params["StartTime"]), epoch(params["EndTime"])
        if end <= start:
            raise InvalidParameterValue("The parameter StartTime must be less than the parameter EndTime.")
        start = align_start(start, period)
        wanted = math.ceil((end - start) / period)
        if wanted > MAX_STATISTICS_DATAPOINTS:
            raise InvalidParameterCombination(
                f"You have requested up to {wanted:,} datapoints, which exceeds the limit of "
                f"{MAX_STATISTICS_DATAPOINTS:,}. You may reduce the datapoints requested by increasing Period, "
                "or decreasing the time range.")
        unit = params.get("Unit")
        if unit is not None and unit not in UNITS:
            raise InvalidParameterValue(f"The value {unit} for parameter Unit is not valid.")
        metric = MetricId(params["Namespace"], params["MetricName"], dims_key(dims_of(params.get("Dimensions"))),
                          unit)
        result = self.statistics(account_id, region, metric, [*stats, *extended], period, start, end)
        points = []
        for ts, row in result.items():
            point: dict[str, Any] = {"Timestamp": ts, "Unit": unit or row["Unit"]}
            for s in stats:
                point[s] = row[s]
            if extended:
                point["ExtendedStatistics"] = {s: row[s] for s in extended if s in row}
            points.append(point)
        return {"Label": params["MetricName"], "Datapoints": points}

    def list_metrics(self, account_id: str, region: str, params: dict) -> dict:
        where, args = ["account_id = ?", "region = ?"], [account_id, region]
        if params.get("Namespace"):
            where.append("namespace = ?")
            args.append(params["Namespace"])
        if params.get("MetricName"):
            where.append("metric_name = ?")
            args.append(params["MetricName"])
        recently = params.get("RecentlyActive")
        if recently is not None:
            if recently != "PT3H":
                raise InvalidParameterValue(f"The value {recently} for parameter RecentlyActive is not valid.")
            where.append("ts >= ?")
            args.append(self.clock.now() - 3 * 3600)
        filters = params.get("Dimensions") or []
        if len(filters) > 10:
            raise InvalidParameterValue("The collection Dimensions must not have a size greater than 10.")
        offset = 0
        if params.get("NextToken"):
            try:
                offset = int(paging.decode(params["NextToken"])["offset"])
            except (paging.InvalidToken, KeyError, TypeError, ValueError):
                raise InvalidNextToken("The service couldn't process your request because the next token is "
                                       "invalid.") from None
        rows = self.store.execute(
            f"SELECT DISTINCT namespace, metric_name, dims FROM {METRICS_TABLE} WHERE {' AND '.join(where)} "
            "ORDER BY namespace, metric_name, dims", args)
        metrics = []
        for namespace, name, dims in rows:
            pairs = dict(json.loads(dims))
            if all(f["Name"] in pairs and (f.get("Value") is None or pairs[f["Name"]] == f["Value"]) for f in filters):
                metrics.append({"Namespace": namespace, "MetricName": name,
                                "Dimensions": [{"Name": n, "Value": v} for n, v in json.loads(dims)]})
        page = metrics[offset:offset + LIST_PAGE]
        body: dict[str, Any] = {"Metrics": page}
        if offset + LIST_PAGE < len(metrics):
            body["NextToken"] = paging.encode({"offset": offset + LIST_PAGE})
        return body

