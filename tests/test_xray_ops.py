"""The X-Ray operations added for issue 17, with boto3 and the awscli against the local cloud: tags, encryption
config, resource policies, telemetry records, sampling statistic summaries, time-series service statistics, trace
retrieval over the Transaction Search spans, insights. Bad input gets the model's error codes (one table); the
numbers are compared with values computed here, by hand, from the segments and reports the tests send."""
from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import boto3
import pytest
import requests
from botocore.config import Config
from botocore.exceptions import ClientError
from test_xray_transaction_search import post_spans, shift, trace_hex, tree_for
from xray_helpers import Spec, documents, enable_transaction_search, new_trace_id

from lab_app.localcloud.xray import retrieval
from lab_app.localcloud.xray.urls import url_paths

AWS = str(Path(sys.executable).with_name("aws"))
ACCOUNT, REGION = "123456789012", "us-east-1"
DEFAULT_RULE_ARN = f"arn:aws:xray:{REGION}:{ACCOUNT}:sampling-rule/Default"
INSIGHT_ID = "12345678-1234-4234-8234-123456789012"
POLICY = {"Version": "2012-10-17", "Statement": [{
    "Sid": "SNSAccess", "Effect": "Allow", "Principal": {"Service": "sns.amazonaws.com"},
    "Action": ["xray:PutTraceSegments", "xray:GetSamplingRules", "xray:GetSamplingTargets"], "Resource": "*",
    "Condition": {"StringEquals": {"aws:SourceAccount": ACCOUNT}}}]}
RULE = {"RuleName": "checkout", "ResourceARN": "*", "Priority": 5, "FixedRate": 0.1, "ReservoirSize": 1,
        "ServiceName": "*", "ServiceType": "*", "Host": "*", "HTTPMethod": "*", "URLPath": "*", "Version": 1}


@pytest.fixture
def xray(cloud):
    return boto3.client("xray")


def unvalidated_client():
    """A client that sends what it is given (no client-side validation), so the server's answer is what we test."""
    return boto3.client("xray", config=Config(parameter_validation=False, retries={"max_attempts": 1}))


@pytest.fixture
def raw(cloud):
    return unvalidated_client()


@pytest.fixture(scope="module")
def shared_raw(module_cloud):
    """For the bad-input table: one cloud, as no row changes state (a refused request changes nothing)."""
    client = unvalidated_client()
    client.put_resource_policy(PolicyName="p", PolicyDocument=json.dumps(POLICY))   # revision "1" exists
    return client


def aws(*args: str) -> dict:
    out = subprocess.run([AWS, "xray", *args, "--output", "json"], capture_output=True, text=True, timeout=60,
                         env=dict(os.environ))
    if out.returncode != 0:
        raise RuntimeError(out.stderr)
    return json.loads(out.stdout) if out.stdout.strip() else {}


def error(call) -> tuple[str, int]:
    with pytest.raises(ClientError) as info:
        call()
    return info.value.response["Error"]["Code"], info.value.response["ResponseMetadata"]["HTTPStatusCode"]


def utc(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, tz=timezone.utc)


def test_every_operation_of_the_model_is_routed():
    import botocore.session

    model = botocore.session.get_session().get_service_model("xray")
    routed = {model.operation_model(op).http["requestUri"]: op for op in model.operation_names}
    assert len(model.operation_names) == 38
    assert url_paths == routed


# --- bad input: the model's error codes ---------------------------------------------------------------------
NOW = time.time()
BAD_INPUT = [
    ("tag-unknown-arn", "tag_resource", {"ResourceARN": f"arn:aws:xray:{REGION}:{ACCOUNT}:group/nope/ABC",
                                         "Tags": [{"Key": "k", "Value": "v"}]}, "ResourceNotFoundException", 404),
    ("tag-aws-prefix", "tag_resource", {"ResourceARN": DEFAULT_RULE_ARN, "Tags": [{"Key": "aws:team", "Value": "a"}]},
     "InvalidRequestException", 400),
    ("tag-bad-character", "tag_resource", {"ResourceARN": DEFAULT_RULE_ARN, "Tags": [{"Key": "a#b", "Value": "v"}]},
     "InvalidRequestException", 400),
    ("tag-value-too-long", "tag_resource", {"ResourceARN": DEFAULT_RULE_ARN, "Tags": [{"Key": "k", "Value": "v" * 257}]},
     "InvalidRequestException", 400),
    ("tag-51", "tag_resource", {"ResourceARN": DEFAULT_RULE_ARN,
                                "Tags": [{"Key": f"k{i}", "Value": "v"} for i in range(51)]}, "TooManyTagsException", 400),
    ("untag-aws-prefix", "untag_resource", {"ResourceARN": DEFAULT_RULE_ARN, "TagKeys": ["aws:cloudformation:stack"]},
     "InvalidRequestException", 400),
    ("untag-unknown-arn", "untag_resource", {"ResourceARN": DEFAULT_RULE_ARN + "x", "TagKeys": ["k"]},
     "ResourceNotFoundException", 404),
    ("list-tags-unknown-arn", "list_tags_for_resource", {"ResourceARN": DEFAULT_RULE_ARN + "x"},
     "ResourceNotFoundException", 404),
    ("list-tags-no-arn", "list_tags_for_resource", {}, "InvalidRequestException", 400),
    ("create-group-aws-tag", "create_group", {"GroupName": "tagged", "Tags": [{"Key": "aws:x", "Value": "y"}]},
     "InvalidRequestException", 400),
    ("encryption-kms-without-key", "put_encryption_config", {"Type": "KMS"}, "InvalidRequestException", 400),
    ("encryption-unknown-key", "put_encryption_config", {"Type": "KMS", "KeyId": "alias/not-a-key"},
     "InvalidRequestException", 400),
    ("encryption-none-with-key", "put_encryption_config", {"Type": "NONE", "KeyId": "alias/aws/xray"},
     "InvalidRequestException", 400),
    ("encryption-bad-type", "put_encryption_config", {"Type": "AES"}, "InvalidRequestException", 400),
    ("policy-not-json", "put_resource_policy", {"PolicyName": "p", "PolicyDocument": "{not json"},
     "MalformedPolicyDocumentException", 400),
    ("policy-no-statement", "put_resource_policy", {"PolicyName": "p", "PolicyDocument": '{"Version": "2012-10-17"}'},
     "MalformedPolicyDocumentException", 400),
    ("policy-bad-effect", "put_resource_policy", {"PolicyName": "p", "PolicyDocument": json.dumps(
        {"Statement": [{**POLICY["Statement"][0], "Effect": "Maybe"}]})}, "MalformedPolicyDocumentException", 400),
    ("policy-no-principal", "put_resource_policy", {"PolicyName": "p", "PolicyDocument": json.dumps(
        {"Statement": [{k: v for k, v in POLICY["Statement"][0].items() if k != "Principal"}]})},
     "MalformedPolicyDocumentException", 400),
    ("policy-over-5kb", "put_resource_policy", {"PolicyName": "p", "PolicyDocument": json.dumps(
        {**POLICY, "Id": "x" * 5200})}, "PolicySizeLimitExceededException", 400),
    ("policy-bad-name", "put_resource_policy", {"PolicyName": "a b", "PolicyDocument": json.dumps(POLICY)},
     "InvalidRequestException", 400),
    ("policy-revision-mismatch", "put_resource_policy", {
        "PolicyName": "p", "PolicyDocument": json.dumps(POLICY), "PolicyRevisionId": "7"},
     "InvalidPolicyRevisionIdException", 400),
    ("delete-policy-revision-mismatch", "delete_resource_policy", {"PolicyName": "p", "PolicyRevisionId": "3"},
     "InvalidPolicyRevisionIdException", 400),
    ("telemetry-without-timestamp", "put_telemetry_records", {"TelemetryRecords": [{"SegmentsSentCount": 1}]},
     "InvalidRequestException", 400),
    ("telemetry-negative-count", "put_telemetry_records", {
        "TelemetryRecords": [{"Timestamp": NOW, "SegmentsSentCount": -1}]}, "InvalidRequestException", 400),
    ("telemetry-hostname-too-long", "put_telemetry_records", {
        "TelemetryRecords": [{"Timestamp": NOW}], "Hostname": "h" * 256}, "InvalidRequestException", 400),
    ("time-series-period-90", "get_time_series_service_statistics", {
        "StartTime": NOW - 600, "EndTime": NOW, "Period": 90}, "InvalidRequestException", 400),
    ("time-series-filter-not-selector", "get_time_series_service_statistics", {
        "StartTime": NOW - 600, "EndTime": NOW, "EntitySelectorExpression": "fault"}, "InvalidRequestException", 400),
    ("time-series-selector-syntax", "get_time_series_service_statistics", {
        "StartTime": NOW - 600, "EndTime": NOW, "EntitySelectorExpression": 'service("a"'},
     "InvalidRequestException", 400),
    ("time-series-forecast-without-id", "get_time_series_service_statistics", {
        "StartTime": NOW - 600, "EndTime": NOW, "EntitySelectorExpression": 'service("a")',
        "ForecastStatistics": True}, "InvalidRequestException", 400),
    ("time-series-unknown-group", "get_time_series_service_statistics", {
        "StartTime": NOW - 600, "EndTime": NOW, "GroupName": "nope"}, "InvalidRequestException", 400),
    ("time-series-end-before-start", "get_time_series_service_statistics", {"StartTime": NOW, "EndTime": NOW - 600},
     "InvalidRequestException", 400),
    ("time-series-foreign-token", "get_time_series_service_statistics", {
        "StartTime": NOW - 600, "EndTime": NOW, "NextToken": "bm90LWEtdG9rZW4"}, "InvalidRequestException", 400),
    ("sampling-summaries-bad-token", "get_sampling_statistic_summaries", {"NextToken": "garbage"},
     "InvalidRequestException", 400),
    ("retrieval-without-transaction-search", "start_trace_retrieval", {
        "TraceIds": ["1-5f84c7a7-0123456789abcdef01234567"], "StartTime": NOW - 60, "EndTime": NOW},
     "InvalidRequestException", 400),
    ("retrieval-no-trace-ids", "start_trace_retrieval", {"TraceIds": [], "StartTime": NOW - 60, "EndTime": NOW},
     "InvalidRequestException", 400),
    ("list-retrieved-unknown-token", "list_retrieved_traces", {"RetrievalToken": "0" * 64},
     "ResourceNotFoundException", 404),
    ("list-retrieved-bad-format", "list_retrieved_traces", {"RetrievalToken": "0" * 64, "TraceFormat": "JSON"},
     "InvalidRequestException", 400),
    ("graph-unknown-token", "get_retrieved_traces_graph", {"RetrievalToken": "0" * 64},
     "ResourceNotFoundException", 404),
    ("cancel-unknown-token", "cancel_trace_retrieval", {"RetrievalToken": "0" * 64}, "ResourceNotFoundException", 404),
    ("insights-no-group", "get_insight_summaries", {"StartTime": NOW - 60, "EndTime": NOW},
     "InvalidRequestException", 400),
    ("insights-unknown-group", "get_insight_summaries", {"GroupName": "nope", "StartTime": NOW - 60, "EndTime": NOW},
     "InvalidRequestException", 400),
    ("insights-older-than-30-days", "get_insight_summaries", {
        "GroupName": "nope", "StartTime": NOW - 31 * 86400, "EndTime": NOW}, "InvalidRequestException", 400),
    ("insight-unknown", "get_insight", {"InsightId": INSIGHT_ID}, "InvalidRequestException", 400),
    ("insight-id-not-a-uuid", "get_insight", {"InsightId": "not-an-id"}, "InvalidRequestException", 400),
    ("insight-events-unknown", "get_insight_events", {"InsightId": INSIGHT_ID}, "InvalidRequestException", 400),
    ("impact-graph-over-six-hours", "get_insight_impact_graph", {
        "InsightId": INSIGHT_ID, "StartTime": NOW - 7 * 3600, "EndTime": NOW}, "InvalidRequestException", 400),
    ("impact-graph-unknown", "get_insight_impact_graph", {
        "InsightId": INSIGHT_ID, "StartTime": NOW - 3600, "EndTime": NOW}, "InvalidRequestException", 400),
]


@pytest.mark.parametrize("operation,kwargs,code,status", [row[1:] for row in BAD_INPUT], ids=[r[0] for r in BAD_INPUT])
def test_bad_input_gets_the_models_error(shared_raw, operation, kwargs, code, status):
    assert error(lambda: getattr(shared_raw, operation)(**kwargs)) == (code, status)
    assert shared_raw.get_sampling_rules()["SamplingRuleRecords"]   # still serving
    assert [p["PolicyRevisionId"] for p in shared_raw.list_resource_policies()["ResourcePolicies"]] == ["1"]


def test_a_group_refused_for_its_tags_is_not_created(raw):
    error(lambda: raw.create_group(GroupName="tagged", Tags=[{"Key": "aws:x", "Value": "y"}]))
    assert raw.get_groups()["Groups"] == []


# --- tags ---------------------------------------------------------------------------------------------------
def test_tags_on_groups_and_sampling_rules(xray):
    group = xray.create_group(GroupName="checkout", FilterExpression='service("backend-flask")',
                              Tags=[{"Key": "team", "Value": "payments"}, {"Key": "Stage", "Value": "prod"}])["Group"]
    arn = group["GroupARN"]
    assert xray.list_tags_for_resource(ResourceARN=arn)["Tags"] == [
        {"Key": "Stage", "Value": "prod"}, {"Key": "team", "Value": "payments"}]
    xray.tag_resource(ResourceARN=arn, Tags=[{"Key": "team", "Value": "checkout"}, {"Key": "cost center", "Value": "4-2"}])
    xray.untag_resource(ResourceARN=arn, TagKeys=["Stage", "never-set"])
    assert xray.list_tags_for_resource(ResourceARN=arn)["Tags"] == [
        {"Key": "cost center", "Value": "4-2"}, {"Key": "team", "Value": "checkout"}]
    # 50 in all is the limit: 48 more fit, one beyond does not
    xray.tag_resource(ResourceARN=arn, Tags=[{"Key": f"k{i:02d}", "Value": ""} for i in range(48)])
    assert len(xray.list_tags_for_resource(ResourceARN=arn)["Tags"]) == 50
    with pytest.raises(ClientError) as info:
        xray.tag_resource(ResourceARN=arn, Tags=[{"Key": "one-more", "Value": "x"}])
    assert info.value.response["Error"]["Code"] == "TooManyTagsException"
    assert len(xray.list_tags_for_resource(ResourceARN=arn)["Tags"]) == 50

    rule = xray.create_sampling_rule(SamplingRule=RULE, Tags=[{"Key": "owner", "Value": "sre"}])["SamplingRuleRecord"]
    rule_arn = rule["SamplingRule"]["RuleARN"]
    assert xray.list_tags_for_resource(ResourceARN=rule_arn)["Tags"] == [{"Key": "owner", "Value": "sre"}]
    xray.tag_resource(ResourceARN=DEFAULT_RULE_ARN, Tags=[{"Key": "owner", "Value": "platform"}])
    assert xray.list_tags_for_resource(ResourceARN=DEFAULT_RULE_ARN)["Tags"] == [{"Key": "owner", "Value": "platform"}]

    # deleting a resource deletes its tags; a rule re-created under the same name (same ARN) starts without them
    xray.delete_group(GroupARN=arn)
    assert error(lambda: xray.list_tags_for_resource(ResourceARN=arn)) == ("ResourceNotFoundException", 404)
    xray.delete_sampling_rule(RuleName="checkout")
    xray.create_sampling_rule(SamplingRule=RULE)
    assert xray.list_tags_for_resource(ResourceARN=rule_arn)["Tags"] == []


def test_the_resource_not_found_error_names_the_arn(raw):
    arn = f"arn:aws:xray:{REGION}:{ACCOUNT}:group/gone/ABCDEF"
    with pytest.raises(ClientError) as info:
        raw.list_tags_for_resource(ResourceARN=arn)
    assert info.value.response["Error"]["Code"] == "ResourceNotFoundException"
    body = requests.post(os.environ["AWS_ENDPOINT_URL_XRAY"] + "/ListTagsForResource",
                         json={"ResourceARN": arn}, timeout=10).json()
    assert body["ResourceName"] == arn and body["__type"] == "ResourceNotFoundException"


# --- encryption -------------------------------------------------------------------------------------------------
def test_encryption_config_default_kms_updating_then_active(xray, cloud):
    assert xray.get_encryption_config()["EncryptionConfig"] == {"Type": "NONE", "Status": "ACTIVE"}
    kms = boto3.client("kms")
    managed_arn = kms.describe_key(KeyId="alias/aws/xray")["KeyMetadata"]["Arn"]
    put = xray.put_encryption_config(Type="KMS", KeyId="alias/aws/xray")["EncryptionConfig"]
    assert put == {"Type": "KMS", "KeyId": managed_arn, "Status": "UPDATING"}
    assert xray.get_encryption_config()["EncryptionConfig"]["Status"] == "UPDATING"
    cloud.context.clock.advance(3)
    assert xray.get_encryption_config()["EncryptionConfig"] == {"Type": "KMS", "KeyId": managed_arn, "Status": "ACTIVE"}

    own = kms.create_key()["KeyMetadata"]
    assert xray.put_encryption_config(Type="KMS", KeyId=own["KeyId"])["EncryptionConfig"]["KeyId"] == own["Arn"]
    asymmetric = kms.create_key(KeySpec="RSA_2048", KeyUsage="ENCRYPT_DECRYPT")["KeyMetadata"]
    assert error(lambda: xray.put_encryption_config(Type="KMS", KeyId=asymmetric["Arn"])) == \
        ("InvalidRequestException", 400)
    kms.disable_key(KeyId=own["KeyId"])
    assert error(lambda: xray.put_encryption_config(Type="KMS", KeyId=own["KeyId"])) == ("InvalidRequestException", 400)
    assert xray.put_encryption_config(Type="NONE")["EncryptionConfig"] == {"Type": "NONE", "Status": "UPDATING"}
    cloud.context.clock.advance(3)
    assert xray.get_encryption_config()["EncryptionConfig"] == {"Type": "NONE", "Status": "ACTIVE"}


# --- resource policies ---------------------------------------------------------------------------------------
def test_resource_policy_revisions_limits_and_delete(xray):
    document = json.dumps(POLICY)
    first = xray.put_resource_policy(PolicyName="sns", PolicyDocument=document)["ResourcePolicy"]
    assert (first["PolicyName"], first["PolicyDocument"], first["PolicyRevisionId"]) == ("sns", document, "1")
    assert error(lambda: xray.put_resource_policy(PolicyName="sns", PolicyDocument=document, PolicyRevisionId="0")) \
        == ("InvalidPolicyRevisionIdException", 400)
    assert xray.put_resource_policy(PolicyName="sns", PolicyDocument=document)["ResourcePolicy"]["PolicyRevisionId"] == "2"
    assert error(lambda: xray.put_resource_policy(PolicyName="sns", PolicyDocument=document, PolicyRevisionId="1")) \
        == ("InvalidPolicyRevisionIdException", 400)
    third = xray.put_resource_policy(PolicyName="sns", PolicyDocument=document, PolicyRevisionId="2",
                                     BypassPolicyLockoutCheck=True)["ResourcePolicy"]
    assert third["PolicyRevisionId"] == "3"
    created = xray.put_resource_policy(PolicyName="new", PolicyDocument=document, PolicyRevisionId="0")
    assert created["ResourcePolicy"]["PolicyRevisionId"] == "1"
    # exactly 5 KB is accepted, one byte more is not
    padded = {**POLICY, "Id": ""}
    padded["Id"] = "x" * (5120 - len(json.dumps(padded)))
    assert len(json.dumps(padded)) == 5120
    xray.put_resource_policy(PolicyName="big", PolicyDocument=json.dumps(padded))
    padded["Id"] += "x"
    assert error(lambda: xray.put_resource_policy(PolicyName="big", PolicyDocument=json.dumps(padded))) == \
        ("PolicySizeLimitExceededException", 400)
    for name in ("four", "five"):
        xray.put_resource_policy(PolicyName=name, PolicyDocument=document)
    assert error(lambda: xray.put_resource_policy(PolicyName="six", PolicyDocument=document)) == \
        ("PolicyCountLimitExceededException", 400)
    listed = xray.list_resource_policies()["ResourcePolicies"]
    assert [(p["PolicyName"], p["PolicyRevisionId"]) for p in listed] == [
        ("big", "1"), ("five", "1"), ("four", "1"), ("new", "1"), ("sns", "3")]
    assert all(isinstance(p["LastUpdatedTime"], datetime) for p in listed)

    assert error(lambda: xray.delete_resource_policy(PolicyName="sns", PolicyRevisionId="2")) == \
        ("InvalidPolicyRevisionIdException", 400)
    xray.delete_resource_policy(PolicyName="sns", PolicyRevisionId="3")
    xray.delete_resource_policy(PolicyName="big")
    xray.delete_resource_policy(PolicyName="never-existed")
    assert [p["PolicyName"] for p in xray.list_resource_policies()["ResourcePolicies"]] == ["five", "four", "new"]
    # a re-created policy starts again at revision 1
    assert xray.put_resource_policy(PolicyName="sns", PolicyDocument=document)["ResourcePolicy"]["PolicyRevisionId"] == "1"


# --- telemetry records ------------------------------------------------------------------------------------------
def test_put_telemetry_records_as_the_daemon_sends_them(xray, cloud):
    records = [{"Timestamp": utc(1_700_000_000), "SegmentsReceivedCount": 12, "SegmentsSentCount": 11,
                "SegmentsSpilloverCount": 0, "SegmentsRejectedCount": 1,
                "BackendConnectionErrors": {"TimeoutCount": 0, "ConnectionRefusedCount": 2, "HTTPCode4XXCount": 0,
                                            "HTTPCode5XXCount": 1, "UnknownHostCount": 0, "OtherCount": 0}},
               {"Timestamp": utc(1_700_000_060), "SegmentsReceivedCount": 3}]
    answer = xray.put_telemetry_records(TelemetryRecords=records, EC2InstanceId="i-0123456789abcdef0",
                                        Hostname="ip-10-0-0-1", ResourceARN="arn:aws:ec2:us-east-1:123456789012:i")
    assert {k: v for k, v in answer.items() if k != "ResponseMetadata"} == {}
    stored = cloud.component("xray").backend.telemetry.records()
    assert [(r["Timestamp"], r["SegmentsReceivedCount"], r["Hostname"]) for r in stored] == [
        (1_700_000_000.0, 12, "ip-10-0-0-1"), (1_700_000_060.0, 3, "ip-10-0-0-1")]
    assert stored[0]["BackendConnectionErrors"]["ConnectionRefusedCount"] == 2
    assert stored[0]["EC2InstanceId"] == "i-0123456789abcdef0"


# --- sampling statistic summaries ------------------------------------------------------------------------------
def test_sampling_statistic_summaries_add_up_the_reports_per_rule_and_window(xray, cloud):
    xray.create_sampling_rule(SamplingRule=RULE)
    window = math.floor(cloud.context.clock.now() / 10) * 10 - 20    # two reporting windows ago
    a, b = "a" * 24, "b" * 24

    def doc(rule, client, ts, requests_, sampled, borrowed):
        return {"RuleName": rule, "ClientID": client, "Timestamp": ts, "RequestCount": requests_,
                "SampledCount": sampled, "BorrowCount": borrowed}

    answer = xray.get_sampling_targets(SamplingStatisticsDocuments=[
        doc("Default", a, window + 1, 10, 2, 1), doc("Default", b, window + 9, 5, 1, 0),
        doc("checkout", a, window + 2, 7, 7, 0), doc("no-such-rule", a, window + 3, 99, 99, 99)])
    assert [u["RuleName"] for u in answer["UnprocessedStatistics"]] == ["no-such-rule"]
    # the SDK's path: the daemon's TCP side (unsigned POST /SamplingTargets), the next window
    daemon = f"http://127.0.0.1:{cloud.ports['daemon']}/SamplingTargets"
    r = requests.post(daemon, json={"SamplingStatisticsDocuments": [doc("Default", a, window + 11, 4, 1, 1)]},
                      timeout=10)
    assert r.status_code == 200
    summaries = xray.get_sampling_statistic_summaries()["SamplingStatisticSummaries"]
    got = [(s["RuleName"], s["Timestamp"], s["RequestCount"], s["SampledCount"], s["BorrowCount"]) for s in summaries]
    assert got == [("Default", utc(window), 15, 3, 1), ("Default", utc(window + 10), 4, 1, 1),
                   ("checkout", utc(window), 7, 7, 0)]


# --- time-series service statistics -----------------------------------------------------------------------------
def stats(total, ok, fault, error_, throttle, response_time) -> dict:
    return {"OkCount": ok, "ErrorStatistics": {"ThrottleCount": throttle, "OtherCount": error_ - throttle,
                                               "TotalCount": error_},
            "FaultStatistics": {"OtherCount": fault, "TotalCount": fault}, "TotalCount": total,
            "TotalResponseTime": pytest.approx(response_time)}


def histogram(*values) -> list[dict]:
    return [{"Value": pytest.approx(v), "Count": 1} for v in sorted(values)]


@pytest.fixture
def series(xray, cloud):
    """Five requests in two one-minute windows (aligned to 120 s so one 120 s period holds both).

    window A (base + 1..3 s): 200 (0.1 s, notifications 200 in 0.05 s), 500 (0.3 s, notifications 500 in 0.2 s),
    429 (0.2 s, notifications 200 in 0.1 s); window B (base + 61..62 s): 404 (0.05 s, notifications 404 in 0.02 s),
    200 (0.15 s, payments 200 in 0.05 s). The notifications segment takes the call's time minus 4 ms."""
    base = math.floor(time.time() / 120) * 120 - 240
    specs = [(1, Spec(status=200, response_time=0.1, downstream="notifications", downstream_time=0.05)),
             (2, Spec(status=500, response_time=0.3, downstream="notifications", downstream_status=500,
                      downstream_time=0.2)),
             (3, Spec(status=429, response_time=0.2, downstream="notifications", downstream_time=0.1)),
             (61, Spec(status=404, response_time=0.05, downstream="notifications", downstream_status=404,
                       downstream_time=0.02)),
             (62, Spec(status=200, response_time=0.15, downstream="payments", downstream_time=0.05))]
    docs = []
    for offset, spec in specs:
        spec.trace_id = new_trace_id(base + offset)
        docs += documents(spec, base + offset)
    assert xray.put_trace_segments(TraceSegmentDocuments=[json.dumps(d) for d in docs])["UnprocessedTraceSegments"] == []
    return base


def points(xray, base, **kwargs) -> list[dict]:
    answer = xray.get_time_series_service_statistics(StartTime=base, EndTime=base + 240, **kwargs)
    assert answer["ContainsOldGroupVersions"] is False
    return answer["TimeSeriesServiceStatistics"]


def test_service_statistics_per_minute_match_the_segments(xray, series):
    got = points(xray, series, EntitySelectorExpression='service("backend-flask")')
    assert got == [
        {"Timestamp": utc(series), "ServiceSummaryStatistics": stats(3, 1, 1, 1, 1, 0.6),
         "ResponseTimeHistogram": histogram(0.1, 0.2, 0.3)},
        {"Timestamp": utc(series + 60), "ServiceSummaryStatistics": stats(2, 1, 0, 1, 0, 0.2),
         "ResponseTimeHistogram": histogram(0.05, 0.15)}]
    assert points(xray, series, EntitySelectorExpression='id(name: "backend-flask")') == got
    assert points(xray, series, EntitySelectorExpression='service("notifications")') == [
        {"Timestamp": utc(series), "ServiceSummaryStatistics": stats(3, 2, 1, 0, 0, 0.046 + 0.196 + 0.096),
         "ResponseTimeHistogram": histogram(0.046, 0.096, 0.196)},
        {"Timestamp": utc(series + 60), "ServiceSummaryStatistics": stats(1, 0, 0, 1, 0, 0.016),
         "ResponseTimeHistogram": histogram(0.016)}]
    # a type the segments do not have selects nothing; the forecast is answered as "none available"
    assert points(xray, series, EntitySelectorExpression='id(name: "backend-flask", type: "AWS::EC2::Instance")') == []
    forecast = points(xray, series, EntitySelectorExpression='id(name: "backend-flask")', ForecastStatistics=True)
    assert forecast == got and all("ServiceForecastStatistics" not in p for p in forecast)


def test_edge_statistics_one_edge_or_all_and_longer_periods(xray, series):
    assert points(xray, series, EntitySelectorExpression='edge("backend-flask", "notifications")') == [
        {"Timestamp": utc(series), "EdgeSummaryStatistics": stats(3, 2, 1, 0, 0, 0.35),
         "ResponseTimeHistogram": histogram(0.05, 0.1, 0.2)},
        {"Timestamp": utc(series + 60), "EdgeSummaryStatistics": stats(1, 0, 0, 1, 0, 0.02),
         "ResponseTimeHistogram": histogram(0.02)}]
    every_edge = points(xray, series)
    assert [p["EdgeSummaryStatistics"] for p in every_edge] == [stats(3, 2, 1, 0, 0, 0.35), stats(2, 1, 0, 1, 0, 0.07)]
    two_minutes = points(xray, series, Period=120)
    assert [(p["Timestamp"], p["EdgeSummaryStatistics"]) for p in two_minutes] == [
        (utc(series), stats(5, 3, 1, 1, 0, 0.42))]
    assert two_minutes[0]["ResponseTimeHistogram"] == [
        {"Value": pytest.approx(0.02), "Count": 1}, {"Value": pytest.approx(0.05), "Count": 2},
        {"Value": pytest.approx(0.1), "Count": 1}, {"Value": pytest.approx(0.2), "Count": 1}]
    # only the window asked for
    late = xray.get_time_series_service_statistics(StartTime=series + 60, EndTime=series + 240)
    assert [p["Timestamp"] for p in late["TimeSeriesServiceStatistics"]] == [utc(series + 60)]


def test_group_statistics_use_the_groups_filter_expression(xray, series):
    xray.create_group(GroupName="faults", FilterExpression="fault")
    assert points(xray, series, GroupName="faults", EntitySelectorExpression='service("backend-flask")') == [
        {"Timestamp": utc(series), "ServiceSummaryStatistics": stats(1, 0, 1, 0, 0, 0.3),
         "ResponseTimeHistogram": histogram(0.3)}]
    arn = xray.get_group(GroupName="faults")["Group"]["GroupARN"]
    assert points(xray, series, GroupARN=arn, EntitySelectorExpression='service("backend-flask")') == \
        points(xray, series, GroupName="faults", EntitySelectorExpression='service("backend-flask")')


# --- trace retrieval ----------------------------------------------------------------------------------------------
def test_trace_retrieval_scheduled_running_complete_in_both_formats(xray, cloud):
    enable_transaction_search(cloud)
    hex_id = trace_hex("0000abcd")
    spans = tree_for(hex_id, shift())
    assert post_spans(cloud, spans).status_code == 200
    xray_id = f"1-{hex_id[:8]}-{hex_id[8:]}"
    t0 = min(s["start_time_unix_nano"] for s in spans) / 1e9
    token = xray.start_trace_retrieval(TraceIds=[xray_id, new_trace_id()], StartTime=t0 - 60,
                                       EndTime=t0 + 60)["RetrievalToken"]
    first = xray.list_retrieved_traces(RetrievalToken=token)
    assert (first["RetrievalStatus"], first["TraceFormat"], first["Traces"]) == ("SCHEDULED", "XRAY", [])
    cloud.context.clock.advance(retrieval.SCHEDULED_SECONDS)
    assert xray.get_retrieved_traces_graph(RetrievalToken=token)["RetrievalStatus"] == "RUNNING"
    assert xray.get_retrieved_traces_graph(RetrievalToken=token)["Services"] == []
    cloud.context.clock.advance(retrieval.RUNNING_SECONDS)

    otel = xray.list_retrieved_traces(RetrievalToken=token, TraceFormat="OTEL")
    assert (otel["RetrievalStatus"], otel["TraceFormat"]) == ("COMPLETE", "OTEL")
    trace, = otel["Traces"]                     # the other id has no spans
    assert trace["Id"] == xray_id
    root = next(s for s in spans if not s["parent_span_id"])
    assert trace["Duration"] == pytest.approx((max(s["end_time_unix_nano"] for s in spans)
                                               - root["start_time_unix_nano"]) / 1e9)
    by_id = {s["Id"]: json.loads(s["Document"]) for s in trace["Spans"]}
    assert set(by_id) == {s["span_id"] for s in spans}
    for s in spans:
        doc = by_id[s["span_id"]]
        assert (doc["traceId"], doc["name"], doc["startTimeUnixNano"]) == (hex_id, s["name"], s["start_time_unix_nano"])

    segments = {s["Id"]: json.loads(s["Document"]) for s in
                xray.list_retrieved_traces(RetrievalToken=token)["Traces"][0]["Spans"]}
    assert {d["trace_id"] for d in segments.values()} == {xray_id}
    assert segments["00000000000000a1"]["name"] == "backend-flask" and "type" not in segments["00000000000000a1"]
    assert segments["00000000000000a2"]["type"] == "subsegment"
    assert segments["00000000000000b1"]["parent_id"] == "00000000000000a3"
    assert segments["00000000000000a1"]["end_time"] - segments["00000000000000a1"]["start_time"] == pytest.approx(0.25)

    graph = xray.get_retrieved_traces_graph(RetrievalToken=token)
    assert graph["RetrievalStatus"] == "COMPLETE"
    services = {s["Service"]["Name"]: s["Service"] for s in graph["Services"]}
    assert set(services) == {"backend-flask", "notifications"}
    assert all(s["Links"] == [] for s in graph["Services"])
    backend, notifications = services["backend-flask"], services["notifications"]
    assert (backend["Root"], notifications["Root"]) == (True, False)
    assert backend["SummaryStatistics"] == stats(1, 1, 0, 0, 0, 0.25)
    assert notifications["SummaryStatistics"] == stats(1, 0, 1, 0, 0, 0.18)
    edge, = backend["Edges"]
    assert edge["ReferenceId"] == notifications["ReferenceId"]
    assert edge["SummaryStatistics"] == stats(1, 0, 1, 0, 0, 0.2)
    assert notifications["Edges"] == []


def test_trace_retrieval_time_range_paging_and_cancel(xray, cloud):
    enable_transaction_search(cloud)
    ids = []
    for i in range(7):
        hex_id = trace_hex(f"0000{i:04x}")
        assert post_spans(cloud, tree_for(hex_id, shift())).status_code == 200
        ids.append(f"1-{hex_id[:8]}-{hex_id[8:]}")
    # what else someone wrote into aws/spans with the same trace id is not a span: left out, not a 500
    logs = boto3.client("logs")
    logs.create_log_stream(logGroupName="aws/spans", logStreamName="by-hand")
    junk = [{"traceId": ids[0][2:].replace("-", ""), "spanId": "zz"}, {"traceId": ids[0][2:].replace("-", "")}]
    logs.put_log_events(logGroupName="aws/spans", logStreamName="by-hand", logEvents=[
        {"timestamp": int(time.time() * 1000), "message": json.dumps(j)} for j in junk] + [
        {"timestamp": int(time.time() * 1000), "message": "not json"}])
    now = time.time()
    everything = xray.start_trace_retrieval(TraceIds=ids, StartTime=now - 600, EndTime=now + 60)["RetrievalToken"]
    before = xray.start_trace_retrieval(TraceIds=ids, StartTime=now - 600, EndTime=now - 300)["RetrievalToken"]
    cancelled = xray.start_trace_retrieval(TraceIds=ids, StartTime=now - 600, EndTime=now + 60)["RetrievalToken"]
    xray.cancel_trace_retrieval(RetrievalToken=cancelled)
    assert error(lambda: xray.cancel_trace_retrieval(RetrievalToken=cancelled)) == ("InvalidRequestException", 400)
    cloud.context.clock.advance(retrieval.SCHEDULED_SECONDS + retrieval.RUNNING_SECONDS)

    first = xray.list_retrieved_traces(RetrievalToken=everything)
    assert len(first["Traces"]) == 5 and "NextToken" in first
    second = xray.list_retrieved_traces(RetrievalToken=everything, NextToken=first["NextToken"])
    assert len(second["Traces"]) == 2 and "NextToken" not in second
    assert [t["Id"] for t in first["Traces"] + second["Traces"]] == ids
    assert all(len(t["Spans"]) == 4 for t in first["Traces"] + second["Traces"])
    assert xray.list_retrieved_traces(RetrievalToken=before)["Traces"] == []
    late = xray.list_retrieved_traces(RetrievalToken=cancelled)
    assert (late["RetrievalStatus"], late["Traces"]) == ("CANCELLED", [])
    assert error(lambda: xray.cancel_trace_retrieval(RetrievalToken=everything)) == ("InvalidRequestException", 400)
    graph = xray.get_retrieved_traces_graph(RetrievalToken=everything)["Services"]
    backend = next(s["Service"] for s in graph if s["Service"]["Name"] == "backend-flask")
    assert backend["SummaryStatistics"]["TotalCount"] == 7
    assert backend["SummaryStatistics"]["TotalResponseTime"] == pytest.approx(7 * 0.25)


# --- insights ----------------------------------------------------------------------------------------------------
def test_insights_answer_nothing_to_report_for_groups_with_insights_on_or_off(xray):
    on = xray.create_group(GroupName="watched", InsightsConfiguration={"InsightsEnabled": True,
                                                                        "NotificationsEnabled": True})["Group"]
    xray.create_group(GroupName="quiet", InsightsConfiguration={"InsightsEnabled": False})
    now = time.time()
    for kwargs in ({"GroupName": "watched"}, {"GroupARN": on["GroupARN"]}, {"GroupName": "quiet"},
                   {"GroupName": "watched", "States": ["ACTIVE"], "MaxResults": 10}):
        answer = xray.get_insight_summaries(StartTime=now - 3600, EndTime=now, **kwargs)
        assert answer["InsightSummaries"] == [] and "NextToken" not in answer
    assert error(lambda: xray.get_insight(InsightId=INSIGHT_ID)) == ("InvalidRequestException", 400)


# --- reset -------------------------------------------------------------------------------------------------------
def test_moto_api_reset_clears_the_new_state(xray, cloud):
    xray.put_resource_policy(PolicyName="sns", PolicyDocument=json.dumps(POLICY))
    xray.put_encryption_config(Type="KMS", KeyId="alias/aws/xray")
    xray.tag_resource(ResourceARN=DEFAULT_RULE_ARN, Tags=[{"Key": "k", "Value": "v"}])
    xray.put_telemetry_records(TelemetryRecords=[{"Timestamp": time.time()}])
    xray.get_sampling_targets(SamplingStatisticsDocuments=[{"RuleName": "Default", "ClientID": "c" * 24,
                                                            "Timestamp": time.time(), "RequestCount": 1,
                                                            "SampledCount": 1}])
    enable_transaction_search(cloud)
    token = xray.start_trace_retrieval(TraceIds=[new_trace_id()], StartTime=time.time() - 60,
                                       EndTime=time.time())["RetrievalToken"]
    assert requests.post(cloud.aws_url + "/moto-api/reset", timeout=30).status_code == 200
    assert xray.list_resource_policies()["ResourcePolicies"] == []
    assert xray.get_encryption_config()["EncryptionConfig"] == {"Type": "NONE", "Status": "ACTIVE"}
    assert xray.list_tags_for_resource(ResourceARN=DEFAULT_RULE_ARN)["Tags"] == []
    assert cloud.component("xray").backend.telemetry.records() == []
    assert xray.get_sampling_statistic_summaries()["SamplingStatisticSummaries"] == []
    assert error(lambda: xray.list_retrieved_traces(RetrievalToken=token)) == ("ResourceNotFoundException", 404)


# --- the awscli ----------------------------------------------------------------------------------------------------
def test_awscli_commands(cloud, series, tmp_path):
    assert aws("get-encryption-config")["EncryptionConfig"] == {"Type": "NONE", "Status": "ACTIVE"}
    records = tmp_path / "records.json"
    records.write_text(json.dumps([{"Timestamp": 1_700_000_000, "SegmentsReceivedCount": 4,
                                    "SegmentsSentCount": 4}]))
    assert aws("put-telemetry-records", "--telemetry-records", f"file://{records}", "--hostname", "cli-host") == {}
    assert cloud.component("xray").backend.telemetry.records()[0]["Hostname"] == "cli-host"
    got = aws("get-time-series-service-statistics", "--start-time", str(series), "--end-time", str(series + 240),
              "--entity-selector-expression", 'service("backend-flask")')
    assert [(p["ServiceSummaryStatistics"]["TotalCount"], p["ServiceSummaryStatistics"]["OkCount"])
            for p in got["TimeSeriesServiceStatistics"]] == [(3, 1), (2, 1)]
    assert aws("tag-resource", "--resource-arn", DEFAULT_RULE_ARN, "--tags", "Key=team,Value=sre") == {}
    assert aws("list-tags-for-resource", "--resource-arn", DEFAULT_RULE_ARN)["Tags"] == [{"Key": "team", "Value": "sre"}]
    with pytest.raises(RuntimeError, match="ResourceNotFoundException"):
        aws("list-tags-for-resource", "--resource-arn", DEFAULT_RULE_ARN + "x")
