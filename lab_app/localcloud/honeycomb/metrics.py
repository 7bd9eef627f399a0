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
- Honeycomb's OTLP translation (github.com/honeycombio/husky, ``otlp/metrics.go``) adds, for a histogram point,
  ``<name>.count``, ``<name>.sum``, ``<name>.avg`` and ``<name>.p001`` ... ``<name>.p999`` (each the upper bound of
  the last bucket whose cumulative share of the count is at most the percentile; its table maps ``.p05`` to 0.5), and
  for a summary point ``.count``, ``.sum``, ``.avg``, ``.min``, ``.max`` and ``.pNN`` per reported quantile
  (:func:`histogram_fields`, :func:`summary_fields`); every metric event has ``meta.signal_type: metric``. These are
  number fields like any other (stored per point in ``fields``). Without ``x-honeycomb-dataset``, a Classic key
  (:func:`is_classic_key`) gets 401 "missing 'x-honeycomb-dataset' header" (husky's ``ValidateMetricsHeaders``).
- Histograms (explicit and exponential) are also stored as histograms, not pre-computed numbers ("Native histogram
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
import re
from datetime import datetime, timezone
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from lab_app.localcloud.honeycomb.exceptions import QuerySpecError
from lab_app.localcloud.honeycomb.models import KnownDatasets, SpanJournal, SpanWriter, dataset_slug
from lab_app.localcloud.honeycomb.query.ast import HEATMAP_BUCKETS, PERCENTILES, QuerySpec
from lab_app.localcloud.honeycomb.query.metrics_sql import (
    DISTRIBUTION_TYPES,
    metric_groups_sql,
    metric_merged_sql,
    metric_values_sql,
)
from lab_app.localcloud.otlp.metrics import DecodedMetrics, MetricPoint, decode_metrics

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
    fields JSON,                  -- the event fields Honeycomb derives from a histogram / summary point
    scope_name VARCHAR,
    attributes JSON,              -- data point attributes
    resource_attributes JSON,
    received_at TIMESTAMP
)"""

METRIC_COLUMNS = [
    "dataset", "service", "event_id", "timestamp", "time_unix_nano", "start_time_unix_nano", "metric_name",
    "metric_type", "unit", "description", "temporality", "monotonic", "value", "is_int", "count", "sum", "min", "max",
    "bucket_lower", "bucket_upper", "bucket_counts", "quantiles", "fields", "scope_name", "attributes",
    "resource_attributes",
    "received_at",
]

JOURNAL_FILE = "honeycomb-metrics.journal"          # beside the DuckDB file
JOURNAL_TABLE = "honeycomb_metrics_journal"
JOURNAL_DDL = f"""
CREATE TABLE IF NOT EXISTS {JOURNAL_TABLE} (id INTEGER PRIMARY KEY, committed_seq UBIGINT NOT NULL)"""


_CLASSIC_KEY = re.compile(r"[0-9a-f]*")
_CLASSIC_INGEST_KEY = re.compile(r"hc[a-z]ic_[0-9a-z]*")


def is_classic_key(key: str) -> bool:
    """A Honeycomb Classic key (32 hex digits, or a 64-character Classic ingest key ``hc?ic_...``), as husky's
    ``IsClassicApiKey`` tells them from environment keys. A Classic team has no environments: its OTLP requests
    must name their dataset."""
    if len(key) == 32:
        return _CLASSIC_KEY.fullmatch(key) is not None
    return len(key) == 64 and _CLASSIC_INGEST_KEY.fullmatch(key) is not None


def dataset_from_header(value: str | None) -> str:
    """The metrics dataset of a request: the ``x-honeycomb-dataset`` header, else ``unknown_metrics``."""
    value = (value or "").strip()
    return dataset_slug(value) if value else UNKNOWN_METRICS


# json.dumps(values, sort_keys=True, ...) without building an encoder per call: the event key's attribute text
_canonical = json.JSONEncoder(sort_keys=True, default=str, separators=(",", ":")).encode


def point_rows(decoded: DecodedMetrics, dataset: str, request_key: str,
               received_at: datetime | None = None) -> dict[str, np.ndarray]:
    """One row per data point (a column per :data:`METRIC_COLUMNS` name). ``request_key`` identifies the request:
    points of different requests never share an event, as in Honeycomb."""
    points = decoded.points
    n = len(points)
    resource_json: dict[int, str] = {}
    attrs_json: dict[tuple, str] = {}
    events: dict[tuple, str] = {}
    event_ids, attrs_texts, res_texts, services = [], [], [], []
    for p in points:
        res_text = resource_json.get(id(p.resource))
        if res_text is None:
            res_text = resource_json[id(p.resource)] = _canonical(p.resource)
        try:                      # the same attribute set (the instruments of one route) encoded once
            akey = tuple(p.attributes.items())
            attrs_text = attrs_json.get(akey)
            if attrs_text is None:
                attrs_text = attrs_json[akey] = _canonical(p.attributes)
        except TypeError:         # a list or map value: not hashable
            attrs_text = _canonical(p.attributes)
        key = (p.time_unix_nano // 1_000_000_000, res_text, attrs_text)
        event_id = events.get(key)
        if event_id is None:
            digest = hashlib.blake2b(f"{request_key}|{dataset}|{key[0]}|{res_text}|{attrs_text}".encode(),
                                     digest_size=8)
            event_id = events[key] = digest.hexdigest()
        event_ids.append(event_id)
        attrs_texts.append(attrs_text)
        res_texts.append(res_text)
        service = p.resource.get("service.name")
        services.append(None if service in (None, "") else str(service))
    times = np.array([p.time_unix_nano for p in points], dtype=np.int64)
    buckets = [p.type in ("histogram", "exponential_histogram") for p in points]
    obj = partial(np.array, dtype=object)
    received = np.datetime64(received_at or datetime.now(timezone.utc).replace(tzinfo=None), "us")
    return {
        "dataset": obj([dataset] * n),
        "service": obj(services),
        "event_id": obj(event_ids),
        "timestamp": ((times // 1_000_000_000) * 1_000_000_000).astype("datetime64[ns]"),
        "time_unix_nano": times,
        "start_time_unix_nano": obj([p.start_time_unix_nano for p in points]),
        "metric_name": obj([p.name for p in points]),
        "metric_type": obj([p.type for p in points]),
        "unit": obj([p.unit for p in points]),
        "description": obj([p.description for p in points]),
        "temporality": obj([p.temporality for p in points]),
        "monotonic": obj([p.monotonic for p in points]),
        "value": obj([None if p.value is None or math.isnan(p.value) else p.value for p in points]),
        "is_int": obj([p.is_int for p in points]),
        "count": obj([p.count for p in points]),
        "sum": obj([p.sum for p in points]),
        "min": obj([p.min for p in points]),
        "max": obj([p.max for p in points]),
        "bucket_lower": _objects([p.bucket_lower if b else None for p, b in zip(points, buckets)]),
        "bucket_upper": _objects([p.bucket_upper if b else None for p, b in zip(points, buckets)]),
        "bucket_counts": _objects([p.bucket_counts if b else None for p, b in zip(points, buckets)]),
        "quantiles": obj([None if p.quantiles is None else json.dumps(p.quantiles) for p in points]),
        "fields": obj([_fields_json(p) for p in points]),
        "scope_name": obj([p.scope_name for p in points]),
        "attributes": obj(attrs_texts),
        "resource_attributes": obj(res_texts),
        "received_at": np.full(n, received),
    }


# Honeycomb's OTLP translation (github.com/honeycombio/husky, otlp/metrics.go): the fields a histogram point adds to
# its event, each percentile the upper bound of the last bucket whose cumulative share of the count is at most it.
# The table is husky's, ".p05" -> 0.5 included.
HUSKY_PERCENTILES = {".p001": 0.001, ".p01": 0.01, ".p05": 0.5, ".p10": 0.10, ".p25": 0.25, ".p50": 0.50,
                     ".p75": 0.75, ".p90": 0.90, ".p95": 0.95, ".p99": 0.99, ".p999": 0.999}


def histogram_fields(name: str, count: int, total: float | None, bounds: list[float],
                     counts: list[int]) -> dict[str, float | int | None]:
    """``<name>.count``, ``.sum``, ``.avg`` and ``.p001`` ... ``.p999`` of one explicit-bucket histogram point, as
    Honeycomb's OTLP translation computes them (``avg`` is None for an empty point: JSON has no NaN)."""
    out: dict[str, float | int | None] = {f"{name}.count": count, f"{name}.sum": total or 0.0,
                                          f"{name}.avg": (total or 0.0) / count if count else None}
    if bounds and counts:
        shares, running = [], 0
        for n in counts:
            running += n
            shares.append(running / count if count else math.nan)
        for suffix, percentile in HUSKY_PERCENTILES.items():
            highest = bounds[0]
            for i, share in enumerate(shares):
                if share > percentile:
                    break
                if i < len(bounds):
                    highest = bounds[i]
            out[name + suffix] = highest
    return out


def summary_fields(name: str, count: int, total: float, quantiles: dict[str, float]) -> dict[str, float | int | None]:
    """``<name>.count``, ``.sum``, ``.avg``, ``.min`` (quantile 0), ``.max`` (quantile 1) and ``.pNN`` of a summary
    point, as Honeycomb's OTLP translation names them (0.5 -> ``.p50``, 0.99 -> ``.p99``, 0.999 -> ``.p999``)."""
    out: dict[str, float | int | None] = {f"{name}.count": count, f"{name}.sum": total,
                                          f"{name}.avg": total / count if count else None}
    for q, value in quantiles.items():
        q = float(q)
        if q == 0.0:
            out[f"{name}.min"] = value
        elif q == 1.0:
            out[f"{name}.max"] = value
        else:
            digits = f"{q:.3f}"[2:]
            out[f"{name}.p{digits[:-1] if digits.endswith('0') else digits}"] = value
    return out


def _fields_json(p: MetricPoint) -> str | None:
    if p.type == "histogram":
        bounds = [b for b in p.bucket_upper[:-1]] if p.bucket_counts else []
        return json.dumps(histogram_fields(p.name, p.count, p.sum, bounds, p.bucket_counts or []))
    if p.type == "summary":
        return json.dumps(summary_fields(p.name, p.count, p.sum, p.quantiles or {}))
    return None


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

    def add_merged(self, lo, hi, n, total_count, total_sum, vmin, vmax) -> None:
        """One row of :func:`~lab_app.localcloud.honeycomb.query.metrics_sql.metric_merged_sql`: a bucket
        (``lo`` set) or the group's totals."""
        if lo is not None:
            self.buckets[(lo, hi)] = self.buckets.get((lo, hi), 0) + int(n)
            return
        self.add({"counts": None, "count": total_count, "sum": total_sum, "min": vmin, "max": vmax,
                  "quantiles": None})

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


# --- the writer ---------------------------------------------------------------------------------------
class PointWriter(SpanWriter):
    """Metric points reach their table through the span writer's design (:class:`~lab_app.localcloud.honeycomb.
    models.SpanWriter`): a request journals its body (the same file format, its own file), queues its rows and is
    answered; one thread inserts every batch waiting in one statement, committed with the journal position it
    reached; readers flush first. It does not linger: a metric reader exports once per interval, so there is no
    stream of small batches to gather."""

    linger_s = 0.0

    def __init__(self, store, journal: SpanJournal | None = None, log=None):
        super().__init__(store, journal, table=METRICS_TABLE, columns=METRIC_COLUMNS, log=log,
                         journal_table=JOURNAL_TABLE, name="honeycomb-metric-writer", what="metric point")


def journal_record(dataset: str, body: bytes) -> bytes:
    """What the journal keeps of a request: the dataset it went to and the protobuf body."""
    return dataset.encode() + b"\n" + body


def replay_rows(seq: int, record: bytes) -> dict[str, np.ndarray]:
    from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest

    dataset, _, body = record.partition(b"\n")
    return point_rows(decode_metrics(ExportMetricsServiceRequest.FromString(body)), dataset.decode(), str(seq))


# --- the backend ------------------------------------------------------------------------------------
class MetricsBackend:
    """Metric points in :data:`METRICS_TABLE` (through :class:`PointWriter`) and the Query Data API's
    calculations over metrics datasets."""

    def __init__(self, store, log=None):
        self.store = store
        self.log = log
        self.journal = SpanJournal(Path(store.path).with_name(JOURNAL_FILE))
        self.writer = PointWriter(store, self.journal, log=log)
        self.points_received = 0
        self.datasets = KnownDatasets(self._dataset_in_table)

    def setup(self) -> None:
        self.store.ensure_table(METRICS_TABLE, METRICS_DDL)
        self.store.ensure_table(JOURNAL_TABLE, JOURNAL_DDL)
        committed = (self.store.execute(f"SELECT committed_seq FROM {JOURNAL_TABLE} WHERE id = 1") or [(0,)])[0][0]
        replay = self.journal.open(after_seq=committed)
        self.writer.replay(replay, replay_rows)
        self.journal.truncate_if(max([committed] + [seq for seq, _ in replay]))

    def close(self) -> None:
        self.writer.close()
        self.journal.close()

    def reset(self) -> None:
        """After the store's reset: points acknowledged before it but inserted after it are wiped too."""
        self.writer.flush()
        self.store.execute(f"DELETE FROM {METRICS_TABLE}")
        self.points_received = 0
        self.datasets.clear()

    def status(self) -> dict[str, Any]:
        self.writer.flush()
        rows = self.store.execute(f"SELECT count(*), count(DISTINCT dataset) FROM {METRICS_TABLE}")
        out = {"metric_points": rows[0][0], "metric_datasets": rows[0][1]}
        if self.writer.write_errors:
            out.update(metric_write_errors=self.writer.write_errors, last_metric_write_error=self.writer.last_error)
        return out

    def ingest(self, decoded: DecodedMetrics, dataset: str, message=None, raw: bytes | None = None) -> int:
        """Store the decoded points of one request in ``dataset``; returns how many. ``raw``: the request's
        protobuf bytes when it came as protobuf (journaled as they came), else ``message`` is serialized."""
        if not decoded.points:
            return 0
        body = raw if raw is not None else message.SerializeToString()
        seq = self.journal.append(journal_record(dataset, body))           # durable first
        self.writer.write(point_rows(decoded, dataset, str(seq)), seq)
        self.datasets.added((dataset,))
        self.points_received += len(decoded.points)
        return len(decoded.points)

    def dataset_exists(self, dataset: str) -> bool:
        return dataset in self.datasets

    def _dataset_in_table(self, dataset: str) -> bool:
        self.writer.flush()
        return bool(self.store.execute(f"SELECT 1 FROM {METRICS_TABLE} WHERE dataset = ? LIMIT 1", [dataset]))

    def metric_types(self, dataset: str) -> dict[str, str]:
        rows = self.store.execute(f"SELECT metric_name, any_value(metric_type) FROM {METRICS_TABLE} "
                                  "WHERE dataset = ? GROUP BY metric_name", [dataset])
        return {name: kind for name, kind in rows}

    def points_between(self, start=None, end=None, dataset=None, metric=None, limit: int = 100_000) -> dict:
        """LOCAL ONLY helper: stored points whose event time is in [start, end) (epoch seconds), oldest first."""
        self.writer.flush()
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
        self.writer.flush()           # every point acknowledged before the query is in it
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
        nb = len(spec.breakdowns)
        distribution = metrics.get(calc.column) in DISTRIBUTION_TYPES
        groups: dict[tuple, Any] = {}
        if distribution:          # delta points: merged by DuckDB
            sql, params = metric_merged_sql(spec, METRICS_TABLE, dataset, start, end, metrics, granularity,
                                            calc.column)
            lead = (1 if granularity else 0) + nb
            for rec in self.store.execute(sql, params):
                key = tuple(_plain(v) for v in rec[:lead])
                groups.setdefault(key, Distribution()).add_merged(*rec[lead:])
        sql, params = metric_values_sql(spec, METRICS_TABLE, dataset, start, end, metrics, granularity, calc.column,
                                        cumulative_only=distribution)
        frame = self.store.query_df(sql, params)
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


__all__ = ["DATASET_HEADER", "HUSKY_PERCENTILES", "Distribution", "histogram_fields", "is_classic_key", "summary_fields", "METRICS_TABLE", "MetricPoint", "MetricsBackend", "UNKNOWN_METRICS",
           "dataset_from_header", "point_rows"]
