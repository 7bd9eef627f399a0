"""Requests/s and per-route latency for 2,000 requests at concurrency 8 against bare backend-flask.

The notifications service runs in its own process, as in the notebooks.

Baseline measured in the same run: the same client against a trivial WSGI app (no Flask routing, no JSON),
so the ratio says what Cruddur itself costs on top of the client + werkzeug server.
    python bench/traffic.py
"""
from __future__ import annotations

import time

from lab_app import services, traffic
from lab_app.runner import ServerThread

N, CONCURRENCY, SEED = 2000, 8, 1


def trivial_app(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "2")])
    return [b"ok"]


def run(url: str, mix=None):
    t0 = time.perf_counter()
    df = traffic.generate(url, n=N, concurrency=CONCURRENCY, seed=SEED, progress=False, mix=mix)
    return df, time.perf_counter() - t0


def main() -> None:
    with ServerThread(trivial_app, port=0) as server:
        base_df, base_s = run(server.url, mix={"GET /api/activities/home": 1})
    # as the notebooks run them: notifications in its own process, backend-flask in a thread of this process
    with services.downstream.DownstreamProcess(0, otel=False) as notifications, \
            ServerThread(services.create_backend_app(notifications.url), port=0) as backend:
        run(backend.url)  # warm-up
        df, elapsed = run(backend.url)
    base_rps, rps = N / base_s, N / elapsed
    print(f"baseline (trivial WSGI app, same client): {base_rps:,.0f} req/s, p50 {base_df.latency_ms.median():.2f} ms")
    print(f"backend-flask, bare, {N} requests at concurrency {CONCURRENCY}: {rps:,.0f} req/s "
          f"({rps / base_rps:.2f}x the baseline), wall {elapsed:.2f} s, statuses { {int(k): int(v) for k, v in df.status.value_counts().items()} }")
    summary = traffic.route_summary(df)
    print(summary[["method", "route", "requests", "p50_ms", "p95_ms", "p99_ms", "error_rate"]]
          .to_string(index=False, float_format=lambda x: f"{x:.2f}"))


if __name__ == "__main__":
    main()
