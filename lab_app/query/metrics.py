"""OpenTelemetry metrics back into pandas: Honeycomb's Query Data API over a metrics dataset, and (local only) every
stored data point.

    from lab_app.query import metrics
    metrics.query("cruddur-metrics", calculations=[{"op": "SUM", "column": "http.server.requests"},
                                                    {"op": "P99", "column": "http.server.duration"}],
                  breakdowns=["http.route"], time_range=600)     # -> DataFrame, one row per group
    metrics.series(frame)                                          # the same query's time series
    metrics.local_points(start, dataset="cruddur-metrics")        # LOCAL ONLY: one row per data point
    metrics.events(points)                                         # those points as Honeycomb's events

Where the points go: OTLP metrics need an ``x-honeycomb-dataset`` header naming the dataset (without it Honeycomb
puts them in ``unknown_metrics``, :data:`UNKNOWN_METRICS`). In a metrics dataset every data point is a field on an
event, named after the metric; points sharing a request, a second and the same attributes are one event. Histogram
fields take ``HEATMAP``, percentiles (``P50``, ``P99``...), ``AVG``, ``SUM``, ``MIN``, ``MAX``; counters and gauges
every calculation. ``COUNT`` counts events, not measurements: use ``SUM`` of a delta counter (or ``MAX`` of a
cumulative one, per series) for "how many".

Cloud mode: :func:`query` is the Query Data API, an Enterprise feature needing a configuration key
(``HONEYCOMB_CONFIG_KEY``); on a free team :func:`lab_app.query.spans.query_unavailable` says why it cannot run and
:func:`lab_app.query.spans.query_template_url` gives the link that runs the same spec in Honeycomb's UI.
:func:`local_points` reads the local stand-in's store: Honeycomb has no "export every data point" API.
"""
from __future__ import annotations

import json
import math
import os
from typing import Any
from urllib.parse import urlsplit

import pandas as pd
import requests

from lab_app import config
from lab_app.query import spans

DATASET_HEADER = "x-honeycomb-dataset"
UNKNOWN_METRICS = "unknown_metrics"

POINT_COLUMNS = ["dataset", "service", "event_id", "timestamp", "time", "start_time", "metric_name", "metric_type",
                 "unit", "description", "temporality", "monotonic", "value", "is_int", "count", "sum", "min", "max",
                 "bucket_lower", "bucket_upper", "bucket_counts", "quantiles", "fields", "scope_name", "attributes",
                 "resource_attributes"]


def query(dataset: str, calculations: list[dict] | None = None, breakdowns: list[str] | None = None,
          filters: list[dict] | None = None, time_range: int | None = None, start_time: int | None = None,
          end_time: int | None = None, orders: list[dict] | None = None, limit: int | None = None,
          granularity: int | None = None, api_key: str | None = None, endpoint: str | None = None,
          **extra: Any) -> pd.DataFrame:
    """Run a query spec on a metrics dataset through the Query Data API; ``data.results`` as a DataFrame (breakdowns
    first, then one float column per calculation, ``HEATMAP(...)`` columns holding ``{"buckets": [...]}``). The
    result document is in ``frame.attrs["result"]``; :func:`series` turns its time series into a DataFrame."""
    if granularity is not None:
        extra["granularity"] = granularity
    return spans.query(dataset, calculations=calculations, breakdowns=breakdowns, filters=filters,
                       time_range=time_range, start_time=start_time, end_time=end_time, orders=orders, limit=limit,
                       api_key=api_key, endpoint=endpoint, **extra)


def series(frame_or_result) -> pd.DataFrame:
    """The time series of a :func:`query` result (a frame from :func:`query`, or the result document): one row per
    time bucket and group, a UTC ``time`` column and float calculation columns."""
    result = frame_or_result.attrs["result"] if isinstance(frame_or_result, pd.DataFrame) else frame_or_result
    out = spans.series_frame(result)
    for column in out.columns:
        if "(" in column and not column.startswith(("HEATMAP(", "COUNT_DISTINCT(")):
            out[column] = pd.to_numeric(out[column], errors="coerce").astype("float64")
    return out


def heatmap_frame(value: dict) -> pd.DataFrame:
    """One ``HEATMAP(field)`` value as lower/upper/count rows (on a histogram field: its merged buckets)."""
    return spans.heatmap_frame(value)


# --- local only -------------------------------------------------------------------------------------
def _float(value) -> float:
    if value == "Infinity":
        return math.inf
    if value == "-Infinity":
        return -math.inf
    return float(value)


def _nanos(series: pd.Series) -> pd.Series:
    return pd.to_datetime(pd.to_numeric(series, errors="coerce").astype("Int64"), unit="ns", utc=True)


def _control_headers(base: str) -> dict[str, str]:
    """The local cloud's control-route credentials (``lab_app.localcloud.control_headers``, where the local cloud
    guards its control routes; nothing otherwise), as :func:`lab_app.query.spans.local_spans` sends them."""
    import lab_app.localcloud as localcloud

    make = getattr(localcloud, "control_headers", None)
    if make is None:
        return {}
    parts = urlsplit(base)
    return make(parts.port or 80, parts.hostname or config.HOST)


def local_points(start=None, end=None, dataset: str | None = None, metric: str | None = None,
                 limit: int = 100_000, aws_endpoint: str | None = None) -> pd.DataFrame:
    """LOCAL ONLY: every metric data point the stand-in stored whose event time is in [start, end), one row per point.

    ``start``/``end``: datetimes, pandas Timestamps or epoch seconds (None = unbounded); ``metric``: one metric name.
    Columns (:data:`POINT_COLUMNS`): dataset, service, event_id (the Honeycomb event the point is a field of),
    timestamp (the event's time, truncated to the second), time and start_time (the point's own, UTC datetimes),
    metric_name, metric_type (gauge, sum, histogram, exponential_histogram, summary), unit, description,
    temporality (delta / cumulative), monotonic, value (float; gauges and sums), is_int, count (Int64), sum, min, max,
    bucket_lower / bucket_upper / bucket_counts (lists; histograms, -inf/+inf at the open ends), quantiles (dict;
    summaries), fields (dict: the ``<name>.count``, ``.sum``, ``.avg``, ``.p50`` ... fields Honeycomb derives from a
    histogram or summary point), scope_name, attributes and resource_attributes (dicts).
    """
    if config.mode() != "local":
        raise RuntimeError("local_points() reads the local Honeycomb stand-in and exists only in local mode; "
                           "against real Honeycomb use metrics.query(...) (the Query Data API)")
    base = (aws_endpoint or os.environ.get("AWS_ENDPOINT_URL") or f"http://{config.HOST}:{config.aws_port()}").rstrip("/")
    params: dict[str, Any] = {"limit": limit}
    for name, value in (("start", spans._to_epoch(start)), ("end", spans._to_epoch(end))):
        if value is not None:
            params[name] = value
    if dataset:
        params["dataset"] = dataset
    if metric:
        params["metric"] = metric
    try:
        response = requests.get(f"{base}/_localcloud/honeycomb/metrics", params=params,
                                headers=_control_headers(base), timeout=60)
    except requests.ConnectionError:
        raise RuntimeError(f"the local cloud does not answer at {base}: start it with lab_app.notebook.setup() "
                           "or `python -m lab_app.localcloud start`") from None
    response.raise_for_status()
    payload = response.json()
    raw = pd.DataFrame(payload["points"])
    if raw.empty:
        raw = pd.DataFrame(columns=[c for c in POINT_COLUMNS if c not in ("time", "start_time")]
                           + ["time_unix_nano", "start_time_unix_nano"])
    frame = pd.DataFrame(index=raw.index)
    for column in POINT_COLUMNS:
        if column == "timestamp":
            frame[column] = pd.to_datetime(raw[column], utc=True, format="ISO8601")
        elif column == "time":
            frame[column] = _nanos(raw["time_unix_nano"])
        elif column == "start_time":
            frame[column] = _nanos(raw["start_time_unix_nano"])
        elif column in ("value", "sum", "min", "max"):
            frame[column] = pd.to_numeric(raw[column], errors="coerce").astype("float64")
        elif column == "count":
            frame[column] = pd.to_numeric(raw[column], errors="coerce").astype("Int64")
        elif column in ("monotonic", "is_int"):
            frame[column] = raw[column].astype("boolean")
        elif column in ("bucket_lower", "bucket_upper"):
            frame[column] = raw[column].map(lambda v: [_float(x) for x in v] if isinstance(v, list) else None)
        elif column == "bucket_counts":
            frame[column] = raw[column].map(lambda v: [int(x) for x in v] if isinstance(v, list) else None)
        elif column in ("attributes", "resource_attributes", "quantiles", "fields"):
            frame[column] = raw[column].map(lambda text: json.loads(text) if isinstance(text, str) else text)
        else:
            frame[column] = raw[column].astype("object").where(raw[column].notna(), None)
    frame.attrs["truncated"] = payload.get("truncated", False)
    return frame


def events(points: pd.DataFrame) -> pd.DataFrame:
    """:func:`local_points` as the events Honeycomb makes of them: one row per ``event_id`` with ``timestamp``,
    ``dataset``, every resource and point attribute as a column (a point attribute wins over a resource attribute of
    the same name), ``meta.signal_type`` ("metric") and one column per metric: the value (float) of a gauge or sum;
    for a histogram or summary a dict ``{"count", "sum", "min", "max", "buckets": [(lower, upper, count), ...],
    "quantiles"}`` plus the number fields Honeycomb derives from it (``<name>.count``, ``<name>.p99``, ...)."""
    rows: dict[str, dict] = {}
    for point in points.itertuples(index=False):
        row = rows.get(point.event_id)
        if row is None:
            row = rows[point.event_id] = {"event_id": point.event_id, "timestamp": point.timestamp,
                                          "dataset": point.dataset, "meta.signal_type": "metric",
                                          **(point.resource_attributes or {}), **(point.attributes or {})}
        if point.metric_type in ("gauge", "sum"):
            row[point.metric_name] = point.value
        else:
            buckets = (list(zip(point.bucket_lower, point.bucket_upper, point.bucket_counts))
                       if isinstance(point.bucket_counts, list) else [])
            row[point.metric_name] = {"count": None if pd.isna(point.count) else int(point.count), "sum": point.sum,
                                      "min": point.min, "max": point.max, "buckets": buckets,
                                      "quantiles": point.quantiles}
            if isinstance(point.fields, dict):
                row.update(point.fields)
    frame = pd.DataFrame(list(rows.values()))
    if frame.empty:
        return pd.DataFrame(columns=["event_id", "timestamp", "dataset"])
    numeric = set(points.loc[points["metric_type"].isin(["gauge", "sum"]), "metric_name"])
    numeric |= {name for fields in points["fields"] if isinstance(fields, dict) for name in fields}
    for column in numeric & set(frame.columns):
        frame[column] = pd.to_numeric(frame[column], errors="coerce").astype("float64")
    return frame.sort_values(["timestamp", "event_id"], ignore_index=True)
