"""The notifications service as its own process: zero-code OpenTelemetry, X-Ray from its environment, faults, lifecycle."""
from __future__ import annotations

import json
import os
import socket

import boto3
import pytest
import requests
from xray_helpers import wait_for

from lab_app.query import spans as spans_q
from lab_app.runner import PortInUseError, free_port
from lab_app.services import Fault, Faults, downstream


def _stored(env, predicate):
    frame = spans_q.local_spans(aws_endpoint=env["AWS_ENDPOINT_URL"], dataset="notifications")
    return [frame] if len(frame) and predicate(frame) else None


def test_zero_code_spans_come_from_another_process(cloud):
    with downstream.start(otel=True, port=0) as notifications:
        assert notifications.pid != os.getpid()
        assert notifications.command[0].endswith("opentelemetry-instrument")
        assert notifications.environment()["OTEL_SERVICE_NAME"] == "notifications"
        answer = requests.get(notifications.url + "/api/notifications/@andrewbrown", timeout=5)
        assert answer.status_code == 200 and answer.json()["notifications"]
        pid = notifications.pid
    [stored] = wait_for(lambda: _stored(cloud.env(), lambda f: "notifications-lookup" in set(f["name"])), timeout=10)
    server = stored[stored["kind"] == "server"].iloc[0]
    lookup = stored[stored["name"] == "notifications-lookup"].iloc[0]
    assert server["name"] == "GET /api/notifications/@<handle>"
    assert lookup["parent_id"] == server["span_id"] and lookup["attributes"]["app.user"] == "andrewbrown"
    assert server["resource_attributes"]["process.pid"] == pid != os.getpid()


def test_xray_segments_follow_aws_xray_sdk_enabled(cloud):
    with downstream.start(otel=False, xray=True, port=0) as notifications:
        assert requests.get(notifications.url + "/api/notifications/@andrewbrown", timeout=5).status_code == 200
    xray = boto3.client("xray", endpoint_url=cloud.env()["AWS_ENDPOINT_URL"])

    def summaries():
        import datetime as dt

        now = dt.datetime.now(dt.timezone.utc)
        found = xray.get_trace_summaries(
            StartTime=now - dt.timedelta(minutes=5), EndTime=now + dt.timedelta(minutes=1),
                                         FilterExpression='service("notifications") AND http.url CONTAINS "/api/notifications/"')["TraceSummaries"]
        return found or None

    assert len(wait_for(summaries, timeout=10)) == 1


def test_faults_reach_the_child_and_are_deterministic(cloud):
    faults = Faults({"notifications:GET /api/notifications/@<handle>": Fault(error_rate=0.5)}, seed=3)
    runs = []
    for _ in range(2):
        with downstream.start(otel=False, faults=faults, port=0) as notifications:
            runs.append([requests.get(notifications.url + "/api/notifications/@andrewbrown", timeout=5).status_code
                         for _ in range(20)])
    assert runs[0] == runs[1] and set(runs[0]) == {200, 503}
    assert Faults.from_json(faults.to_json()).rules == faults.rules


def test_bad_fault_spec_is_a_clear_error():
    with pytest.raises(ValueError, match="CRUDDUR_FAULTS"):
        Faults.from_json("{not json")
    assert json.loads(Faults.none().to_json()) == {"seed": 0, "rules": {}}


def test_restart_on_the_same_port_and_a_taken_port(cloud):
    port = free_port()
    first = downstream.start(otel=False, port=port)
    second = downstream.start(otel=False, port=port)  # a re-run cell: the first process is replaced
    try:
        assert first.pid is None and second.running and second.port == port
        assert requests.get(second.url + "/health", timeout=5).json()["pid"] == second.pid
    finally:
        second.stop()
    assert not second.running
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        with pytest.raises(PortInUseError, match="already in use"):
            downstream.start(otel=False, port=taken.getsockname()[1])


def test_a_child_that_cannot_start_says_why(cloud):
    with pytest.raises(downstream.DownstreamError, match="CRUDDUR_FAULTS"):
        downstream.start(otel=False, port=0, extra_env={"CRUDDUR_FAULTS": "{broken"})


@pytest.mark.parametrize("how", ["exits", "killed"])
def test_the_child_stops_with_the_kernel_that_started_it(cloud, how):
    """A notebook kernel that exits (atexit) or is killed -9 (the child watches its parent) leaves nothing behind."""
    import signal
    import subprocess
    import sys

    script = ("import time\nfrom lab_app.services import downstream\n"
              "d = downstream.start(otel=False, port=0)\nprint(d.pid, flush=True)\n"
              + ("time.sleep(60)\n" if how == "killed" else ""))
    kernel = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    child = int(kernel.stdout.readline())
    if how == "killed":
        kernel.send_signal(signal.SIGKILL)
    kernel.wait(20)

    def gone():
        try:
            os.kill(child, 0)
        except ProcessLookupError:
            return True
        return False

    assert wait_for(gone, timeout=5)
