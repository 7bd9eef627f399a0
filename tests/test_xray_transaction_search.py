"""CloudWatch Transaction Search in the local cloud: the four X-Ray operations (boto3, raw requests, the awscli),
the OTLP endpoint's answers (off, wrong service, unsigned), spans in ``aws/spans`` queried with Logs Insights, and
the indexing percentage. Expected values are computed here from the ids and spans the tests choose."""
from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import boto3
import pytest
import requests
from botocore.exceptions import ClientError
from test_xray_otlp import SIGNED, _proto_body, span_tree
from xray_helpers import SPANS_POLICY, enable_transaction_search, wait_for

from lab_app.localcloud.xray.transaction_search import indexed

AWS = str(Path(sys.executable).with_name("aws"))


def aws(*args: str) -> dict:
    out = subprocess.run([AWS, *args, "--output", "json"], capture_output=True, text=True, timeout=60,
                         env=dict(os.environ))
    if out.returncode != 0:
        raise RuntimeError(out.stderr)
    return json.loads(out.stdout) if out.stdout.strip() else {}


def tree_for(trace_hex: str, shift_ns: int) -> list[dict]:
    """The four-span tree of test_xray_otlp (backend server, internal, client -> notifications server), now."""
    spans = span_tree()
    for s in spans:
        s["trace_id"] = trace_hex
        s["start_time_unix_nano"] += shift_ns
        s["end_time_unix_nano"] += shift_ns
    return spans


def post_spans(cloud, spans: list[dict], headers: dict | None = None) -> requests.Response:
    return requests.post(cloud.aws_url + "/v1/traces", data=gzip.compress(_proto_body(spans)), timeout=10,
                         headers=headers or {**SIGNED, "Content-Type": "application/x-protobuf",
                                             "Content-Encoding": "gzip"})


def shift() -> int:
    from test_xray_otlp import T0

    return time.time_ns() - T0


def trace_hex(last8: str) -> str:
    return format(int(time.time()), "08x") + "0123456789abcdef" + last8


# --- the operations ------------------------------------------------------------------------------------------
def test_a_new_account_sends_to_xray_and_indexes_one_percent(cloud):
    xray = boto3.client("xray")
    got = xray.get_trace_segment_destination()
    assert (got["Destination"], got["Status"]) == ("XRay", "ACTIVE")
    rule, = xray.get_indexing_rules()["IndexingRules"]
    assert rule["Name"] == "Default"
    assert rule["Rule"]["Probabilistic"]["DesiredSamplingPercentage"] == 1.0


def test_enabling_needs_the_logs_resource_policy_then_goes_pending_then_active(cloud):
    xray, logs = boto3.client("xray"), boto3.client("logs")
    with pytest.raises(ClientError) as err:
        xray.update_trace_segment_destination(Destination="CloudWatchLogs")
    assert err.value.response["Error"]["Code"] == "InvalidRequestException"
    assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert "PutResourcePolicy" in err.value.response["Error"]["Message"]

    put = logs.put_resource_policy(policyName="TransactionSearchAccess", policyDocument=json.dumps(SPANS_POLICY))
    assert put["resourcePolicy"]["policyName"] == "TransactionSearchAccess"
    assert [p["policyName"] for p in logs.describe_resource_policies()["resourcePolicies"]] == ["TransactionSearchAccess"]
    update = xray.update_trace_segment_destination(Destination="CloudWatchLogs")
    assert (update["Destination"], update["Status"]) == ("CloudWatchLogs", "PENDING")
    got = xray.get_trace_segment_destination()
    assert (got["Destination"], got["Status"]) == ("CloudWatchLogs", "PENDING")
    with pytest.raises(ClientError) as err:                                  # one change at a time
        xray.update_trace_segment_destination(Destination="XRay")
    assert err.value.response["Error"]["Code"] == "InvalidRequestException"
    assert "aws/spans" not in [g["logGroupName"] for g in logs.describe_log_groups()["logGroups"]]
    cloud.context.clock.advance(3)
    got = xray.get_trace_segment_destination()
    assert (got["Destination"], got["Status"]) == ("CloudWatchLogs", "ACTIVE")
    assert "aws/spans" in [g["logGroupName"] for g in logs.describe_log_groups()["logGroups"]]
    again = xray.update_trace_segment_destination(Destination="CloudWatchLogs")   # already there: ACTIVE at once
    assert (again["Destination"], again["Status"]) == ("CloudWatchLogs", "ACTIVE")


def test_a_policy_for_another_group_or_principal_is_not_enough(cloud):
    xray, logs = boto3.client("xray"), boto3.client("logs")
    other = json.loads(json.dumps(SPANS_POLICY))
    other["Statement"][0]["Resource"] = ["arn:aws:logs:us-east-1:123456789012:log-group:cruddur:*"]
    logs.put_resource_policy(policyName="wrong-group", policyDocument=json.dumps(other))
    other["Statement"][0]["Resource"] = SPANS_POLICY["Statement"][0]["Resource"]
    other["Statement"][0]["Principal"] = {"Service": "delivery.logs.amazonaws.com"}
    logs.put_resource_policy(policyName="wrong-principal", policyDocument=json.dumps(other))
    with pytest.raises(ClientError) as err:
        xray.update_trace_segment_destination(Destination="CloudWatchLogs")
    assert err.value.response["Error"]["Code"] == "InvalidRequestException"
    logs.delete_resource_policy(policyName="wrong-group")
    with pytest.raises(ClientError) as err:
        logs.delete_resource_policy(policyName="wrong-group")
    assert err.value.response["Error"]["Code"] == "ResourceNotFoundException"


@pytest.mark.parametrize("path, body, status, code", [
    ("/UpdateTraceSegmentDestination", {"Destination": "S3"}, 400, "InvalidRequestException"),
    ("/UpdateTraceSegmentDestination", {"Destination": 7}, 400, "InvalidRequestException"),
    ("/UpdateIndexingRule", {"Rule": {"Probabilistic": {"DesiredSamplingPercentage": 5}}}, 400,
     "InvalidRequestException"),
    ("/UpdateIndexingRule", {"Name": "Default"}, 400, "InvalidRequestException"),
    ("/UpdateIndexingRule", {"Name": "Default", "Rule": {"Probabilistic": {}}}, 400, "InvalidRequestException"),
    ("/UpdateIndexingRule", {"Name": "Default", "Rule": {"Probabilistic": {"DesiredSamplingPercentage": 150}}}, 400,
     "InvalidRequestException"),
    ("/UpdateIndexingRule", {"Name": "Default", "Rule": {"Probabilistic": {"DesiredSamplingPercentage": -1}}}, 400,
     "InvalidRequestException"),
    ("/UpdateIndexingRule", {"Name": "Default", "Rule": {"Probabilistic": {"DesiredSamplingPercentage": "10"}}}, 400,
     "InvalidRequestException"),
    ("/UpdateIndexingRule", {"Name": "Default", "Rule": {"Other": {}}}, 400, "InvalidRequestException"),
    ("/UpdateIndexingRule", {"Name": "Orders", "Rule": {"Probabilistic": {"DesiredSamplingPercentage": 5}}}, 404,
     "ResourceNotFoundException"),
    ("/GetIndexingRules", {"NextToken": 3}, 400, "InvalidRequestException"),
], ids=["bad-destination", "destination-not-string", "no-name", "no-rule", "no-percentage", "over-100", "negative",
        "percentage-string", "unknown-rule-type", "unknown-rule", "token-not-string"])
def test_validation_errors_have_xrays_codes(cloud, path, body, status, code):
    r = requests.post(cloud.aws_url + path, json=body, headers=SIGNED, timeout=10)
    assert r.status_code == status
    assert r.headers["x-amzn-ErrorType"] == code and r.json()["message"]
    ok = requests.post(cloud.aws_url + "/GetIndexingRules", json={}, headers=SIGNED, timeout=10)
    assert ok.status_code == 200 and ok.json()["IndexingRules"][0]["Name"] == "Default"


def test_unknown_rule_names_itself_and_boto3_raises_the_modelled_error(cloud):
    xray = boto3.client("xray")
    with pytest.raises(xray.exceptions.ResourceNotFoundException) as err:
        xray.update_indexing_rule(Name="Orders", Rule={"Probabilistic": {"DesiredSamplingPercentage": 5}})
    assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404
    assert err.value.response["ResourceName"] == "Orders"


def test_update_indexing_rule_returns_the_rule_with_its_modification_time(cloud):
    xray = boto3.client("xray")
    before = time.time()
    rule = xray.update_indexing_rule(Name="Default", Rule={"Probabilistic": {"DesiredSamplingPercentage": 25}})
    assert rule["IndexingRule"]["Name"] == "Default"
    assert rule["IndexingRule"]["Rule"]["Probabilistic"]["DesiredSamplingPercentage"] == 25.0
    assert rule["IndexingRule"]["ModifiedAt"].timestamp() >= before - 1
    listed, = xray.get_indexing_rules()["IndexingRules"]
    assert listed["Rule"]["Probabilistic"] == {"DesiredSamplingPercentage": 25.0, "ActualSamplingPercentage": 25.0}


def test_the_awscli_enables_transaction_search(cloud, tmp_path):
    policy = tmp_path / "policy.json"
    policy.write_text(json.dumps(SPANS_POLICY))
    assert aws("xray", "get-trace-segment-destination") == {"Destination": "XRay", "Status": "ACTIVE"}
    put = aws("logs", "put-resource-policy", "--policy-name", "TransactionSearchAccess",
              "--policy-document", f"file://{policy}")
    assert put["resourcePolicy"]["policyName"] == "TransactionSearchAccess"
    assert aws("xray", "update-trace-segment-destination", "--destination", "CloudWatchLogs") == {
        "Destination": "CloudWatchLogs", "Status": "PENDING"}
    cloud.context.clock.advance(3)
    assert aws("xray", "get-trace-segment-destination") == {"Destination": "CloudWatchLogs", "Status": "ACTIVE"}
    rule = aws("xray", "update-indexing-rule", "--name", "Default", "--rule",
               '{"Probabilistic": {"DesiredSamplingPercentage": 100}}')["IndexingRule"]
    assert rule["Rule"]["Probabilistic"]["DesiredSamplingPercentage"] == 100.0
    assert aws("xray", "get-indexing-rules")["IndexingRules"][0]["Rule"]["Probabilistic"][
        "DesiredSamplingPercentage"] == 100.0


def test_the_state_survives_a_restart(tmp_path):
    from lab_app.localcloud.server import LocalCloud

    lc = LocalCloud(tmp_path / "lab", aws_port=0, otlp_port=0, daemon_port=0).start()
    try:
        lc.component("xray").transaction_search.update_indexing_rule(
            "Default", {"Probabilistic": {"DesiredSamplingPercentage": 40}})
    finally:
        lc.stop()
    lc = LocalCloud(tmp_path / "lab", aws_port=0, otlp_port=0, daemon_port=0).start()
    try:
        assert lc.component("xray").transaction_search.percentage() == 40.0
        lc.reset()
        assert lc.component("xray").transaction_search.percentage() == 1.0   # reset: a new account again
    finally:
        lc.stop()


# --- the OTLP endpoint -------------------------------------------------------------------------------------------
def test_otlp_is_refused_while_transaction_search_is_off(cloud):
    from google.rpc import status_pb2

    r = post_spans(cloud, tree_for(trace_hex("00000000"), shift()))
    assert r.status_code == 400 and r.headers["x-amzn-ErrorType"] == "InvalidRequestException"
    message = status_pb2.Status.FromString(r.content).message
    assert "CloudWatch Logs as a Trace Segment Destination" in message and "UpdateTraceSegmentDestination" in message
    assert cloud.component("xray").status()["segments"] == 0


def test_otlp_is_refused_while_the_switch_is_pending(cloud):
    boto3.client("logs").put_resource_policy(policyName="ts", policyDocument=json.dumps(SPANS_POLICY))
    boto3.client("xray").update_trace_segment_destination(Destination="CloudWatchLogs")
    assert post_spans(cloud, tree_for(trace_hex("00000000"), shift())).status_code == 400
    cloud.context.clock.advance(3)
    assert post_spans(cloud, tree_for(trace_hex("00000000"), shift())).status_code == 200


@pytest.mark.parametrize("authorization, status, code", [
    (SIGNED["Authorization"].replace("/xray/", "/logs/"), 403, "InvalidSignatureException"),
    (SIGNED["Authorization"].replace("/xray/", "/execute-api/"), 403, "InvalidSignatureException"),
    # not SigV4 at all: AWS's front door asks for the SigV4 parts (iam/signature.py)
    ("Bearer abc", 403, "IncompleteSignatureException"),
    (None, 403, "MissingAuthenticationTokenException"),
], ids=["logs-scope", "execute-api-scope", "not-sigv4", "unsigned"])
def test_the_signature_must_be_scoped_to_xray(cloud, authorization, status, code):
    from google.rpc import status_pb2

    enable_transaction_search(cloud)
    headers = {"Content-Type": "application/x-protobuf"}
    if authorization:
        headers.update({"Authorization": authorization, "X-Amz-Date": SIGNED["X-Amz-Date"]})
    r = requests.post(cloud.aws_url + "/v1/traces", data=_proto_body(tree_for(trace_hex("00000000"), shift())),
                      headers=headers, timeout=10)
    assert r.status_code == status and r.headers["x-amzn-ErrorType"] == code
    if code == "InvalidSignatureException":
        assert status_pb2.Status.FromString(r.content).message == "Credential should be scoped to correct service: 'xray'. "
    assert post_spans(cloud, tree_for(trace_hex("00000000"), shift())).status_code == 200   # still serving


def run_insights(query: str, start: float, end: float) -> list[dict]:
    logs = boto3.client("logs")
    query_id = logs.start_query(logGroupName="aws/spans", startTime=int(start), endTime=int(end),
                                queryString=query)["queryId"]
    result = wait_for(lambda: (r := logs.get_query_results(queryId=query_id))["status"] == "Complete" and r, 10)
    return [{f["field"]: f["value"] for f in row} for row in result["results"]]


def test_spans_land_in_aws_spans_and_logs_insights_queries_them(cloud):
    enable_transaction_search(cloud)
    t1, t2 = trace_hex("000000aa"), trace_hex("ffffff01")
    d = shift()
    assert post_spans(cloud, tree_for(t1, d) + tree_for(t2, d + 1_000_000)).status_code == 200
    start, end = time.time() - 60, time.time() + 60
    rows = run_insights("fields traceId, spanId, name, kind, durationNano | filter kind = 'SERVER' "
                        "| sort durationNano desc", start, end)
    # per tree: backend server span 250 ms, notifications server span 180 ms
    assert sorted((r["traceId"], r["spanId"], int(r["durationNano"])) for r in rows) == [
        (t1, "00000000000000a1", 250_000_000), (t1, "00000000000000b1", 180_000_000),
        (t2, "00000000000000a1", 250_000_000), (t2, "00000000000000b1", 180_000_000)]
    assert [int(r["durationNano"]) for r in rows] == [250_000_000] * 2 + [180_000_000] * 2
    counts = run_insights("stats count(*) as spans by traceId | sort traceId", start, end)
    assert [(r["traceId"], int(r["spans"])) for r in counts] == [(t1, 4), (t2, 4)]
    # the stored document: the OTLP span in Transaction Search's JSON shape
    events = boto3.client("logs").filter_log_events(logGroupName="aws/spans")["events"]
    docs = {(json.loads(e["message"])["traceId"], json.loads(e["message"])["spanId"]): json.loads(e["message"])
            for e in events}
    client = docs[(t1, "00000000000000a3")]
    assert client["parentSpanId"] == "00000000000000a1" and client["kind"] == "CLIENT"
    assert client["attributes"]["http.status_code"] == 500 and client["attributes"]["peer.service"] == "notifications"
    assert client["resource"]["attributes"]["service.name"] == "backend-flask"
    assert client["durationNano"] == client["endTimeUnixNano"] - client["startTimeUnixNano"] == 200_000_000
    assert "parentSpanId" not in docs[(t1, "00000000000000a1")]
    assert {e["logStreamName"] for e in events} == {"default"}


# --- the indexing percentage -----------------------------------------------------------------------------------
# threshold at 1 %: 0.01 * 2**32 = 42949672.96, i.e. 0x028f5c28 is in, 0x028f5c29 out
@pytest.mark.parametrize("percentage, expect", [
    (1.0, {"00000000": True, "028f5c28": True, "028f5c29": False, "80000000": False, "ffffffff": False}),
    (50.0, {"00000000": True, "028f5c28": True, "7fffffff": True, "80000000": False, "ffffffff": False}),
    (100.0, {"00000000": True, "028f5c29": True, "80000000": True, "ffffffff": True}),
    (0.0, {"00000000": False, "028f5c28": False, "ffffffff": False}),
], ids=["default-1", "half", "all", "none"])
def test_the_default_rule_indexes_the_configured_share_of_traces(cloud, percentage, expect):
    assert {k: indexed("0" * 24 + k, percentage) for k in expect} == expect      # the rule, by hand
    enable_transaction_search(cloud, percentage=None if percentage == 1.0 else percentage)
    ids = {last8: trace_hex(last8) for last8 in expect}
    d = shift()
    spans = [s for i, t in enumerate(ids.values()) for s in tree_for(t, d + i * 1_000_000)]
    assert post_spans(cloud, spans).status_code == 200
    xray = boto3.client("xray")
    summaries = xray.get_trace_summaries(StartTime=time.time() - 60, EndTime=time.time() + 60)["TraceSummaries"]
    xray_ids = {f"1-{t[:8]}-{t[8:]}": last8 for last8, t in ids.items()}
    assert {xray_ids[s["Id"]] for s in summaries} == {k for k, v in expect.items() if v}
    got = xray.batch_get_traces(TraceIds=list(xray_ids)[:5])
    assert {xray_ids[t["Id"]] for t in got["Traces"]} == {k for k in list(expect)[:5] if expect[k]}
    assert {xray_ids[i] for i in got["UnprocessedTraceIds"]} == {k for k in list(expect)[:5] if not expect[k]}
    # every span is in aws/spans, indexed or not
    counts = run_insights("stats count(*) as spans by traceId", time.time() - 60, time.time() + 60)
    assert {r["traceId"]: int(r["spans"]) for r in counts} == {t: 4 for t in ids.values()}


def test_indexing_is_about_one_percent_of_random_trace_ids():
    import random

    rng = random.Random(14)
    ids = [format(rng.getrandbits(128), "032x") for _ in range(20_000)]
    share = sum(indexed(t, 1.0) for t in ids) / len(ids)
    assert 0.008 < share < 0.012       # binomial(20000, 0.01): sd 0.0007


def test_switching_back_to_xray_turns_the_otlp_endpoint_off_again(cloud):
    enable_transaction_search(cloud)
    xray = boto3.client("xray")
    back = xray.update_trace_segment_destination(Destination="XRay")
    assert (back["Destination"], back["Status"]) == ("XRay", "PENDING")
    assert post_spans(cloud, tree_for(trace_hex("00000000"), shift())).status_code == 200   # still CloudWatchLogs
    cloud.context.clock.advance(3)
    assert xray.get_trace_segment_destination()["Status"] == "ACTIVE"
    assert post_spans(cloud, tree_for(trace_hex("00000000"), shift())).status_code == 400


# --- CloudWatch Logs resource policies (what enabling needs) ---------------------------------------------------------
def test_resource_policy_limits_and_errors(cloud):
    logs = boto3.client("logs")
    document = json.dumps(SPANS_POLICY)
    first = logs.put_resource_policy(policyName="p0", policyDocument=document)
    assert first["resourcePolicy"]["policyScope"] == "ACCOUNT"
    assert first["revisionId"] == first["resourcePolicy"]["revisionId"]
    replaced = logs.put_resource_policy(policyName="p0", policyDocument=document)    # same name: replaced
    assert replaced["revisionId"] != first["revisionId"]
    with pytest.raises(ClientError) as err:
        logs.put_resource_policy(policyName="p0", policyDocument=document, expectedRevisionId=first["revisionId"])
    assert err.value.response["Error"]["Code"] == "OperationAbortedException"
    for i in range(1, 10):
        logs.put_resource_policy(policyName=f"p{i}", policyDocument=document)
    with pytest.raises(ClientError) as err:                                            # 10 per Region
        logs.put_resource_policy(policyName="p10", policyDocument=document)
    assert err.value.response["Error"]["Code"] == "LimitExceededException"
    assert len(logs.describe_resource_policies()["resourcePolicies"]) == 10
    with pytest.raises(ClientError) as err:
        logs.put_resource_policy(policyName="p1", policyDocument="{not json")
    assert err.value.response["Error"]["Code"] == "InvalidParameterException"
    with pytest.raises(ClientError) as err:
        logs.put_resource_policy(policyName="p1", policyDocument=json.dumps({"Version": "2012-10-17"}))
    assert err.value.response["Error"]["Code"] == "InvalidParameterException"
