"""StartLiveTail: the event-stream encoder checked with botocore's own decoder, then boto3 reading a session from
the local cloud (sessionStart, sessionUpdate results, filters, errors) and the ``stream-`` host prefix."""
from __future__ import annotations

import json
import struct
import threading
import time
import zlib

import boto3
import pytest
from botocore.config import Config
from botocore.eventstream import ChecksumMismatch, EventStreamBuffer
from botocore.exceptions import ClientError, EndpointConnectionError

from lab_app.localcloud.logs import live_tail

ARN = "arn:aws:logs:us-east-1:123456789012:log-group:"


def test_encoder_frames_decode_with_botocore():
    frame = live_tail.event("sessionStart", {"sessionId": "s-1"})
    # the prelude by hand: total length, headers length, CRC32 of those 8 bytes
    headers = b"".join(bytes([len(k)]) + k.encode() + b"\x07" + struct.pack(">H", len(v)) + v.encode()
                       for k, v in ((":message-type", "event"), (":event-type", "sessionStart"),
                                    (":content-type", "application/json")))
    payload = b'{"sessionId":"s-1"}'
    total = 12 + len(headers) + len(payload) + 4
    prelude = struct.pack(">II", total, len(headers))
    expected = prelude + struct.pack(">I", zlib.crc32(prelude)) + headers + payload
    assert frame == expected + struct.pack(">I", zlib.crc32(expected))
    buffer = EventStreamBuffer()
    buffer.add_data(frame + live_tail.exception("SessionTimeoutException", "over"))
    first, second = list(buffer)
    assert first.headers == {":message-type": "event", ":event-type": "sessionStart",
                             ":content-type": "application/json"}
    assert json.loads(first.payload) == {"sessionId": "s-1"}
    assert second.headers[":exception-type"] == "SessionTimeoutException"
    assert json.loads(second.payload) == {"message": "over"}
    corrupt = bytearray(frame)
    corrupt[-5] ^= 0xFF                          # a payload byte: the message CRC no longer matches
    bad = EventStreamBuffer()
    bad.add_data(bytes(corrupt))
    with pytest.raises(ChecksumMismatch):
        list(bad)


@pytest.fixture(scope="module")
def logs(module_cloud):
    client = boto3.client("logs")
    for group in ("/tail/web", "/tail/worker"):
        client.create_log_group(logGroupName=group)
        for stream in ("a-1", "a-2", "b-1"):
            client.create_log_stream(logGroupName=group, logStreamName=stream)
    return client


def tail(logs, request: dict, writes: list[tuple[str, str, str]], updates: int = 2) -> tuple[dict, list[dict]]:
    """Start a session, write the events once it has started, read ``updates`` sessionUpdates."""
    stream = logs.start_live_tail(**request)["responseStream"]
    start, results = None, []
    seen = 0
    try:
        for event in stream:
            if "sessionStart" in event:
                start = event["sessionStart"]
                for group, log_stream, message in writes:
                    logs.put_log_events(logGroupName=group, logStreamName=log_stream,
                                        logEvents=[{"timestamp": int(time.time() * 1000), "message": message}])
            elif "sessionUpdate" in event:
                results += event["sessionUpdate"]["sessionResults"]
                seen += 1
                if seen >= updates:
                    break
    finally:
        stream.close()
    return start, results


CASES = [
    ("pattern over two groups", {"logGroupIdentifiers": [ARN + "/tail/web", ARN + "/tail/worker"],
                                 "logEventFilterPattern": "ERROR"},
     [("/tail/web", "a-1", "ERROR one"), ("/tail/web", "a-1", "INFO two"), ("/tail/worker", "b-1", "ERROR three")],
     [(ARN + "/tail/web", "a-1", "ERROR one"), (ARN + "/tail/worker", "b-1", "ERROR three")]),
    ("stream names", {"logGroupIdentifiers": [ARN + "/tail/web"], "logStreamNames": ["a-2"]},
     [("/tail/web", "a-1", "not this"), ("/tail/web", "a-2", "this"), ("/tail/worker", "a-2", "other group")],
     [(ARN + "/tail/web", "a-2", "this")]),
    ("stream prefixes", {"logGroupIdentifiers": [ARN + "/tail/web"], "logStreamNamePrefixes": ["a-"]},
     [("/tail/web", "a-1", "x1"), ("/tail/web", "b-1", "y"), ("/tail/web", "a-2", "x2")],
     [(ARN + "/tail/web", "a-1", "x1"), (ARN + "/tail/web", "a-2", "x2")]),
    ("JSON pattern", {"logGroupIdentifiers": [ARN + "/tail/worker"], "logEventFilterPattern": "{ $.status >= 500 }"},
     [("/tail/worker", "a-1", '{"status": 503}'), ("/tail/worker", "a-1", '{"status": 200}')],
     [(ARN + "/tail/worker", "a-1", '{"status": 503}')]),
]


@pytest.mark.parametrize("case,request_,writes,expected", CASES, ids=[c[0] for c in CASES])
def test_live_tail_sessions(logs, case, request_, writes, expected):
    start, results = tail(logs, request_, writes)
    assert start["logGroupIdentifiers"] == request_["logGroupIdentifiers"] and start["sessionId"]
    assert start["logEventFilterPattern"] == request_.get("logEventFilterPattern", "")
    assert [(r["logGroupIdentifier"], r["logStreamName"], r["message"]) for r in results] == expected
    assert all(r["ingestionTime"] >= r["timestamp"] - 1000 for r in results)


def test_more_than_500_events_a_second_are_sampled(logs):
    stream = logs.start_live_tail(logGroupIdentifiers=[ARN + "/tail/worker"])["responseStream"]
    results, sampled = [], []
    try:
        for event in stream:
            if "sessionStart" in event:
                now = int(time.time() * 1000)
                logs.put_log_events(logGroupName="/tail/worker", logStreamName="b-1",
                                    logEvents=[{"timestamp": now, "message": f"burst {i}"} for i in range(600)])
            elif "sessionUpdate" in event:
                update = event["sessionUpdate"]
                results.append(len(update["sessionResults"]))
                sampled.append(update["sessionMetadata"]["sampled"])
                if sum(results) >= 500:
                    break
    finally:
        stream.close()
    assert results[-1] == 500 and sampled[-1] is True


BAD = [
    ("missing group", {"logGroupIdentifiers": [ARN + "/tail/none"]}, "ResourceNotFoundException"),
    ("names and prefixes", {"logGroupIdentifiers": [ARN + "/tail/web"], "logStreamNames": ["a-1"],
                            "logStreamNamePrefixes": ["a"]}, "InvalidParameterException"),
    ("streams with two groups", {"logGroupIdentifiers": [ARN + "/tail/web", ARN + "/tail/worker"],
                                 "logStreamNames": ["a-1"]}, "InvalidParameterException"),
    ("eleven groups", {"logGroupIdentifiers": [ARN + f"/tail/g{i}" for i in range(11)]},
     "InvalidParameterException"),
    ("bad pattern", {"logGroupIdentifiers": [ARN + "/tail/web"], "logEventFilterPattern": "{ $.a = "},
     "InvalidParameterException"),
]


@pytest.mark.parametrize("case,request_,code", BAD, ids=[b[0] for b in BAD])
def test_live_tail_bad_input(logs, case, request_, code):
    with pytest.raises(ClientError) as err:
        logs.start_live_tail(**request_)
    assert err.value.response["Error"]["Code"] == code


def sessions_open(cloud) -> int:
    return cloud.component("logs").status()["live_tail_sessions"]


def wait_for_no_sessions(cloud) -> None:
    deadline = time.time() + 10            # the server notices a closed session at its next update (1 s)
    while sessions_open(cloud) and time.time() < deadline:
        time.sleep(0.2)
    assert sessions_open(cloud) == 0


def test_fifteen_concurrent_sessions(logs, module_cloud):
    wait_for_no_sessions(module_cloud)
    streams = [logs.start_live_tail(logGroupIdentifiers=[ARN + "/tail/web"])["responseStream"] for _ in range(15)]
    try:
        with pytest.raises(ClientError) as err:
            logs.start_live_tail(logGroupIdentifiers=[ARN + "/tail/web"])
        assert err.value.response["Error"]["Code"] == "LimitExceededException"
    finally:
        for s in streams:
            s.close()
    wait_for_no_sessions(module_cloud)
    logs.start_live_tail(logGroupIdentifiers=[ARN + "/tail/web"])["responseStream"].close()


def test_session_times_out_after_three_hours_on_the_local_clock(logs, module_cloud):
    stream = logs.start_live_tail(logGroupIdentifiers=[ARN + "/tail/web"])["responseStream"]
    events = iter(stream)
    assert "sessionStart" in next(events)
    module_cloud.clock.advance(3 * 3600)
    with pytest.raises(ClientError) as err:
        for _ in range(5):
            next(events)
    assert err.value.response["Error"]["Code"] == "SessionTimeoutException"
    stream.close()


def test_host_prefix_needs_turning_off_for_a_local_endpoint(logs, monkeypatch):
    """botocore sends StartLiveTail to ``stream-<host>``: with 127.0.0.1 that host does not exist. Local mode sets
    AWS_DISABLE_HOST_PREFIX_INJECTION=true; a client that insists on the prefix cannot connect."""
    import os

    assert os.environ["AWS_DISABLE_HOST_PREFIX_INJECTION"] == "true"
    seen = []
    insisting = boto3.client("logs", config=Config(inject_host_prefix=True, retries={"total_max_attempts": 1}))
    insisting.meta.events.register("before-send.cloudwatch-logs.StartLiveTail",
                                   lambda request, **kw: seen.append(request.url))
    with pytest.raises(EndpointConnectionError):
        insisting.start_live_tail(logGroupIdentifiers=[ARN + "/tail/web"])
    assert seen and seen[0].startswith("http://stream-127.0.0.1:")
    explicit = boto3.client("logs", config=Config(inject_host_prefix=False))
    explicit.start_live_tail(logGroupIdentifiers=[ARN + "/tail/web"])["responseStream"].close()


def test_a_session_does_not_hold_up_other_requests(logs):
    stream = logs.start_live_tail(logGroupIdentifiers=[ARN + "/tail/web"])["responseStream"]
    done = threading.Event()

    def other():
        logs.describe_log_groups(logGroupNamePrefix="/tail")
        done.set()

    threading.Thread(target=other, daemon=True).start()
    assert done.wait(10)
    stream.close()
