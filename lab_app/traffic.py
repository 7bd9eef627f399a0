"""Deterministic traffic for the Cruddur API: N requests or a duration, a route mix, concurrency, a seed.

    df = traffic.generate(stack.backend_url, n=2000, concurrency=8, seed=7)

The *plan* (which route, which path, which body, which user) depends only on the seed and the mix,
so two runs with the same seed send the same requests. Returns one row per request.

The generator is the *user's browser*, not part of any service: it sends with urllib3 directly, which
neither ``RequestsInstrumentor`` nor the X-Ray SDK's ``patch(["requests"])`` touches, so the backend's
server span (segment) is the root of every trace, as it is for real traffic. :func:`send` is the same
client for one request from a notebook cell.
"""
from __future__ import annotations

import json
import random
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Iterator

import pandas as pd
import urllib3

from lab_app.config import SEED_DATA_DIR

# route template (the Flask rule) -> weight. The names match what the tracers record.
DEFAULT_MIX: dict[str, float] = {
    "GET /api/activities/home": 30,
    "GET /api/activities/notifications": 12,
    "GET /api/activities/@<handle>": 12,
    "GET /api/activities/search": 10,
    "GET /api/activities/<activity_uuid>": 10,
    "GET /api/message_groups": 8,
    "POST /api/activities": 6,
    "GET /api/messages/@<handle>": 5,
    "POST /api/activities/<activity_uuid>/reply": 4,
    "POST /api/messages": 3,
}
SEARCH_TERMS = ["cloud", "trace", "honor", "logs", "latency", "rollbar", "sampling", "the", "x-ray", "cost"]
TTLS = ["30-days", "7-days", "3-days", "1-day", "12-hours", "3-hours", "1-hour"]
COLUMNS = ["seq", "started_at", "method", "route", "path", "user", "status", "latency_ms", "ok", "request_id",
           "xray_trace_id", "otel_trace_id", "error"]


@dataclass(frozen=True)
class PlannedRequest:
    seq: int
    method: str
    route: str
    path: str
    user: str
    body: dict | None = None
    invalid: bool = False


@dataclass
class _Catalog:
    handles: list[str] = field(default_factory=list)
    activity_uuids: list[str] = field(default_factory=list)

    @classmethod
    def load(cls) -> "_Catalog":
        with open(SEED_DATA_DIR / "users.json", encoding="utf-8") as fh:
            handles = [u["handle"] for u in json.load(fh)["users"]]
        with open(SEED_DATA_DIR / "activities.json", encoding="utf-8") as fh:
            uuids = [a["uuid"] for a in json.load(fh)["activities"]]
        return cls(handles, uuids)


def _validate_mix(mix: dict[str, float]) -> dict[str, float]:
    unknown = sorted(set(mix) - set(DEFAULT_MIX))
    if unknown:
        raise ValueError(f"unknown route(s) in mix: {unknown}; known routes: {sorted(DEFAULT_MIX)}")
    if any(w < 0 for w in mix.values()) or sum(mix.values()) <= 0:
        raise ValueError("mix weights must be >= 0 with a positive total")
    return {k: v for k, v in mix.items() if v > 0}


def _one(seq: int, rng: random.Random, routes: list[str], weights: list[float], cat: _Catalog,
         invalid_rate: float) -> PlannedRequest:
    route_key = rng.choices(routes, weights)[0]
    method, route = route_key.split(" ", 1)
    user = rng.choice(cat.handles)
    invalid = rng.random() < invalid_rate
    handle = "nobody" if invalid else rng.choice(cat.handles)
    activity = "not-a-uuid" if invalid else rng.choice(cat.activity_uuids)
    body = None
    if route == "/api/activities/search":
        path = "/api/activities/search?term=" + ("" if invalid else rng.choice(SEARCH_TERMS))
    elif route == "/api/activities/@<handle>":
        path = f"/api/activities/@{handle}"
    elif route == "/api/messages/@<handle>":
        path = f"/api/messages/@{handle}"
    elif route == "/api/activities/<activity_uuid>":
        path = f"/api/activities/{activity}"
    elif route == "/api/activities/<activity_uuid>/reply":
        path = f"/api/activities/{rng.choice(cat.activity_uuids)}/reply"
        body = {"message": "" if invalid else f"reply {seq} from the traffic generator"}
    elif route == "/api/activities" and method == "POST":
        path = route
        body = {"message": "x" * 300 if invalid else f"post {seq}: {rng.choice(SEARCH_TERMS)} is fun",
                "ttl": rng.choice(TTLS)}
    elif route == "/api/messages" and method == "POST":
        path = route
        body = {"handle": rng.choice([h for h in cat.handles if h != user]), "message": "" if invalid else f"message {seq}"}
    else:  # home, notifications, message_groups: no way to make them invalid from the client
        path, invalid = route, False
    return PlannedRequest(seq, method, route, path, user, body, invalid)


def plan(n: int | None = None, mix: dict[str, float] | None = None, seed: int = 0,
         invalid_rate: float = 0.05) -> Iterator[PlannedRequest]:
    """The requests ``generate`` would send, in order (endless when n is None)."""
    if not 0 <= invalid_rate <= 1:
        raise ValueError("invalid_rate must be between 0 and 1")
    mix = _validate_mix(mix or DEFAULT_MIX)
    routes, weights = list(mix), list(mix.values())
    rng = random.Random(seed)
    cat = _Catalog.load()
    seq = 0
    while n is None or seq < n:
        yield _one(seq, rng, routes, weights, cat, invalid_rate)
        seq += 1


def _trace_ids(headers) -> tuple[str | None, str | None]:
    xray = None
    amzn = headers.get("X-Amzn-Trace-Id")
    if amzn:
        for part in amzn.split(";"):
            key, _, value = part.partition("=")
            if key.strip() == "Root":
                xray = value.strip()
    otel = None
    traceresponse = headers.get("traceresponse") or headers.get("traceparent")
    if traceresponse:
        parts = traceresponse.split("-")
        if len(parts) == 4 and len(parts[1]) == 32:
            otel = parts[1]
    return xray, otel


@dataclass
class Response:
    """What :func:`send` returns (the parts of a ``requests.Response`` a notebook uses)."""

    status_code: int
    headers: urllib3.HTTPHeaderDict
    text: str
    elapsed_ms: float

    def json(self):
        return json.loads(self.text)

    @property
    def ok(self) -> bool:
        return self.status_code < 400


def _pool(concurrency: int = 1) -> urllib3.PoolManager:
    return urllib3.PoolManager(maxsize=max(concurrency, 1), retries=False)


_default_pool = _pool(4)


def send(method: str, url: str, json: dict | None = None, headers: dict[str, str] | None = None,
         timeout: float = 10.0, pool: urllib3.PoolManager | None = None) -> Response:
    """One request as a user's browser sends it: never traced by the kernel's own instrumentation."""
    t0 = time.perf_counter()
    resp = (pool or _default_pool).request(method, url, json=json, headers=headers,
                                           timeout=urllib3.Timeout(total=timeout), redirect=False)
    return Response(resp.status, resp.headers, resp.data.decode("utf-8", "replace"), (time.perf_counter() - t0) * 1000)


def generate(base_url: str, n: int | None = None, duration: float | None = None, mix: dict[str, float] | None = None,
             concurrency: int = 8, seed: int = 0, progress: bool = True, invalid_rate: float = 0.05,
             timeout: float = 10.0) -> pd.DataFrame:
    """Send the planned requests with ``concurrency`` workers; one row per request."""
    if (n is None) == (duration is None):
        raise ValueError("give exactly one of n (number of requests) or duration (seconds)")
    if concurrency < 1:
        raise ValueError("concurrency must be >= 1")
    base_url = base_url.rstrip("/")
    planned = plan(n, mix, seed, invalid_rate)
    lock = threading.Lock()
    deadline = None if duration is None else time.monotonic() + duration
    rows: list[dict] = []
    from tqdm.auto import tqdm

    bar = tqdm(total=n, disable=not progress, desc="requests", unit="req")

    def next_request() -> PlannedRequest | None:
        with lock:
            if deadline is not None and time.monotonic() >= deadline:
                return None
            return next(planned, None)

    http = _pool(concurrency)

    def worker() -> None:
        while (req := next_request()) is not None:
            started = datetime.now(timezone.utc)
            t0 = time.perf_counter()
            status, headers, error = None, {}, None
            try:
                resp = send(req.method, base_url + req.path, json=req.body, timeout=timeout,
                            headers={"X-Cruddur-User": req.user}, pool=http)
                status, headers = resp.status_code, resp.headers
            except urllib3.exceptions.HTTPError as exc:
                error = f"{exc.__class__.__name__}: {exc}"
            latency_ms = (time.perf_counter() - t0) * 1000.0
            xray, otel = _trace_ids(headers)
            row = {"seq": req.seq, "started_at": started, "method": req.method, "route": req.route, "path": req.path,
                   "user": req.user, "status": status, "latency_ms": latency_ms,
                   "ok": status is not None and status < 400, "request_id": headers.get("X-Request-Id"),
                   "xray_trace_id": xray, "otel_trace_id": otel, "error": error}
            with lock:
                rows.append(row)
                bar.update(1)

    try:
        with ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="traffic") as pool:
            for future in [pool.submit(worker) for _ in range(concurrency)]:
                future.result()
    finally:
        bar.close()
    frame = pd.DataFrame(rows, columns=COLUMNS).sort_values("seq", kind="stable").reset_index(drop=True)
    frame["started_at"] = pd.to_datetime(frame["started_at"], utc=True)
    frame["status"] = frame["status"].astype("Int64")
    frame["latency_ms"] = frame["latency_ms"].astype("float64")
    frame["ok"] = frame["ok"].astype(bool)
    for col in ("method", "route", "path", "user", "request_id", "xray_trace_id", "otel_trace_id", "error"):
        frame[col] = frame[col].astype("string")
    return frame


def route_summary(frame: pd.DataFrame) -> pd.DataFrame:
    """Per route: requests, p50/p95/p99 latency (ms) and error rate (status >= 500 or no answer)."""
    grouped = frame.assign(server_error=frame["status"].isna() | (frame["status"] >= 500).fillna(True)) \
        .groupby(["method", "route"], observed=True)
    out = grouped.agg(requests=("seq", "size"), p50_ms=("latency_ms", lambda s: s.quantile(0.50)),
                      p95_ms=("latency_ms", lambda s: s.quantile(0.95)),
                      p99_ms=("latency_ms", lambda s: s.quantile(0.99)),
                      client_errors=("status", lambda s: int(((s >= 400) & (s < 500)).sum())),
                      error_rate=("server_error", "mean"))
    return out.sort_values("p99_ms", ascending=False).reset_index()
