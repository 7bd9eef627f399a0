"""The local cloud as a real background process: start/attach, busy ports, status, env, reset, kill -9 durability."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time

import pytest
import requests
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import lab_app.localcloud as localcloud
from conftest import free_udp_tcp_port
from lab_app import config
from lab_app.localcloud import client
from lab_app.localcloud.server import LOG_FILE, PID_FILE
from lab_app.runner import free_port


@pytest.fixture
def ports(tmp_path):
    spec = {"data_dir": tmp_path / "lab", "aws_port": free_port(), "otlp_port": free_port(),
            "daemon_port": free_udp_tcp_port()}
    yield spec
    localcloud.stop(spec["data_dir"], spec["aws_port"])


def start(spec):
    return localcloud.start(spec["data_dir"], spec["aws_port"], spec["otlp_port"], spec["daemon_port"],
                            set_environ=False, timeout=90)


def export_spans(info, n: int, service: str = "durable") -> set[str]:
    """Export n spans with the real exporter; returns their span ids once the export was acknowledged."""
    memory = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource.create({"service.name": service}))
    provider.add_span_processor(SimpleSpanProcessor(memory))
    tracer = provider.get_tracer("durability")
    for i in range(n):
        with tracer.start_as_current_span(f"op-{i}"):
            pass
    spans = memory.get_finished_spans()
    exporter = OTLPSpanExporter(endpoint=info.otlp_url + "/v1/traces",
                                headers={"x-honeycomb-team": config.LOCAL_HONEYCOMB_KEY})
    assert exporter.export(spans) is SpanExportResult.SUCCESS
    return {f"{s.context.span_id:016x}" for s in spans}


def stored_span_ids(info) -> set[str]:
    answer = requests.get(info.aws_url + "/_localcloud/honeycomb/spans", params={"limit": 100000},
                          headers=localcloud.control_headers(info.aws_port), timeout=30).json()
    return {row["span_id"] for row in answer["spans"]}


def test_start_is_idempotent_and_status_counts(ports):
    first = start(ports)
    assert not first.attached and first.pid
    second = start(ports)
    assert second.attached and second.pid == first.pid
    assert (ports["data_dir"] / LOG_FILE).exists()
    export_spans(first, 5)
    requests.post(first.aws_url + "/api/1/item/", json={"data": {"body": {"message": {"body": "hi"}}}},
                  headers={"X-Rollbar-Access-Token": config.LOCAL_ROLLBAR_TOKEN}, timeout=10).raise_for_status()
    status = localcloud.status(ports["aws_port"])
    assert status["pid"] == first.pid
    assert status["components"]["honeycomb"]["spans"] == 5
    assert status["components"]["rollbar"] == {"items": 1, "occurrences": 1}
    cli = subprocess.run([sys.executable, "-m", "lab_app.localcloud", "status", "--aws-port", str(ports["aws_port"])],
                         capture_output=True, text=True, timeout=60, cwd=str(config.REPO_ROOT))
    assert cli.returncode == 0 and "spans=5" in cli.stdout and "occurrences=1" in cli.stdout
    assert localcloud.reset(ports["data_dir"], ports["aws_port"]) == "running stack reset"
    assert localcloud.status(ports["aws_port"])["components"]["honeycomb"]["spans"] == 0
    assert localcloud.stop(ports["data_dir"], ports["aws_port"]) is True
    assert localcloud.status(ports["aws_port"]) is None
    assert localcloud.stop(ports["data_dir"], ports["aws_port"]) is False
    removed = localcloud.reset(ports["data_dir"], ports["aws_port"])  # stopped: the store file goes
    assert removed.startswith("removed ") and not list(ports["data_dir"].glob("localcloud.duckdb*"))


def test_other_aws_services_answer_through_the_gateway(ports, monkeypatch):
    import boto3

    info = start(ports)
    for key, value in info.env().items():
        monkeypatch.setenv(key, value)
    assert boto3.client("sts").get_caller_identity()["Account"] == "123456789012"
    arn = boto3.client("sns").create_topic(Name="lab-alerts")["TopicArn"]
    assert arn.endswith(":lab-alerts")
    boto3.client("cloudwatch").put_metric_data(Namespace="Lab", MetricData=[{"MetricName": "m", "Value": 1.0}])
    assert boto3.client("cloudwatch").list_metrics(Namespace="Lab")["Metrics"][0]["MetricName"] == "m"
    assert boto3.client("events").put_events(Entries=[{"Source": "lab", "DetailType": "t", "Detail": "{}"}])[
        "FailedEntryCount"] == 0


def test_busy_port_fails_with_a_clear_message(ports):
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as blocker:
        blocker.bind((config.HOST, ports["otlp_port"]))
        blocker.listen(1)
        with pytest.raises(localcloud.LocalCloudError) as err:
            start(ports)
    message = str(err.value)
    assert str(ports["otlp_port"]) in message and "OTLP" in message and "taken" in message


def test_env_reflects_chosen_ports(ports):
    env = localcloud.env(ports["data_dir"], ports["aws_port"], ports["otlp_port"], ports["daemon_port"])
    assert env["AWS_ENDPOINT_URL"] == f"http://127.0.0.1:{ports['aws_port']}"
    assert env["OTEL_EXPORTER_OTLP_ENDPOINT"] == f"http://127.0.0.1:{ports['otlp_port']}"
    assert env["ROLLBAR_ENDPOINT"] == f"http://127.0.0.1:{ports['aws_port']}/api/1/"
    assert env["AWS_XRAY_DAEMON_ADDRESS"] == f"127.0.0.1:{ports['daemon_port']}"
    cli = subprocess.run([sys.executable, "-m", "lab_app.localcloud", "env", "--aws-port", str(ports["aws_port"]),
                          "--otlp-port", str(ports["otlp_port"])], capture_output=True, text=True, timeout=60,
                         cwd=str(config.REPO_ROOT))
    assert cli.returncode == 0
    assert f"export OTEL_EXPORTER_OTLP_ENDPOINT='http://127.0.0.1:{ports['otlp_port']}'" in cli.stdout.splitlines()


def test_acknowledged_spans_survive_kill_9(ports):
    info = start(ports)
    acknowledged = export_spans(info, 40)
    acknowledged |= export_spans(info, 3, service="second")
    os.kill(info.pid, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:  # our own child: reap it, or kill(pid, 0) keeps finding the zombie
            if os.waitpid(info.pid, os.WNOHANG)[0] == info.pid:
                break
        except ChildProcessError:
            break
        time.sleep(0.05)
    else:
        pytest.fail("the killed process is still there")
    restarted = start(ports)
    assert not restarted.attached and restarted.pid != info.pid
    assert stored_span_ids(restarted) == acknowledged
    assert localcloud.status(ports["aws_port"])["components"]["honeycomb"]["datasets"] == 2


def kill_9(pid: int) -> None:
    os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            if os.waitpid(pid, os.WNOHANG)[0] == pid:
                return
        except ChildProcessError:
            return
        time.sleep(0.05)
    pytest.fail("the killed process is still there")


def test_a_stack_running_older_code_is_restarted_and_keeps_its_data(ports, monkeypatch, capsys):
    first = start(ports)
    acknowledged = export_spans(first, 4)
    assert localcloud.health(ports["aws_port"])["code"] == client.code_version()
    monkeypatch.setattr(client, "code_version", lambda: "0123456789abcdef")   # the checkout changed since
    second = start(ports)
    assert not second.attached and second.pid != first.pid
    assert "started from other code than this checkout has now" in capsys.readouterr().out
    assert stored_span_ids(second) == acknowledged


def test_a_stack_of_another_data_dir_is_attached_not_restarted(ports, monkeypatch, tmp_path):
    first = start(ports)
    monkeypatch.setattr(client, "code_version", lambda: "0123456789abcdef")
    other = localcloud.start(tmp_path / "someone-elses", ports["aws_port"], ports["otlp_port"],
                             ports["daemon_port"], set_environ=False, timeout=90)
    assert other.attached and other.pid == first.pid


def test_stop_after_kill_9_leaves_a_process_that_took_the_stale_pid_alone(ports):
    info = start(ports)
    kill_9(info.pid)
    stranger = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        (ports["data_dir"] / PID_FILE).write_text(str(stranger.pid))    # as if the pid had been reused
        assert localcloud.stop(ports["data_dir"], ports["aws_port"]) is False
        assert stranger.poll() is None, "stop() signalled a process that is not the local cloud"
    finally:
        stranger.kill()
        stranger.wait()
