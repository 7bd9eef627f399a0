"""CloudWatch Logs stand-in speed, against moto in the same run (prints figures; asserts nothing).

1. PutLogEvents ingest in 10,000-event batches through boto3 and the gateway: ours (DuckDB, durable)
   vs moto (in memory, reached through the same gateway with our component switched off).
2. ``stats count(*), avg(latency_ms), pct(latency_ms, 99) by bin(1m), route`` over 1,000,000 events
   (goal: under 1.5 s, StartQuery to Complete).
3. ``fields @timestamp, @message | sort @timestamp desc | limit 20`` over 100,000 events, ours vs moto
   (goal: at least 10x faster).

Both stand-ins run in this process behind the same werkzeug gateway (moto is reached by switching our
component off), so client and server share one interpreter the same way for both.

    .venv/bin/python bench/logs.py [--events 1000000]
"""
from __future__ import annotations

import argparse
import json
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import boto3
import numpy as np

from lab_app.localcloud.logs import Logs
from lab_app.localcloud.server import LocalCloud

BATCH = 10_000
ROUTES = ["/api/activities/home", "/api/activities/search", "/api/messages", "/api/activities/notifications"]


def client(cloud: LocalCloud):
    return boto3.client("logs", endpoint_url=cloud.aws_url, region_name="us-east-1",
                        aws_access_key_id="bench", aws_secret_access_key="bench")  # pragma: allowlist secret


def messages(n: int, seed: int = 0) -> list[str]:
    rng = random.Random(seed)
    # ~70 bytes each: 10,000 of them (+26 bytes/event) fit AWS's 1,048,576-byte batch limit
    return [json.dumps({"route": rng.choice(ROUTES), "status": rng.choice((200, 200, 200, 500)),
                        "latency_ms": round(rng.expovariate(1 / 40), 1)}, separators=(",", ":"))
            for _ in range(n)]


def ingest(logs, group: str, n_batches: int, base_ms: int) -> float:
    logs.create_log_group(logGroupName=group)
    logs.create_log_stream(logGroupName=group, logStreamName="s")
    msgs = messages(BATCH)
    batches = [[{"timestamp": base_ms + b * BATCH + i, "message": m} for i, m in enumerate(msgs)]
               for b in range(n_batches)]
    t0 = time.perf_counter()
    for events in batches:
        r = logs.put_log_events(logGroupName=group, logStreamName="s", logEvents=events)
        assert "rejectedLogEventsInfo" not in r, r
    return n_batches * BATCH / (time.perf_counter() - t0)


def timed_query(logs, group: str, query: str, start_s: int, end_s: int, repeat: int = 5) -> tuple[float, dict]:
    best, result = float("inf"), {}
    for _ in range(repeat):
        t0 = time.perf_counter()
        qid = logs.start_query(logGroupName=group, startTime=start_s, endTime=end_s, queryString=query)["queryId"]
        for _ in range(10_000):
            result = logs.get_query_results(queryId=qid)
            if result["status"] not in ("Scheduled", "Running"):
                break
            time.sleep(0.005)
        best = min(best, time.perf_counter() - t0)
    return best, result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=1_000_000, help="events for the stats query")
    parser.add_argument("--ingest-batches", type=int, default=10)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench-logs-"))
    ours = LocalCloud(tmp / "ours", aws_port=0, otlp_port=0, daemon_port=0,
                      components=[Logs], middleware=[]).start()
    moto = LocalCloud(tmp / "moto", aws_port=0, otlp_port=0, daemon_port=0, components=[],
                      middleware=[]).start()
    try:
        now_ms = int(time.time() * 1000)
        base = now_ms - 3 * 3600 * 1000
        start_s, end_s = base // 1000 - 60, now_ms // 1000 + 60
        ours_logs, moto_logs = client(ours), client(moto)
        print(f"1. PutLogEvents, {args.ingest_batches} batches of {BATCH:,} events (~70-byte JSON messages)")
        ours_rate = ingest(ours_logs, "ingest", args.ingest_batches, base)
        moto_rate = ingest(moto_logs, "ingest", args.ingest_batches, base)
        print(f"   ours (DuckDB, durable): {ours_rate:10,.0f} events/s")
        print(f"   moto (in memory):       {moto_rate:10,.0f} events/s   ratio ours/moto = {ours_rate / moto_rate:.2f}x"
              f"  (goal >= 1.0)")

        print(f"\n2. stats over {args.events:,} events")
        backend = ours.component("logs").backend
        backend.create_log_group("us-east-1", "big")
        backend.create_log_stream("us-east-1", "big", "s")
        msgs = messages(BATCH, seed=1)
        span = 3 * 3600 * 1000
        t0 = time.perf_counter()
        for b in range(0, args.events, BATCH):
            ts = base + (np.arange(b, b + BATCH, dtype=np.int64) * span) // args.events
            backend._store_events("us-east-1", "big", "s", ts, msgs, now_ms)
        print(f"   loaded in {time.perf_counter() - t0:.1f} s (in-process bulk insert)")
        query = "stats count(*), avg(latency_ms), pct(latency_ms, 99) by bin(1m), route"
        seconds, result = timed_query(ours_logs, "big", query, start_s, end_s)
        print(f"   `{query}`")
        print(f"   {seconds * 1000:,.0f} ms StartQuery->Complete (best of 5), {len(result['results'])} rows, "
              f"recordsScanned={result['statistics']['recordsScanned']:,.0f}   goal < 1,500 ms")

        print("\n3. latest 20 over 100,000 events, ours vs moto")
        query = "fields @timestamp, @message | sort @timestamp desc | limit 20"
        for logs in (ours_logs, moto_logs):
            ingest(logs, "hundredk", 10, base)
        ours_s, ours_res = timed_query(ours_logs, "hundredk", query, start_s, end_s)
        moto_s, moto_res = timed_query(moto_logs, "hundredk", query, start_s, end_s)
        def messages_of(res):
            return [next(f["value"] for f in r if f["field"] == "@message") for r in res["results"]]

        same = messages_of(ours_res) == messages_of(moto_res)
        print(f"   first row, ours: {ours_res['results'][0][:2]}")
        print(f"   first row, moto: {moto_res['results'][0][:2]}")
        print(f"   ours: {ours_s * 1000:8.1f} ms   moto: {moto_s * 1000:8.1f} ms   "
              f"speed-up {moto_s / ours_s:.1f}x (goal >= 10x); same 20 messages: {same}")
    finally:
        ours.stop()
        moto.stop()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
