"""Hostile JSON bodies on every HTTP stand-in that reads JSON get the service's 4xx, never a 5xx, and the server
answers a good request afterwards (lab_app/localcloud/strict_json.py, aws/validate.py)."""
from __future__ import annotations

import json

import boto3
import pytest
import requests

from lab_app import config

HOSTILE = {
    "deep-array": b"[" * 5000 + b"]" * 5000,
    "deep-object": b'{"a":' * 3000 + b"1" + b"}" * 3000,
    "lone-surrogate": b'{"logGroupName": "\\ud800"}',
    "raw-surrogate-bytes": b'{"logGroupName": "\xed\xa0\x80"}',
    "nan": b'{"limit": NaN}',
    "infinity": b'{"limit": Infinity}',
    "huge-int": b'{"limit": 123456789012345678901234567890}',
    "wrong-type": b'{"logGroupNamePrefix": {"x": 1}}',
    "not-utf8": b'{"a": "\xff\xfe"}',
    "array-not-object": b"[1, 2]",
}


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_logs_json_11(module_cloud, name):
    answer = requests.post(module_cloud.aws_url, data=HOSTILE[name], timeout=10, headers={
        "X-Amz-Target": "Logs_20140328.DescribeLogGroups", "Content-Type": "application/x-amz-json-1.1"})
    assert 400 <= answer.status_code < 500, answer.text
    assert answer.json()["__type"] in ("SerializationException", "InvalidParameterException")
    boto3.client("logs").describe_log_groups()


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_xray_rest_json(module_cloud, name):
    body = HOSTILE[name].replace(b'"limit"', b'"NextToken"').replace(b'"logGroupNamePrefix"', b'"NextToken"')
    answer = requests.post(module_cloud.aws_url + "/Groups", data=body, timeout=10)
    assert 400 <= answer.status_code < 500 and answer.headers["Content-Type"].startswith("application/json"), \
        answer.text[:200]
    boto3.client("xray").get_groups()


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_honeycomb_query_api(module_cloud, name):
    url = f"http://127.0.0.1:{module_cloud.ports['otlp']}/1/queries/cruddur"
    answer = requests.post(url, data=HOSTILE[name], timeout=10,
                           headers={"X-Honeycomb-Team": config.LOCAL_HONEYCOMB_KEY})
    assert 400 <= answer.status_code < 500, answer.text[:200]
    good = requests.get(f"http://127.0.0.1:{module_cloud.ports['otlp']}/1/auth", timeout=10,
                        headers={"X-Honeycomb-Team": config.LOCAL_HONEYCOMB_KEY})
    assert good.status_code == 200


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_rollbar_item(module_cloud, name):
    answer = requests.post(module_cloud.aws_url + "/api/1/item/", data=HOSTILE[name], timeout=10,
                           headers={"X-Rollbar-Access-Token": config.LOCAL_ROLLBAR_POST_TOKEN})
    assert 400 <= answer.status_code < 500 and answer.json()["err"] == 1, answer.text[:200]
    good = requests.post(module_cloud.aws_url + "/api/1/item/", timeout=10,
                         data=json.dumps({"data": {"body": {"message": {"body": "ok"}}, "environment": "t"}}),
                         headers={"X-Rollbar-Access-Token": config.LOCAL_ROLLBAR_POST_TOKEN})
    assert good.status_code == 200


@pytest.mark.parametrize("path, headers, body, status, code", [
    ("/GetGroups", {}, b"{}", 404, "UnknownOperationException"),          # not an X-Ray path; no service claims it
    ("/nope", {}, b"", 404, "UnknownOperationException"),
    ("/2015-03-31/functions", {"Authorization": "AWS4-HMAC-SHA256 Credential=AKIAUNKNOWNKEY000001/20240101/us-east-1/"  # pragma: allowlist secret
                                                "lambda/aws4_request, SignedHeaders=host, Signature=00",
                               "X-Amz-Date": "20240101T000000Z"}, b"", 400, "ValidationException"),   # moto raised
], ids=["unknown-xray-like-path", "unknown-path", "moto-handler-raised"])
def test_what_moto_cannot_process_is_an_aws_error_not_an_html_500(module_cloud, path, headers, body, status, code):
    answer = requests.post(module_cloud.aws_url + path, headers=headers, data=body, timeout=10)
    assert answer.status_code == status and answer.headers["Content-Type"].startswith("application/"), answer.text[:200]
    assert code in (answer.headers.get("x-amzn-ErrorType") or answer.json().get("__type", ""))
    assert boto3.client("sqs").list_queues()["ResponseMetadata"]["HTTPStatusCode"] == 200      # moto still serves
