"""Notebook 06's "your app.py now" (the seed's final app.py) runs verbatim; all four pillars arrive, joined by trace ids."""
from __future__ import annotations

import datetime as dt
import json

import boto3
import requests
from app_files import app_source, run_app
from xray_helpers import wait_for

from lab_app.query import rollbar as rollbar_q
from lab_app.query import spans as spans_q
from lab_app.runner import free_port
from lab_app.services import downstream


def test_the_file_is_the_whole_set_up():
    name, source = app_source("06_correlate_the_pillars")
    assert name == "app_06.py"
    compile(source, name, "exec")


def test_app_06_four_pillars_one_trace(cloud, tmp_path):
    env = {**cloud.env(), "OTEL_SERVICE_NAME": "backend-flask", "OTEL_BSP_SCHEDULE_DELAY": "200"}
    aws = env["AWS_ENDPOINT_URL"]
    with downstream.start(otel=True, xray=True, port=0) as notifications:
        with run_app("06_correlate_the_pillars", tmp_path, {**env, "NOTIFICATIONS_URL": notifications.url},
                     free_port()) as (url, _):
            cross = requests.get(url + "/api/activities/notifications", timeout=5)
            assert cross.status_code == 200
            boom = requests.post(url + "/api/activities", data="not json", timeout=5)  # a handled 400, no report
            assert boom.status_code == 400
            hello = requests.get(url + "/rollbar/test", timeout=5)
            assert hello.text == "Hello World!"
    xray_id = dict(p.split("=", 1) for p in cross.headers["X-Amzn-Trace-Id"].split(";"))["Root"]

    # OpenTelemetry: the backend's spans and the downstream's, one trace; no span of Rollbar's own POST
    def otel_trace():
        frame = spans_q.local_spans(aws_endpoint=aws)
        crossing = frame[frame["name"] == "GET /api/activities/notifications"]
        if crossing.empty:
            return None
        in_trace = frame[frame["trace_id"] == crossing["trace_id"].iloc[0]]
        return [frame, in_trace] if {"backend-flask", "notifications"} <= set(in_trace["service"]) else None

    frame, in_trace = wait_for(otel_trace, timeout=10)
    assert not frame["attributes"].map(lambda a: "/api/1/item" in str(a.get("http.url", ""))).any()
    otel_id = in_trace["trace_id"].iloc[0]

    # X-Ray: backend and downstream segments in one trace
    xray = boto3.client("xray", endpoint_url=aws)
    [doc_names] = wait_for(lambda: (lambda t: [[json.loads(s["Document"])["name"] for s in t[0]["Segments"]]]
                                    if t and len(t[0]["Segments"]) == 2 else None)(
        xray.batch_get_traces(TraceIds=[xray_id])["Traces"]), timeout=10)
    assert sorted(doc_names) == ["backend-flask", "notifications"]

    # CloudWatch Logs: the access line carries both trace ids
    logs = boto3.client("logs", endpoint_url=aws)
    now = dt.datetime.now(dt.timezone.utc)

    def access_lines():
        events = logs.filter_log_events(logGroupName="cruddur", logStreamNames=["backend-flask/access-json"],
                                        startTime=int((now - dt.timedelta(minutes=5)).timestamp() * 1000))["events"]
        lines = [json.loads(e["message"]) for e in events]
        return [line for line in lines if line.get("path") == "/api/activities/notifications"] or None

    [line] = wait_for(access_lines, timeout=10)
    assert line["otel_trace_id"] == otel_id and line["xray_trace_id"] == xray_id and line["status"] == 200

    # Rollbar: the /rollbar/test message arrived (thread handler; the app flushed at exit)
    [items] = wait_for(lambda: (lambda f: [f] if len(f) and (f["title"] == "Hello World!").any() else None)(
        rollbar_q.items()), timeout=10)
    assert set(items.loc[items["title"] == "Hello World!", "level"]) == {"warning"}
