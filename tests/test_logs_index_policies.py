"""Field index policies (Put/Describe/DeleteIndexPolicy, DescribeFieldIndexes), filterIndex choosing the log
groups a query reads, and ListLogGroupsForQuery showing them: boto3 and the awscli against the local cloud."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import boto3
import pytest
from botocore.config import Config

AWS_CLI = Path(sys.executable).with_name("aws")
ARN = "arn:aws:logs:us-east-1:123456789012:log-group:"


@pytest.fixture
def logs(cloud):
    return boto3.client("logs")


@pytest.fixture
def raw(cloud):
    return boto3.client("logs", config=Config(parameter_validation=False))


def put_events(logs, group: str, docs: list[dict], stream: str = "s") -> int:
    logs.create_log_group(logGroupName=group)
    logs.create_log_stream(logGroupName=group, logStreamName=stream)
    now = int(time.time() * 1000)
    logs.put_log_events(logGroupName=group, logStreamName=stream,
                        logEvents=[{"timestamp": now + i, "message": json.dumps(d)} for i, d in enumerate(docs)])
    return now


def wait(logs, qid: str) -> dict:
    for _ in range(300):
        res = logs.get_query_results(queryId=qid)
        if res["status"] not in ("Scheduled", "Running"):
            return res
        time.sleep(0.02)
    raise AssertionError(res["status"])


def test_put_describe_delete(logs):
    logs.create_log_group(logGroupName="indexed")
    document = json.dumps({"Fields": ["requestId"], "FieldsV2": {"route": {"type": "FACET"}}})
    policy = logs.put_index_policy(logGroupIdentifier="indexed", policyDocument=document)["indexPolicy"]
    assert policy["logGroupIdentifier"] == ARN + "indexed" and policy["source"] == "LOG_GROUP"
    assert policy["policyDocument"] == document and "policyName" not in policy and policy["lastUpdateTime"] > 0
    (described,) = logs.describe_index_policies(logGroupIdentifiers=[ARN + "indexed"])["indexPolicies"]
    assert described == policy
    logs.create_log_group(logGroupName="plain")
    assert logs.describe_index_policies(logGroupIdentifiers=["plain"])["indexPolicies"] == []
    logs.delete_index_policy(logGroupIdentifier="indexed")
    assert logs.describe_index_policies(logGroupIdentifiers=["indexed"])["indexPolicies"] == []
    with pytest.raises(logs.exceptions.ResourceNotFoundException):
        logs.delete_index_policy(logGroupIdentifier="indexed")


BAD_DOCUMENTS = [
    ("not json", "{", "InvalidParameterException"),
    ("not an object", "[]", "InvalidParameterException"),
    ("no fields", json.dumps({"Fields": []}), "InvalidParameterException"),
    ("unknown key", json.dumps({"Indexes": ["a"]}), "InvalidParameterException"),
    ("fields not strings", json.dumps({"Fields": [1]}), "InvalidParameterException"),
    ("bad v2 type", json.dumps({"FieldsV2": {"a": {"type": "INDEX"}}}), "InvalidParameterException"),
    ("in both", json.dumps({"Fields": ["a"], "FieldsV2": {"a": {"type": "FACET"}}}), "InvalidParameterException"),
    ("21 fields", json.dumps({"Fields": [f"f{i}" for i in range(21)]}), "LimitExceededException"),
    ("101-char name", json.dumps({"Fields": ["x" * 101]}), "InvalidParameterException"),
]


@pytest.mark.parametrize("case,document,code", BAD_DOCUMENTS, ids=[b[0] for b in BAD_DOCUMENTS])
def test_bad_policy_documents(logs, raw, case, document, code):
    logs.create_log_group(logGroupName="g")
    with pytest.raises(raw.exceptions.ClientError) as info:
        raw.put_index_policy(logGroupIdentifier="g", policyDocument=document)
    assert info.value.response["Error"]["Code"] == code
    assert logs.describe_index_policies(logGroupIdentifiers=["g"])["indexPolicies"] == []


def test_limits_that_pass_and_other_bad_input(logs, raw):
    logs.create_log_group(logGroupName="g")
    twenty = json.dumps({"Fields": [f"f{i:02d}" + "x" * 97 for i in range(20)]})   # 20 fields of 100 characters
    logs.put_index_policy(logGroupIdentifier="g", policyDocument=twenty)
    with pytest.raises(logs.exceptions.ResourceNotFoundException):
        logs.put_index_policy(logGroupIdentifier="missing", policyDocument=twenty)
    logs.create_log_group(logGroupName="ia", logGroupClass="INFREQUENT_ACCESS")
    with pytest.raises(logs.exceptions.InvalidParameterException, match="Standard log class"):
        logs.put_index_policy(logGroupIdentifier="ia", policyDocument=twenty)
    for call in (lambda: raw.describe_index_policies(logGroupIdentifiers=["g", "ia"]),   # at most 1
                 lambda: raw.describe_index_policies(logGroupIdentifiers=[]),
                 lambda: raw.describe_field_indexes(logGroupIdentifiers=[]),
                 lambda: raw.put_index_policy(logGroupIdentifier="g", policyDocument="")):
        with pytest.raises(raw.exceptions.InvalidParameterException):
            call()
    with pytest.raises(raw.exceptions.ClientError) as info:   # an ARN ending in :* breaks the identifier pattern
        raw.put_index_policy(logGroupIdentifier=ARN + "g:*", policyDocument=twenty)
    assert info.value.response["Error"]["Code"] in ("ValidationException", "InvalidParameterException")


def test_field_indexes_are_discovered_in_events_after_the_policy(logs):
    logs.create_log_group(logGroupName="app")
    logs.create_log_stream(logGroupName="app", logStreamName="s")
    t0 = int(time.time() * 1000)
    # before the policy: requestId is in the events but not indexed yet
    logs.put_log_events(logGroupName="app", logStreamName="s",
                        logEvents=[{"timestamp": t0 - 5000, "message": json.dumps({"requestId": "r0"})}])
    logs.put_index_policy(logGroupIdentifier="app", policyDocument=json.dumps(
        {"Fields": ["requestId"], "FieldsV2": {"route": {"type": "FACET"}, "never": {"type": "FIELD_INDEX"}}}))
    time.sleep(0.01)
    logs.put_log_events(logGroupName="app", logStreamName="s", logEvents=[
        {"timestamp": t0 + 1, "message": json.dumps({"requestId": "r1", "route": "/a", "traceId": "1-ab"})},
        {"timestamp": t0 + 2, "message": json.dumps({"requestId": "r2"})},
        {"timestamp": t0 + 3, "message": "plain"}])
    got = {i["fieldIndexName"]: i for i in logs.describe_field_indexes(logGroupIdentifiers=["app"])["fieldIndexes"]}
    assert set(got) == {"requestId", "route", "@logStream", "traceId"}   # "never" is in no event
    assert (got["requestId"]["firstEventTime"], got["requestId"]["lastEventTime"]) == (t0 + 1, t0 + 2)
    assert (got["route"]["type"], got["route"]["firstEventTime"]) == ("FACET", t0 + 1)
    assert (got["@logStream"]["firstEventTime"], got["@logStream"]["lastEventTime"]) == (t0 - 5000, t0 + 3)
    assert got["traceId"]["firstEventTime"] == got["traceId"]["lastEventTime"] == t0 + 1
    assert all(i["logGroupIdentifier"] == ARN + "app" and i["lastScanTime"] >= t0 for i in got.values())


def test_filter_index_reads_only_indexed_groups(logs):
    docs = [{"requestId": f"r{i}", "status": 500 if i % 3 == 0 else 200} for i in range(9)]
    put_events(logs, "idx-a", docs)
    put_events(logs, "idx-b", docs)
    put_events(logs, "not-indexed", docs)
    for group in ("idx-a", "idx-b"):
        logs.put_index_policy(logGroupIdentifier=group, policyDocument=json.dumps({"Fields": ["requestId"]}))
    groups = ["idx-a", "idx-b", "not-indexed"]
    start, end = int(time.time()) - 600, int(time.time()) + 600
    qid = logs.start_query(logGroupNames=groups, startTime=start, endTime=end,
                           queryString='filterIndex requestId in ["r1", "r3"] | stats count(*) as n by @log')["queryId"]
    res = wait(logs, qid)
    assert {r[0]["value"]: r[1]["value"] for r in res["results"]} == {
        "123456789012:idx-a": "2", "123456789012:idx-b": "2"}
    # the not-indexed group was skipped, and in the indexed ones the index spares the events without r1 or r3
    assert res["statistics"]["recordsScanned"] == 4 and res["statistics"]["recordsMatched"] == 4
    assert res["statistics"]["bytesScanned"] == 2 * sum(len(json.dumps(docs[i])) for i in (1, 3))
    analyzed = logs.list_log_groups_for_query(queryId=qid)["logGroupIdentifiers"]
    assert analyzed == [ARN + "idx-a", ARN + "idx-b"]
    # the same query with filter reads every group; ListLogGroupsForQuery shows all three
    qid = logs.start_query(logGroupNames=groups, startTime=start, endTime=end,
                           queryString='filter requestId in ["r1", "r3"] | stats count(*) as n')["queryId"]
    assert wait(logs, qid)["results"][0][0]["value"] == "6"
    assert logs.list_log_groups_for_query(queryId=qid)["logGroupIdentifiers"] == [ARN + g for g in groups]
    # a default index (@logStream) covers every group
    qid = logs.start_query(logGroupNames=groups, startTime=start, endTime=end,
                           queryString='filterIndex @logStream = "s" | stats count(*) as n')["queryId"]
    assert wait(logs, qid)["results"][0][0]["value"] == "27"
    # no group indexed on the field: nothing read, nothing found
    qid = logs.start_query(logGroupNames=["not-indexed"], startTime=start, endTime=end,
                           queryString='filterIndex requestId = "r1" | stats count(*) as n')["queryId"]
    res = wait(logs, qid)
    assert res["results"] == [[{"field": "n", "value": "0"}]] and res["statistics"]["recordsScanned"] == 0
    assert logs.list_log_groups_for_query(queryId=qid)["logGroupIdentifiers"] == []


def test_list_log_groups_for_query_paging_and_errors(logs, raw):
    names = [f"many-{i:02d}" for i in range(55)]
    for name in names:
        logs.create_log_group(logGroupName=name)
    qid = logs.start_query(logGroupNames=names[:50], startTime=0, endTime=10, queryString="fields @message")["queryId"]
    page = logs.list_log_groups_for_query(queryId=qid)     # default page: 50
    assert page["logGroupIdentifiers"] == [ARN + n for n in names[:50]] and "nextToken" not in page
    with pytest.raises(logs.exceptions.ResourceNotFoundException):
        logs.list_log_groups_for_query(queryId="00000000-0000-0000-0000-000000000000")
    for bad in (49, 501):
        with pytest.raises(raw.exceptions.InvalidParameterException):
            raw.list_log_groups_for_query(queryId=qid, maxResults=bad)


def test_awscli_index_policy(cloud, logs):
    logs.create_log_group(logGroupName="cli-indexed")
    env = dict(os.environ)

    def aws(*args):
        return subprocess.run([str(AWS_CLI), "logs", *args, "--output", "json"], env=env, capture_output=True,
                              text=True, timeout=60)

    put = aws("put-index-policy", "--log-group-identifier", "cli-indexed", "--policy-document",
              '{"Fields": ["requestId"]}')
    assert put.returncode == 0, put.stderr
    assert json.loads(put.stdout)["indexPolicy"]["source"] == "LOG_GROUP"
    described = aws("describe-index-policies", "--log-group-identifiers", "cli-indexed")
    assert json.loads(described.stdout)["indexPolicies"][0]["policyDocument"] == '{"Fields": ["requestId"]}'
    bad = aws("put-index-policy", "--log-group-identifier", "cli-indexed", "--policy-document", '{"Fields": []}')
    assert bad.returncode != 0 and "InvalidParameterException" in bad.stderr
