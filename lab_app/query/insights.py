"""CloudWatch Logs (Insights, FilterLogEvents, metric-filter metrics) -> typed pandas DataFrames.

Plain boto3 calls: the same code works against the local cloud and real AWS.

    df = run_query("stats count(*) as n by bin(1m) as minute, status", log_groups="cruddur")
"""
from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone
from typing import Iterable

import pandas as pd

TIMESTAMP_FORMAT = "%Y-%m-%d %H:%M:%S.%f"
TERMINAL = {"Complete", "Failed", "Cancelled", "Timeout", "Unknown"}


class QueryFailed(RuntimeError):
    pass


def _client(service: str = "logs", client=None):
    if client is not None:
        return client
    import boto3

    return boto3.client(service)


def _epoch_seconds(value, default: datetime) -> int:
    """datetime / Timestamp / timedelta relative to now / epoch seconds -> epoch seconds."""
    if value is None:
        value = default
    if isinstance(value, timedelta):
        value = datetime.now(timezone.utc) + value
    if isinstance(value, (int, float)):
        return int(value)
    ts = pd.Timestamp(value)
    if ts.tzinfo is None:
        ts = ts.tz_localize("UTC")
    return int(ts.timestamp())


def _typed(frame: pd.DataFrame) -> pd.DataFrame:
    """Insights returns every value as a string: numbers -> numbers, timestamps -> UTC datetimes."""
    for column in frame.columns:
        values = frame[column]
        present = values.dropna()
        if present.empty or column == "@ptr":
            continue
        if column in ("@timestamp", "@ingestionTime") or present.str.match(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}$").all():
            frame[column] = pd.to_datetime(values, format=TIMESTAMP_FORMAT, utc=True, errors="coerce")
            continue
        numbers = pd.to_numeric(present, errors="coerce")
        if numbers.notna().all():
            converted = pd.to_numeric(values, errors="coerce")
            if (converted.dropna() % 1 == 0).all() and converted.notna().all():
                converted = converted.astype("int64")
            frame[column] = converted
    return frame


def run_query(query: str, log_groups: str | Iterable[str] = "cruddur", start=None, end=None,
              limit: int | None = None, timeout: float = 60.0, poll: float = 0.25, include_ptr: bool = False,
              client=None) -> pd.DataFrame:
    """StartQuery, poll GetQueryResults until Complete (or ``timeout`` s), return a typed DataFrame.

    ``start``/``end``: datetime, pandas Timestamp, epoch seconds, or a timedelta relative to now
    (default: the last hour until a minute from now). ``df.attrs`` holds ``query_id`` and ``statistics``.
    """
    logs = _client("logs", client)
    now = datetime.now(timezone.utc)
    groups = [log_groups] if isinstance(log_groups, str) else list(log_groups)
    kwargs = {"logGroupNames": groups, "queryString": query,
              "startTime": _epoch_seconds(start, now - timedelta(hours=1)),
              "endTime": _epoch_seconds(end, now + timedelta(minutes=1))}
    if limit is not None:
        kwargs["limit"] = limit
    query_id = logs.start_query(**kwargs)["queryId"]
    deadline = time.monotonic() + timeout
    wait = min(0.02, poll)
    while True:
        result = logs.get_query_results(queryId=query_id)
        if result["status"] in TERMINAL:
            break
        if time.monotonic() > deadline:
            logs.stop_query(queryId=query_id)
            raise TimeoutError(f"query {query_id} still {result['status']} after {timeout:.0f}s; narrow the time range")
        time.sleep(wait)
        wait = min(wait * 2, poll)  # quick queries answer in milliseconds; slow ones are not hammered
    if result["status"] != "Complete":
        raise QueryFailed(f"query {query_id} ended {result['status']}: {query}")
    rows = [{f["field"]: f["value"] for f in row if include_ptr or f["field"] != "@ptr"} for row in result["results"]]
    columns: list[str] = []
    for row in rows:
        for key in row:
            if key not in columns:
                columns.append(key)
    frame = _typed(pd.DataFrame(rows, columns=columns))
    frame.attrs["query_id"] = query_id
    frame.attrs["statistics"] = dict(result.get("statistics", {}))
    return frame


def filter_events(log_group: str = "cruddur", pattern: str = "", start=None, end=None,
                  streams: list[str] | None = None, max_events: int = 10_000, client=None) -> pd.DataFrame:
    """FilterLogEvents, following nextToken; columns timestamp (UTC datetime), stream, message, ingestion_time."""
    logs = _client("logs", client)
    now = datetime.now(timezone.utc)
    kwargs = {"logGroupName": log_group, "filterPattern": pattern,
              "startTime": _epoch_seconds(start, now - timedelta(hours=1)) * 1000,
              "endTime": _epoch_seconds(end, now + timedelta(minutes=1)) * 1000 + 999}
    if streams:
        kwargs["logStreamNames"] = streams
    events: list[dict] = []
    for _ in range(1000):
        page = logs.filter_log_events(**kwargs)
        events += page["events"]
        token = page.get("nextToken")
        if not token or len(events) >= max_events:
            break
        kwargs["nextToken"] = token
    frame = pd.DataFrame([{"timestamp": e["timestamp"], "stream": e["logStreamName"], "message": e["message"],
                           "ingestion_time": e.get("ingestionTime")} for e in events[:max_events]],
                         columns=["timestamp", "stream", "message", "ingestion_time"])
    for column in ("timestamp", "ingestion_time"):
        frame[column] = pd.to_datetime(frame[column], unit="ms", utc=True)
    return frame


def metric_statistics(namespace: str, metric_name: str, start=None, end=None, period: int = 60,
                      statistics: tuple[str, ...] = ("Sum", "SampleCount"), dimensions: list[dict] | None = None,
                      client=None) -> pd.DataFrame:
    """CloudWatch GetMetricStatistics as a DataFrame sorted by time (e.g. a metric filter's values)."""
    cloudwatch = _client("cloudwatch", client)
    now = datetime.now(timezone.utc)
    kwargs = {"Namespace": namespace, "MetricName": metric_name, "Period": period, "Statistics": list(statistics),
              "StartTime": datetime.fromtimestamp(_epoch_seconds(start, now - timedelta(hours=1)), timezone.utc),
              "EndTime": datetime.fromtimestamp(_epoch_seconds(end, now + timedelta(minutes=1)), timezone.utc)}
    if dimensions:
        kwargs["Dimensions"] = dimensions
    points = cloudwatch.get_metric_statistics(**kwargs)["Datapoints"]
    frame = pd.DataFrame(points, columns=["Timestamp", *statistics, "Unit"])
    frame["Timestamp"] = pd.to_datetime(frame["Timestamp"], utc=True)
    return frame.sort_values("Timestamp").reset_index(drop=True)
