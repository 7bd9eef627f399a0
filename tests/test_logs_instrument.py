"""watchtower access logs from the running services, read back with the Insights query helper."""
from __future__ import annotations

import json

import boto3
import pandas as pd
import pytest

from lab_app import services, traffic
from lab_app.instrument import cloudwatch
from lab_app.query import insights


@pytest.fixture
def stack(cloud):
    cloudwatch.shutdown()
    stack = services.start(instrument=[cloudwatch.instrument_app], backend_port=0,
                           downstream_port=0)
    yield stack
    stack.stop()
    cloudwatch.shutdown()


def test_access_logs_match_traffic(stack):
    sent = traffic.generate(stack.backend_url, n=40, concurrency=4, seed=3, progress=False)
    cloudwatch.flush()
    df = insights.run_query(
        "filter service = 'backend-flask' | stats count(*) as n by method, route, status", log_groups="cruddur")
    assert df["n"].dtype.kind == "i" and df["status"].dtype.kind == "i"
    assert df["n"].sum() == len(sent)
    got = df.groupby(["method", "route", "status"]).n.sum()
    want = sent.groupby(["method", "route", "status"]).size()
    assert got.to_dict() == want.to_dict()
    # every backend request also shows up as a plain-text line in the text stream
    text = insights.filter_events("cruddur", streams=[cloudwatch.stream_names("backend-flask")["text"]])
    assert len(text) == len(sent)
    parsed = insights.run_query(
        "filter @logStream = 'backend-flask/access-text' "
        "| parse @message '* * \"* *\" * *ms route=* request_id=* trace=*' as ip, user, method, path, status, ms, "
        "route, rid, trace | stats count(*) as n, max(ms) as slowest by status")
    assert parsed["n"].sum() == len(sent)
    assert parsed["slowest"].max() > 0
    # the request id in the log is the one the client saw
    ids = insights.run_query("filter service = 'backend-flask' | fields request_id, @timestamp | limit 1000")
    assert set(ids.request_id) == set(sent.request_id)
    assert isinstance(ids["@timestamp"].dtype, pd.DatetimeTZDtype)


def test_instrumenting_twice_adds_no_duplicate_lines(cloud):
    cloudwatch.shutdown()
    from flask import Flask

    app = Flask("dup")

    @app.get("/ping")
    def ping():
        return "pong"

    cloudwatch.instrument_app(app, "dup-service")
    cloudwatch.instrument_app(app, "dup-service")
    assert len(cloudwatch.access_logger("dup-service", "json").handlers) == 1
    client = app.test_client()
    for _ in range(3):
        assert client.get("/ping").status_code == 200
    cloudwatch.flush()
    logs = boto3.client("logs")
    events = logs.get_log_events(logGroupName="cruddur", logStreamName="dup-service/access-json",
                                 startFromHead=True)["events"]
    assert len(events) == 3
    doc = json.loads(events[0]["message"])
    assert doc["route"] == "/ping" and doc["status"] == 200 and doc["level"] == "INFO" and doc["latency_ms"] >= 0
    cloudwatch.shutdown()


def test_query_helper_errors(cloud):
    logs = boto3.client("logs")
    logs.create_log_group(logGroupName="helper")
    with pytest.raises(logs.exceptions.MalformedQueryException):
        insights.run_query("stats count(*) by", log_groups="helper")
    empty = insights.run_query("fields @message", log_groups="helper")
    assert empty.empty and empty.attrs["statistics"]["recordsScanned"] == 0


def test_new_endpoint_gets_a_new_handler(cloud, monkeypatch):
    """After the local cloud moves (another port), the next instrument call writes to the new endpoint."""
    cloudwatch.shutdown()
    first = list(cloudwatch.access_logger("moving-service", "json").handlers)
    assert len(first) == 1
    monkeypatch.setenv("AWS_ENDPOINT_URL_CLOUDWATCH_LOGS", cloud.aws_url.replace("127.0.0.1", "localhost"))
    second = cloudwatch.access_logger("moving-service", "json").handlers
    assert len(second) == 1 and second[0] is not first[0]
    assert second[0]._lab_endpoint.startswith("http://localhost:")
    cloudwatch.shutdown()


def test_no_line_is_lost_while_the_first_batch_goes_out(cloud):
    """The stream exists before the first record, so watchtower never drops records while creating it."""
    import threading

    cloudwatch.shutdown()
    logger = cloudwatch.access_logger("busy-service", "json", send_interval=0.02)
    stream = cloudwatch.stream_names("busy-service")["json"]
    logs = boto3.client("logs")
    names = [s["logStreamName"] for s in logs.describe_log_streams(logGroupName="cruddur")["logStreams"]]
    assert stream in names  # created up front, before anything was logged

    def burst(worker: int) -> None:
        for i in range(400):
            logger.info({"worker": worker, "i": i})

    threads = [threading.Thread(target=burst, args=(w,)) for w in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    cloudwatch.flush()
    got = insights.filter_events("cruddur", streams=[stream], max_events=5000)
    pairs = {(json.loads(m)["worker"], json.loads(m)["i"]) for m in got["message"]}
    assert len(got) == len(pairs) == 6 * 400
    cloudwatch.shutdown()
