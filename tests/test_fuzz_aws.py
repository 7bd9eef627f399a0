"""Fuzz: the observability stand-ins' AWS operations (Logs, X-Ray, CloudWatch, EventBridge; each family at least
2,000 generated inputs, signed as boto3 signs them). No 5xx, no request over 2 s, and a known-good round trip
answers correctly afterwards over HTTP (tests/fuzz_support.py). The security services and hostile signatures are
in test_fuzz_security.py (two files, so two xdist workers share the work)."""
from __future__ import annotations

import time
import uuid

import boto3
import pytest
from fuzz_support import fuzz_service, known_resources

from lab_app.localcloud.cloudwatch import urls as cloudwatch_urls
from lab_app.localcloud.logs import urls as logs_urls
from lab_app.localcloud.xray import urls as xray_urls

_known = pytest.fixture(scope="module", name="known")(known_resources)


def test_logs(module_cloud, known):
    fuzz_service(module_cloud, known, "logs", list(logs_urls.OPERATIONS))
    logs = boto3.client("logs")
    name = f"after-fuzz-{uuid.uuid4().hex[:8]}"
    logs.create_log_group(logGroupName=name)
    logs.create_log_stream(logGroupName=name, logStreamName="s")
    logs.put_log_events(logGroupName=name, logStreamName="s",
                        logEvents=[{"timestamp": int(time.time() * 1000), "message": "known good"}])
    events = logs.get_log_events(logGroupName=name, logStreamName="s", startFromHead=True)["events"]
    assert [e["message"] for e in events] == ["known good"]


def test_xray(module_cloud, known):
    fuzz_service(module_cloud, known, "xray", sorted(xray_urls.url_paths.values()))
    xray = boto3.client("xray")
    name = f"after-fuzz-{uuid.uuid4().hex[:8]}"
    xray.create_group(GroupName=name, FilterExpression="responsetime > 1")
    assert xray.get_group(GroupName=name)["Group"]["FilterExpression"] == "responsetime > 1"


def test_cloudwatch(module_cloud, known):
    fuzz_service(module_cloud, known, "cloudwatch", list(cloudwatch_urls.OPERATIONS))
    cloudwatch = boto3.client("cloudwatch")
    namespace = f"AfterFuzz{uuid.uuid4().hex[:8]}"
    cloudwatch.put_metric_data(Namespace=namespace, MetricData=[{"MetricName": "m", "Value": 3.0}])
    assert [m["MetricName"] for m in cloudwatch.list_metrics(Namespace=namespace)["Metrics"]] == ["m"]


def test_events(module_cloud, known):
    fuzz_service(module_cloud, known, "events")
    events = boto3.client("events")
    name = f"after-fuzz-{uuid.uuid4().hex[:8]}"
    events.put_rule(Name=name, EventPattern='{"source": ["aws.guardduty"]}')
    assert events.describe_rule(Name=name)["EventPattern"] == '{"source": ["aws.guardduty"]}'
