"""Notebook 02's "your app.py now" runs verbatim as its own process and its spans reach the Honeycomb stand-in."""
from __future__ import annotations

import os

import requests
from app_files import app_source, run_app
from xray_helpers import wait_for

from lab_app.query import spans as spans_q
from lab_app.runner import free_port
from lab_app.services import downstream


def test_the_file_is_the_whole_set_up():
    name, source = app_source("02_opentelemetry_honeycomb")
    assert name == "app_02.py"
    compile(source, name, "exec")
    for call in ("trace.set_tracer_provider(provider)", "FlaskInstrumentor().instrument_app(app)",
                 "RequestsInstrumentor().instrument()", "BatchSpanProcessor(OTLPSpanExporter())"):
        assert call in source


def test_app_02_sends_its_spans_and_joins_the_downstream_trace(cloud, tmp_path):
    with downstream.start(otel=True, port=0) as notifications:
        env = {**cloud.env(), "OTEL_SERVICE_NAME": "backend-flask", "NOTIFICATIONS_URL": notifications.url,
               "OTEL_BSP_SCHEDULE_DELAY": "200"}
        with run_app("02_opentelemetry_honeycomb", tmp_path, env, free_port()) as (url, proc):
            home = requests.get(url + "/api/activities/home", timeout=5)
            cross = requests.get(url + "/api/activities/notifications", timeout=5)
            assert home.status_code == cross.status_code == 200
            app_pid = proc.pid
        notifications.stop()
    [stored] = wait_for(lambda: _spans_when(lambda f: {"backend-flask", "notifications"} <= set(f["service"]),
                                            cloud.env()), timeout=10)
    backend = stored[stored["service"] == "backend-flask"]
    assert {"GET /api/activities/home", "home-activities-mock-data", "GET /api/activities/notifications"} \
        <= set(backend["name"])
    custom = backend[backend["name"] == "home-activities-mock-data"].iloc[0]
    assert custom["attributes"]["app.result_length"] > 0
    server = stored[(stored["service"] == "notifications") & (stored["kind"] == "server")].iloc[0]
    client = stored.set_index("span_id").loc[server["parent_id"]]
    assert client["service"] == "backend-flask" and client["kind"] == "client"
    # the downstream span was made by another process than the app's (and than this test's)
    assert server["resource_attributes"]["process.pid"] not in (app_pid, os.getpid())


def _spans_when(predicate, env):
    frame = spans_q.local_spans(aws_endpoint=env["AWS_ENDPOINT_URL"])
    return [frame] if len(frame) and predicate(frame) else None
