"""X-Ray API contract: boto3 and the awscli against the local cloud; expected values computed from the sent specs."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import boto3
import pytest
from botocore.exceptions import ClientError
from xray_helpers import Spec, documents, new_id, new_trace_id

from lab_app import config

AWS = str(Path(sys.executable).with_name("aws"))
RULE_FILE = config.SEED_DATA_DIR / "xray-sampling-rule.json"


@pytest.fixture
def xray(cloud):
    return boto3.client("xray")


def aws(*args: str) -> dict:
    out = subprocess.run([AWS, "xray", *args, "--output", "json"], capture_output=True, text=True, timeout=60,
                         env=dict(os.environ))
    if out.returncode != 0:
        raise RuntimeError(out.stderr)
    return json.loads(out.stdout) if out.stdout.strip() else {}


def put(client, specs: list[Spec], base: float) -> None:
    docs = []
    for i, spec in enumerate(specs):
        docs += documents(spec, base + i * 0.01)
    assert client.put_trace_segments(TraceSegmentDocuments=[json.dumps(d) for d in docs])["UnprocessedTraceSegments"] == []


def code_of(info) -> str:
    return info.value.response["Error"]["Code"]


# --- PutTraceSegments ----------------------------------------------------------------------------------------------
def test_put_trace_segments_reports_unprocessed_with_xray_codes(xray):
    good = documents(Spec(), time.time())[0]
    bad = [
        json.dumps({k: v for k, v in good.items() if k != "id"}),
        json.dumps({**good, "id": new_id(), "trace_id": "not-a-trace"}),
        json.dumps({**good, "id": new_id(), "start_time": None}),
        json.dumps({k: v for k, v in {**good, "id": new_id()}.items() if k != "end_time"}),
        '{"id": "0123456789abcdef", broken',
    ]
    answer = xray.put_trace_segments(TraceSegmentDocuments=[json.dumps(good), *bad])
    codes = [u["ErrorCode"] for u in answer["UnprocessedTraceSegments"]]
    assert sorted(codes) == sorted(["MissingId", "InvalidTraceId", "MissingStartTime", "MissingEndTime", "InvalidJson"])
    assert {"Id": "0123456789abcdef", "ErrorCode": "InvalidJson",
            "Message": "Invalid segment. ErrorCode: InvalidJson"} in answer["UnprocessedTraceSegments"]
    ids = [s["Id"] for s in xray.get_trace_summaries(StartTime=time.time() - 60, EndTime=time.time() + 60)["TraceSummaries"]]
    assert ids == [good["trace_id"]]


def test_missing_required_parameter_and_bad_json_keep_the_api_serving(xray, cloud):
    request = urllib.request.Request(cloud.aws_url + "/TraceSegments", data=b"{not json", method="POST",
                                     headers={"Content-Type": "application/json"})
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(request, timeout=5)
    assert info.value.code == 400
    assert json.loads(info.value.read())["__type"] == "SerializationException"
    request = urllib.request.Request(cloud.aws_url + "/TraceSegments", data=b"{}", method="POST")
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(request, timeout=5)
    assert json.loads(info.value.read())["__type"] == "InvalidRequestException"
    request = urllib.request.Request(cloud.aws_url + "/TraceSummaries", data=b'{"StartTime": "yesterday", "EndTime": 1}', method="POST")
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(request, timeout=5)
    assert json.loads(info.value.read())["__type"] == "InvalidRequestException"
    assert xray.get_sampling_rules()["SamplingRuleRecords"][0]["SamplingRule"]["RuleName"] == "Default"


# --- GetTraceSummaries ---------------------------------------------------------------------------------------------
def test_trace_summary_fields_match_what_was_sent(xray):
    base = time.time() - 5
    spec = Spec(response_time=0.25, status=502, url="http://127.0.0.1:4567/api/activities", method="POST",
                user_agent="ua/1", client_ip="10.1.2.3", user="andrewbrown",
                annotations={"user_handle": "andrewbrown", "results": 4, "cached": False},
                downstream="notifications", downstream_status=503, downstream_time=0.1)
    put(xray, [spec], base)
    summary, = xray.get_trace_summaries(StartTime=base - 1, EndTime=base + 5)["TraceSummaries"]
    assert summary["Id"] == spec.trace_id
    assert summary["ResponseTime"] == pytest.approx(0.25)
    assert summary["Duration"] == pytest.approx(0.25)
    assert (summary["HasFault"], summary["HasError"], summary["HasThrottle"], summary["IsPartial"]) == (True, False, False, False)
    assert summary["Http"] == {"HttpURL": spec.url, "HttpStatus": 502, "HttpMethod": "POST", "UserAgent": "ua/1",
                               "ClientIp": "10.1.2.3"}
    backend = {"Name": "backend-flask", "Names": ["backend-flask"]}
    assert summary["Annotations"] == {
        "user_handle": [{"AnnotationValue": {"StringValue": "andrewbrown"}, "ServiceIds": [backend]}],
        "results": [{"AnnotationValue": {"NumberValue": 4.0}, "ServiceIds": [backend]}],
        "cached": [{"AnnotationValue": {"BooleanValue": False}, "ServiceIds": [backend]}],
    }
    assert summary["Users"] == [{"UserName": "andrewbrown", "ServiceIds": [backend]}]
    assert sorted(s["Name"] for s in summary["ServiceIds"]) == ["backend-flask", "notifications"]
    assert summary["EntryPoint"] == backend
    assert abs(summary["StartTime"].timestamp() - base) < 0.01


def test_trace_summaries_page_with_next_token(xray):
    base = time.time() - 100
    specs = [Spec(response_time=0.01 * (i % 7 + 1)) for i in range(230)]
    put(xray, specs, base)
    pages, seen = 0, []
    kwargs = {"StartTime": base - 1, "EndTime": base + 10}
    while True:
        answer = xray.get_trace_summaries(**kwargs)
        pages += 1
        seen += [s["Id"] for s in answer["TraceSummaries"]]
        if "NextToken" not in answer:
            break
        kwargs["NextToken"] = answer["NextToken"]
    assert pages == 3
    assert sorted(seen) == sorted(s.trace_id for s in specs)
    assert answer["TracesProcessedCount"] == 230
    # Sampling with a FixedRate strategy: a stable subset of about that fraction
    def sampled_ids():
        ids, kw = [], {"StartTime": base - 1, "EndTime": base + 10, "Sampling": True,
                       "SamplingStrategy": {"Name": "FixedRate", "Value": 0.5}}
        for page in xray.get_paginator("get_trace_summaries").paginate(**kw):
            ids += [s["Id"] for s in page["TraceSummaries"]]
        return ids
    half = sampled_ids()
    assert 70 < len(half) < 160 and sorted(half) == sorted(sampled_ids()) and set(half) <= set(seen)
    with pytest.raises(ClientError) as info:
        xray.get_trace_summaries(StartTime=base - 1, EndTime=base + 10, NextToken="garbage")
    assert code_of(info) == "InvalidRequestException"


def test_time_range_and_partial_trace(xray):
    now = time.time()
    old, new, partial = Spec(), Spec(), Spec(in_progress=True)
    put(xray, [old], now - 3000)
    put(xray, [new, partial], now - 10)
    ids = {s["Id"]: s for s in xray.get_trace_summaries(StartTime=now - 60, EndTime=now)["TraceSummaries"]}
    assert set(ids) == {new.trace_id, partial.trace_id}
    assert ids[partial.trace_id]["IsPartial"] is True and ids[new.trace_id]["IsPartial"] is False
    events = xray.get_trace_summaries(StartTime=now - 3100, EndTime=now - 2900, TimeRangeType="Event")["TraceSummaries"]
    assert [s["Id"] for s in events] == [old.trace_id]


# --- BatchGetTraces ------------------------------------------------------------------------------------------------
def test_batch_get_traces_returns_the_documents_and_merges_streamed_subsegments(xray):
    base = time.time() - 3
    spec = Spec(downstream="notifications")
    docs = documents(spec, base)
    streamed = {"type": "subsegment", "id": new_id(), "trace_id": spec.trace_id, "parent_id": spec.root_id,
                "name": "db.query", "start_time": base + 0.02, "end_time": base + 0.03}
    xray.put_trace_segments(TraceSegmentDocuments=[json.dumps(d) for d in docs] + [json.dumps(streamed)])
    missing = new_trace_id()
    answer = xray.batch_get_traces(TraceIds=[spec.trace_id, missing])
    assert answer["UnprocessedTraceIds"] == [missing]
    trace, = answer["Traces"]
    assert trace["Id"] == spec.trace_id and trace["Duration"] == pytest.approx(spec.response_time)
    got = {s["Id"]: json.loads(s["Document"]) for s in trace["Segments"]}
    assert set(got) == {d["id"] for d in docs}
    root = got[spec.root_id]
    assert [s["name"] for s in root["subsegments"]] == ["notifications", "db.query"]
    assert root["http"] == docs[0]["http"]
    with pytest.raises(ClientError) as info:
        xray.batch_get_traces(TraceIds=[new_trace_id() for _ in range(6)])
    assert code_of(info) == "InvalidRequestException"


# --- GetServiceGraph / GetTraceGraph -------------------------------------------------------------------------------
def test_service_graph_statistics(xray):
    base = time.time() - 20
    specs = ([Spec(response_time=0.2, downstream="notifications", downstream_time=0.1) for _ in range(3)]
             + [Spec(status=500, downstream="notifications", downstream_status=500, downstream_time=0.05)]
             + [Spec(status=404), Spec(status=429)])
    put(xray, specs, base)
    graph = xray.get_service_graph(StartTime=base - 1, EndTime=base + 5)
    services = {s["Name"]: s for s in graph["Services"]}
    assert set(services) == {"backend-flask", "notifications"}
    backend, notif = services["backend-flask"], services["notifications"]
    assert backend["Root"] is True and notif["Root"] is False
    stats = backend["SummaryStatistics"]
    assert stats["TotalCount"] == len(specs)
    assert stats["OkCount"] == sum(s.status < 400 for s in specs)
    assert stats["FaultStatistics"]["TotalCount"] == sum(s.fault for s in specs)
    assert stats["ErrorStatistics"]["TotalCount"] == sum(s.error for s in specs)
    assert stats["ErrorStatistics"]["ThrottleCount"] == sum(s.throttle for s in specs)
    assert stats["TotalResponseTime"] == pytest.approx(sum(s.response_time for s in specs))
    assert sum(h["Count"] for h in backend["ResponseTimeHistogram"]) == len(specs)
    edge, = backend["Edges"]
    assert edge["ReferenceId"] == notif["ReferenceId"]
    called = [s for s in specs if s.downstream]
    assert edge["SummaryStatistics"]["TotalCount"] == len(called)
    assert edge["SummaryStatistics"]["FaultStatistics"]["TotalCount"] == sum(s.downstream_status >= 500 for s in called)
    assert edge["SummaryStatistics"]["TotalResponseTime"] == pytest.approx(sum(s.downstream_time for s in called))
    assert {h["Value"]: h["Count"] for h in edge["ResponseTimeHistogram"]} == {0.1: 3, 0.05: 1}
    # a group restricts the graph to its traces
    arn = xray.create_group(GroupName="failing", FilterExpression="fault")["Group"]["GroupARN"]
    grouped = {s["Name"]: s for s in xray.get_service_graph(StartTime=base - 1, EndTime=base + 5, GroupName="failing")["Services"]}
    assert grouped["backend-flask"]["SummaryStatistics"]["TotalCount"] == sum(s.fault for s in specs)
    by_arn = {s["Name"]: s for s in xray.get_service_graph(StartTime=base - 1, EndTime=base + 5, GroupARN=arn)["Services"]}
    assert by_arn == grouped
    assert grouped["notifications"]["SummaryStatistics"]["TotalCount"] == sum(bool(s.fault and s.downstream) for s in specs)
    with pytest.raises(ClientError) as info:
        xray.get_service_graph(StartTime=base - 1, EndTime=base + 5, GroupName="no-such-group")
    assert code_of(info) == "InvalidRequestException"
    # the trace graph of one trace
    one = xray.get_trace_graph(TraceIds=[specs[0].trace_id])["Services"]
    assert sorted(s["Name"] for s in one) == ["backend-flask", "notifications"]
    assert all(s["SummaryStatistics"]["TotalCount"] == 1 for s in one)


# --- groups ---------------------------------------------------------------------------------------------------------
def test_group_lifecycle_and_errors(xray):
    created = xray.create_group(GroupName="Cruddur", FilterExpression='service("backend-flask")')["Group"]
    assert created["GroupARN"].startswith("arn:aws:xray:us-east-1:123456789012:group/Cruddur/")
    assert created["InsightsConfiguration"] == {"InsightsEnabled": False, "NotificationsEnabled": False}
    assert xray.get_group(GroupName="Cruddur")["Group"] == created
    assert xray.get_group(GroupARN=created["GroupARN"])["Group"] == created
    with pytest.raises(ClientError) as info:
        xray.create_group(GroupName="Cruddur", FilterExpression="ok")
    assert code_of(info) == "InvalidRequestException"
    with pytest.raises(ClientError) as info:
        xray.create_group(GroupName="bad-filter", FilterExpression="responsetime >")
    assert code_of(info) == "InvalidRequestException" and "end of the expression" in info.value.response["Error"]["Message"]
    updated = xray.update_group(GroupName="Cruddur", FilterExpression="fault",
                                InsightsConfiguration={"InsightsEnabled": True})["Group"]
    assert updated["FilterExpression"] == "fault" and updated["InsightsConfiguration"]["InsightsEnabled"] is True
    assert [g["GroupName"] for g in xray.get_groups()["Groups"]] == ["Cruddur"]
    xray.delete_group(GroupName="Cruddur")
    with pytest.raises(ClientError) as info:
        xray.get_group(GroupName="Cruddur")
    assert code_of(info) == "InvalidRequestException"
    with pytest.raises(ClientError) as info:
        xray.delete_group(GroupName="Cruddur")
    assert code_of(info) == "InvalidRequestException"


# --- sampling rules and targets ---------------------------------------------------------------------------------------
def rule(name: str, priority: int, **extra) -> dict:
    return {"RuleName": name, "ResourceARN": "*", "Priority": priority, "FixedRate": 0.1, "ReservoirSize": 5,
            "ServiceName": "*", "ServiceType": "*", "Host": "*", "HTTPMethod": "*", "URLPath": "*", "Version": 1,
            **extra}


def test_sampling_rules_lifecycle_order_and_limits(xray):
    for name, priority in (("b-rule", 100), ("a-rule", 100), ("first", 5)):
        record = xray.create_sampling_rule(SamplingRule=rule(name, priority))["SamplingRuleRecord"]
        assert record["SamplingRule"]["RuleARN"] == f"arn:aws:xray:us-east-1:123456789012:sampling-rule/{name}"
    names = [r["SamplingRule"]["RuleName"] for r in xray.get_sampling_rules()["SamplingRuleRecords"]]
    assert names == ["first", "a-rule", "b-rule", "Default"]
    updated = xray.update_sampling_rule(SamplingRuleUpdate={"RuleName": "first", "FixedRate": 0.5, "Priority": 200})
    assert updated["SamplingRuleRecord"]["SamplingRule"]["FixedRate"] == 0.5
    names = [r["SamplingRule"]["RuleName"] for r in xray.get_sampling_rules()["SamplingRuleRecords"]]
    assert names == ["a-rule", "b-rule", "first", "Default"]
    deleted = xray.delete_sampling_rule(RuleName="b-rule")["SamplingRuleRecord"]["SamplingRule"]
    assert deleted["RuleName"] == "b-rule"
    # what botocore does not already reject client-side, the service must
    for bad in (rule("dup", 1) | {"RuleName": "a-rule"}, rule("has space", 1), rule("v2", 1, Version=2),
                rule("arn", 1, ResourceARN="arn:aws:ecs:*"), rule("Default", 1)):
        with pytest.raises(ClientError) as info:
            xray.create_sampling_rule(SamplingRule=bad)
        assert code_of(info) == "InvalidRequestException", bad
    with pytest.raises(ClientError) as info:
        xray.delete_sampling_rule(RuleName="Default")
    assert code_of(info) == "InvalidRequestException"
    with pytest.raises(ClientError) as info:
        xray.update_sampling_rule(SamplingRuleUpdate={"RuleName": "nope", "FixedRate": 0.5})
    assert code_of(info) == "InvalidRequestException"
    default = xray.update_sampling_rule(SamplingRuleUpdate={"RuleName": "Default", "FixedRate": 0.2})
    assert default["SamplingRuleRecord"]["SamplingRule"]["FixedRate"] == 0.2
    for i in range(25 - 2):
        xray.create_sampling_rule(SamplingRule=rule(f"r{i}", 1000 + i))
    with pytest.raises(ClientError) as info:
        xray.create_sampling_rule(SamplingRule=rule("one-too-many", 9999))
    assert code_of(info) == "RuleLimitExceededException"


def test_sampling_targets_split_the_reservoir_per_client(xray):
    xray.create_sampling_rule(SamplingRule=rule("Cruddur", 9000, ReservoirSize=5, FixedRate=0.1))
    now = int(time.time())

    def doc(client: str, name: str = "Cruddur") -> dict:
        return {"RuleName": name, "ClientID": client, "Timestamp": now, "RequestCount": 10, "SampledCount": 6,
                "BorrowCount": 0}

    one = xray.get_sampling_targets(SamplingStatisticsDocuments=[doc("a" * 24)])
    target, = one["SamplingTargetDocuments"]
    assert (target["RuleName"], target["FixedRate"], target["ReservoirQuota"], target["Interval"]) == ("Cruddur", 0.1, 5, 10)
    assert now + 10 <= target["ReservoirQuotaTTL"].timestamp() <= now + 16
    two = xray.get_sampling_targets(SamplingStatisticsDocuments=[doc("b" * 24)])["SamplingTargetDocuments"][0]
    again = xray.get_sampling_targets(SamplingStatisticsDocuments=[doc("a" * 24)])["SamplingTargetDocuments"][0]
    assert sorted([two["ReservoirQuota"], again["ReservoirQuota"]]) == [2, 3]
    unknown = xray.get_sampling_targets(SamplingStatisticsDocuments=[doc("a" * 24, "nope")])
    assert unknown["SamplingTargetDocuments"] == []
    assert unknown["UnprocessedStatistics"][0]["RuleName"] == "nope"
    default = xray.get_sampling_targets(SamplingStatisticsDocuments=[doc("c" * 24, "Default")])["SamplingTargetDocuments"][0]
    assert (default["FixedRate"], default["ReservoirQuota"]) == (0.05, 1)


# --- the awscli, as the seed uses it ----------------------------------------------------------------------------------
def test_awscli_every_operation(xray):
    rule_out = aws("create-sampling-rule", "--cli-input-json", f"file://{RULE_FILE}")
    sent = json.loads(RULE_FILE.read_text())["SamplingRule"]
    got = rule_out["SamplingRuleRecord"]["SamplingRule"]
    assert {k: got[k] for k in sent} == sent
    assert got["RuleName"] == "Cruddur" and got["ServiceName"] == "backend-flask"
    group = aws("create-group", "--group-name", "Cruddur", "--filter-expression", 'service("backend-flask")')["Group"]
    assert group["FilterExpression"] == 'service("backend-flask")'
    base = time.time() - 30
    spec = Spec(downstream="notifications", annotations={"user_handle": "andrewbrown"})
    docs = documents(spec, base)
    put_out = aws("put-trace-segments", "--trace-segment-documents", *[json.dumps(d) for d in docs])
    assert put_out.get("UnprocessedTraceSegments", []) == []
    summaries = aws("get-trace-summaries", "--start-time", str(int(base - 5)), "--end-time", str(int(base + 5)),
                    "--filter-expression", 'annotation.user_handle = "andrewbrown"')["TraceSummaries"]
    assert [s["Id"] for s in summaries] == [spec.trace_id]
    traces = aws("batch-get-traces", "--trace-ids", spec.trace_id)["Traces"]
    assert {s["Id"] for s in traces[0]["Segments"]} == {d["id"] for d in docs}
    graph = aws("get-service-graph", "--start-time", str(int(base - 5)), "--end-time", str(int(base + 5)),
                "--group-name", "Cruddur")["Services"]
    assert sorted(s["Name"] for s in graph) == ["backend-flask", "notifications"]
    assert len(aws("get-trace-graph", "--trace-ids", spec.trace_id)["Services"]) == 2
    assert [g["GroupName"] for g in aws("get-groups")["Groups"]] == ["Cruddur"]
    assert aws("get-group", "--group-name", "Cruddur")["Group"]["GroupARN"] == group["GroupARN"]
    assert aws("update-group", "--group-name", "Cruddur", "--filter-expression", "fault")["Group"]["FilterExpression"] == "fault"
    names = [r["SamplingRule"]["RuleName"] for r in aws("get-sampling-rules")["SamplingRuleRecords"]]
    assert names == ["Cruddur", "Default"]
    upd = aws("update-sampling-rule", "--sampling-rule-update", '{"RuleName": "Cruddur", "FixedRate": 0.2}')
    assert upd["SamplingRuleRecord"]["SamplingRule"]["FixedRate"] == 0.2
    targets = aws("get-sampling-targets", "--sampling-statistics-documents",
                  json.dumps([{"RuleName": "Cruddur", "ClientID": "f" * 24, "Timestamp": int(time.time()),
                               "RequestCount": 1, "SampledCount": 1, "BorrowCount": 0}]))
    assert targets["SamplingTargetDocuments"][0]["ReservoirQuota"] == 5
    aws("delete-sampling-rule", "--rule-name", "Cruddur")
    aws("delete-group", "--group-name", "Cruddur")
    assert aws("get-groups").get("Groups", []) == []
    with pytest.raises(RuntimeError, match="InvalidRequestException"):
        aws("create-group", "--group-name", "Bad", "--filter-expression", "responsetime >")


def test_trace_ids_that_are_not_time_based_fall_back_to_the_start_time(xray):
    """OTLP traces with random W3C ids become X-Ray ids whose first 8 hex digits are not a time."""
    now = time.time()
    spec = Spec(trace_id="1-ffffffff-0123456789abcdef01234567")
    put(xray, [spec], now - 2)
    ids = [s["Id"] for s in xray.get_trace_summaries(StartTime=now - 60, EndTime=now + 5)["TraceSummaries"]]
    assert ids == [spec.trace_id]
