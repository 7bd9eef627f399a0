"""Rollbar items and occurrences into pandas through Rollbar's API v1 (works against the local stand-in and rollbar.com).

    from lab_app.query import rollbar as rb
    rb.items()                       # one row per item (grouped error), newest activity first
    rb.occurrences(item_id)          # one row per occurrence of an item

Token: ``ROLLBAR_READ_TOKEN`` (a project token with the ``read`` scope), falling back to
``ROLLBAR_ACCESS_TOKEN`` (on rollbar.com that post_server_item token cannot read: create a read token).
Endpoint: ``ROLLBAR_API_ENDPOINT`` (default https://api.rollbar.com/api/1/).
"""
from __future__ import annotations

import os
from typing import Any

import pandas as pd
import requests

DEFAULT_ENDPOINT = "https://api.rollbar.com/api/1/"
ITEM_COLUMNS = ["id", "counter", "title", "level", "environment", "status", "total_occurrences", "first_seen",
                "last_seen", "first_occurrence_id", "last_occurrence_id", "hash"]
OCCURRENCE_COLUMNS = ["id", "item_id", "uuid", "timestamp", "level", "environment", "exception_class", "message",
                      "request_method", "request_url", "top_frame", "custom"]


class RollbarAPIError(RuntimeError):
    def __init__(self, status: int, message: str):
        self.status = status
        super().__init__(f"Rollbar API answered {status}: {message}")


def _endpoint(endpoint: str | None) -> str:
    base = endpoint or os.environ.get("ROLLBAR_API_ENDPOINT") or DEFAULT_ENDPOINT
    return base if base.endswith("/") else base + "/"


def _token(token: str | None) -> str:
    value = token or os.environ.get("ROLLBAR_READ_TOKEN") or os.environ.get("ROLLBAR_ACCESS_TOKEN")
    if not value:
        raise RollbarAPIError(0, "no Rollbar token: run lab_app.notebook.setup() for local mode, or export "
                                 "ROLLBAR_READ_TOKEN=<a project token with the read scope>")
    return value


def get(path: str, params: dict | None = None, token: str | None = None, endpoint: str | None = None) -> Any:
    """GET ``<endpoint><path>`` and return ``result`` (redirects such as item_by_counter are followed)."""
    response = requests.get(_endpoint(endpoint) + path.lstrip("/"), params=params or {},
                            headers={"X-Rollbar-Access-Token": _token(token)}, timeout=30)
    try:
        body = response.json()
    except ValueError:
        raise RollbarAPIError(response.status_code, response.text[:300]) from None
    if response.status_code >= 400 or body.get("err"):
        raise RollbarAPIError(response.status_code, str(body.get("message", body))[:300])
    return body["result"]


def _seconds(series: pd.Series) -> pd.Series:
    return pd.to_datetime(pd.to_numeric(series, errors="coerce"), unit="s", utc=True)


def items(status: str | None = None, level: str | None = None, environment: str | None = None,
          token: str | None = None, endpoint: str | None = None, max_pages: int = 50) -> pd.DataFrame:
    """Every item (grouped error) as a DataFrame; ``first_seen``/``last_seen`` are UTC datetimes."""
    rows: list[dict] = []
    for page in range(1, max_pages + 1):
        params = {k: v for k, v in (("status", status), ("level", level), ("environment", environment), ("page", page))
                  if v is not None}
        result = get("items", params, token, endpoint)
        batch = result.get("items", [])
        rows.extend(batch)
        if not batch or len(rows) >= int(result.get("total_count", len(rows))):
            break
    frame = pd.DataFrame(rows)
    if frame.empty:
        return pd.DataFrame(columns=ITEM_COLUMNS)
    frame["first_seen"] = _seconds(frame["first_occurrence_timestamp"])
    frame["last_seen"] = _seconds(frame["last_occurrence_timestamp"])
    for column in ("id", "counter", "total_occurrences"):
        frame[column] = frame[column].astype("int64")
    return frame[ITEM_COLUMNS + [c for c in frame.columns if c not in ITEM_COLUMNS]]


def occurrence_counts(environment: str | None = None, token: str | None = None,
                      endpoint: str | None = None) -> pd.Series:
    """Occurrences per item title (``total_occurrences``), e.g. to count what is new since a baseline."""
    listing = items(environment=environment, token=token, endpoint=endpoint)
    return listing.groupby("title")["total_occurrences"].sum().astype("int64")


def item(item_id: int, token: str | None = None, endpoint: str | None = None) -> dict:
    return get(f"item/{int(item_id)}", token=token, endpoint=endpoint)


def item_by_counter(counter: int, token: str | None = None, endpoint: str | None = None) -> dict:
    return get(f"item_by_counter/{int(counter)}", token=token, endpoint=endpoint)


def _occurrence_row(inst: dict) -> dict:
    data = inst.get("data") or {}
    body = data.get("body") or {}
    trace = body.get("trace") or ((body.get("trace_chain") or [None])[0]) or {}
    exc = trace.get("exception") or {}
    frames = trace.get("frames") or []
    top = frames[-1] if frames else {}
    request = data.get("request") or {}
    message = exc.get("message") if trace else (body.get("message") or {}).get("body")
    return {
        "id": inst.get("id"), "item_id": inst.get("item_id"), "uuid": data.get("uuid", inst.get("uuid")),
        "timestamp": inst.get("timestamp"), "level": data.get("level"), "environment": data.get("environment"),
        "exception_class": exc.get("class"), "message": message,
        "request_method": request.get("method"), "request_url": request.get("url"),
        "top_frame": f"{top.get('filename')}:{top.get('lineno')} in {top.get('method')}" if top else None,
        "custom": data.get("custom"),
    }


def occurrences(item_id: int, token: str | None = None, endpoint: str | None = None,
                max_pages: int = 20) -> pd.DataFrame:
    """Every occurrence (instance) of one item, newest first; ``timestamp`` is a UTC datetime."""
    rows: list[dict] = []
    for page in range(1, max_pages + 1):
        batch = get(f"item/{int(item_id)}/instances", {"page": page}, token, endpoint).get("instances", [])
        rows.extend(_occurrence_row(inst) for inst in batch)
        if len(batch) < 20:
            break
    frame = pd.DataFrame(rows, columns=OCCURRENCE_COLUMNS)
    frame["timestamp"] = _seconds(frame["timestamp"])
    return frame


def all_occurrences(token: str | None = None, endpoint: str | None = None, **filters: Any) -> pd.DataFrame:
    """Occurrences of every item (``items(**filters)``), with the item's counter and title alongside."""
    listing = items(token=token, endpoint=endpoint, **filters)
    frames = []
    for row in listing.itertuples(index=False):
        occ = occurrences(row.id, token, endpoint)
        occ.insert(1, "counter", row.counter)
        occ.insert(2, "title", row.title)
        frames.append(occ)
    if not frames:
        return pd.DataFrame(columns=OCCURRENCE_COLUMNS[:1] + ["counter", "title"] + OCCURRENCE_COLUMNS[1:])
    return pd.concat(frames, ignore_index=True)
