"""CloudWatch Logs contract tests: boto3, the awscli and watchtower against the local cloud."""
from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import boto3
import pytest

AWS_CLI = Path(sys.executable).with_name("aws")


@pytest.fixture
def logs(cloud):
    return boto3.client("logs")


def now_ms() -> int:
    return int(time.time() * 1000)


def test_groups_create_describe_paging_delete(logs):
    for i in range(7):
        logs.create_log_group(logGroupName=f"/app/g{i}")
    logs.create_log_group(logGroupName="other")
    with pytest.raises(logs.exceptions.ResourceAlreadyExistsException):
        logs.create_log_group(logGroupName="/app/g0")
    names, token, pages = [], None, 0
    while True:
        kwargs = {"logGroupNamePrefix": "/app/", "limit": 3, **({"nextToken": token} if token else {})}
        page = logs.describe_log_groups(**kwargs)
        names += [g["logGroupName"] for g in page["logGroups"]]
        pages += 1
        token = page.get("nextToken")
        if not token:
            break
    assert names == [f"/app/g{i}" for i in range(7)] and pages == 3
    group = logs.describe_log_groups(logGroupNamePrefix="other")["logGroups"][0]
    assert group["arn"] == "arn:aws:logs:us-east-1:123456789012:log-group:other:*"
    assert "retentionInDays" not in group
    logs.put_retention_policy(logGroupName="other", retentionInDays=7)
    assert logs.describe_log_groups(logGroupNamePrefix="other")["logGroups"][0]["retentionInDays"] == 7
    with pytest.raises(logs.exceptions.InvalidParameterException):
        logs.put_retention_policy(logGroupName="other", retentionInDays=8)
    logs.delete_log_group(logGroupName="other")
    with pytest.raises(logs.exceptions.ResourceNotFoundException):
        logs.delete_log_group(logGroupName="other")
    with pytest.raises(logs.exceptions.InvalidParameterException):
        logs.create_log_group(logGroupName="bad name with spaces")


def test_tags(logs):
    logs.create_log_group(logGroupName="tagged", tags={"team": "cruddur"})
    logs.tag_log_group(logGroupName="tagged", tags={"env": "lab"})
    assert logs.list_tags_log_group(logGroupName="tagged")["tags"] == {"env": "lab", "team": "cruddur"}
    arn = "arn:aws:logs:us-east-1:123456789012:log-group:tagged"
    logs.untag_resource(resourceArn=arn, tagKeys=["env"])
    assert logs.list_tags_for_resource(resourceArn=arn)["tags"] == {"team": "cruddur"}
    with pytest.raises(logs.exceptions.ResourceNotFoundException):
        logs.list_tags_log_group(logGroupName="untagged-missing")


def test_streams_order_and_paging(logs):
    logs.create_log_group(logGroupName="g")
    t = now_ms()
    for i, name in enumerate(["c", "a", "b"]):
        logs.create_log_stream(logGroupName="g", logStreamName=name)
        logs.put_log_events(logGroupName="g", logStreamName=name, logEvents=[{"timestamp": t + i, "message": name}])
    with pytest.raises(logs.exceptions.ResourceAlreadyExistsException):
        logs.create_log_stream(logGroupName="g", logStreamName="a")
    with pytest.raises(logs.exceptions.ResourceNotFoundException):
        logs.create_log_stream(logGroupName="missing", logStreamName="a")
    by_name = logs.describe_log_streams(logGroupName="g")["logStreams"]
    assert [s["logStreamName"] for s in by_name] == ["a", "b", "c"]
    by_time = logs.describe_log_streams(logGroupName="g", orderBy="LastEventTime", descending=True)["logStreams"]
    assert [s["logStreamName"] for s in by_time] == ["b", "a", "c"]
    assert by_time[0]["lastEventTimestamp"] == t + 2
    page = logs.describe_log_streams(logGroupName="g", limit=2)
    rest = logs.describe_log_streams(logGroupName="g", limit=2, nextToken=page["nextToken"])
    assert [s["logStreamName"] for s in page["logStreams"] + rest["logStreams"]] == ["a", "b", "c"]
    assert "nextToken" not in rest
    with pytest.raises(logs.exceptions.InvalidParameterException):
        logs.describe_log_streams(logGroupName="g", orderBy="LastEventTime", logStreamNamePrefix="a")


def test_put_log_events_batch_rules(logs):
    logs.create_log_group(logGroupName="g")
    logs.create_log_stream(logGroupName="g", logStreamName="s")
    t = now_ms()
    # sequence tokens are accepted and not required
    r = logs.put_log_events(logGroupName="g", logStreamName="s", logEvents=[{"timestamp": t, "message": "one"}],
                            sequenceToken="whatever")
    assert "nextSequenceToken" in r and "rejectedLogEventsInfo" not in r
    bad = [
        [{"timestamp": t, "message": "b"}, {"timestamp": t - 1, "message": "a"}],              # out of order
        [{"timestamp": t - 25 * 3600 * 1000, "message": "a"}, {"timestamp": t, "message": "b"}],  # > 24 h span
        [{"timestamp": t, "message": "x" * 1000}] * 1030,                                       # > 1 MiB incl. 26 B/event
        [{"timestamp": t, "message": "x"}] * 10_001,                                            # > 10,000 events
    ]
    for events in bad:
        with pytest.raises(logs.exceptions.InvalidParameterException):
            logs.put_log_events(logGroupName="g", logStreamName="s", logEvents=events)
    # exactly at the size limit is fine: 1,048,576 = n * (len + 26)
    n = 1024
    size = 1_048_576 // n - 26
    logs.put_log_events(logGroupName="g", logStreamName="s", logEvents=[{"timestamp": t, "message": "y" * size}] * n)
    old = t - 15 * 86_400_000
    r = logs.put_log_events(logGroupName="g", logStreamName="s", logEvents=[
        {"timestamp": old, "message": "old1"}, {"timestamp": old + 1, "message": "old2"},
        {"timestamp": old + 2 * 86_400_000 - 3_600_000, "message": "kept"}][:2])
    assert r["rejectedLogEventsInfo"] == {"tooOldLogEventEndIndex": 2}
    r = logs.put_log_events(logGroupName="g", logStreamName="s", logEvents=[
        {"timestamp": t, "message": "now"}, {"timestamp": t + 3 * 3_600_000, "message": "future"}])
    assert r["rejectedLogEventsInfo"] == {"tooNewLogEventStartIndex": 1}
    messages = [e["message"] for e in logs.get_log_events(logGroupName="g", logStreamName="s", startFromHead=True,
                                                          limit=10_000)["events"]]
    assert messages.count("now") == 1 and "future" not in messages and "old1" not in messages
    assert len(messages) == 1 + n + 1
    with pytest.raises(logs.exceptions.ResourceNotFoundException):
        logs.put_log_events(logGroupName="g", logStreamName="nope", logEvents=[{"timestamp": t, "message": "x"}])
    with pytest.raises(logs.exceptions.ResourceNotFoundException):
        logs.put_log_events(logGroupName="nope", logStreamName="s", logEvents=[{"timestamp": t, "message": "x"}])


def test_retention_rejects_expired_events(logs):
    logs.create_log_group(logGroupName="g")
    logs.put_retention_policy(logGroupName="g", retentionInDays=1)
    logs.create_log_stream(logGroupName="g", logStreamName="s")
    t = now_ms()
    r = logs.put_log_events(logGroupName="g", logStreamName="s", logEvents=[
        {"timestamp": t - 2 * 86_400_000 + 60_000, "message": "expired"}, {"timestamp": t, "message": "ok"}][:1])
    assert r["rejectedLogEventsInfo"] == {"expiredLogEventEndIndex": 1}


def test_get_log_events_tokens_walk_both_ways(logs):
    logs.create_log_group(logGroupName="g")
    logs.create_log_stream(logGroupName="g", logStreamName="s")
    t = now_ms() - 10_000
    logs.put_log_events(logGroupName="g", logStreamName="s",
                        logEvents=[{"timestamp": t + i, "message": f"m{i}"} for i in range(25)])
    # default: the newest events
    last = logs.get_log_events(logGroupName="g", logStreamName="s", limit=10)
    assert [e["message"] for e in last["events"]] == [f"m{i}" for i in range(15, 25)]
    seen, token = [], None
    for _ in range(10):
        kwargs = {"nextToken": token} if token else {"startFromHead": True}
        page = logs.get_log_events(logGroupName="g", logStreamName="s", limit=10, **kwargs)
        seen += [e["message"] for e in page["events"]]
        if page["nextForwardToken"] == token:
            break
        token = page["nextForwardToken"]
    assert seen == [f"m{i}" for i in range(25)]
    back = logs.get_log_events(logGroupName="g", logStreamName="s", limit=10, nextToken=last["nextBackwardToken"])
    assert [e["message"] for e in back["events"]] == [f"m{i}" for i in range(5, 15)]
    logs.create_log_stream(logGroupName="g", logStreamName="empty")
    empty = logs.get_log_events(logGroupName="g", logStreamName="empty")
    assert empty["events"] == []
    logs.put_log_events(logGroupName="g", logStreamName="empty", logEvents=[{"timestamp": t, "message": "late"}])
    later = logs.get_log_events(logGroupName="g", logStreamName="empty", nextToken=empty["nextForwardToken"])
    assert [e["message"] for e in later["events"]] == ["late"]
    window = logs.get_log_events(logGroupName="g", logStreamName="s", startTime=t + 3, endTime=t + 6, startFromHead=True)
    assert [e["message"] for e in window["events"]] == ["m3", "m4", "m5"]


def test_filter_log_events_patterns_and_paging(logs):
    logs.create_log_group(logGroupName="g")
    t = now_ms() - 60_000
    docs = [{"level": "ERROR" if i % 4 == 0 else "INFO", "latency_ms": i * 10, "status": 500 if i % 5 == 0 else 200}
            for i in range(40)]
    for stream in ("a", "b"):
        logs.create_log_stream(logGroupName="g", logStreamName=stream)
        logs.put_log_events(logGroupName="g", logStreamName=stream,
                            logEvents=[{"timestamp": t + i, "message": json.dumps(d)} for i, d in enumerate(docs)])
    errors = logs.filter_log_events(logGroupName="g", filterPattern='{ $.level = "ERROR" }')["events"]
    assert len(errors) == 2 * sum(d["level"] == "ERROR" for d in docs)
    slow5xx = logs.filter_log_events(logGroupName="g", logStreamNames=["a"],
                                     filterPattern="{ $.latency_ms > 100 && $.status >= 500 }")["events"]
    assert len(slow5xx) == sum(d["latency_ms"] > 100 and d["status"] >= 500 for d in docs)
    assert {e["logStreamName"] for e in slow5xx} == {"a"}
    assert len(logs.filter_log_events(logGroupName="g", filterPattern="ERROR")["events"]) == len(errors)
    # paging with limit and nextToken reaches every event exactly once
    got, token = [], None
    for _ in range(50):
        page = logs.filter_log_events(logGroupName="g", limit=7, **({"nextToken": token} if token else {}))
        got += [e["eventId"] for e in page["events"]]
        token = page.get("nextToken")
        if not token:
            break
    assert len(got) == len(set(got)) == 80
    window = logs.filter_log_events(logGroupName="g", startTime=t + 10, endTime=t + 19)["events"]
    assert len(window) == 20
    with pytest.raises(logs.exceptions.InvalidParameterException):
        logs.filter_log_events(logGroupName="g", filterPattern="{ $.level = }")
    with pytest.raises(logs.exceptions.ResourceNotFoundException):
        logs.filter_log_events(logGroupName="missing")


def test_metric_filter_publishes_to_cloudwatch(logs):
    cw = boto3.client("cloudwatch")
    logs.create_log_group(logGroupName="cruddur-mf")
    logs.put_metric_filter(logGroupName="cruddur-mf", filterName="5xx", filterPattern="{ $.status >= 500 }",
                           metricTransformations=[{"metricName": "Http5xx", "metricNamespace": "Cruddur",
                                                   "metricValue": "1", "defaultValue": 0}])
    logs.put_metric_filter(logGroupName="cruddur-mf", filterName="latency", filterPattern="{ $.latency_ms = * }",
                           metricTransformations=[{"metricName": "LatencyMs", "metricNamespace": "Cruddur",
                                                   "metricValue": "$.latency_ms"}])
    filters = logs.describe_metric_filters(logGroupName="cruddur-mf")["metricFilters"]
    assert [f["filterName"] for f in filters] == ["5xx", "latency"]
    logs.create_log_stream(logGroupName="cruddur-mf", logStreamName="s")
    t = now_ms() - 5_000
    statuses = [200, 500, 200, 503, 404, 500, 200]
    latencies = [10, 20, 30, 40, 50, 60, 70]
    logs.put_log_events(logGroupName="cruddur-mf", logStreamName="s", logEvents=[
        {"timestamp": t + i, "message": json.dumps({"status": s, "latency_ms": ms})}
        for i, (s, ms) in enumerate(zip(statuses, latencies))])
    start = datetime.now(timezone.utc) - timedelta(minutes=10)
    end = datetime.now(timezone.utc) + timedelta(minutes=1)
    stats = cw.get_metric_statistics(Namespace="Cruddur", MetricName="Http5xx", StartTime=start, EndTime=end,
                                     Period=600, Statistics=["Sum", "SampleCount"])["Datapoints"]
    assert sum(d["Sum"] for d in stats) == sum(s >= 500 for s in statuses)
    assert sum(d["SampleCount"] for d in stats) == len(statuses)  # defaultValue 0 for the others
    lat = cw.get_metric_statistics(Namespace="Cruddur", MetricName="LatencyMs", StartTime=start, EndTime=end,
                                   Period=600, Statistics=["Maximum", "Sum"])["Datapoints"]
    assert max(d["Maximum"] for d in lat) == 70 and sum(d["Sum"] for d in lat) == sum(latencies)
    names = {m["MetricName"] for m in cw.list_metrics(Namespace="Cruddur")["Metrics"]}
    assert names == {"Http5xx", "LatencyMs"}
    logs.delete_metric_filter(logGroupName="cruddur-mf", filterName="latency")
    with pytest.raises(logs.exceptions.ResourceNotFoundException):
        logs.delete_metric_filter(logGroupName="cruddur-mf", filterName="latency")
    with pytest.raises(logs.exceptions.InvalidParameterException):
        logs.put_metric_filter(logGroupName="cruddur-mf", filterName="bad", filterPattern="{ $.x = }",
                               metricTransformations=[{"metricName": "X", "metricNamespace": "N", "metricValue": "1"}])


def test_test_metric_filter_extracts_delimited_fields(logs):
    res = logs.test_metric_filter(
        filterPattern="[ip, user, ..., status = 5*, bytes]",
        logEventMessages=['127.0.0.1 frank [10/Oct/2000:13:55:36 -0700] "GET /a.gif HTTP/1.0" 503 2326',
                          '127.0.0.1 frank [10/Oct/2000:13:55:36 -0700] "GET /a.gif HTTP/1.0" 200 2326'])
    assert [m["eventNumber"] for m in res["matches"]] == [1]
    values = res["matches"][0]["extractedValues"]
    assert values["$ip"] == "127.0.0.1" and values["$status"] == "503" and values["$bytes"] == "2326"


def test_deliver_for_other_stand_ins(cloud, logs):
    component = cloud.component("logs")
    with pytest.raises(Exception) as info:
        component.deliver("no-group", "s", [{"timestamp": now_ms(), "message": "x"}])
    assert "does not exist" in str(info.value)
    logs.create_log_group(logGroupName="trail")
    t = now_ms()
    assert component.deliver("trail", "123456789012_CloudTrail_us-east-1",
                             [{"timestamp": t + 1, "message": "b"}, {"timestamp": t, "message": "a"}]) == 2
    events = logs.get_log_events(logGroupName="trail", logStreamName="123456789012_CloudTrail_us-east-1",
                                 startFromHead=True)["events"]
    assert [e["message"] for e in events] == ["a", "b"]


def test_unknown_operation_and_garbage_body(cloud):
    import requests

    r = requests.post(cloud.aws_url, data=b"{not json", headers={
        "X-Amz-Target": "Logs_20140328.DescribeLogGroups", "Content-Type": "application/x-amz-json-1.1"})
    assert r.status_code == 400 and "__type" in r.json()
    r = requests.post(cloud.aws_url, data=b"{}", headers={
        "X-Amz-Target": "Logs_20140328.NoSuchThing", "Content-Type": "application/x-amz-json-1.1"})
    assert r.status_code == 400 and r.json()["__type"] == "UnknownOperationException"


def test_awscli(cloud):
    env = {**os.environ, **cloud.env()}

    def aws(*args):
        out = subprocess.run([str(AWS_CLI), "logs", *args, "--output", "json"], env=env, capture_output=True,
                             text=True, timeout=60)
        return out

    assert aws("create-log-group", "--log-group-name", "cli-group").returncode == 0
    r = aws("create-log-group", "--log-group-name", "cli-group")
    assert r.returncode != 0 and "ResourceAlreadyExistsException" in r.stderr
    assert aws("create-log-stream", "--log-group-name", "cli-group", "--log-stream-name", "s").returncode == 0
    t = now_ms()
    events = json.dumps([{"timestamp": t, "message": '{"status": 500}'}, {"timestamp": t + 1, "message": "plain"}])
    assert aws("put-log-events", "--log-group-name", "cli-group", "--log-stream-name", "s",
               "--log-events", events).returncode == 0
    r = aws("filter-log-events", "--log-group-name", "cli-group", "--filter-pattern", "{ $.status = 500 }")
    assert r.returncode == 0, r.stderr
    assert [e["message"] for e in json.loads(r.stdout)["events"]] == ['{"status": 500}']
    r = aws("start-query", "--log-group-name", "cli-group", "--start-time", str(t // 1000 - 60),
            "--end-time", str(t // 1000 + 60), "--query-string", "stats count(*) as n")
    assert r.returncode == 0, r.stderr
    qid = json.loads(r.stdout)["queryId"]
    for _ in range(50):
        r = aws("get-query-results", "--query-id", qid)
        if json.loads(r.stdout)["status"] == "Complete":
            break
        time.sleep(0.1)
    assert json.loads(r.stdout)["results"] == [[{"field": "n", "value": "2"}]]
    r = aws("describe-log-groups", "--log-group-name-prefix", "cli")
    assert [g["logGroupName"] for g in json.loads(r.stdout)["logGroups"]] == ["cli-group"]


def test_watchtower_unchanged(logs):
    import watchtower

    logger = logging.getLogger("test-watchtower-local")
    logger.setLevel(logging.INFO)
    logger.propagate = False
    handler = watchtower.CloudWatchLogHandler(log_group_name="wt-group", log_stream_name="wt-stream",
                                              send_interval=60, create_log_group=True)
    logger.addHandler(handler)
    try:
        for i in range(5):
            logger.info({"event": "request", "i": i})
        logger.info("plain text line")
        handler.flush()
    finally:
        logger.removeHandler(handler)
        handler.close()
    events = logs.get_log_events(logGroupName="wt-group", logStreamName="wt-stream", startFromHead=True)["events"]
    assert len(events) == 6
    assert json.loads(events[0]["message"]) == {"event": "request", "i": 0}
    assert events[-1]["message"] == "plain text line"


def test_data_survives_restart(tmp_path):
    from lab_app.localcloud.logs import Logs
    from lab_app.localcloud.server import LocalCloud

    def start():
        return LocalCloud(tmp_path / "lab", aws_port=0, otlp_port=0, daemon_port=0,
                          components=[Logs]).start()

    lc = start()
    client = boto3.client("logs", endpoint_url=lc.aws_url, region_name="us-east-1", aws_access_key_id="testing",
                          aws_secret_access_key="testing")  # pragma: allowlist secret
    client.create_log_group(logGroupName="durable")
    client.create_log_stream(logGroupName="durable", logStreamName="s")
    client.put_log_events(logGroupName="durable", logStreamName="s",
                          logEvents=[{"timestamp": now_ms(), "message": f"m{i}"} for i in range(3)])
    lc.stop()
    lc = start()
    try:
        client = boto3.client("logs", endpoint_url=lc.aws_url, region_name="us-east-1", aws_access_key_id="testing",
                          aws_secret_access_key="testing")  # pragma: allowlist secret
        client.put_log_events(logGroupName="durable", logStreamName="s",
                              logEvents=[{"timestamp": now_ms(), "message": "m3"}])
        events = client.get_log_events(logGroupName="durable", logStreamName="s", startFromHead=True)["events"]
        assert [e["message"] for e in events] == ["m0", "m1", "m2", "m3"]
    finally:
        lc.stop()
