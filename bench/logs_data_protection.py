"""What a data protection policy costs PutLogEvents (prints figures; asserts nothing).

PutLogEvents in 10,000-event batches through boto3 and the gateway, to two log groups in the same run: one
without a policy (the baseline) and one with a policy of the four managed identifiers and one custom identifier,
where one event in ten carries an e-mail address (so findings are reported too, to a log group).

    .venv/bin/python bench/logs_data_protection.py [--batches 10]
"""
from __future__ import annotations

import argparse
import json
import random
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import boto3

from lab_app.localcloud.server import LocalCloud

BATCH = 8_000
ARN = "arn:aws:dataprotection::aws:data-identifier/"


def messages(n: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    out = []
    for i in range(n):
        user = f"user{rng.randrange(1000)}@example.com" if i % 10 == 0 else f"user{rng.randrange(1000)}"
        out.append(json.dumps({"route": "/api/home", "user": user, "status": 200,
                               "latency_ms": round(rng.expovariate(1 / 40), 1)}, separators=(",", ":")))
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, default=10)
    args = parser.parse_args()
    data_dir = Path(tempfile.mkdtemp(prefix="bench-dp-"))
    cloud = LocalCloud(data_dir, aws_port=0, otlp_port=0, daemon_port=0).start()
    try:
        logs = boto3.client("logs", endpoint_url=cloud.aws_url, region_name="us-east-1",
                            aws_access_key_id="bench", aws_secret_access_key="bench")  # pragma: allowlist secret
        ids = [ARN + n for n in ("EmailAddress", "IpAddress", "AwsSecretKey", "CreditCardNumber")] + ["KeyId"]
        doc = json.dumps({"Name": "bench", "Version": "2021-06-01",
                          "Configuration": {"CustomDataIdentifier": [{"Name": "KeyId", "Regex": "AKIA[0-9A-Z]{16}"}]},
                          "Statement": [
                              {"DataIdentifier": ids,
                               "Operation": {"Audit": {"FindingsDestination": {"CloudWatchLogs": {"LogGroup": "audit"}}}}},
                              {"DataIdentifier": ids, "Operation": {"Deidentify": {"MaskConfig": {}}}}]})
        for group in ("plain", "protected", "audit"):
            logs.create_log_group(logGroupName=group)
            logs.create_log_stream(logGroupName=group, logStreamName="s")
        logs.put_data_protection_policy(logGroupIdentifier="protected", policyDocument=doc)
        times: dict[str, list[float]] = {"plain": [], "protected": []}
        for b in range(args.batches):
            batch = messages(BATCH, b)
            t0 = int(time.time() * 1000)
            events = [{"timestamp": t0 + i // 100, "message": m} for i, m in enumerate(batch)]
            for group in ("plain", "protected"):   # alternate, so both see the same machine load
                started = time.perf_counter()
                logs.put_log_events(logGroupName=group, logStreamName="s", logEvents=events)
                times[group].append(time.perf_counter() - started)
        plain, protected = statistics.median(times["plain"]), statistics.median(times["protected"])
        findings = len(logs.filter_log_events(logGroupName="audit", limit=10_000)["events"])
        print(f"PutLogEvents, {BATCH:,}-event batches, median of {args.batches}:")
        print(f"  no policy (baseline): {plain * 1000:8.1f} ms  ({BATCH / plain:,.0f} events/s)")
        print(f"  with a policy:        {protected * 1000:8.1f} ms  ({BATCH / protected:,.0f} events/s)"
              f"  = {protected / plain:.2f}x the baseline")
        print(f"  findings reports in the audit group: {findings:,} (expected {BATCH // 10 * args.batches:,},"
              " capped at 10,000 by FilterLogEvents' limit)")
    finally:
        cloud.stop()
        shutil.rmtree(data_dir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
