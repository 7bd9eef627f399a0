"""EventBridge in the local cloud (lab_app.localcloud.events): the pattern semantics EventBridge documents (one
row per case over a fixed set of events, each row discriminating), TestEventPattern agreeing with the router,
pattern validation on PutRule, what a target receives (Input, InputPath, InputTransformer) and delivery to SQS,
SNS and CloudWatch Logs; end to end with alarms' state change events in tests/test_cloudwatch.py and with
GuardDuty / Security Hub in tests/test_guardduty.py and tests/test_securityhub.py."""
from __future__ import annotations

import json

import boto3
import pytest
from botocore.exceptions import ClientError

from lab_app.localcloud.events import pattern as patterns
from lab_app.localcloud.events.transform import target_payload


def _event(name: str, source: str, detail_type: str, detail: dict, resources=()) -> dict:
    return {"version": "0", "id": f"id-{name}", "detail-type": detail_type, "source": source,
            "account": "123456789012", "time": "2026-12-01T00:00:00Z", "region": "us-east-1",
            "resources": list(resources), "detail": detail}


EVENTS = {
    "ssh": _event("ssh", "aws.guardduty", "GuardDuty Finding", {
        "severity": 2, "type": "UnauthorizedAccess:EC2/SSHBruteForce",
        "resource": {"resourceType": "Instance", "instanceDetails": {"networkInterfaces": [
            {"publicIp": "198.51.100.0", "securityGroups": [{"groupId": "sg-1"}, {"groupId": "sg-2"}]}]}},
        "service": {"archived": False}}),
    "exfil": _event("exfil", "aws.guardduty", "GuardDuty Finding", {
        "severity": 8, "type": "UnauthorizedAccess:IAMUser/InstanceCredentialExfiltration",
        "resource": {"resourceType": "AccessKey", "accessKeyDetails": {"accessKeyId": "AKIA1"}},
        "service": {"archived": False}}),
    "malicious": _event("malicious", "aws.guardduty", "GuardDuty Finding", {
        "severity": 5.0, "type": "UnauthorizedAccess:IAMUser/MaliciousIPCaller",
        "resource": {"resourceType": "AccessKey"}, "service": {"archived": True}}),
    "alarm": _event("alarm", "aws.cloudwatch", "CloudWatch Alarm State Change",
                    {"alarmName": "high-errors", "state": {"value": "ALARM"}},
                    ["arn:aws:cloudwatch:us-east-1:123456789012:alarm:high-errors"]),
    "hub": _event("hub", "aws.securityhub", "Security Hub Findings - Imported",
                  {"findings": [{"Severity": {"Label": "HIGH"}, "Workflow": {"Status": "NEW"}, "Sample": True}]}),
    "custom": _event("custom", "cruddur.app", "UserSignedUp", {"email": "andrew@example.com", "plan": None,
                                                                "count": 0}),
}

# (id, pattern, the EVENTS it matches) -- each expectation worked out by hand from the EventBridge user guide.
CASES = [
    ("exact", {"source": ["aws.guardduty"]}, {"ssh", "exfil", "malicious"}),
    ("exact-any-of", {"source": ["aws.cloudwatch", "cruddur.app"]}, {"alarm", "custom"}),
    ("prefix", {"detail-type": [{"prefix": "GuardDuty"}]}, {"ssh", "exfil", "malicious"}),
    ("prefix-ignore-case", {"detail-type": [{"prefix": {"equals-ignore-case": "security hub"}}]}, {"hub"}),
    ("suffix", {"detail": {"type": [{"suffix": "Exfiltration"}]}}, {"exfil"}),
    ("equals-ignore-case", {"detail-type": [{"equals-ignore-case": "cloudwatch alarm state change"}]}, {"alarm"}),
    ("wildcard", {"detail": {"type": [{"wildcard": "UnauthorizedAccess:IAMUser/*"}]}}, {"exfil", "malicious"}),
    ("anything-but-list", {"source": [{"anything-but": ["aws.guardduty", "aws.securityhub"]}]}, {"alarm", "custom"}),
    ("anything-but-prefix", {"source": [{"anything-but": {"prefix": "aws."}}]}, {"custom"}),
    ("anything-but-needs-the-field", {"detail": {"alarmName": [{"anything-but": "low-errors"}]}}, {"alarm"}),
    ("numeric-at-least", {"detail": {"severity": [{"numeric": [">=", 7]}]}}, {"exfil"}),
    ("numeric-range", {"detail": {"severity": [{"numeric": [">", 1, "<", 7]}]}}, {"ssh", "malicious"}),
    ("numeric-equals-zero", {"detail": {"count": [{"numeric": ["=", 0]}]}}, {"custom"}),
    ("literal-number-by-representation", {"detail": {"severity": [5, 8]}}, {"exfil"}),  # 5 is not 5.0
    ("literal-false", {"detail": {"service": {"archived": [False]}}}, {"ssh", "exfil"}),
    ("literal-null", {"detail": {"plan": [None]}}, {"custom"}),
    ("exists-true", {"detail": {"state": {"value": [{"exists": True}]}}}, {"alarm"}),
    ("exists-false", {"detail": {"severity": [{"exists": False}]}}, {"alarm", "hub", "custom"}),
    ("exists-is-for-leaves", {"source": ["aws.guardduty"], "detail": {"resource": [{"exists": False}]}},
     {"ssh", "exfil", "malicious"}),
    ("array-of-objects", {"detail": {"resource": {"instanceDetails": {"networkInterfaces": {
        "securityGroups": {"groupId": ["sg-2"]}}}}}}, {"ssh"}),
    ("array-value", {"resources": [{"prefix": "arn:aws:cloudwatch:"}]}, {"alarm"}),
    ("cidr", {"detail": {"resource": {"instanceDetails": {"networkInterfaces": {
        "publicIp": [{"cidr": "198.51.100.0/24"}]}}}}}, {"ssh"}),
    ("boolean-in-array", {"detail": {"findings": {"Sample": [True]}}}, {"hub"}),
    ("several-fields-and", {"source": ["aws.guardduty"], "detail": {
        "type": [{"prefix": "UnauthorizedAccess:IAMUser"}], "severity": [{"numeric": ["<", 7]}]}}, {"malicious"}),
    ("or", {"$or": [{"source": ["aws.cloudwatch"]}, {"detail": {"severity": [{"numeric": [">=", 7]}]}}]},
     {"alarm", "exfil"}),
    ("or-nested", {"source": ["aws.guardduty"], "detail": {"$or": [{"severity": [2]}, {"service": {
        "archived": [True]}}]}}, {"ssh", "malicious"}),
]

INVALID = [
    ("not-an-array", '{"source": "aws.guardduty"}'),
    ("empty-array", '{"source": []}'),
    ("unknown-operator", '{"source": [{"prefx": "aws."}]}'),
    ("numeric-string", '{"detail": {"severity": [{"numeric": [">", "7"]}]}}'),
    ("numeric-operator", '{"detail": {"severity": [{"numeric": ["~", 7]}]}}'),
    ("numeric-two-lower-bounds", '{"detail": {"severity": [{"numeric": [">", 1, ">=", 2]}]}}'),
    ("exists-not-boolean", '{"detail": {"x": [{"exists": "yes"}]}}'),
    ("or-one-alternative", '{"$or": [{"source": ["aws.guardduty"]}]}'),
    ("two-operators", '{"source": [{"prefix": "a", "suffix": "b"}]}'),
    ("bad-cidr", '{"detail": {"ip": [{"cidr": "10.0.0.0/99"}]}}'),
    ("not-json", "{source: [aws]}"),
    ("not-an-object", "[1, 2]"),
]


@pytest.mark.parametrize("case_id,pattern,expected", CASES, ids=[c[0] for c in CASES])
def test_pattern_matches(case_id, pattern, expected):
    patterns.validate(pattern)
    assert {name for name, event in EVENTS.items() if patterns.matches(pattern, event)} == expected


def test_every_case_discriminates():
    for case_id, _pattern, expected in CASES:
        assert expected and expected != set(EVENTS), case_id


@pytest.mark.parametrize("case_id,text", INVALID, ids=[c[0] for c in INVALID])
def test_invalid_patterns_are_rejected(case_id, text):
    with pytest.raises(patterns.InvalidEventPattern):
        patterns.parse(text)


EVENT = {"id": "e-1", "time": "2026-01-01T00:00:00Z", "detail-type": "CloudWatch Alarm State Change",
         "detail": {"alarmName": "high-errors", "state": {"value": "ALARM"}, "severity": 8,
                    "tags": ["a", "b"], "note": 'say "hi"'}}


@pytest.mark.parametrize("target,expected", [
    ({"Arn": "arn:aws:sqs:us-east-1:123456789012:q"}, json.dumps(EVENT)),
    ({"Arn": "x", "Input": '{"fixed": true}'}, '{"fixed": true}'),
    ({"Arn": "x", "InputPath": "$.detail.state"}, '{"value": "ALARM"}'),
    ({"Arn": "x", "InputPath": "$.detail.nothing"}, "null"),
    ({"Arn": "x", "InputTransformer": {"InputPathsMap": {"name": "$.detail.alarmName"},
                                       "InputTemplate": '"<name> fired"'}}, '"high-errors fired"'),
    ({"Arn": "x", "InputTransformer": {"InputPathsMap": {"name": "$.detail.alarmName", "s": "$.detail.state.value"},
                                       "InputTemplate": "<name> is in state <s>"}}, "high-errors is in state ALARM"),
    ({"Arn": "x", "InputTransformer": {"InputPathsMap": {"name": "$.detail.alarmName", "sev": "$.detail.severity",
                                                         "tags": "$.detail.tags"},
                                       "InputTemplate": '{"alarm": <name>, "sev": <sev>, "tags": <tags>, '
                                                        '"text": "<name> at <sev>"}'}},
     '{"alarm": "high-errors", "sev": 8, "tags": ["a", "b"], "text": "high-errors at 8"}'),
    ({"Arn": "x", "InputTransformer": {"InputPathsMap": {"note": "$.detail.note"},
                                       "InputTemplate": '{"quoted": "<note>", "raw": <note>}'}},
     '{"quoted": "say \\"hi\\"", "raw": "say \\"hi\\""}'),
    ({"Arn": "x", "InputTransformer": {"InputPathsMap": {"gone": "$.detail.missing"},
                                       "InputTemplate": '{"v": <gone>, "s": "<gone>"}'}}, '{"v": null, "s": ""}'),
    ({"Arn": "x", "InputTransformer": {"InputTemplate": '{"rule": "<aws.events.rule-name>", '
                                                        '"at": "<aws.events.event.ingestion-time>"}'}},
     '{"rule": "route-it", "at": "2026-01-01T00:00:00Z"}'),
], ids=["whole-event", "Input", "InputPath", "InputPath-missing", "template-string", "template-text",
        "template-json", "template-escaping", "template-missing-path", "predefined-variables"])
def test_target_payload(target, expected):
    assert target_payload(target, EVENT, "route-it", "arn:aws:events:us-east-1:123456789012:rule/route-it") == expected


def test_transformed_json_payloads_are_json():
    body = target_payload({"Arn": "x", "InputTransformer": {"InputPathsMap": {"note": "$.detail.note"},
                                                            "InputTemplate": '{"n": "<note>"}'}}, EVENT)
    assert json.loads(body) == {"n": 'say "hi"'}


# --- the API (boto3) -------------------------------------------------------------------------------------
def test_test_event_pattern_agrees_with_the_router(module_cloud):
    events = boto3.client("events")
    for case_id, pattern, expected in CASES:
        for name, event in EVENTS.items():
            result = events.test_event_pattern(EventPattern=json.dumps(pattern), Event=json.dumps(event))["Result"]
            assert result == (name in expected), (case_id, name)


@pytest.mark.parametrize("case_id,text", INVALID, ids=[c[0] for c in INVALID])
def test_put_rule_and_test_event_pattern_reject_invalid_patterns(module_cloud, case_id, text):
    events = boto3.client("events")
    with pytest.raises(ClientError) as err:
        events.put_rule(Name=f"bad-{case_id}", EventPattern=text)
    assert err.value.response["Error"]["Code"] == "InvalidEventPatternException"
    assert err.value.response["Error"]["Message"].startswith("Event pattern is not valid. Reason: ")
    with pytest.raises(ClientError) as err:
        events.test_event_pattern(EventPattern=text, Event=json.dumps(EVENTS["custom"]))
    assert err.value.response["Error"]["Code"] == "InvalidEventPatternException"
    assert f"bad-{case_id}" not in [r["Name"] for r in events.list_rules()["Rules"]]


def test_test_event_pattern_needs_the_mandatory_event_fields(module_cloud):
    event = {k: v for k, v in EVENTS["custom"].items() if k != "resources"}
    with pytest.raises(ClientError) as err:
        boto3.client("events").test_event_pattern(EventPattern='{"source": ["cruddur.app"]}', Event=json.dumps(event))
    assert err.value.response["Error"]["Code"] == "InvalidEventPatternException"
    assert "resources" in err.value.response["Error"]["Message"]


@pytest.fixture(scope="module")
def routed(module_cloud):
    """One rule for cruddur.app events with three targets: SQS (InputPath), SNS (-> an SQS subscription) and a
    CloudWatch Logs group (InputTransformer); a disabled rule with an SQS target."""
    events, sqs, sns, logs = (boto3.client(s) for s in ("events", "sqs", "sns", "logs"))

    def queue(name):
        url = sqs.create_queue(QueueName=name)["QueueUrl"]
        return url, sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]

    direct_url, direct_arn = queue("routed-direct")
    via_sns_url, via_sns_arn = queue("routed-via-sns")
    disabled_url, disabled_arn = queue("routed-disabled")
    topic = sns.create_topic(Name="routed-topic")["TopicArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=via_sns_arn, Attributes={"RawMessageDelivery": "true"})
    logs.create_log_group(logGroupName="/events/routed")
    group_arn = "arn:aws:logs:us-east-1:123456789012:log-group:/events/routed"
    events.put_rule(Name="signups", EventPattern=json.dumps({"source": ["cruddur.app"],
                                                             "detail": {"plan": [{"anything-but": "free"}]}}))
    events.put_targets(Rule="signups", Targets=[
        {"Id": "sqs", "Arn": direct_arn, "InputPath": "$.detail"},
        {"Id": "sns", "Arn": topic},
        {"Id": "logs", "Arn": group_arn, "InputTransformer": {
            "InputPathsMap": {"who": "$.detail.user", "plan": "$.detail.plan"},
            "InputTemplate": '"<who> signed up for <plan>"'}}])
    events.put_rule(Name="signups-off", EventPattern=json.dumps({"source": ["cruddur.app"]}), State="DISABLED")
    events.put_targets(Rule="signups-off", Targets=[{"Id": "sqs", "Arn": disabled_arn}])
    answer = events.put_events(Entries=[
        {"Source": "cruddur.app", "DetailType": "UserSignedUp", "Detail": json.dumps({"user": "andrew", "plan": "pro"})},
        {"Source": "cruddur.app", "DetailType": "UserSignedUp", "Detail": json.dumps({"user": "bob", "plan": "free"})},
        {"Source": "cruddur.app", "DetailType": "UserSignedUp"},
        {"Source": "cruddur.app", "DetailType": "UserSignedUp", "Detail": "{not json"},
        {"Source": "aws.guardduty", "DetailType": "GuardDuty Finding", "Detail": "{}"},
    ])
    return {"answer": answer, "sqs": sqs, "direct": direct_url, "via_sns": via_sns_url, "disabled": disabled_url,
            "logs": logs}


def _bodies(sqs, url) -> list[str]:
    return [m["Body"] for m in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])]


def test_put_events_reports_failed_entries(routed):
    answer = routed["answer"]
    assert answer["FailedEntryCount"] == 3
    entries = answer["Entries"]
    assert "EventId" in entries[0] and "EventId" in entries[1]
    assert entries[2]["ErrorCode"] == "InvalidArgument" and "Detail" in entries[2]["ErrorMessage"]
    assert entries[3]["ErrorCode"] == "MalformedDetail"
    assert entries[4]["ErrorCode"] == "NotAuthorizedForSourceException"


def test_put_events_delivers_to_sqs_sns_and_logs(routed):
    assert _bodies(routed["sqs"], routed["direct"]) == ['{"user": "andrew", "plan": "pro"}']
    via_sns = _bodies(routed["sqs"], routed["via_sns"])
    assert len(via_sns) == 1 and json.loads(via_sns[0])["detail"] == {"user": "andrew", "plan": "pro"}
    messages = [e["message"] for e in routed["logs"].filter_log_events(logGroupName="/events/routed")["events"]]
    assert messages == ['"andrew signed up for pro"']


def test_disabled_rules_deliver_nothing(routed):
    assert _bodies(routed["sqs"], routed["disabled"]) == []


def test_put_events_takes_at_most_ten_entries(module_cloud):
    entry = {"Source": "cruddur.app", "DetailType": "x", "Detail": "{}"}
    with pytest.raises(ClientError) as err:
        boto3.client("events").put_events(Entries=[entry] * 11)
    assert err.value.response["Error"]["Code"] == "ValidationException"


def test_cloudtrail_write_calls_reach_rules(module_cloud):
    """CloudTrail's "AWS API Call via CloudTrail" events: a rule on a security-group change sees it, a read does
    not produce one."""
    events, sqs, ec2 = (boto3.client(s, region_name="us-east-2") for s in ("events", "sqs", "ec2"))
    url = sqs.create_queue(QueueName="sg-changes")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events.put_rule(Name="sg-changes", EventPattern=json.dumps({
        "source": ["aws.ec2"], "detail-type": ["AWS API Call via CloudTrail"],
        "detail": {"eventName": [{"prefix": "AuthorizeSecurityGroup"}, "DescribeSecurityGroups"]}}))
    events.put_targets(Rule="sg-changes", Targets=[{"Id": "q", "Arn": arn, "InputTransformer": {
        "InputPathsMap": {"name": "$.detail.eventName", "group": "$.detail.requestParameters.groupId"},
        "InputTemplate": '{"call": <name>, "group": <group>}'}}])
    group = ec2.create_security_group(GroupName="web", Description="web")["GroupId"]
    ec2.describe_security_groups(GroupIds=[group])
    ec2.authorize_security_group_ingress(GroupId=group, IpPermissions=[
        {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}])
    bodies = [json.loads(m["Body"]) for m in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]]
    assert bodies == [{"call": "AuthorizeSecurityGroupIngress", "group": group}]
