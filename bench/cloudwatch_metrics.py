"""What the CloudWatch metric store costs. Prints figures; asserts nothing (except that answers agree).

1. PutMetricData through boto3 (1,000 datapoints per call, the API's maximum): datapoints per second.
2. GetMetricData over 1,000,000 stored datapoints (two metrics of 500,000 over 7 days, hourly Sum, 168
   periods): a MetricStat query, and a metric-math query (100 * errors / requests), through boto3 and the
   gateway. Baseline, measured in the same run on the same DuckDB file: one SQL statement computing the
   same hourly sums directly (no HTTP, no JSON, no expression evaluation).
"""
from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import boto3
import numpy as np
import pandas as pd

from lab_app import config
from lab_app.localcloud.cloudwatch.metrics import METRICS_TABLE, dims_key
from lab_app.localcloud.server import LocalCloud

N_POINTS = int(os.environ.get("BENCH_POINTS", "1000000"))
N_PUT_CALLS = int(os.environ.get("BENCH_PUT_CALLS", "20"))
RUNS = 5
DAYS = 7


def timed(fn, runs: int = RUNS) -> tuple[float, object]:
    out, result = [], None
    for _ in range(runs):
        t = time.perf_counter()
        result = fn()
        out.append((time.perf_counter() - t) * 1000)
    return statistics.median(out), result


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        cloud = LocalCloud(Path(tmp) / "lab", aws_port=0, otlp_port=0, daemon_port=0).start()
        os.environ.update(cloud.env())
        try:
            cw = boto3.client("cloudwatch")
            now = cloud.clock.now()
            # 1. PutMetricData throughput
            batch = [{"MetricName": "put", "Value": float(i), "Timestamp": datetime.fromtimestamp(now - i, timezone.utc),
                      "Dimensions": [{"Name": "route", "Value": "/api/x"}]} for i in range(1000)]
            cw.put_metric_data(Namespace="Bench", MetricData=batch[:10])  # warm up
            t = time.perf_counter()
            for _ in range(N_PUT_CALLS):
                cw.put_metric_data(Namespace="Bench", MetricData=batch)
            seconds = time.perf_counter() - t
            print(f"PutMetricData via boto3: {N_PUT_CALLS} calls x 1,000 datapoints in {seconds:.2f} s = "
                  f"{N_PUT_CALLS * 1000 / seconds:,.0f} datapoints/s (client and server on one machine)")
            store = cloud.component("alarms").metrics
            params = {"Namespace": "Bench", "MetricData": [dict(d, Timestamp=now - i) for i, d in enumerate(batch)]}
            server_ms, _ = timed(lambda: store.put_metric_data(config.ACCOUNT_ID, config.REGION, params))
            print(f"  of which the server (validate + one INSERT of 1,000 rows): {server_ms:.1f} ms per call = "
                  f"{1000 / server_ms * 1000:,.0f} datapoints/s")

            # 2. one million datapoints, loaded in bulk (the store's own insert)
            end = float(int(now // 3600) * 3600)
            start = end - DAYS * 86400
            rng = np.random.default_rng(7)
            half = N_POINTS // 2
            frames = []
            for name, value in (("requests", 1.0), ("errors", None)):
                ts = np.floor(rng.uniform(start, end, half) / 60) * 60
                values = np.ones(half) if value else (rng.random(half) < 0.02).astype(float)
                frames.append(pd.DataFrame({
                    "account_id": config.ACCOUNT_ID, "region": config.REGION, "namespace": "Bench",
                    "metric_name": name, "dims": dims_key([("route", "/api/x")]), "unit": "Count", "ts": ts,
                    "value": values, "n": 1.0, "total": values, "lo": values, "hi": values, "resolution": 60}))
            t = time.perf_counter()
            for frame in frames:
                cloud.store.insert_frame(METRICS_TABLE, frame)
            print(f"bulk load of {2 * half:,} datapoints: {time.perf_counter() - t:.2f} s "
                  f"(store holds {cloud.store.count(METRICS_TABLE):,})")

            dims = [{"Name": "route", "Value": "/api/x"}]

            def stat(name: str) -> dict:
                return {"Metric": {"Namespace": "Bench", "MetricName": name, "Dimensions": dims}, "Period": 3600,
                        "Stat": "Sum"}

            def one_metric():
                return cw.get_metric_data(StartTime=datetime.fromtimestamp(start, timezone.utc),
                                          EndTime=datetime.fromtimestamp(end, timezone.utc),
                                          MetricDataQueries=[{"Id": "r", "MetricStat": stat("requests")}])

            def math_query():
                return cw.get_metric_data(StartTime=datetime.fromtimestamp(start, timezone.utc),
                                          EndTime=datetime.fromtimestamp(end, timezone.utc), MetricDataQueries=[
                    {"Id": "r", "MetricStat": stat("requests"), "ReturnData": False},
                    {"Id": "e", "MetricStat": stat("errors"), "ReturnData": False},
                    {"Id": "rate", "Expression": "100 * FILL(e, 0) / r"}])

            cursor = cloud.store.cursor()

            def baseline():
                return cursor.execute(
                    f"SELECT floor((ts - ?) / 3600) AS b, sum(total) FILTER (WHERE metric_name = 'requests'), "
                    f"sum(total) FILTER (WHERE metric_name = 'errors') FROM {METRICS_TABLE} "
                    "WHERE namespace = 'Bench' AND metric_name IN ('requests', 'errors') AND dims = ? AND ts >= ? "
                    "AND ts < ? GROUP BY b ORDER BY b",
                    [start, dims_key([("route", "/api/x")]), start, end]).fetchall()

            base_ms, rows = timed(baseline)
            one_ms, one = timed(one_metric)
            math_ms, rate = timed(math_query)
            values = one["MetricDataResults"][0]["Values"][::-1]
            assert values == [float(r[1]) for r in rows], "GetMetricData disagrees with the SQL baseline"
            expected = [100 * (r[2] or 0) / r[1] for r in rows]
            got = rate["MetricDataResults"][0]["Values"][::-1]
            assert np.allclose(got, expected), "metric math disagrees with the SQL baseline"
            print(f"GetMetricData over {2 * half:,} datapoints, {DAYS} days, hourly Sum ({len(rows)} periods), "
                  f"median of {RUNS}:")
            print(f"  baseline: one DuckDB statement (both sums)          {base_ms:8.1f} ms  1.00x")
            print(f"  GetMetricData, one MetricStat (500,000 points)      {one_ms:8.1f} ms  {one_ms / base_ms:.2f}x")
            print(f"  GetMetricData, 100 * FILL(e, 0) / r (1,000,000)     {math_ms:8.1f} ms  "
                  f"{math_ms / base_ms:.2f}x")
        finally:
            cloud.stop()


if __name__ == "__main__":
    main()
