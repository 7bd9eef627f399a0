"""The Honeycomb stand-in's OTLP metrics: data points stored in DuckDB the way Honeycomb turns them into events,
and the Query Data API over them.

What Honeycomb documents, and what this module does:

- The dataset is the ``x-honeycomb-dataset`` header; without it "all metrics data will be sent to a dataset called
  unknown_metrics" (docs.honeycomb.io/send-data/metrics/application, "Metrics Sent to unknown_metrics"). The name is
  slugged like every dataset name (:func:`~lab_app.localcloud.honeycomb.models.dataset_slug`).
- "Metrics are stored in Honeycomb as fields on events": data points become one event when they came in the same
  OTLP request, their timestamps are equal truncated to the second, and they share the same resource attributes and
  the same data point attributes (docs.honeycomb.io/manage-data-volume/adjust-granularity/metrics-event-mapping).
  The event's fields are the resource and point attributes and one field per metric, named after the metric,
  holding the point's value. :func:`point_rows` stores one row per data point with the ``event_id`` of its event
  and ``timestamp`` truncated to the second; queries work on events.
- Histograms (explicit and exponential) are stored as histograms, not pre-computed numbers ("Native histogram
  support: Honeycomb stores histograms as distributed data structures rather than pre-bucketed values. This enables
  accurate percentile calculations (p95, p99) and flexible merging across time windows and grouped dimensions",
  docs.honeycomb.io/get-started/honeycomb/metrics-in-honeycomb). On a histogram field ``PXX`` and ``HEATMAP`` merge
  the buckets of every point in the group (percentiles interpolate linearly inside the bucket and are clamped to the
  points' ``min``/``max``), ``AVG`` is total sum / total count, ``SUM`` the total of the points' sums, ``MIN`` /
  ``MAX`` the smallest ``min`` / largest ``max``. Summaries: ``SUM``/``AVG`` the same way; ``PXX`` the mean of the
  points' reported quantile when that quantile was sent, ``MIN``/``MAX`` their 0 and 1 quantiles.
- Values are stored as sent, with ``temporality`` and ``monotonic`` on each point. Number fields are aggregated as
  stored: a delta counter's points add up (``SUM``) to the increase over the window, a cumulative counter's largest
  point (``MAX``, per series) is its total since its start time, an up-down counter's or a gauge's points are levels.
  Distribution fields are merged as increases (:class:`Increases`): a cumulative histogram's point counts as its
  difference from the same series' previous point, so ``PXX``/``AVG``/``SUM`` cover what happened in the window
  whatever the temporality. (Honeycomb's query builder applies temporal aggregation such as RATE or INCREASE to
  metric fields, docs.honeycomb.io/investigate/query/temporal-aggregation; here the Query Data API computes the plain
  calculations.) ``COUNT`` counts events, which Honeycomb's metrics guide says to avoid for metrics
  (docs.honeycomb.io/investigate/query/examples-metrics).
"""
from __future__ import annotations

import hashlib
import json
import math
from datetime import datetime, timezone
from typing import Any

import numpy as np
import pandas as pd

from lab_app.localcloud.honeycomb.exceptions import QuerySpecError
from lab_app.localcloud.honeycomb.models import dataset_slug
from lab_app.localcloud.honeycomb.query.ast import HEATMAP_BUCKETS, PERCENTILES, QuerySpec
from lab_app.localcloud.honeycomb.query.metrics_sql import DISTRIBUTION_TYPES, metric_groups_sql, metric_values_sql
from lab_app.localcloud.otlp.metrics import DecodedMetrics, MetricPoint

METRICS_TABLE = "otlp_metric_points"
UNKNOWN_METRICS = "unknown_metrics"
DATASET_HEADER = "x-honeycomb-dataset"

METRICS_DDL = f"""
CREATE TABLE IF NOT EXISTS {METRICS_TABLE} (
    dataset VARCHAR,              -- from x-honeycomb-dataset (slugged); unknown_metrics without it
    service VARCHAR,              -- the resource service.name as sent (NULL when missing)
    event_id VARCHAR,             -- the Honeycomb event this point is a field of
    timestamp TIMESTAMP,          -- the event's time: the point's time truncated to the second (UTC)
    time_unix_nano BIGINT,        -- the point's own time
    start_time_unix_nano BIGINT,  -- start of the point's aggregation window (cumulative: the series' start)
    metric_name VARCHAR,          -- the event field the point fills
    metric_type VARCHAR,          -- gauge, sum, histogram, exponential_histogram, summary
    unit VARCHAR,
    description VARCHAR,
    temporality VARCHAR,          -- delta, cumulative (sums and histograms)
    monotonic BOOLEAN,            -- sums: a Counter (true) or an UpDownCounter (false)
    value DOUBLE,                 -- gauge / sum
    is_int BOOLEAN,               -- the value came as as_int
    count BIGINT,                 -- histogram / exponential_histogram / summary
    sum DOUBLE,
    min DOUBLE,
    max DOUBLE,
    bucket_lower DOUBLE[],        -- histogram buckets (lower, upper], ascending; -inf / +inf at the open ends
    bucket_upper DOUBLE[],
    bucket_counts BIGINT[],
    quantiles JSON,               -- summary: {{"0.5": value, ...}}
    scope_name VARCHAR,
    attributes JSON,              -- data point attributes
    resource_attributes JSON,
    received_at TIMESTAMP
)"""

METRIC_COLUMNS = [
    "dataset", "service", "event_id", "timestamp", "time_unix_nano", "start_time_unix_nano", "metric_name",
    "metric_type", "unit", "description", "temporality", "monotonic", "value", "is_int", "count", "sum", "min", "max",
    "bucket_lower", "bucket_upper", "bucket_counts", "quantiles", "scope_name", "attributes", "resource_attributes",
    "received_at",
]
NUMERIC_TYPES = ("gauge", "sum")
INT64_MAX = 2**63 - 1


def dataset_from_header(value: str | None) -> str:
    """The metrics dataset of a request: the ``x-honeycomb-dataset`` header, else ``unknown_metrics``."""
    value = (value or "").strip()
    return dataset_slug(value) if value else UNKNOWN_METRICS


def _canonical(values: dict) -> str:
    return json.dumps(values, sort_keys=True, default=str, separators=(",", ":"))


def point_rows(decoded: DecodedMetrics, dataset: str, request_key: str,
               received_at: datetime | None = None) -> dict[str, np.ndarray]:
    """One row per data point (a column per :data:`METRIC_COLUMNS` name). ``request_key`` identifies the request:
    points of different requests never share an event, as in Honeycomb."""
    cols: dict[str, list] = {c: [] for c in METRIC_COLUMNS}
    events: dict[tuple, str] = {}
    resource_json: dict[int, str] = {}
    received = received_at or datetime.now(timezone.utc).replace(tzinfo=None)
    for p in decoded.points:
        if p.time_unix_nano > INT64_MAX or (p.start_time_unix_nano or 0) > INT64_MAX:
            raise OverflowError(f"{p.name}: time_unix_nano {p.time_unix_nano} is past the year 2262")
        rid = id(p.resource)
        if rid not in resource_json:
            resource_json[rid] = _canonical(p.resource)
        res_text = resource_json[rid]
        attrs_text = _canonical(p.attributes)
        second = p.time_unix_nano // 1_000_000_000
        key = (second, res_text, attrs_text)
        event_id = events.get(key)
        if event_id is None:
            digest = hashlib.blake2b(f"{request_key}|{dataset}|{second}|{res_text}|{attrs_text}".encode(),
                                     digest_size=8)
            event_id = events[key] = digest.hexdigest()
        service = p.resource.get("service.name")
        cols["dataset"].append(dataset)
        cols["service"].append(None if service in (None, "") else str(service))
        cols["event_id"].append(event_id)
        cols["timestamp"].append(second * 1_000_000_000)
        cols["time_unix_nano"].append(p.time_unix_nano)
        cols["start_time_unix_nano"].append(p.start_time_unix_nano)
        cols["metric_name"].append(p.name)
        cols["metric_type"].append(p.type)
        cols["unit"].append(p.unit)
        cols["description"].append(p.description)
        cols["temporality"].append(p.temporality)
        cols["monotonic"].append(p.monotonic)
        cols["value"].append(None if p.value is None or math.isnan(p.value) else p.value)
        cols["is_int"].append(p.is_int)
        cols["count"].append(p.count)
        cols["sum"].append(p.sum)
        cols["min"].append(p.min)
        cols["max"].append(p.max)
        has_buckets = p.type in ("histogram", "exponential_histogram")
        cols["bucket_lower"].append(p.bucket_lower if has_buckets else None)
        cols["bucket_upper"].append(p.bucket_upper if has_buckets else None)
        cols["bucket_counts"].append(p.bucket_counts if has_buckets else None)
        cols["quantiles"].append(None if p.quantiles is None else json.dumps(p.quantiles))
        cols["scope_name"].append(p.scope_name)
        cols["attributes"].append(attrs_text)
        cols["resource_attributes"].append(res_text)
        cols["received_at"].append(received)
    out = {name: _objects(values) for name, values in cols.items()}
    out["timestamp"] = np.array(cols["timestamp"], dtype=np.int64).astype("datetime64[ns]")
    out["time_unix_nano"] = np.array(cols["time_unix_nano"], dtype=np.int64)
    out["received_at"] = np.array(cols["received_at"], dtype="datetime64[us]")
    return out


def _objects(values: list) -> np.ndarray:
    """A 1-D object array (``np.array`` would turn equal-length lists into a 2-D array)."""
    out = np.empty(len(values), dtype=object)
    for i, value in enumerate(values):
        out[i] = value
    return out


# --- distributions: merging histogram points ---------------------------------------------------------
class Distribution:
    """The merged buckets, count, sum and min/max of histogram points, or the quantiles of summary points."""

    def __init__(self) -> None:
        self.buckets: dict[tuple[float, float], int] = {}
        self.count = 0
        self.sum: float | None = None
        self.min: float | None = None
        self.max: float | None = None
        self.quantiles: dict[str, list[float]] = {}

    def add(self, point: dict) -> None:
        """``point``: ``lower``/``upper``/``counts`` lists (or None), ``count``, ``sum``, ``min``, ``max``,
        ``quantiles`` (dict or None)."""
        if point["counts"] is not None:
            for lo, hi, n in zip(point["lower"], point["upper"], point["counts"]):
                self.buckets[(lo, hi)] = self.buckets.get((lo, hi), 0) + int(n)
        self.count += int(point["count"] or 0)
        if point["sum"] is not None:
            self.sum = point["sum"] if self.sum is None else self.sum + point["sum"]
        if point["min"] is not None:
            self.min = point["min"] if self.min is None else min(self.min, point["min"])
        if point["max"] is not None:
            self.max = point["max"] if self.max is None else max(self.max, point["max"])
        for q, value in (point["quantiles"] or {}).items():
            self.quantiles.setdefault(repr(float(q)), []).append(float(value))

    def calculate(self, op: str) -> Any:
        if op == "HEATMAP":
            return self.heatmap()
        if op in PERCENTILES:
            return self.percentile(PERCENTILES[op])
        if op == "SUM":
            return self.sum
        if op == "AVG":
            return None if not self.count or self.sum is None else self.sum / self.count
        return self.extreme(op)

    def _ends(self, lo: float, hi: float) -> tuple[float | None, float | None]:
        """A bucket's finite ends: open ends become the points' min / max, and every end is clamped to them."""
        if math.isinf(lo):
            lo = self.min if self.min is not None else (hi if math.isfinite(hi) else None)
        if math.isinf(hi):
            hi = self.max if self.max is not None else lo
        if lo is not None and self.min is not None:
            lo = max(lo, self.min)
        if hi is not None and self.max is not None:
            hi = min(hi, self.max)
        if lo is not None and hi is not None and hi < lo:
            hi = lo
        return lo, hi

    def percentile(self, q: float) -> float | None:
        if not self.buckets:
            values = self.quantiles.get(repr(float(q)))
            return sum(values) / len(values) if values else None
        ordered = sorted((k, n) for k, n in self.buckets.items() if n)
        total = sum(n for _, n in ordered)
        if not total:
            return None
        rank = q * total
        seen = 0
        for (lo, hi), n in ordered:
            if seen + n >= rank:
                lo_, hi_ = self._ends(lo, hi)
                if lo_ is None or hi_ is None:
                    return lo_ if hi_ is None else hi_
                return lo_ + (hi_ - lo_) * max(0.0, rank - seen) / n
            seen += n
        return self._ends(*ordered[-1][0])[1]

    def extreme(self, op: str) -> float | None:
        """MIN / MAX: the points' min / max; a summary's 0 and 1 quantiles."""
        if op == "MIN":
            return self.min if self.min is not None or self.buckets else self.percentile(0.0)
        return self.max if self.max is not None or self.buckets else self.percentile(1.0)

    def heatmap(self) -> dict:
        """The merged buckets, ascending; the open-ended ones only when they hold points (their open end is then
        the points' min or max)."""
        out = []
        for (lo, hi), n in sorted(self.buckets.items()):
            if math.isinf(lo) or math.isinf(hi):
                if not n:
                    continue
                lo, hi = self._ends(lo, hi)
            out.append({"lower": lo, "upper": hi, "count": n})
        return {"buckets": out}


def _plain(value: Any) -> Any:
    if value is None:
        return None
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


# --- the backend ------------------------------------------------------------------------------------
class MetricsBackend:
    """Metric points in :data:`METRICS_TABLE`: ingest (one INSERT per request, committed before the reply) and
    the Query Data API's calculations over metrics datasets."""

    def __init__(self, store, log=None):
        self.store = store
        self.log = log
        self.points_received = 0
        self._requests = 0

    def setup(self) -> None:
        self.store.ensure_table(METRICS_TABLE, METRICS_DDL)

    def reset(self) -> None:
        self.points_received = 0

    def status(self) -> dict[str, Any]:
        rows = self.store.execute(f"SELECT count(*), count(DISTINCT dataset) FROM {METRICS_TABLE}")
        return {"metric_points": rows[0][0], "metric_datasets": rows[0][1]}

    def ingest(self, decoded: DecodedMetrics, dataset: str) -> int:
        """Store the decoded points of one request in ``dataset``; returns how many."""
        if not decoded.points:
            return 0
        self._requests += 1
        key = f"{datetime.now(timezone.utc).timestamp()}-{self._requests}"
        rows = point_rows(decoded, dataset, key)
        self.store.insert_frame(METRICS_TABLE, rows, METRIC_COLUMNS)
        self.points_received += len(decoded.points)
        return len(decoded.points)

    def dataset_exists(self, dataset: str) -> bool:
        return bool(self.store.execute(f"SELECT 1 FROM {METRICS_TABLE} WHERE dataset = ? LIMIT 1", [dataset]))

    def metric_types(self, dataset: str) -> dict[str, str]:
        rows = self.store.execute(f"SELECT metric_name, any_value(metric_type) FROM {METRICS_TABLE} "
                                  "WHERE dataset = ? GROUP BY metric_name", [dataset])
        return {name: kind for name, kind in rows}

    def points_between(self, start=None, end=None, dataset=None, metric=None, limit: int = 100_000) -> dict:
        """LOCAL ONLY helper: stored points whose event time is in [start, end) (epoch seconds), oldest first."""
        where, params = [], []
        if start not in (None, ""):
            where.append("timestamp >= ?")
            params.append(_dt(float(start)))
        if end not in (None, ""):
            where.append("timestamp < ?")
            params.append(_dt(float(end)))
        if dataset not in (None, ""):
            where.append("dataset = ?")
            params.append(dataset_slug(str(dataset)))
        if metric not in (None, ""):
            where.append("metric_name = ?")
            params.append(str(metric))
        sql = (f"SELECT * EXCLUDE (received_at) FROM {METRICS_TABLE}"
               + (" WHERE " + " AND ".join(where) if where else "")
               + " ORDER BY time_unix_nano, metric_name, event_id LIMIT ?")
        params.append(max(0, min(int(limit), 1_000_000)) + 1)
        frame = self.store.query_df(sql, params)
        truncated = len(frame) > limit
        frame = frame.head(limit)
        records = []
        for rec in frame.to_dict(orient="records"):
            out = {}
            for name, value in rec.items():
                if name == "timestamp":
                    out[name] = None if pd.isna(value) else value.isoformat() + "Z"
                elif isinstance(value, (list, np.ndarray)):
                    out[name] = [_plain(v) if not (isinstance(v, float) and math.isinf(v)) else
                                 ("-Infinity" if v < 0 else "Infinity") for v in value]
                elif value is None or (not isinstance(value, (str, bool)) and pd.isna(value)):
                    out[name] = None
                else:
                    out[name] = _plain(value)
            records.append(out)
        return {"points": records, "count": len(records), "truncated": truncated}

    # queries -------------------------------------------------------------------------------------------
    def run_query(self, spec: QuerySpec, dataset: str, now: float, limit: int = 10_000, series: bool = True) -> dict:
        start, end = spec.window(now)
        metrics = self.metric_types(dataset)
        _check_calculations(spec, metrics)
        limit = min(limit, spec.limit or limit)
        rows = self._groups(spec, dataset, start, end, metrics, None)
        rows = _having_order_limit(spec, rows, limit)
        out: dict[str, Any] = {"results": [{"data": {k: v for k, v in row.items() if k != "__t"}} for row in rows]}
        if series:
            granularity = spec.granularity or max(1, int((end - start) // 100))
            points = self._groups(spec, dataset, start, end, metrics, granularity, heatmaps=False)
            points.sort(key=lambda r: (r["__t"], *[str(r.get(b)) for b in spec.breakdowns]))
            out["series"] = [{"time": datetime.fromtimestamp(r.pop("__t"), tz=timezone.utc)
                              .strftime("%Y-%m-%dT%H:%M:%SZ"), "data": r} for r in points]
        return out

    def _groups(self, spec: QuerySpec, dataset: str, start: float, end: float, metrics: dict[str, str],
                granularity: int | None, heatmaps: bool = True) -> list[dict]:
        sql, params, python_calcs = metric_groups_sql(spec, METRICS_TABLE, dataset, start, end, metrics, granularity)
        nb = len(spec.breakdowns)
        rows: dict[tuple, dict] = {}
        for rec in self.store.query_df(sql, params).itertuples(index=False):
            values = rec._asdict()
            key = tuple(_plain(values[f"b{i}"]) for i in range(nb))
            if granularity:
                key = (float(values["t"]),) + key
            data = {name: _plain(values[f"b{i}"]) for i, name in enumerate(spec.breakdowns)}
            if granularity:
                data["__t"] = float(values["t"])
            for i, calc in enumerate(spec.calculations):
                if i in python_calcs or (calc.op == "HEATMAP" and not heatmaps):
                    continue
                data[calc.key] = _plain(values[f"c{i}"])
            rows[key] = data
        for i in python_calcs:
            calc = spec.calculations[i]
            if calc.op == "HEATMAP" and not heatmaps:
                continue
            self._fill(spec, dataset, start, end, metrics, granularity, calc, rows)
        order = ["__t", *spec.breakdowns, *[c.key for c in spec.calculations]]   # the spec's order, as Honeycomb
        return [{k: row[k] for k in order if k in row} for row in rows.values()]

    def _fill(self, spec, dataset, start, end, metrics, granularity, calc, rows: dict[tuple, dict]) -> None:
        """Calculations over distributions (and HEATMAP over numbers), computed from the matching points."""
        sql, params = metric_values_sql(spec, METRICS_TABLE, dataset, start, end, metrics, granularity, calc.column)
        frame = self.store.query_df(sql, params)
        nb = len(spec.breakdowns)
        distribution = metrics.get(calc.column) in DISTRIBUTION_TYPES
        groups: dict[tuple, Any] = {}
        increases = Increases(int(start * 1e9))
        for rec in frame.itertuples(index=False):
            values = rec._asdict()
            key = tuple(_plain(values[f"b{i}"]) for i in range(nb))
            if granularity:
                key = (float(values["t"]),) + key
            if distribution:
                point = increases.point(values)
                if point is not None:
                    groups.setdefault(key, Distribution()).add(point)
            elif values["v"] is not None and not pd.isna(values["v"]):
                groups.setdefault(key, []).append(float(values["v"]))
        if not distribution:      # HEATMAP over a number field: equal-width buckets on one shared axis
            every = [v for vs in groups.values() for v in vs]
            lo, hi = (min(every), max(every)) if every else (0.0, 0.0)
            width = (hi - lo) / HEATMAP_BUCKETS if hi > lo else 1.0
        for key, row in rows.items():
            got = groups.get(key)
            if distribution:
                if got is None:
                    row[calc.key] = {"buckets": []} if calc.op == "HEATMAP" else None
                else:
                    row[calc.key] = _plain(got.calculate(calc.op)) if calc.op != "HEATMAP" else got.heatmap()
            else:
                counts = np.zeros(HEATMAP_BUCKETS, dtype=int)
                for v in got or []:
                    counts[min(int((v - lo) // width), HEATMAP_BUCKETS - 1)] += 1
                row[calc.key] = {"buckets": [] if not got else [
                    {"lower": lo + i * width, "upper": lo + (i + 1) * width, "count": int(counts[i])}
                    for i in range(HEATMAP_BUCKETS)]}


def _nullable(value) -> Any:
    if value is None:
        return None
    try:
        return None if pd.isna(value) else value
    except (TypeError, ValueError):   # a list or array
        return value


class Increases:
    """Distribution points as what happened in the query window.

    A delta point is the increase of its interval. A cumulative point (histograms with cumulative temporality, and
    summaries, whose count and sum are cumulative) holds everything since its ``start_time``: per series (same
    resource and point attributes), each point counts as its difference from the series' previous point; the first
    point of a series that started before the window is only the baseline; a point whose start time changed, or
    whose counts went down, is a restart and counts whole. Rows must come in time order."""

    def __init__(self, window_start_ns: int) -> None:
        self.window_start_ns = window_start_ns
        self.previous: dict[tuple, dict] = {}

    def point(self, values: dict) -> dict | None:
        counts = _nullable(values["bucket_counts"])
        point = {"lower": None if counts is None else list(values["bucket_lower"]),
                 "upper": None if counts is None else list(values["bucket_upper"]),
                 "counts": None if counts is None else [int(c) for c in counts],
                 "count": _nullable(values["count"]), "sum": _nullable(values["sum"]),
                 "min": _nullable(values["min"]), "max": _nullable(values["max"]),
                 "quantiles": json.loads(values["quantiles"]) if isinstance(values["quantiles"], str) else None,
                 "start": _nullable(values["start_time_unix_nano"])}
        cumulative = values["temporality"] == "cumulative" or values["quantiles"] is not None
        if not cumulative:
            return point
        series = (values["series_resource"], values["series_attributes"])
        before = self.previous.get(series)
        self.previous[series] = point
        if before is None:
            started_in_window = point["start"] is not None and point["start"] >= self.window_start_ns
            return point if started_in_window else None
        if (before["start"] != point["start"] or (point["count"] or 0) < (before["count"] or 0)
                or (point["counts"] is not None and (before["counts"] is None or point["lower"] != before["lower"]))):
            return point                                   # a restart (or new bucket layout): counts whole
        delta = dict(point)
        delta["count"] = (point["count"] or 0) - (before["count"] or 0)
        if point["sum"] is not None and before["sum"] is not None:
            delta["sum"] = point["sum"] - before["sum"]
        if point["counts"] is not None:
            delta["counts"] = [a - b for a, b in zip(point["counts"], before["counts"])]
        delta["quantiles"] = None if point["quantiles"] is None else point["quantiles"]
        return delta


def _check_calculations(spec: QuerySpec, metrics: dict[str, str]) -> None:
    for calc in spec.calculations:
        kind = metrics.get(calc.column or "")
        if kind in DISTRIBUTION_TYPES and calc.op == "COUNT_DISTINCT":
            raise QuerySpecError(f"COUNT_DISTINCT is not available on the {kind} field {calc.column!r}")


def _sort_value(value: Any) -> tuple:
    if value is None:
        return (1, 0, "")
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return (0, float(value), "")
    return (0, 0.0, str(value))


def _having_order_limit(spec: QuerySpec, rows: list[dict], limit: int) -> list[dict]:
    """Honeycomb's havings, orders (default: the first calculation, descending) and limit, on computed groups."""
    compare = {"=": lambda a, b: a == b, "!=": lambda a, b: a != b, ">": lambda a, b: a > b,
               ">=": lambda a, b: a >= b, "<": lambda a, b: a < b, "<=": lambda a, b: a <= b}
    for having in spec.havings:
        key = having.calculation.key
        rows = [r for r in rows if isinstance(r.get(key), (int, float)) and compare[having.op](r[key], having.value)]
    orders = [(o.calculation.key if o.calculation is not None else o.column, o.order == "descending")
              for o in spec.orders]
    if not spec.orders:
        first = next((c.key for c in spec.calculations if c.op != "HEATMAP"), None)
        if first:
            orders.append((first, True))
    orders += [(b, False) for b in spec.breakdowns]
    for key, descending in reversed(orders):
        present = [r for r in rows if r.get(key) is not None]
        missing = [r for r in rows if r.get(key) is None]
        present.sort(key=lambda r: _sort_value(r.get(key)), reverse=descending)
        rows = present + missing                      # NULLS LAST either way
    return rows[:limit]


def _dt(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, tz=timezone.utc).replace(tzinfo=None)


__all__ = ["DATASET_HEADER", "Distribution", "METRICS_TABLE", "MetricPoint", "MetricsBackend", "UNKNOWN_METRICS",
           "dataset_from_header", "point_rows"]
