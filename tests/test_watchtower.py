"""watchtower against the local cloud: what notebooks 04 and 06 rely on, and the FACTS behind their set-up.

The notifications process logs its access lines the same way (lab_app/services/notifications.py).
"""
from __future__ import annotations

import json
import logging
import threading

import boto3
import pytest
import watchtower

from conftest import Cruddur
from lab_app import traffic
from lab_app.query import insights


def _handler(stream: str, create_stream_first: bool) -> tuple[logging.Logger, watchtower.CloudWatchLogHandler]:
    logs = boto3.client("logs")
    try:
        logs.create_log_group(logGroupName="cruddur")
    except logs.exceptions.ResourceAlreadyExistsException:
        pass
    if create_stream_first:
        logs.create_log_stream(logGroupName="cruddur", logStreamName=stream)
    handler = watchtower.CloudWatchLogHandler(log_group_name="cruddur", log_stream_name=stream, boto3_client=logs,
                                              send_interval=0.02, create_log_group=False)
    logger = logging.getLogger(f"test.watchtower.{stream}")
    logger.setLevel(logging.INFO)
    logger.propagate = False
    logger.handlers = [handler]
    return logger, handler


def _burst(logger: logging.Logger, workers: int = 6, each: int = 400) -> None:
    def run(worker: int) -> None:
        for i in range(each):
            logger.info({"worker": worker, "i": i})

    threads = [threading.Thread(target=run, args=(w,)) for w in range(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def test_no_record_is_lost_when_the_stream_is_created_up_front(cloud):
    """FACTS: watchtower 3.4 drops records other threads emit while it creates a stream itself (seen as 3-4 of 500
    lines lost under traffic). Notebooks 04 and 06 create the stream first: then 6 threads x 400 records all arrive."""
    logger, handler = _handler("busy", create_stream_first=True)
    _burst(logger)
    handler.flush()
    handler.close()
    got = insights.filter_events("cruddur", streams=["busy"], max_events=5000)
    pairs = {(json.loads(m)["worker"], json.loads(m)["i"]) for m in got["message"]}
    assert len(got) == len(pairs) == 6 * 400


def test_the_notifications_process_logs_one_json_line_per_request(cloud):
    from lab_app.services.downstream import DownstreamProcess

    with DownstreamProcess(0, otel=False, log_group="cruddur") as notifications:
        for _ in range(5):
            assert traffic.send("GET", notifications.url + "/api/notifications/@andrewbrown").status_code == 200
    got = insights.filter_events("cruddur", streams=["notifications/access-json"])
    lines = [json.loads(m) for m in got["message"]]
    lookups = [line for line in lines if line["path"] == "/api/notifications/@andrewbrown"]
    assert len(lookups) == 5 and {line["status"] for line in lookups} == {200}
    assert {line["route"] for line in lookups} == {"/api/notifications/@<handle>"}


def test_query_helper_errors(cloud):
    logs = boto3.client("logs")
    logs.create_log_group(logGroupName="helper")
    with pytest.raises(logs.exceptions.MalformedQueryException):
        insights.run_query("stats count(*) by", log_groups="helper")
    empty = insights.run_query("fields @message", log_groups="helper")
    assert empty.empty and empty.attrs["statistics"]["recordsScanned"] == 0


def test_backend_without_instrumentation_logs_nothing(cloud):
    with Cruddur() as stack:
        assert traffic.send("GET", stack.backend_url + "/api/activities/home").status_code == 200
    logs = boto3.client("logs")
    assert logs.describe_log_groups(logGroupNamePrefix="cruddur")["logGroups"] == []
