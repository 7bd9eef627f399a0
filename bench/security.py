"""What the audit trail and the alarm evaluator cost. Prints figures; asserts nothing.

1. Gateway latency of one cheap API call (logs DescribeLogGroups, boto3, sequential) with the CloudTrail
   recorder off (baseline), recording event history only, and delivering to a logging trail whose log
   group has the four CIS metric filters (each call -> record -> log event -> 4 metric datapoints).
2. One alarm evaluation pass (every alarm, every minute boundary) over growing metric data.
"""
from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import boto3

from lab_app import config
from lab_app.localcloud.server import LocalCloud

N_CALLS = int(os.environ.get("BENCH_CALLS", "300"))


def timed_calls(client, n: int) -> list[float]:
    out = []
    for _ in range(n):
        t = time.perf_counter()
        client.describe_log_groups(limit=1)
        out.append((time.perf_counter() - t) * 1000)
    return out


def summary(label: str, values: list[float], base: float | None) -> float:
    median = statistics.median(values)
    p99 = sorted(values)[int(len(values) * 0.99) - 1]
    ratio = f"{median / base:.2f}x" if base else "1.00x (baseline)"
    print(f"  {label:<44} median {median:6.2f} ms  p99 {p99:6.2f} ms  {ratio}")
    return median


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        cloud = LocalCloud(Path(tmp) / "lab", aws_port=0, otlp_port=0, daemon_port=0).start()
        os.environ.update(cloud.env())
        try:
            from lab_app import security

            logs = boto3.client("logs")
            trail_component = cloud.component("cloudtrail")
            timed_calls(logs, 30)  # warm up (botocore models, moto import)
            print(f"gateway latency, {N_CALLS} sequential DescribeLogGroups calls")
            cloud.observers.remove(trail_component.observe)
            base = summary("CloudTrail recorder off", timed_calls(logs, N_CALLS), None)
            cloud.observers.append(trail_component.observe)
            summary("event history only (no trail)", timed_calls(logs, N_CALLS), base)
            trail = security.setup_trail()
            security.put_cis_filters(trail["log_group"])
            summary("logging trail + 4 CIS metric filters", timed_calls(logs, N_CALLS), base)
            print(f"  events recorded: {trail_component.status()['events']}, delivered: {trail_component.delivered}")

            alarms = cloud.component("alarms").evaluator
            sns = boto3.client("sns")
            topic = sns.create_topic(Name="bench")["TopicArn"]
            security.put_cis_alarms(topic)
            metrics = cloud.component("alarms").metrics
            print("alarm evaluation pass (4 CIS alarms)")
            for extra in (0, 10_000, 100_000):
                if extra:
                    now = cloud.clock.now()
                    metrics.put(config.ACCOUNT_ID, config.REGION, "Bench", [
                        {"MetricName": f"m{i % 50}", "Value": 1.0, "Timestamp": now - (i % 600)}
                        for i in range(extra)])
                points = metrics.count()
                t = time.perf_counter()
                for _ in range(5):
                    alarms.evaluate_all(float(int(cloud.clock.now() // 60) * 60))
                per_pass = (time.perf_counter() - t) / 5 * 1000
                t = time.perf_counter()
                alarms._last_tick -= 3600          # a one-hour clock jump: 360 ticks, 60 minute boundaries
                ticks = alarms.catch_up()
                catch_up = (time.perf_counter() - t) * 1000
                print(f"  {points:>7} stored datapoints: {per_pass:8.2f} ms per pass, "
                      f"{catch_up:8.1f} ms to catch up one hour ({ticks} ticks)")
        finally:
            cloud.stop()


if __name__ == "__main__":
    main()
