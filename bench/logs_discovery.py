"""What the newer CloudWatch Logs features cost, each against a baseline measured in the same run (prints figures;
asserts nothing).

1. PutLogEvents of 5,000-event batches into a group with a log transformer (parseJSON, addKeys, renameKeys,
   lowerCaseString) vs the same batches into a group without one.
2. ``pattern @message`` over N events vs ``stats count(*) by @message`` (the same scan, grouped by the raw text).
3. GetLogGroupFields over the group's newest 10,000 events vs ``stats count(*)`` over them.
4. The same aggregation written in SQL (``queryLanguage="SQL"``) vs Logs Insights QL.

    .venv/bin/python bench/logs_discovery.py [--events 100000]
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

from lab_app.localcloud.server import LocalCloud

BATCH = 5_000
ROUTES = ["/api/activities/home", "/api/activities/search", "/api/messages", "/api/activities/notifications"]
TRANSFORMER = [{"parseJSON": {}}, {"addKeys": {"entries": [{"key": "env", "value": "bench"}]}},
               {"renameKeys": {"entries": [{"key": "latency_ms", "renameTo": "latency"}]}},
               {"lowerCaseString": {"withKeys": ["route"]}}]


def client(cloud: LocalCloud):
    return boto3.client("logs", endpoint_url=cloud.aws_url, region_name="us-east-1",
                        aws_access_key_id="bench", aws_secret_access_key="bench")  # pragma: allowlist secret


def messages(n: int, seed: int = 0) -> list[str]:
    rng = random.Random(seed)
    return [json.dumps({"route": rng.choice(ROUTES), "status": rng.choice((200, 200, 200, 500)),
                        "latency_ms": round(rng.expovariate(1 / 40), 1), "request": f"req-{i}"},
                       separators=(",", ":")) for i in range(n)]


def ingest(logs, group: str, texts: list[str], now: int) -> float:
    started = time.perf_counter()
    for i in range(0, len(texts), BATCH):
        chunk = texts[i:i + BATCH]
        logs.put_log_events(logGroupName=group, logStreamName="s",
                            logEvents=[{"timestamp": now + i + j, "message": m} for j, m in enumerate(chunk)])
    return time.perf_counter() - started


def query(logs, group: str, text: str, now: int, language: str = "CWLI") -> float:
    started = time.perf_counter()
    kwargs = {"logGroupName": group} if language == "CWLI" else {}
    qid = logs.start_query(startTime=now // 1000 - 60, endTime=now // 1000 + 3600, queryString=text,
                           queryLanguage=language, **kwargs)["queryId"]
    while logs.get_query_results(queryId=qid)["status"] in ("Scheduled", "Running"):
        time.sleep(0.005)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=100_000)
    args = parser.parse_args()
    data = Path(tempfile.mkdtemp(prefix="bench-logs-discovery-"))
    cloud = LocalCloud(data, aws_port=0, otlp_port=0, daemon_port=0).start()
    try:
        logs = client(cloud)
        now = int(time.time() * 1000) - 60_000
        texts = messages(args.events)
        for group in ("plain", "transformed"):
            logs.create_log_group(logGroupName=group)
            logs.create_log_stream(logGroupName=group, logStreamName="s")
        logs.put_transformer(logGroupIdentifier="transformed", transformerConfig=TRANSFORMER)
        base = ingest(logs, "plain", texts, now)
        transformed = ingest(logs, "transformed", texts, now)
        print(f"ingest {args.events:,} events: no transformer {base:.2f} s, with a 4-processor transformer "
              f"{transformed:.2f} s ({transformed / base:.2f}x)")
        grouped = query(logs, "plain", "stats count(*) by @message", now)
        pattern = query(logs, "plain", "pattern @message", now)
        print(f"over {args.events:,} events: stats count(*) by @message {grouped:.3f} s, pattern @message "
              f"{pattern:.3f} s ({pattern / grouped:.2f}x)")
        count = query(logs, "plain", "stats count(*)", now)
        started = time.perf_counter()
        logs.get_log_group_fields(logGroupName="plain", time=now // 1000)
        fields = time.perf_counter() - started
        print(f"GetLogGroupFields (newest 10,000 events of the window) {fields:.3f} s; stats count(*) over all "
              f"{count:.3f} s")
        sql_text = "SELECT route, COUNT(*) AS n, AVG(latency_ms) AS a FROM `plain` GROUP BY route"
        first_sql = query(logs, "plain", sql_text, now, "SQL")      # builds the SQL parser once
        cwli = query(logs, "plain", "stats count(*) as n, avg(latency_ms) as a by route", now)
        sql = query(logs, "plain", sql_text + " ", now, "SQL")      # another text: not the parse cache
        print(f"the same aggregation: Logs Insights QL {cwli:.3f} s, SQL {sql:.3f} s ({sql / cwli:.2f}x); "
              f"the first SQL query of the process {first_sql:.3f} s (builds the parser)")
    finally:
        cloud.stop()
        shutil.rmtree(data, ignore_errors=True)


if __name__ == "__main__":
    main()
