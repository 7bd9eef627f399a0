"""Build X-Ray segment documents from plain specs, so tests can compute expected answers independently;
and the small helpers the X-Ray tests share (polling, a recording ingest component)."""
from __future__ import annotations

import secrets
import time
from dataclasses import dataclass, field

from lab_app.localcloud.component import Component


def wait_for(predicate, timeout: float = 5.0):
    """Poll ``predicate`` until it returns something truthy (returned), or fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError("condition not met in time")


class AllIndexed:
    """Transaction Search enabled with every trace indexed (what RecordingXRay's OTLP tests assume)."""

    @staticmethod
    def effective_destination() -> str:
        return "CloudWatchLogs"

    @staticmethod
    def percentage() -> float:
        return 100.0


class RecordingXRay(Component):
    """Test double of the X-Ray stand-in's ingest API (pass ``RecordingXRay`` in ``components=``)."""

    name = "xray"

    def __init__(self, ctx):
        super().__init__(ctx)
        self.docs: list[dict] = []
        self.transaction_search = AllIndexed()

    def ingest_documents(self, docs):
        self.docs.extend(docs)
        return []


def new_trace_id(epoch: float | None = None) -> str:
    return f"1-{int(epoch or time.time()):08x}-{secrets.token_hex(12)}"


def new_id() -> str:
    return secrets.token_hex(8)


@dataclass
class Spec:
    """One request through backend-flask, optionally calling the notifications service."""
    name: str = "backend-flask"
    response_time: float = 0.1
    status: int = 200
    url: str = "http://127.0.0.1:4567/api/activities/home"
    method: str = "GET"
    user_agent: str = "python-requests/2.34"
    client_ip: str = "127.0.0.1"
    user: str | None = None
    annotations: dict = field(default_factory=dict)
    downstream: str | None = None  # name of the called service
    downstream_status: int = 200
    downstream_time: float = 0.05
    in_progress: bool = False
    start: float = 0.0
    trace_id: str = ""
    root_id: str = ""
    call_id: str = ""

    @property
    def fault(self) -> bool:
        return self.status >= 500

    @property
    def error(self) -> bool:
        return 400 <= self.status < 500

    @property
    def throttle(self) -> bool:
        return self.status == 429


def documents(spec: Spec, start: float) -> list[dict]:
    """The segment documents the X-Ray SDK would send for ``spec`` (root first, then the downstream one)."""
    spec.start = start
    spec.trace_id = spec.trace_id or new_trace_id(start)
    spec.root_id = spec.root_id or new_id()
    root = {"name": spec.name, "id": spec.root_id, "trace_id": spec.trace_id, "start_time": start,
            "http": {"request": {"url": spec.url, "method": spec.method, "user_agent": spec.user_agent,
                                 "client_ip": spec.client_ip},
                     "response": {"status": spec.status}}}
    if spec.in_progress:
        root["in_progress"] = True
    else:
        root["end_time"] = start + spec.response_time
    for flag in ("fault", "error", "throttle"):
        if getattr(spec, flag):
            root[flag] = True
    if spec.user:
        root["user"] = spec.user
    if spec.annotations:
        root["annotations"] = dict(spec.annotations)
    docs = [root]
    if spec.downstream:
        spec.call_id = new_id()
        call = {"id": spec.call_id, "name": spec.downstream, "namespace": "remote", "start_time": start + 0.01,
                "end_time": start + 0.01 + spec.downstream_time,
                "http": {"request": {"url": f"http://127.0.0.1:4568/{spec.downstream}", "method": "GET"},
                         "response": {"status": spec.downstream_status}}}
        if spec.downstream_status >= 500:
            call["fault"] = True
        elif spec.downstream_status >= 400:
            call["error"] = True
        root["subsegments"] = [call]
        down = {"name": spec.downstream, "id": new_id(), "trace_id": spec.trace_id, "parent_id": spec.call_id,
                "start_time": start + 0.012, "end_time": start + 0.008 + spec.downstream_time,
                "http": {"request": {"url": "/notifications", "method": "GET"},
                         "response": {"status": spec.downstream_status}}}
        if spec.downstream_status >= 500:
            down["fault"] = True
        elif spec.downstream_status >= 400:
            down["error"] = True
        docs.append(down)
    return docs


SPANS_POLICY = {"Version": "2012-10-17", "Statement": [{
    "Sid": "TransactionSearchXRayAccess", "Effect": "Allow", "Principal": {"Service": "xray.amazonaws.com"},
    "Action": "logs:PutLogEvents",
    "Resource": ["arn:aws:logs:us-east-1:123456789012:log-group:aws/spans:*",
                 "arn:aws:logs:us-east-1:123456789012:log-group:/aws/application-signals/data:*"],
    "Condition": {"ArnLike": {"aws:SourceArn": "arn:aws:xray:us-east-1:123456789012:*"},
                  "StringEquals": {"aws:SourceAccount": "123456789012"}}}]}


def enable_transaction_search(cloud, percentage: float | None = None) -> None:
    """What AWS's "Enable Transaction Search" guide does with the API, then the PENDING wait skipped with the clock."""
    import json

    import boto3

    boto3.client("logs").put_resource_policy(policyName="TransactionSearchAccess",
                                             policyDocument=json.dumps(SPANS_POLICY))
    xray = boto3.client("xray")
    xray.update_trace_segment_destination(Destination="CloudWatchLogs")
    cloud.context.clock.advance(3)
    assert xray.get_trace_segment_destination()["Status"] == "ACTIVE"
    if percentage is not None:
        xray.update_indexing_rule(Name="Default", Rule={"Probabilistic": {"DesiredSamplingPercentage": percentage}})
