"""Malformed API input: every X-Ray operation answers a client error (never a 500) and keeps serving."""
from __future__ import annotations

import itertools
import json
import urllib.error
import urllib.request

import botocore.session
import pytest

from lab_app.localcloud.xray.urls import url_paths

MODEL = botocore.session.get_session().get_service_model("xray")
WRONG = [None, 0, -1, 1.5, True, "", "x" * 300, [], [1, "a", None], {}, {"RuleName": 5}]


RULE = {"RuleName": "fuzz", "ResourceARN": "*", "Priority": 5, "FixedRate": 0.1, "ReservoirSize": 1,
        "ServiceName": "*", "ServiceType": "*", "Host": "*", "HTTPMethod": "*", "URLPath": "*", "Version": 1}
TRACE = "1-5f84c7a7-0123456789abcdef01234567"
VALID = {
    "PutTraceSegments": {"TraceSegmentDocuments": []},
    "GetTraceSummaries": {"StartTime": 0, "EndTime": 10},
    "BatchGetTraces": {"TraceIds": [TRACE]},
    "GetServiceGraph": {"StartTime": 0, "EndTime": 10},
    "GetTraceGraph": {"TraceIds": [TRACE]},
    "CreateGroup": {"GroupName": "fuzz"},
    "GetGroup": {"GroupName": "fuzz"},
    "GetGroups": {},
    "UpdateGroup": {"GroupName": "fuzz"},
    "DeleteGroup": {"GroupName": "nope"},
    "CreateSamplingRule": {"SamplingRule": RULE},
    "GetSamplingRules": {},
    "UpdateSamplingRule": {"SamplingRuleUpdate": {"RuleName": "fuzz"}},
    "DeleteSamplingRule": {"RuleName": "nope"},
    "GetSamplingTargets": {"SamplingStatisticsDocuments": [
        {"RuleName": "Default", "ClientID": "a" * 24, "Timestamp": 0, "RequestCount": 1, "SampledCount": 1}]},
    "GetTraceSegmentDestination": {},
    "UpdateTraceSegmentDestination": {"Destination": "XRay"},
    "GetIndexingRules": {},
    "UpdateIndexingRule": {"Name": "Default", "Rule": {"Probabilistic": {"DesiredSamplingPercentage": 1}}},
    # --- issue 17 ---
    "PutTelemetryRecords": {"TelemetryRecords": [{"Timestamp": 0, "SegmentsReceivedCount": 1}], "Hostname": "h"},
    "GetTimeSeriesServiceStatistics": {"StartTime": 0, "EndTime": 10, "EntitySelectorExpression": 'service("a")',
                                       "Period": 60},
    "GetSamplingStatisticSummaries": {},
    "TagResource": {"ResourceARN": "arn:aws:xray:us-east-1:123456789012:sampling-rule/Default",
                    "Tags": [{"Key": "k", "Value": "v"}]},
    "UntagResource": {"ResourceARN": "arn:aws:xray:us-east-1:123456789012:sampling-rule/Default", "TagKeys": ["k"]},
    "ListTagsForResource": {"ResourceARN": "arn:aws:xray:us-east-1:123456789012:sampling-rule/Default"},
    "GetEncryptionConfig": {},
    "PutEncryptionConfig": {"Type": "NONE"},
    "PutResourcePolicy": {"PolicyName": "fuzz", "PolicyDocument": json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"Service": "sns.amazonaws.com"}, "Action": "xray:PutTraceSegments",
         "Resource": "*"}]})},
    "ListResourcePolicies": {},
    "DeleteResourcePolicy": {"PolicyName": "fuzz"},
    "StartTraceRetrieval": {"TraceIds": [TRACE], "StartTime": 0, "EndTime": 10},
    "ListRetrievedTraces": {"RetrievalToken": "nope", "TraceFormat": "OTEL"},
    "GetRetrievedTracesGraph": {"RetrievalToken": "nope"},
    "CancelTraceRetrieval": {"RetrievalToken": "nope"},
    "GetInsightSummaries": {"GroupName": "fuzz", "StartTime": 0, "EndTime": 10},
    "GetInsight": {"InsightId": "12345678-1234-1234-8234-123456789012"},
    "GetInsightEvents": {"InsightId": "12345678-1234-1234-8234-123456789012"},
    "GetInsightImpactGraph": {"InsightId": "12345678-1234-1234-8234-123456789012", "StartTime": 0, "EndTime": 10},
}


def bodies(operation: str):
    """Not JSON, not an object, each member missing or of every wrong type, nested members too."""
    shape = MODEL.operation_model(operation).input_shape
    yield b"{not json"
    yield b"[]"
    yield b'"text"'
    yield b"{}"
    valid = VALID[operation]
    yield json.dumps(valid).encode()
    members = list(shape.members) if shape is not None else []
    for member, value in itertools.product(members, WRONG):
        yield json.dumps({member: value}).encode()
        yield json.dumps({**valid, member: value}).encode()
    for member, inner in valid.items():
        if isinstance(inner, dict):
            for key, value in itertools.product(list(inner) + ["Attributes", "InsightsEnabled"], WRONG):
                yield json.dumps({**valid, member: {**inner, key: value}}).encode()
        if isinstance(inner, list) and inner and isinstance(inner[0], dict):
            for key, value in itertools.product(inner[0], WRONG):
                yield json.dumps({**valid, member: [{**inner[0], key: value}]}).encode()


@pytest.mark.parametrize("path,operation", sorted(url_paths.items()))
def test_wrong_types_are_client_errors(module_cloud, path, operation):
    for body in bodies(operation):
        request = urllib.request.Request(module_cloud.aws_url + path, data=body, method="POST",
                                         headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                assert response.status == 200
                json.loads(response.read())
        except urllib.error.HTTPError as exc:
            assert exc.code in (400, 404, 429), (operation, body, exc.code, exc.read()[:300])
            assert json.loads(exc.read() or b"{}").get("__type") or exc.code == 404
    # still serving
    ok = urllib.request.Request(module_cloud.aws_url + "/GetSamplingRules", data=b"{}", method="POST")
    with urllib.request.urlopen(ok, timeout=10) as response:
        assert json.loads(response.read())["SamplingRuleRecords"]
