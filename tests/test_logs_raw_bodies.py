"""Raw JSON 1.1 bodies at the newer Logs operations (query definitions, fields, index policies, anomaly detectors,
transformers, SQL): empty, wrongly typed or deeply nested input gets a 4xx with an AWS error code, never a 500, and
the server keeps serving."""
from __future__ import annotations

import json
import time

import boto3
import pytest
import requests

from lab_app.localcloud.logs.urls import OPERATIONS

NEW = ["PutQueryDefinition", "DescribeQueryDefinitions", "DeleteQueryDefinition", "GetLogGroupFields", "GetLogFields",
       "PutIndexPolicy", "DescribeIndexPolicies", "DeleteIndexPolicy", "DescribeFieldIndexes", "ListLogGroupsForQuery",
       "CreateLogAnomalyDetector", "GetLogAnomalyDetector", "ListLogAnomalyDetectors", "UpdateLogAnomalyDetector",
       "DeleteLogAnomalyDetector", "ListAnomalies", "UpdateAnomaly",
       "PutTransformer", "GetTransformer", "DeleteTransformer", "TestTransformer"]
# members every new operation might read, each with a value of the wrong JSON type
WRONG_TYPES = {"name": 1, "queryString": ["x"], "logGroupNames": "g", "logGroupIdentifier": 5, "logGroupName": [],
               "logGroupIdentifiers": "g", "policyDocument": {"Fields": ["a"]}, "maxResults": "ten", "time": "now",
               "dataSourceName": 3, "dataSourceType": 4, "queryId": 7, "logGroupArnList": "arn",
               "anomalyDetectorArn": 8, "enabled": "yes", "transformerConfig": {"parseJSON": {}},
               "logEventMessages": "m", "queryDefinitionId": 9, "parameters": {"name": "a"}}
DEEP = "[" * 3000 + "]" * 3000


def call(cloud, operation: str, body) -> requests.Response:
    data = body if isinstance(body, (bytes, str)) else json.dumps(body)
    return requests.post(cloud.aws_url, data=data, timeout=30, headers={
        "X-Amz-Target": f"Logs_20140328.{operation}", "Content-Type": "application/x-amz-json-1.1"})


def test_the_new_operations_are_routed():
    assert set(NEW) <= set(OPERATIONS)


@pytest.mark.parametrize("operation", NEW)
def test_empty_and_wrongly_typed_bodies(module_cloud, operation):
    for body in ({}, WRONG_TYPES, b"[1]", b'{"name": "x", "queryString": "' + b"\\ud800" + b'"}'):
        answer = call(module_cloud, operation, body)
        assert answer.status_code < 500, (operation, body, answer.text[:300])
        if answer.status_code >= 400:
            assert answer.json()["__type"] in ("InvalidParameterException", "SerializationException",
                                               "ResourceNotFoundException", "ValidationException"), answer.text
    assert boto3.client("logs").describe_query_definitions()["queryDefinitions"] is not None


HOSTILE = [
    ("PutIndexPolicy", {"logGroupIdentifier": "raw-g", "policyDocument": json.dumps({"FieldsV2": {"a": 1}})}),
    ("PutIndexPolicy", {"logGroupIdentifier": "raw-g", "policyDocument": json.dumps({"FieldsV2": {"a": {"type": []}}})}),
    ("PutIndexPolicy", {"logGroupIdentifier": "raw-g", "policyDocument": DEEP}),
    ("PutTransformer", {"logGroupIdentifier": "raw-g", "transformerConfig": [{"parseJSON": None}]}),
    ("PutTransformer", {"logGroupIdentifier": "raw-g", "transformerConfig": [None]}),
    ("TestTransformer", {"transformerConfig": [{"parseJSON": {}}, {"renameKeys": {"entries": [{"key": "a"}]}}],
                         "logEventMessages": ["{}"]}),
    ("UpdateAnomaly", {"anomalyDetectorArn": "arn:aws:logs:us-east-1:123456789012:anomaly-detector:x"}),
    ("CreateLogAnomalyDetector", {"logGroupArnList": ["arn:aws:logs:us-east-1:123456789012:log-group:raw-g"],
                                  "filterPattern": "{" * 500}),
    ("DescribeQueryDefinitions", {"nextToken": "e30="}),      # base64 of {}: decodes, but is not our token
    ("ListLogGroupsForQuery", {"queryId": "x" * 256, "nextToken": "bad"}),
]


@pytest.mark.parametrize("operation,body", HOSTILE, ids=[f"{o}-{i}" for i, (o, _) in enumerate(HOSTILE)])
def test_hostile_semantics_get_4xx(module_cloud, operation, body):
    logs = boto3.client("logs")
    if "raw-g" not in [g["logGroupName"] for g in logs.describe_log_groups(logGroupNamePrefix="raw-g")["logGroups"]]:
        logs.create_log_group(logGroupName="raw-g")
    answer = call(module_cloud, operation, body)
    assert 400 <= answer.status_code < 500, answer.text[:300]
    assert "__type" in answer.json()


def test_deep_json_events_and_queries_do_not_break_the_server(module_cloud):
    logs = boto3.client("logs")
    logs.create_log_group(logGroupName="raw-deep")
    logs.create_log_stream(logGroupName="raw-deep", logStreamName="s")
    logs.put_transformer(logGroupIdentifier="raw-deep", transformerConfig=[{"parseJSON": {}}])
    deep_object = '{"a":' * 2000 + "1" + "}" * 2000
    now = int(time.time() * 1000)
    logs.put_log_events(logGroupName="raw-deep", logStreamName="s", logEvents=[
        {"timestamp": now, "message": deep_object}, {"timestamp": now + 1, "message": '{"ok": true}'}])
    stored = [e["message"] for e in logs.get_log_events(logGroupName="raw-deep", logStreamName="s",
                                                         startFromHead=True)["events"]]
    assert stored[0] == deep_object and json.loads(stored[1]) == {"ok": True}
    fields = {f["name"] for f in logs.get_log_group_fields(logGroupName="raw-deep")["logGroupFields"]}
    assert "ok" in fields
    logs.tag_log_group(logGroupName="raw-deep", tags={"cw:datasource:name": "deep", "cw:datasource:type": "t"})
    assert logs.get_log_fields(dataSourceName="deep", dataSourceType="t")["logFields"]
    # deeply nested parentheses: valid SQL, answered (a query id), never a 500
    answer = call(module_cloud, "StartQuery", {"queryLanguage": "SQL", "startTime": 0, "endTime": 10,
                                               "queryString": "SELECT " + "(" * 3000 + "1" + ")" * 3000 +
                                                              " FROM `raw-deep`"})
    assert answer.status_code < 500, answer.text[:300]
    assert logs.describe_log_groups(logGroupNamePrefix="raw-deep")["logGroups"]


def test_moto_reset_clears_the_new_state(cloud):
    logs = boto3.client("logs")
    logs.create_log_group(logGroupName="reset-me")
    logs.put_query_definition(name="q", queryString="fields @message")
    logs.put_index_policy(logGroupIdentifier="reset-me", policyDocument='{"Fields": ["a"]}')
    logs.put_transformer(logGroupIdentifier="reset-me", transformerConfig=[{"parseJSON": {}}])
    logs.create_log_anomaly_detector(logGroupArnList=["arn:aws:logs:us-east-1:123456789012:log-group:reset-me"])
    qid = logs.start_query(logGroupName="reset-me", startTime=0, endTime=10, queryString="fields @message")["queryId"]
    assert requests.post(cloud.aws_url + "/moto-api/reset", timeout=30).status_code == 200
    assert logs.describe_query_definitions()["queryDefinitions"] == []
    assert logs.list_log_anomaly_detectors()["anomalyDetectors"] == []
    with pytest.raises(logs.exceptions.ResourceNotFoundException):
        logs.list_log_groups_for_query(queryId=qid)
    logs.create_log_group(logGroupName="reset-me")     # the same name again: no policy, no transformer left over
    assert logs.describe_index_policies(logGroupIdentifiers=["reset-me"])["indexPolicies"] == []
    with pytest.raises(logs.exceptions.ResourceNotFoundException):
        logs.get_transformer(logGroupIdentifier="reset-me")


def test_deleting_a_group_deletes_its_policy_and_transformer(cloud):
    logs = boto3.client("logs")
    logs.create_log_group(logGroupName="short-lived")
    logs.put_index_policy(logGroupIdentifier="short-lived", policyDocument='{"Fields": ["a"]}')
    logs.put_transformer(logGroupIdentifier="short-lived", transformerConfig=[{"parseJSON": {}}])
    logs.delete_log_group(logGroupName="short-lived")
    logs.create_log_group(logGroupName="short-lived")
    assert logs.describe_index_policies(logGroupIdentifiers=["short-lived"])["indexPolicies"] == []
    with pytest.raises(logs.exceptions.ResourceNotFoundException):
        logs.get_transformer(logGroupIdentifier="short-lived")
