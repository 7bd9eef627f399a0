"""What a subscription filter costs the writer. Prints figures; asserts nothing (except that deliveries agree).

PutLogEvents through boto3 (500 events of ~120 bytes per call, 40 calls) into a log group:
  baseline: no subscription filter (measured in the same run, on the same local cloud);
  with a subscription filter to a Kinesis stream (delivery happens on the delivery thread);
  with a subscription filter to a Kinesis stream that was deleted (every delivery fails and is counted).
Then the time the delivery thread needs to drain what the second run queued, and the records Kinesis holds.
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

from lab_app.localcloud.server import LocalCloud

CALLS = int(os.environ.get("BENCH_CALLS", "40"))
EVENTS = 500


def put_batches(logs, group: str) -> list[float]:
    out = []
    for c in range(CALLS):
        now = int(time.time() * 1000)
        batch = [{"timestamp": now, "message": f"ERROR request {c}-{i} failed: upstream timeout after 3000 ms "
                                                f"(route /api/activities/home, user {i % 97})"} for i in range(EVENTS)]
        t = time.perf_counter()
        logs.put_log_events(logGroupName=group, logStreamName="s", logEvents=batch)
        out.append((time.perf_counter() - t) * 1000)
    return out


def main() -> None:
    lc = LocalCloud(Path(tempfile.mkdtemp()) / "lab", aws_port=0, otlp_port=0, daemon_port=0).start()
    os.environ.update(lc.env())
    try:
        logs, kinesis, iam = boto3.client("logs"), boto3.client("kinesis"), boto3.client("iam")
        role = iam.create_role(RoleName="bench", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
        for name in ("plain", "subscribed", "broken"):
            logs.create_log_group(logGroupName=name)
            logs.create_log_stream(logGroupName=name, logStreamName="s")
        for name in ("bench-ok", "bench-gone"):
            kinesis.create_stream(StreamName=name, ShardCount=1)
        arn = kinesis.describe_stream(StreamName="bench-ok")["StreamDescription"]["StreamARN"]
        gone = kinesis.describe_stream(StreamName="bench-gone")["StreamDescription"]["StreamARN"]
        logs.put_subscription_filter(logGroupName="subscribed", filterName="errors", filterPattern="ERROR",
                                     destinationArn=arn, roleArn=role)
        logs.put_subscription_filter(logGroupName="broken", filterName="errors", filterPattern="ERROR",
                                     destinationArn=gone, roleArn=role)
        kinesis.delete_stream(StreamName="bench-gone")
        put_batches(logs, "plain")                           # warm-up
        results = {}
        for group in ("plain", "subscribed", "broken"):
            results[group] = put_batches(logs, group)
            if group == "subscribed":
                t = time.perf_counter()
                lc.context.flush_pending(60)
                drain_ms = (time.perf_counter() - t) * 1000
        status = lc.component("logs").control("subscriptions", {})
        print(f"PutLogEvents, {CALLS} calls x {EVENTS} events (ms per call, median / p90):")
        for group, label in (("plain", "baseline, no subscription"), ("subscribed", "subscription to Kinesis"),
                             ("broken", "subscription to a deleted stream")):
            xs = sorted(results[group])
            print(f"  {label:34s} {statistics.median(xs):7.2f} / {xs[int(len(xs) * 0.9)]:7.2f}")
        print(f"  delivery thread drained the queue {drain_ms:.0f} ms after the last call returned")
        print(f"  records delivered {status['subscription_records_delivered']}, events "
              f"{status['subscription_events_delivered']} (expected {CALLS * EVENTS}), failures "
              f"{status['subscription_delivery_failures']} (expected {CALLS})")
        assert status["subscription_events_delivered"] == CALLS * EVENTS
    finally:
        lc.stop()


if __name__ == "__main__":
    main()
