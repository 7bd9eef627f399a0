"""What Insights discovers: GetLogGroupFields and GetLogFields against the local cloud (boto3 and the awscli),
percentages computed here by hand from the events written."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import boto3
import pytest
from botocore.config import Config

AWS_CLI = Path(sys.executable).with_name("aws")
GROUP = "fields-group"


def flat(doc, prefix=""):
    """Insights' dotted names of a JSON document's leaves, written independently of the stand-in."""
    if isinstance(doc, dict):
        return [n for k, v in doc.items() for n in flat(v, f"{prefix}.{k}" if prefix else k)]
    if isinstance(doc, list):
        return [n for i, v in enumerate(doc) for n in flat(v, f"{prefix}.{i}" if prefix else str(i))]
    return [] if doc is None else [prefix]


DOCS = [
    {"route": "/api/messages", "status": 200, "http": {"method": "GET", "status_code": 200}},
    {"route": "/api/messages", "status": 500, "user": "andrew", "items": [{"id": 1}, {"id": 2}]},
    {"route": "/api/activities/home", "status": 200, "user": None},
    {"status": 404, "http": {"method": "POST"}},
]
PLAIN = ["GET /health 200", "plain text line", "another one"]


@pytest.fixture(scope="module")
def loaded(module_cloud):
    logs = boto3.client("logs")
    logs.create_log_group(logGroupName=GROUP)
    logs.create_log_stream(logGroupName=GROUP, logStreamName="s")
    now = int(time.time() * 1000)
    messages = [json.dumps(d) for d in DOCS] + PLAIN
    logs.put_log_events(logGroupName=GROUP, logStreamName="s",
                        logEvents=[{"timestamp": now - 60_000 + i, "message": m} for i, m in enumerate(messages)])
    # an hour earlier: outside the default 15 minutes, inside an explicit window around its time
    old = now - 3_600_000
    logs.put_log_events(logGroupName=GROUP, logStreamName="s",
                        logEvents=[{"timestamp": old, "message": json.dumps({"legacy": True})}])
    return {"logs": logs, "now": now, "old": old}


def expected_fields(docs: list, n_plain: int) -> list[dict]:
    total = len(docs) + n_plain
    counts = Counter(name for d in docs for name in set(flat(d)))
    rows = [{"name": n, "percent": 100} for n in ("@timestamp", "@message", "@logStream", "@log", "@ingestionTime")]
    rows += [{"name": n, "percent": round(100 * c / total + 1e-9)} for n, c in counts.items()]
    return sorted(rows, key=lambda r: (-r["percent"], r["name"]))


def test_recent_fields_and_percentages(loaded):
    got = loaded["logs"].get_log_group_fields(logGroupName=GROUP)["logGroupFields"]
    want = expected_fields(DOCS, len(PLAIN))
    assert got == want
    # by hand: 7 events; status in 4 of them -> 57 %, route in 3 -> 43 %, items.1.id in 1 -> 14 %
    percent = {f["name"]: f["percent"] for f in got}
    assert (percent["status"], percent["route"], percent["items.1.id"], percent["http.method"]) == (57, 43, 14, 29)
    assert "legacy" not in percent and "user" in percent and percent["user"] == 14   # a null is not a field


def test_time_window_is_eight_minutes_either_side(loaded):
    logs = loaded["logs"]
    around_old = logs.get_log_group_fields(logGroupName=GROUP, time=loaded["old"] // 1000)["logGroupFields"]
    assert {f["name"]: f["percent"] for f in around_old}["legacy"] == 100
    assert len(around_old) == 6
    # 9 minutes after the old event: outside its window, before the recent events' window
    assert logs.get_log_group_fields(logGroupName=GROUP, time=loaded["old"] // 1000 + 540)["logGroupFields"] == []
    arn = f"arn:aws:logs:us-east-1:123456789012:log-group:{GROUP}"
    assert logs.get_log_group_fields(logGroupIdentifier=arn)["logGroupFields"] == expected_fields(DOCS, len(PLAIN))


@pytest.mark.parametrize("kwargs,code", [
    ({"logGroupName": "no-such-group"}, "ResourceNotFoundException"),
    ({}, "InvalidParameterException"),
    ({"logGroupName": GROUP, "logGroupIdentifier": GROUP}, "InvalidParameterException"),
    ({"logGroupName": "bad name"}, "InvalidParameterException"),
    ({"logGroupName": GROUP, "time": -1}, "InvalidParameterException"),
], ids=["unknown group", "no group", "both", "bad name", "negative time"])
def test_log_group_fields_bad_input(loaded, kwargs, code):
    raw = boto3.client("logs", config=Config(parameter_validation=False))
    with pytest.raises(raw.exceptions.ClientError) as info:
        raw.get_log_group_fields(**kwargs)
    assert info.value.response["Error"]["Code"] == code


def test_log_fields_of_a_custom_data_source(loaded):
    logs = loaded["logs"]
    logs.tag_log_group(logGroupName=GROUP, tags={"cw:datasource:name": "cruddur", "cw:datasource:type": "access"})
    fields = logs.get_log_fields(dataSourceName="cruddur", dataSourceType="access")["logFields"]
    types = {f["logFieldName"]: f["logFieldType"] for f in fields}
    assert types["@timestamp"] == {"type": "timestamp"} and types["@message"] == {"type": "string"}
    assert types["route"] == {"type": "string"} and types["status"] == {"type": "long"}
    assert types["legacy"] == {"type": "boolean"}
    # two events carry http: one with both keys, one with method only; the struct is their union
    assert types["http"]["type"] == "struct"
    assert {f["logFieldName"]: f["logFieldType"] for f in types["http"]["fields"]} == {
        "method": {"type": "string"}, "status_code": {"type": "long"}}
    assert types["items"] == {"type": "array", "element": {"type": "struct", "fields": [
        {"logFieldName": "id", "logFieldType": {"type": "long"}}]}}
    assert "user" in types  # a string in one event, null in another
    with pytest.raises(logs.exceptions.ResourceNotFoundException):
        logs.get_log_fields(dataSourceName="cruddur", dataSourceType="other")
    with pytest.raises(logs.exceptions.ClientError):
        boto3.client("logs", config=Config(parameter_validation=False)).get_log_fields(dataSourceName="cruddur")


def test_awscli_get_log_group_fields(loaded):
    out = subprocess.run([str(AWS_CLI), "logs", "get-log-group-fields", "--log-group-name", GROUP, "--output", "json"],
                         env=dict(os.environ), capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["logGroupFields"] == expected_fields(DOCS, len(PLAIN))
    bad = subprocess.run([str(AWS_CLI), "logs", "get-log-group-fields", "--log-group-name", "missing-group"],
                         env=dict(os.environ), capture_output=True, text=True, timeout=60)
    assert bad.returncode != 0 and "ResourceNotFoundException" in bad.stderr
