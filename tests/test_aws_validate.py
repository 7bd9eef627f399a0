"""Requests checked against botocore's model before any handler runs (lab_app/localcloud/aws/validate.py), with
AWS's message shape and codes: InvalidParameterException for CloudWatch Logs, InvalidRequestException for X-Ray.
Each message below is written out by hand from the model's constraint."""
from __future__ import annotations

import boto3
import pytest
import requests
from botocore.exceptions import ClientError

from lab_app.localcloud.aws import validate


def error_of(call):
    with pytest.raises(ClientError) as caught:
        call()
    return caught.value.response["Error"]["Code"], caught.value.response["Error"]["Message"]


def test_logs_known_gaps_are_closed(module_cloud):
    logs = boto3.client("logs")
    logs.create_log_group(logGroupName="validated")
    assert error_of(lambda: logs.describe_log_streams(logGroupName="validated", orderBy="")) == (
        "InvalidParameterException", "1 validation error detected: Value '' at 'orderBy' failed to satisfy "
                                     "constraint: Member must satisfy enum value set: [LogStreamName, LastEventTime]")
    assert error_of(lambda: logs.describe_metric_filters(filterNamePrefix="x" * 513)) == (
        "InvalidParameterException", f"1 validation error detected: Value '{'x' * 513}' at 'filterNamePrefix' failed "
                                     "to satisfy constraint: Member must have length less than or equal to 512")
    assert error_of(lambda: logs.delete_metric_filter(logGroupName="validated", filterName="a:b")) == (
        "InvalidParameterException", "1 validation error detected: Value 'a:b' at 'filterName' failed to satisfy "
                                     "constraint: Member must satisfy regular expression pattern: [^:*]*")
    arn = "arn:aws:logs:us-east-1:123456789012:log-group:validated:*"
    code, message = error_of(lambda: logs.describe_log_streams(logGroupIdentifier=arn))
    assert code == "ValidationException" and message == (
        f"1 validation error detected: Value '{arn}' at 'logGroupIdentifier' failed to satisfy constraint: Member "
        "must satisfy regular expression pattern: [\\w#+=/:,.@-]*")


def test_filter_patterns_longer_than_1024_characters_are_refused_before_parsing(module_cloud):
    logs = boto3.client("logs")
    logs.create_log_group(logGroupName="long-patterns")
    pattern = " ".join(["term"] * 300)          # 1,499 characters: the fuzzer's 28 s / 4.8 GB case, shorter
    code, message = error_of(lambda: logs.filter_log_events(logGroupName="long-patterns", filterPattern=pattern))
    assert code == "InvalidParameterException"
    assert message.endswith("at 'filterPattern' failed to satisfy constraint: Member must have length less than or "
                            "equal to 1024")


def test_several_violations_nested_paths_and_wrong_types(module_cloud):
    logs = boto3.client("logs")
    logs.create_log_group(logGroupName="nested")
    url = module_cloud.aws_url

    def raw(operation, body):
        return requests.post(url, json=body, headers={"X-Amz-Target": f"Logs_20140328.{operation}",
                                                      "Content-Type": "application/x-amz-json-1.1"}, timeout=10)

    answer = raw("PutMetricFilter", {"logGroupName": "nested", "filterName": "f:", "filterPattern": "x",
                                     "metricTransformations": [{"metricName": "m$", "metricNamespace": "ns",
                                                                "metricValue": "1"}]})
    assert answer.status_code == 400 and answer.json()["__type"] == "InvalidParameterException"
    assert answer.json()["message"] == (
        "2 validation errors detected: Value 'f:' at 'filterName' failed to satisfy constraint: Member must satisfy "
        "regular expression pattern: [^:*]*; Value 'm$' at 'metricTransformations.1.member.metricName' failed to "
        "satisfy constraint: Member must satisfy regular expression pattern: [^:*$]*")
    answer = raw("DescribeLogGroups", {"limit": "10"})
    assert answer.status_code == 400 and answer.json()["__type"] == "SerializationException"
    answer = raw("DescribeLogGroups", {"limit": 2 ** 70})
    assert answer.status_code == 400 and answer.json()["__type"] == "SerializationException"
    answer = raw("DescribeLogGroups", {"limit": 51})
    assert answer.json()["message"].endswith("Member must have value less than or equal to 50")
    answer = raw("PutLogEvents", {"logGroupName": "nested", "logStreamName": "s"})
    assert answer.json() == {"__type": "InvalidParameterException", "message":
                             "1 validation error detected: Value null at 'logEvents' failed to satisfy constraint: "
                             "Member must not be null"}
    assert raw("DescribeLogGroups", {"limit": 1}).status_code == 200       # still serving


def test_xray_uses_its_models_code(module_cloud):
    xray = boto3.client("xray")
    assert error_of(lambda: xray.create_group(GroupName="g" * 33)) == (
        "InvalidRequestException", f"1 validation error detected: Value '{'g' * 33}' at 'GroupName' failed to "
                                   "satisfy constraint: Member must have length less than or equal to 32")
    answer = requests.post(module_cloud.aws_url + "/TraceSummaries", json={}, timeout=10)
    assert answer.status_code == 400 and answer.headers["x-amzn-ErrorType"].startswith("InvalidRequestException")
    assert answer.json()["message"] == (
        "2 validation errors detected: Value null at 'StartTime' failed to satisfy constraint: Member must not be "
        "null; Value null at 'EndTime' failed to satisfy constraint: Member must not be null")


@pytest.mark.parametrize("service, operation", [("logs", "DescribeLogGroups"), ("xray", "GetSamplingRules"),
                                                ("logs", "PutLogEvents"), ("logs", "StartQuery")])
def test_every_pattern_of_the_models_compiles_on_re2(service, operation):
    model = validate.operation(service, operation)
    assert model is not None
    import botocore.session

    service_model = botocore.session.get_session().get_service_model(service)
    patterns = {service_model.shape_for(name).metadata.get("pattern") for name in service_model.shape_names} - {None}
    assert patterns and all(validate._compiled(p) is not None for p in patterns)
