"""Notebook 04's "your app.py now" runs verbatim as its own process and its access lines reach CloudWatch Logs."""
from __future__ import annotations

import json

import boto3
import requests
from app_files import app_source, run_app

from lab_app.runner import free_port

JSON_STREAM = "backend-flask/access-json"
TEXT_STREAM = "backend-flask/access-text"


def test_the_file_is_the_whole_set_up():
    name, source = app_source("04_cloudwatch_logs")
    assert name == "app_04.py"
    compile(source, name, "exec")
    for call in ('logging.getLogger("cruddur.access")', "LOGGER.propagate = False", "LOGGER.setLevel(logging.INFO)",
                 "watchtower.CloudWatchLogHandler(log_group_name=LOG_GROUP", "boto3_client=logs",
                 "logs.create_log_stream(", "ResourceAlreadyExistsException", "@app.after_request",
                 "LOGGER.info(record)", 'if __name__ == "__main__":'):
        assert call in source, call
    assert "log_group=" not in source and "LOGGER.error" not in source and "DEBUG" not in source


def _events(logs, stream: str) -> list[str]:
    return [e["message"] for e in logs.get_log_events(logGroupName="cruddur", logStreamName=stream,
                                                      startFromHead=True)["events"]]


def test_app_04_ships_one_json_and_one_text_line_per_request(cloud, tmp_path):
    env = cloud.env()
    paths = ["/api/activities/home", "/api/activities/@andrewbrown", "/api/activities/@nobody",
             "/api/activities/search?term=cloud"]
    with run_app("04_cloudwatch_logs", tmp_path, env, free_port()) as (url, _proc):
        responses = [requests.get(url + path, headers={"X-Cruddur-User": "andrewbrown"}, timeout=10)
                     for path in paths]
        ids = [r.headers["X-Request-Id"] for r in responses]
    # run_app's exit sent Ctrl-C: the process ended normally and logging.shutdown flushed watchtower
    assert [r.status_code for r in responses] == [200, 200, 404, 200]

    logs = boto3.client("logs", endpoint_url=env["AWS_ENDPOINT_URL_CLOUDWATCH_LOGS"],
                        region_name=env["AWS_DEFAULT_REGION"])
    records = [json.loads(m) for m in _events(logs, JSON_STREAM)]
    by_id = {r["request_id"]: r for r in records}
    assert set(ids) <= set(by_id), f"access lines missing for {set(ids) - set(by_id)}; got {records}"
    for path, rid, response in zip(paths, ids, responses):
        record = by_id[rid]
        assert record["type"] == "access" and record["level"] == "INFO" and record["service"] == "backend-flask"
        assert record["method"] == "GET" and record["path"] == path.split("?")[0]
        assert record["status"] == response.status_code
        assert isinstance(record["latency_ms"], float) and record["latency_ms"] >= 0
        assert record["user"] == "andrewbrown"
    assert by_id[ids[1]]["route"] == by_id[ids[2]]["route"] == "/api/activities/@<handle>"

    text = _events(logs, TEXT_STREAM)
    for path, rid, response in zip(paths, ids, responses):
        [line] = [t for t in text if f"request_id={rid}" in t]
        assert f'"GET {path}" {response.status_code} ' in line, line

    stream_names = {s["logStreamName"] for s in logs.describe_log_streams(logGroupName="cruddur")["logStreams"]}
    assert {JSON_STREAM, TEXT_STREAM} <= stream_names
