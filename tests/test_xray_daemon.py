"""The X-Ray daemon stand-in: UDP ingest (real SDK, streamed subsegments, malformed datagrams), the SDK's
centralized sampling over the TCP side, and cloud-mode forwarding (signed) to a recording server."""
from __future__ import annotations

import json
import socket
import time

import boto3
import pytest
from botocore.credentials import Credentials
from werkzeug.wrappers import Request, Response
from xray_helpers import Spec, documents, new_trace_id, wait_for

from lab_app.localcloud.xray.daemon import MalformedDatagram, SigV4Forwarder, XRayDaemon, parse_datagram
from lab_app.runner import ServerThread

HEADER = b'{"format":"json","version":1}\n'


def send_udp(port: int, payloads: list[bytes]) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        for payload in payloads:
            sock.sendto(payload, ("127.0.0.1", port))



def test_malformed_datagrams_are_counted_and_the_daemon_keeps_serving(cloud):
    xray = boto3.client("xray")
    port = cloud.ports["daemon"]
    good = documents(Spec(), time.time())[0]
    malformed = [
        b"no header at all",
        b'{"format":"json","version":2}\n' + json.dumps(good).encode(),
        HEADER + b"{not json",
        HEADER + b"[1, 2]",
        b"\xff\xfe\x00garbage",
        HEADER + json.dumps({"name": "x", "trace_id": new_trace_id(), "start_time": 1.0}).encode(),  # no id
    ]
    send_udp(port, malformed + [HEADER + json.dumps(good).encode()])
    found = wait_for(lambda: xray.get_trace_summaries(StartTime=time.time() - 60, EndTime=time.time() + 5)["TraceSummaries"])
    assert [s["Id"] for s in found] == [good["trace_id"]]
    status = cloud.status()["components"]["xray"]
    assert status["malformed_datagrams"] == len(malformed)
    assert status["daemon"]["datagrams"] == len(malformed) + 1
    # still serving: another good one arrives
    later = documents(Spec(), time.time())[0]
    send_udp(port, [HEADER + json.dumps(later).encode()])
    wait_for(lambda: len(xray.get_trace_summaries(StartTime=time.time() - 60, EndTime=time.time() + 5)["TraceSummaries"]) == 2)


@pytest.mark.parametrize("payload,reason", [
    (b"x", "no header"), (b'{"format":"xml","version":1}\n{}', "unsupported header"),
    (HEADER + b"nope", "not JSON"), (b"\xff\n{}", "UTF-8"),
    (HEADER + b"[" * 5000, "nests deeper"), (b"[" * 5000 + b"\n{}", "header is not JSON"),
])
def test_parse_datagram_says_why(payload, reason):
    with pytest.raises(MalformedDatagram, match=reason):
        parse_datagram(payload)


def test_real_sdk_over_udp_with_streamed_subsegments(cloud):
    from aws_xray_sdk.core import AWSXRayRecorder

    recorder = AWSXRayRecorder()
    recorder.configure(service="udp-test", sampling=False, streaming_threshold=2, context_missing="LOG_ERROR",
                       daemon_address=f"127.0.0.1:{cloud.ports['daemon']}", plugins=())
    segment = recorder.begin_segment("udp-test")
    for i in range(5):
        sub = recorder.begin_subsegment(f"step-{i}")
        sub.put_annotation("step", i)
        recorder.end_subsegment()
    recorder.end_segment()
    xray = boto3.client("xray")
    # streamed subsegments may arrive before their segment: wait until the whole trace is in
    def merged():
        traces = xray.batch_get_traces(TraceIds=[segment.trace_id])["Traces"]
        if traces and traces[0]["Segments"]:
            doc = json.loads(traces[0]["Segments"][0]["Document"])
            return doc if len(doc.get("subsegments", [])) == 5 else None
        return None

    doc = wait_for(merged)
    assert doc["name"] == "udp-test"
    assert sorted(s["name"] for s in doc.get("subsegments", [])) == [f"step-{i}" for i in range(5)]
    summary = xray.get_trace_summaries(StartTime=time.time() - 60, EndTime=time.time() + 5,
                                       FilterExpression="annotation.step >= 3")["TraceSummaries"]
    assert [s["Id"] for s in summary] == [segment.trace_id]


def test_sdk_centralized_sampling_through_the_daemon_tcp_side(cloud):
    from aws_xray_sdk.core.context import Context
    from aws_xray_sdk.core.daemon_config import DaemonConfig
    from aws_xray_sdk.core.sampling.connector import ServiceConnector
    from aws_xray_sdk.core.sampling.sampler import DefaultSampler

    xray = boto3.client("xray")
    base = {"ResourceARN": "*", "ServiceType": "*", "Host": "*", "HTTPMethod": "*", "URLPath": "*", "Version": 1}
    xray.create_sampling_rule(SamplingRule={**base, "RuleName": "always", "Priority": 1, "FixedRate": 1.0,
                                            "ReservoirSize": 0, "ServiceName": "always-svc"})
    xray.create_sampling_rule(SamplingRule={**base, "RuleName": "Cruddur", "Priority": 9000, "FixedRate": 0.1,
                                            "ReservoirSize": 5, "ServiceName": "backend-flask"})
    address = f"127.0.0.1:{cloud.ports['daemon']}"
    # the SDK's own connector: rules and targets as the SDK parses them
    connector = ServiceConnector()
    config = DaemonConfig(address)
    connector.setup_xray_client(config.tcp_ip, config.tcp_port, None)
    rules = connector.fetch_sampling_rules()
    assert [(r.name, r.priority, r.rate, r.can_borrow) for r in rules] == [
        ("always", 1, 1.0, False), ("Cruddur", 9000, 0.1, True), ("Default", 10000, 0.05, True)]
    targets, last_modified = connector.fetch_sampling_target(rules)
    assert targets["Cruddur"]["quota"] == 5 and targets["Cruddur"]["rate"] == 0.1 and targets["Cruddur"]["interval"] == 10
    assert targets["Default"]["quota"] == 1 and last_modified > 0
    # the SDK's sampler end to end: rules fetched from our daemon decide
    sampler = DefaultSampler()
    sampler.load_settings(config, Context())
    sampler.start()
    wait_for(lambda: len(sampler._cache.rules) == 3)
    always = [sampler.should_trace({"service": "always-svc", "host": "h", "method": "GET", "path": "/"}) for _ in range(50)]
    assert all(always)
    other = [sampler.should_trace({"service": "elsewhere", "host": "h", "method": "GET", "path": "/"}) for _ in range(200)]
    assert sum(bool(x) for x in other) < 40  # Default: 1/s borrowed + 5 % of the rest (expect ~11)


def test_daemon_tcp_rejects_other_paths(cloud):
    import urllib.error
    import urllib.request

    url = f"http://127.0.0.1:{cloud.ports['daemon']}/TraceSummaries"
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(urllib.request.Request(url, data=b"{}", method="POST"), timeout=5)
    assert info.value.code == 404


class Recorder:
    """A stand-in for the real X-Ray endpoint that records what the forwarding daemon sends."""

    def __init__(self):
        self.requests: list[dict] = []

    def __call__(self, environ, start_response):
        request = Request(environ)
        body = request.get_data()
        self.requests.append({"path": request.path, "headers": dict(request.headers), "body": body})
        if request.path == "/TraceSegments":
            answer = {"UnprocessedTraceSegments": []}
        elif request.path == "/GetSamplingRules":
            answer = {"SamplingRuleRecords": [{"SamplingRule": {
                "RuleName": "Default", "RuleARN": "arn:aws:xray:us-west-2:111122223333:sampling-rule/Default",
                "ResourceARN": "*", "Priority": 10000, "FixedRate": 0.05, "ReservoirSize": 1, "ServiceName": "*",
                "ServiceType": "*", "Host": "*", "HTTPMethod": "*", "URLPath": "*", "Version": 1, "Attributes": {}},
                "CreatedAt": 0.0, "ModifiedAt": 0.0}]}
        else:
            return Response(json.dumps({"__type": "InvalidRequestException", "message": "nope"}), status=400,
                            headers={"x-amzn-ErrorType": "InvalidRequestException"},
                            content_type="application/json")(environ, start_response)
        return Response(json.dumps(answer), content_type="application/json")(environ, start_response)


def test_cloud_mode_forwards_signed_to_the_xray_endpoint():
    from aws_xray_sdk.core.sampling.connector import ServiceConnector

    recorder = Recorder()
    with ServerThread(recorder, port=0, name="fake-xray") as endpoint:
        forwarder = SigV4Forwarder(region="us-west-2", endpoint=f"http://127.0.0.1:{endpoint.port}",
                                   credentials=Credentials("AKIDFORWARDTEST", "not-a-real-secret"))
        daemon = XRayDaemon("127.0.0.1", 0, ingest=lambda docs: [], forwarder=forwarder).start()
        try:
            docs = documents(Spec(downstream="notifications"), time.time())
            send_udp(daemon.port, [HEADER + json.dumps(d).encode() for d in docs] + [b"junk"])
            wait_for(lambda: sum(len(json.loads(r["body"])["TraceSegmentDocuments"])
                                 for r in recorder.requests if r["path"] == "/TraceSegments") == len(docs))
            put = [r for r in recorder.requests if r["path"] == "/TraceSegments"][0]
            auth = put["headers"]["Authorization"]
            assert auth.startswith("AWS4-HMAC-SHA256 Credential=AKIDFORWARDTEST/")
            assert "/us-west-2/xray/aws4_request" in auth and "Signature=" in auth
            assert "not-a-real-secret" not in json.dumps(put["headers"])
            sent = [json.loads(d) for r in recorder.requests if r["path"] == "/TraceSegments"
                    for d in json.loads(r["body"])["TraceSegmentDocuments"]]
            assert sorted(d["id"] for d in sent) == sorted(d["id"] for d in docs)
            assert daemon.status()["malformed"] == 1 and daemon.status()["mode"] == "forward"
            # the SDK's sampling calls are proxied, signed
            connector = ServiceConnector()
            connector.setup_xray_client("127.0.0.1", daemon.port, None)
            rules = connector.fetch_sampling_rules()
            assert [r.name for r in rules] == ["Default"]
            proxied = [r for r in recorder.requests if r["path"] == "/GetSamplingRules"][0]
            assert proxied["headers"]["Authorization"].startswith("AWS4-HMAC-SHA256 Credential=AKIDFORWARDTEST/")
            # errors from the endpoint come back as they are
            with pytest.raises(Exception, match="InvalidRequestException"):
                connector.fetch_sampling_target(rules)
        finally:
            daemon.stop()


def test_standalone_forwarding_daemon_cli(monkeypatch):
    """``python -m lab_app.localcloud.xray.daemon --forward``: the no-Docker daemon for cloud mode."""
    import os
    import subprocess
    import sys

    from conftest import free_udp_tcp_port

    recorder = Recorder()
    port = free_udp_tcp_port()
    env = {**os.environ, "AWS_ACCESS_KEY_ID": "AKIDCLITEST", "AWS_SECRET_ACCESS_KEY": "cli-test-secret"}
    env.pop("AWS_XRAY_DAEMON_ADDRESS", None)
    with ServerThread(recorder, port=0, name="fake-xray-cli") as endpoint:
        proc = subprocess.Popen([sys.executable, "-m", "lab_app.localcloud.xray.daemon", "--forward", "--port", str(port),
                                 "--region", "eu-west-1", "--endpoint", f"http://127.0.0.1:{endpoint.port}"],
                                env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        try:
            doc = documents(Spec(), time.time())[0]

            def forwarded():
                send_udp(port, [HEADER + json.dumps(doc).encode()])
                return [r for r in recorder.requests if r["path"] == "/TraceSegments"]

            put = wait_for(forwarded, timeout=20)[0]
            assert "Credential=AKIDCLITEST/" in put["headers"]["Authorization"]
            assert "/eu-west-1/xray/aws4_request" in put["headers"]["Authorization"]
            assert json.loads(json.loads(put["body"])["TraceSegmentDocuments"][0])["id"] == doc["id"]
        finally:
            proc.terminate()
            proc.wait(timeout=10)


def test_random_and_badly_typed_datagrams_never_lose_the_good_ones(cloud):
    import random

    rng = random.Random(5)
    xray = boto3.client("xray")
    now = time.time()
    good = [documents(Spec(), now)[0] for _ in range(20)]
    junk = [bytes(rng.getrandbits(8) for _ in range(rng.randint(0, 300))) for _ in range(30)]
    for field, value in [("http", "GET /"), ("http", {"request": "x"}), ("annotations", [1, 2]),
                         ("subsegments", "none"), ("subsegments", [{"id": 1}]), ("fault", "yes"), ("user", 5),
                         ("metadata", 3), ("subsegments", [{"id": "ab", "name": "n", "start_time": 1, "http": 4}])]:
        doc = {**documents(Spec(), now)[0], field: value}
        junk.append(HEADER + json.dumps(doc).encode())
    payloads = junk + [HEADER + json.dumps(d).encode() for d in good]
    rng.shuffle(payloads)
    send_udp(cloud.ports["daemon"], payloads)
    wanted = {d["trace_id"] for d in good}

    def stored():
        ids = {s["Id"] for page in xray.get_paginator("get_trace_summaries").paginate(
            StartTime=now - 60, EndTime=now + 60) for s in page["TraceSummaries"]}
        return ids if wanted <= ids else None

    assert wait_for(stored) == wanted
    status = cloud.status()["components"]["xray"]["daemon"]
    assert status["malformed"] == len(junk) and status["ingest_errors"] == 0


def test_port_zero_retries_until_udp_and_tcp_share_a_free_number(monkeypatch):
    """Port 0: the TCP side picks a number; when its UDP twin is taken, another number is tried."""
    import errno

    real = XRayDaemon._udp_socket
    refused: list[int] = []

    def busy_once(self, port):
        if not refused:
            refused.append(port)
            raise OSError(errno.EADDRINUSE, "Address already in use")
        return real(self, port)

    monkeypatch.setattr(XRayDaemon, "_udp_socket", busy_once)
    got: list[dict] = []
    daemon = XRayDaemon("127.0.0.1", 0, ingest=lambda docs: got.extend(docs) or []).start()
    try:
        assert refused and daemon.port != 0
        assert daemon._tcp.port == daemon.port == daemon._sock.getsockname()[1]
        doc = documents(Spec(), time.time())[0]
        send_udp(daemon.port, [HEADER + json.dumps(doc).encode()])
        wait_for(lambda: [d["id"] for d in got] == [doc["id"]])
    finally:
        daemon.stop()


def test_a_busy_fixed_port_is_refused_without_leaking_the_udp_socket():
    from lab_app.runner import PortInUseError

    with ServerThread(Recorder(), port=0) as holder:  # TCP side taken by someone else
        with pytest.raises(PortInUseError):
            XRayDaemon("127.0.0.1", holder.port, ingest=lambda docs: []).start()
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.bind(("127.0.0.1", holder.port))  # the daemon released its UDP socket


def test_a_deeply_nested_datagram_is_rejected_and_the_daemon_keeps_storing(cloud):
    # the fuzzer's finding: ~5 KB of "[" raised RecursionError, which killed the ingest thread for good
    xray = boto3.client("xray")
    port = cloud.ports["daemon"]
    good = documents(Spec(), time.time())[0]
    send_udp(port, [HEADER + b"[" * 5000, HEADER + b'{"a":' * 3000, HEADER + json.dumps(good).encode()])
    wait_for(lambda: xray.get_trace_summaries(StartTime=time.time() - 60, EndTime=time.time() + 5)["TraceSummaries"])
    daemon = cloud.status()["components"]["xray"]["daemon"]
    assert daemon["malformed"] == 2 and daemon["documents"] == 1 and daemon["worker_errors"] == 0
    assert cloud.problems() == []


@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")   # the thread dies on purpose
def test_health_reports_a_dead_daemon_worker():
    stored = []

    def ingest(docs):
        if any(doc.get("name") == "fatal" for doc in docs):
            raise SystemExit("a failure that is not an Exception ends the thread")
        stored.extend(docs)
        return []

    daemon = XRayDaemon("127.0.0.1", 0, ingest=ingest).start()
    try:
        assert daemon.problems() == []
        send_udp(daemon.port, [HEADER + json.dumps({"name": "fatal"}).encode()])
        wait_for(lambda: daemon.problems())
        assert daemon.problems() == ["X-Ray daemon: its xray-daemon-ingest thread has stopped; segments are not stored"]
    finally:
        daemon.stop()
    assert daemon.problems() == []      # stopped on purpose is not a problem


def test_a_worker_error_is_counted_and_the_next_batch_is_stored(monkeypatch):
    stored = []
    daemon = XRayDaemon("127.0.0.1", 0, ingest=lambda docs: stored.extend(docs) or []).start()
    real = daemon._process_batch
    calls = []

    def flaky():
        calls.append(1)
        if len(calls) == 1:
            daemon._queue.popleft()
            raise RuntimeError("a bug in one batch")
        real()

    monkeypatch.setattr(daemon, "_process_batch", flaky)
    try:
        send_udp(daemon.port, [HEADER + b'{"id": "first"}'])
        wait_for(lambda: daemon.counters["worker_errors"] == 1)
        send_udp(daemon.port, [HEADER + b'{"id": "second"}'])
        wait_for(lambda: stored)
        assert [doc["id"] for doc in stored] == ["second"] and daemon.problems() == []
    finally:
        daemon.stop()


def test_the_datagram_queue_is_bounded_and_drops_are_counted(monkeypatch):
    import threading

    from lab_app.localcloud.xray import daemon as daemon_module

    release, stored = threading.Event(), []

    def slow_ingest(docs):
        release.wait(10)
        stored.extend(docs)
        return []

    payload = HEADER + json.dumps({"id": "x" * 16, "pad": "p" * 900}).encode()
    monkeypatch.setattr(daemon_module, "QUEUE_MAX_BYTES", 20 * len(payload))
    daemon = XRayDaemon("127.0.0.1", 0, ingest=slow_ingest).start()
    try:
        send_udp(daemon.port, [payload])                   # the worker takes it and blocks in ingest
        wait_for(lambda: daemon.counters["datagrams"] == 1)
        send_udp(daemon.port, [payload] * 50)
        wait_for(lambda: daemon.counters["dropped"] + len(daemon._queue) == 50)
        assert len(daemon._queue) == 20 and daemon.counters["dropped"] == 30
        release.set()
        wait_for(lambda: len(stored) == 21)
        assert daemon.status()["queued"] == 0
    finally:
        release.set()
        daemon.stop()
