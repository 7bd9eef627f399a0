"""Spans back into pandas: Honeycomb's Query Data API, and (local only) every stored span of a time range.

    from lab_app.query import spans
    spans.whoami()                                            # the key check: team and environment
    spans.query("backend-flask", calculations=[{"op": "P99", "column": "duration_ms"}],
                breakdowns=["http.route"], time_range=600)   # -> DataFrame, one row per group
    spans.local_spans(start, end)                              # LOCAL ONLY: raw spans, one row per span

:func:`query` and :func:`whoami` speak Honeycomb's API and work unchanged against a real team
(``HONEYCOMB_CONFIG_KEY``, else ``HONEYCOMB_API_KEY``: a configuration key with the "Manage Queries and
Columns" and "Run Queries" permissions; ``HONEYCOMB_API_ENDPOINT`` defaulting to https://api.honeycomb.io; the
Query Data API is an Enterprise feature). Where it is not available, :func:`query_unavailable` says why and
:func:`query_template_url` gives the link that runs the same query in Honeycomb's UI (any plan).
:func:`local_spans` reads the local stand-in's store directly: Honeycomb has no "export every span" API.
"""
from __future__ import annotations

import json
import os
import time
import urllib.parse
from datetime import timezone
from typing import Any

import pandas as pd
import requests

from lab_app import config

DEFAULT_ENDPOINT = "https://api.honeycomb.io"
ALL_DATASETS = "__all__"


class HoneycombQueryError(RuntimeError):
    """The API said no (status and Honeycomb's error message attached)."""

    def __init__(self, status: int, message: str):
        self.status = status
        super().__init__(f"Honeycomb API answered {status}: {message}")


def _endpoint(endpoint: str | None) -> str:
    return (endpoint or os.environ.get("HONEYCOMB_API_ENDPOINT") or DEFAULT_ENDPOINT).rstrip("/")


def _headers(api_key: str | None) -> dict[str, str]:
    key = api_key or os.environ.get("HONEYCOMB_CONFIG_KEY") or os.environ.get("HONEYCOMB_API_KEY")
    if not key:
        raise HoneycombQueryError(0, "HONEYCOMB_CONFIG_KEY is not set: run lab_app.notebook.setup() for local "
                                     "mode, or export your Honeycomb configuration key")
    return {"X-Honeycomb-Team": key, "Content-Type": "application/json"}


def _call(method: str, url: str, api_key: str | None, body: Any = None, timeout: float = 30) -> Any:
    response = requests.request(method, url, headers=_headers(api_key),
                                data=None if body is None else json.dumps(body), timeout=timeout)
    if response.status_code >= 400:
        try:
            detail = response.json()
            message = detail.get("error") or detail.get("message") or response.text
        except ValueError:
            message = response.text
        raise HoneycombQueryError(response.status_code, str(message)[:500])
    return response.json()


def whoami(api_key: str | None = None, endpoint: str | None = None) -> dict:
    """``GET /1/auth``: which team and environment the key belongs to (the seed's "whoami" check)."""
    return _call("GET", f"{_endpoint(endpoint)}/1/auth", api_key)


def query_unavailable(auth: dict | None = None, api_key: str | None = None,
                      endpoint: str | None = None) -> str | None:
    """Why this key cannot use the Query Data API (from ``GET /1/auth``), or None when it may."""
    auth = whoami(api_key, endpoint) if auth is None else auth
    if (auth.get("api_key_access") or {}).get("queries"):
        return None
    if auth.get("type") == "ingest":
        return ("the key is an ingest key: it sends events but cannot run queries (set HONEYCOMB_CONFIG_KEY to a "
                "configuration key with Manage Queries and Columns and Run Queries)")
    return ("the key may not run queries: the Query Data API is an Enterprise feature and needs a configuration "
            "key with Manage Queries and Columns and Run Queries")


def query_template_url(dataset: str, spec: dict, auth: dict, ui_base: str | None = None) -> str:
    """A query template link: the dataset's page with the spec as its JSON ``query`` parameter, which runs the
    query in Honeycomb's UI on any plan. ``auth`` is :func:`whoami`'s answer (team and environment slugs)."""
    if ui_base is None:
        api = _endpoint(None)
        ui_base = ("https://ui.honeycomb.io" if api == DEFAULT_ENDPOINT
                   else "https://ui.eu1.honeycomb.io" if api == "https://api.eu1.honeycomb.io" else api)
    team = (auth.get("team") or {}).get("slug", "")
    environment = (auth.get("environment") or {}).get("slug", "")
    path = f"/{team}/environments/{environment}/datasets/{dataset}" if environment else f"/{team}/datasets/{dataset}"
    return (ui_base.rstrip("/") + urllib.parse.quote(path)
            + "?query=" + urllib.parse.quote(json.dumps(spec, separators=(",", ":")), safe=""))


def create_query(dataset: str, spec: dict, api_key: str | None = None, endpoint: str | None = None) -> dict:
    """``POST /1/queries/<dataset>``: validate and store a query spec; returns it with its ``id``."""
    return _call("POST", f"{_endpoint(endpoint)}/1/queries/{dataset}", api_key, spec)


def run_query(dataset: str, query_id: str, api_key: str | None = None, endpoint: str | None = None,
              limit: int = 10_000, disable_series: bool = False, timeout: float = 60.0,
              poll_interval: float = 0.25) -> dict:
    """``POST /1/query_results/<dataset>`` then poll ``GET .../<id>`` until ``complete``; the result document."""
    base = _endpoint(endpoint)
    body: dict[str, Any] = {"query_id": query_id, "disable_series": disable_series}
    if disable_series:  # Honeycomb accepts a result limit (up to 10,000 groups) only without the time series
        body["limit"] = limit
    started = _call("POST", f"{base}/1/query_results/{dataset}", api_key, body)
    deadline = time.monotonic() + timeout
    while True:
        result = _call("GET", f"{base}/1/query_results/{dataset}/{started['id']}", api_key)
        if result.get("complete"):
            return result
        if time.monotonic() > deadline:
            raise HoneycombQueryError(408, f"query result {started['id']} not complete after {timeout:.0f} s")
        time.sleep(poll_interval)


def results_frame(result: dict, spec: dict | None = None) -> pd.DataFrame:
    """``data.results`` as a DataFrame: breakdown columns first, then one column per calculation."""
    rows = [entry.get("data", {}) for entry in (result.get("data") or {}).get("results", [])]
    frame = pd.DataFrame(rows)
    spec = spec or result.get("query") or {}
    breakdowns = list(spec.get("breakdowns") or [])
    ordered = [c for c in breakdowns if c in frame.columns] + [c for c in frame.columns if c not in breakdowns]
    frame = frame[ordered] if len(frame.columns) else frame
    for column in frame.columns:
        if column == "COUNT" or column.startswith("COUNT_DISTINCT("):
            frame[column] = frame[column].astype("int64")
        elif column.split("(")[0] in {"AVG", "SUM", "MIN", "MAX", "P001", "P01", "P05", "P10", "P25", "P50", "P75",
                                      "P90", "P95", "P99", "P999"}:
            frame[column] = pd.to_numeric(frame[column], errors="coerce").astype("float64")
    return frame


def series_frame(result: dict) -> pd.DataFrame:
    """``data.series`` as a DataFrame with a UTC ``time`` column."""
    rows = [{"time": entry["time"], **entry.get("data", {})} for entry in (result.get("data") or {}).get("series", [])]
    frame = pd.DataFrame(rows)
    if len(frame):
        frame["time"] = pd.to_datetime(frame["time"], utc=True)
    return frame


def query(dataset: str, calculations: list[dict] | None = None, breakdowns: list[str] | None = None,
          filters: list[dict] | None = None, time_range: int | None = None, start_time: int | None = None,
          end_time: int | None = None, orders: list[dict] | None = None, limit: int | None = None,
          api_key: str | None = None, endpoint: str | None = None, **extra: Any) -> pd.DataFrame:
    """Build a Honeycomb query spec, run it and return ``data.results`` as a DataFrame.

    The full result document (with ``series`` and ``links``) is in ``frame.attrs["result"]``.
    """
    spec: dict[str, Any] = {"calculations": calculations or [{"op": "COUNT"}]}
    for name, value in (("breakdowns", breakdowns), ("filters", filters), ("time_range", time_range),
                        ("start_time", start_time), ("end_time", end_time), ("orders", orders), ("limit", limit)):
        if value is not None:
            spec[name] = value
    spec.update(extra)
    created = create_query(dataset, spec, api_key, endpoint)
    result = run_query(dataset, created["id"], api_key, endpoint)
    frame = results_frame(result, spec)
    frame.attrs["result"] = result
    return frame


def heatmap_frame(value: dict) -> pd.DataFrame:
    """One ``HEATMAP(column)`` value of the local stand-in (``{"buckets": [...]}``) as lower/upper/count rows."""
    return pd.DataFrame(value.get("buckets", []), columns=["lower", "upper", "count"])


# --- local only ---------------------------------------------------------------------------------
SPAN_DTYPES = {"duration_ms": "float64", "status_code": "int64", "error": "bool"}


def _to_epoch(value) -> float | None:
    if value is None:
        return None
    if isinstance(value, (int, float)):
        return float(value)
    stamp = pd.Timestamp(value)
    if stamp.tzinfo is None:
        stamp = stamp.tz_localize(timezone.utc)
    return stamp.timestamp()


def local_spans(start=None, end=None, dataset: str | None = None, limit: int = 100_000,
                aws_endpoint: str | None = None) -> pd.DataFrame:
    """LOCAL ONLY: every span the stand-in stored whose start is in [start, end), one row per span.

    ``start``/``end`` are datetimes, pandas Timestamps or epoch seconds (None = unbounded). Columns:
    dataset, service, trace_id, span_id, parent_id, name, kind, start_time/end_time (UTC datetimes),
    duration_ms, status_code, error, http_route, http_method, http_status_code, http_target, and
    attributes / events / links / resource_attributes parsed into Python objects.
    """
    if config.mode() != "local":
        raise RuntimeError("local_spans() reads the local Honeycomb stand-in and exists only in local mode; "
                           "against real Honeycomb use spans.query(...) (the Query Data API)")
    base = (aws_endpoint or os.environ.get("AWS_ENDPOINT_URL") or f"http://{config.HOST}:{config.aws_port()}").rstrip("/")
    params = {"limit": limit}
    for name, value in (("start", _to_epoch(start)), ("end", _to_epoch(end))):
        if value is not None:
            params[name] = value
    if dataset:
        params["dataset"] = dataset
    try:
        from urllib.parse import urlsplit

        from lab_app.localcloud import control_headers

        headers = control_headers(urlsplit(base).port or 80, urlsplit(base).hostname or config.HOST)
        response = requests.get(f"{base}/_localcloud/honeycomb/spans", params=params, headers=headers, timeout=60)
    except requests.ConnectionError:
        raise RuntimeError(f"the local cloud does not answer at {base}: start it with lab_app.notebook.setup() "
                           "or `python -m lab_app.localcloud start`") from None
    response.raise_for_status()
    payload = response.json()
    frame = pd.DataFrame(payload["spans"])
    if frame.empty:
        frame = pd.DataFrame(columns=["dataset", "service", "trace_id", "span_id", "parent_id", "name", "kind",
                                      "start_time", "end_time", "duration_ms", "status_code", "status_message",
                                      "error", "http_route", "http_method", "http_status_code", "http_target",
                                      "scope_name", "attributes", "events", "links", "resource_attributes"])
    for column in ("start_time", "end_time"):
        frame[column] = pd.to_datetime(frame[column], utc=True, format="ISO8601")
    for column, dtype in SPAN_DTYPES.items():
        frame[column] = frame[column].astype(dtype)
    frame["http_status_code"] = frame["http_status_code"].astype("Int64")
    for column in ("attributes", "events", "links", "resource_attributes"):
        frame[column] = frame[column].map(lambda text: json.loads(text) if isinstance(text, str) else text)
    frame.attrs["truncated"] = payload.get("truncated", False)
    return frame


def wait_for_spans(trace_ids, services=("backend-flask",), start=None, timeout: float = 15.0,
                   aws_endpoint: str | None = None) -> pd.DataFrame:
    """LOCAL ONLY: :func:`local_spans` once every trace in ``trace_ids`` has spans of every service in ``services``.

    Spans arrive in batches (each process's BatchSpanProcessor exports every second or so); this waits for them
    instead of stopping the processes that hold them. Raises TimeoutError naming what is still missing.
    """
    wanted = {str(t) for t in trace_ids}
    deadline = time.monotonic() + timeout
    while True:
        frame = local_spans(start=start, aws_endpoint=aws_endpoint)
        have = frame[frame["trace_id"].isin(wanted)].groupby("service")["trace_id"].agg(set)
        missing = {service: len(wanted - have.get(service, set())) for service in services}
        if not any(missing.values()):
            return frame
        if time.monotonic() > deadline:
            raise TimeoutError(f"spans still missing after {timeout:.0f} s (traces per service): {missing}. "
                               f"Did the services export (force_flush) to this local cloud?")
        time.sleep(0.2)


def span_tree(frame: pd.DataFrame, trace_id: str) -> pd.DataFrame:
    """One trace's spans in tree order with a ``depth`` column (0 = root) and an indented ``label``."""
    trace = frame[frame["trace_id"] == trace_id]
    children: dict[Any, list] = {}
    ids = set(trace["span_id"])
    for row in trace.sort_values("start_time").itertuples(index=False):
        parent = row.parent_id if row.parent_id in ids else None
        children.setdefault(parent, []).append(row)
    ordered, stack = [], [(row, 0) for row in reversed(children.get(None, []))]
    while stack:
        row, depth = stack.pop()
        ordered.append({**row._asdict(), "depth": depth})
        stack.extend((child, depth + 1) for child in reversed(children.get(row.span_id, [])))
    out = pd.DataFrame(ordered)
    if len(out):
        out["label"] = ["  " * d + f"{s}: {n}" for d, s, n in zip(out["depth"], out["service"], out["name"])]
    return out
