"""Notebook 03's "your app.py now" runs verbatim as its own process; its segments and the downstream's join one trace."""
from __future__ import annotations

import datetime as dt
import json
import time

import boto3
import requests
from app_files import app_source, run_app
from xray_helpers import wait_for

from lab_app.runner import free_port
from lab_app.services import downstream


def test_the_file_is_the_whole_set_up():
    name, source = app_source("03_aws_xray")
    assert name == "app_03.py"
    compile(source, name, "exec")
    for call in ("XRayMiddleware(app, xray_recorder)", 'patch(["requests"])', "in_subsegment("):
        assert call in source


def test_app_03_segments_reach_the_daemon_and_join_the_downstream(cloud, tmp_path):
    xray = boto3.client("xray", endpoint_url=cloud.env()["AWS_ENDPOINT_URL"])
    with downstream.start(otel=False, xray=True, port=0) as notifications:
        env = {**cloud.env(), "NOTIFICATIONS_URL": notifications.url}
        with run_app("03_aws_xray", tmp_path, env, free_port()) as (url, _):
            user = requests.get(url + "/api/activities/@andrewbrown", timeout=5)
            time.sleep(1.1)  # default sampling keeps the first request of each second: the next one starts its own
            cross = requests.get(url + "/api/activities/notifications", timeout=5)
    roots = [dict(p.split("=", 1) for p in r.headers["X-Amzn-Trace-Id"].split(";"))["Root"] for r in (user, cross)]

    def traces():
        found = {t["Id"]: t for t in xray.batch_get_traces(TraceIds=roots)["Traces"]}
        ready = roots[0] in found and len(found.get(roots[1], {}).get("Segments", [])) == 2
        return list(found.values()) if ready else None

    by_id = {t["Id"]: [json.loads(s["Document"]) for s in t["Segments"]] for t in wait_for(traces, timeout=10)}
    [user_segment] = by_id[roots[0]]
    assert user_segment["name"] == "backend-flask"
    sub = next(s for s in user_segment["subsegments"] if s["name"] == "user-activities-mock-data")
    assert sub["annotations"] == {"user_handle": "andrewbrown", "result_length": sub["annotations"]["result_length"]}
    assert sub["metadata"]["cruddur"]["request"]["user"] == "andrewbrown"
    assert {d["name"] for d in by_id[roots[1]]} == {"backend-flask", "notifications"}
    now = dt.datetime.now(dt.timezone.utc)
    assert xray.get_trace_summaries(StartTime=now - dt.timedelta(minutes=5), EndTime=now,
                                    FilterExpression='annotation.user_handle = "andrewbrown"')["TraceSummaries"]
