"""CloudTrail in the local cloud: failed calls recorded with their error codes, delivery to the trail's
log group, metric filters on it, LookupEvents; end to end with the IAM check (tests/test_iam.py) that makes
a low-privilege user's calls fail the way they fail on AWS."""
from __future__ import annotations

import json
from datetime import datetime, timezone

import boto3
import pytest
from botocore.exceptions import ClientError

from lab_app.localcloud.cloudtrail.models import parse_error

READ_ONLY_POLICY = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Action": ["logs:Describe*", "cloudwatch:Describe*", "ec2:Describe*"], "Resource": "*"}]}


@pytest.fixture(scope="module")
def trail(module_cloud):
    """A logging trail into log group CloudTrail/test, and a read-only IAM user's session."""
    logs, ct, s3, iam = (boto3.client(s) for s in ("logs", "cloudtrail", "s3", "iam"))
    logs.create_log_group(logGroupName="CloudTrail/test")
    arn = logs.describe_log_groups(logGroupNamePrefix="CloudTrail/test")["logGroups"][0]["arn"]
    s3.create_bucket(Bucket="test-trail-bucket")
    ct.create_trail(Name="test-trail", S3BucketName="test-trail-bucket", CloudWatchLogsLogGroupArn=arn,
                    CloudWatchLogsRoleArn="arn:aws:iam::123456789012:role/CloudTrail_CloudWatchLogs")
    ct.start_logging(Name="test-trail")
    iam.create_user(UserName="readonly-tester")
    iam.put_user_policy(UserName="readonly-tester", PolicyName="read-only", PolicyDocument=json.dumps(READ_ONLY_POLICY))
    key = iam.create_access_key(UserName="readonly-tester")["AccessKey"]
    session = boto3.Session(aws_access_key_id=key["AccessKeyId"], aws_secret_access_key=key["SecretAccessKey"],
                            region_name="us-east-1")
    return {"cloud": module_cloud, "session": session, "key_id": key["AccessKeyId"], "group": "CloudTrail/test"}


def _records(trail: dict, pattern: str = "") -> list[dict]:
    """The trail's records in its log group (delivery is asynchronous, as on AWS: wait for it first)."""
    assert trail["cloud"].component("cloudtrail").drain()
    events = boto3.client("logs").filter_log_events(logGroupName=trail["group"], filterPattern=pattern)["events"]
    return [json.loads(e["message"]) for e in events]


def test_denied_calls_are_recorded_with_their_error_codes(trail):
    low = trail["session"]
    expected = {}
    calls = [
        ("DeleteLogGroup", lambda: low.client("logs").delete_log_group(logGroupName="CloudTrail/test")),
        ("AuthorizeSecurityGroupIngress", lambda: low.client("ec2").authorize_security_group_ingress(
            GroupId="sg-0123456789abcdef0", IpProtocol="tcp", FromPort=22, ToPort=22, CidrIp="0.0.0.0/0")),
        ("ListUsers", lambda: low.client("iam").list_users()),
    ]
    for name, call in calls:
        with pytest.raises(ClientError) as err:
            call()
        expected[name] = err.value.response["Error"]["Code"]
    # what boto3 raised is what AWS raises for these services
    assert expected == {"DeleteLogGroup": "AccessDeniedException",
                        "AuthorizeSecurityGroupIngress": "UnauthorizedOperation",
                        "ListUsers": "AccessDenied"}
    # the allowed call still works (and the log group was not deleted)
    groups = low.client("logs").describe_log_groups(logGroupNamePrefix="CloudTrail/test")["logGroups"]
    assert [g["logGroupName"] for g in groups] == ["CloudTrail/test"]
    records = [r for r in _records(trail) if r["userIdentity"].get("userName") == "readonly-tester"]
    by_name = {r["eventName"]: r for r in records}
    for name, code in expected.items():
        record = by_name[name]
        assert record["errorCode"] == code
        assert "readonly-tester is not authorized to perform" in record["errorMessage"]
        assert record["userIdentity"]["type"] == "IAMUser"
        assert record["userIdentity"]["accessKeyId"] == trail["key_id"]
        assert record["eventVersion"] == "1.08" and record["eventType"] == "AwsApiCall"
        assert record["readOnly"] is (name == "ListUsers")
    assert by_name["DeleteLogGroup"]["eventSource"] == "logs.amazonaws.com"
    assert by_name["DeleteLogGroup"]["requestParameters"] == {"logGroupName": "CloudTrail/test"}
    assert by_name["AuthorizeSecurityGroupIngress"]["eventSource"] == "ec2.amazonaws.com"
    assert by_name["AuthorizeSecurityGroupIngress"]["requestParameters"]["groupId"] == "sg-0123456789abcdef0"
    assert by_name["ListUsers"]["awsRegion"] == "us-east-1" and by_name["ListUsers"]["eventSource"] == "iam.amazonaws.com"
    assert "errorCode" not in by_name["DescribeLogGroups"]


def test_failed_call_of_the_root_identity_has_the_service_error(trail):
    logs = boto3.client("logs")
    with pytest.raises(ClientError) as err:
        logs.delete_log_group(logGroupName="no-such-group")
    assert err.value.response["Error"]["Code"] == "ResourceNotFoundException"
    (record,) = [r for r in _records(trail, '{ $.eventName = "DeleteLogGroup" && $.userIdentity.type = "Root" }')]
    assert record["errorCode"] == "ResourceNotFoundException"
    assert record["userIdentity"]["arn"] == "arn:aws:iam::123456789012:root"


def test_secrets_in_request_parameters_are_hidden(trail):
    iam = boto3.client("iam")
    iam.create_login_profile(UserName="readonly-tester", Password="Planted-Passw0rd!")  # pragma: allowlist secret
    (record,) = _records(trail, '{ $.eventName = "CreateLoginProfile" }')
    assert record["requestParameters"]["userName"] == "readonly-tester"
    assert record["requestParameters"]["password"] == "HIDDEN_DUE_TO_SECURITY_REASONS"  # pragma: allowlist secret
    assert "Planted-Passw0rd" not in json.dumps(record)


def test_metric_filter_on_the_trail_publishes_denied_calls(trail):
    logs = boto3.client("logs")
    logs.put_metric_filter(
        logGroupName=trail["group"], filterName="UnauthorizedAPICalls",
        filterPattern='{ ($.errorCode = "*UnauthorizedOperation") || ($.errorCode = "AccessDenied*") }',
        metricTransformations=[{"metricName": "UnauthorizedAPICalls", "metricNamespace": "TrailTest", "metricValue": "1"}])
    low = trail["session"]
    for _ in range(2):
        with pytest.raises(ClientError):
            low.client("logs").delete_log_group(logGroupName=trail["group"])
    assert trail["cloud"].component("cloudtrail").drain()
    now = trail["cloud"].clock.now()
    stats = boto3.client("cloudwatch").get_metric_statistics(
        Namespace="TrailTest", MetricName="UnauthorizedAPICalls", Period=60, Statistics=["Sum"],
        StartTime=datetime.fromtimestamp(now - 300, timezone.utc), EndTime=datetime.fromtimestamp(now + 60, timezone.utc))
    assert sum(p["Sum"] for p in stats["Datapoints"]) == 2.0


def test_lookup_events_answers_from_the_same_records(trail):
    ct = boto3.client("cloudtrail")
    denied = ct.lookup_events(LookupAttributes=[{"AttributeKey": "EventName", "AttributeValue": "AuthorizeSecurityGroupIngress"}])
    (event,) = denied["Events"]
    assert event["Username"] == "readonly-tester" and event["ReadOnly"] == "false"
    assert event["Resources"] == [{"ResourceType": "AWS::EC2::SecurityGroup", "ResourceName": "sg-0123456789abcdef0"}]
    assert json.loads(event["CloudTrailEvent"])["errorCode"] == "UnauthorizedOperation"
    by_resource = ct.lookup_events(LookupAttributes=[{"AttributeKey": "ResourceName", "AttributeValue": "CloudTrail/test"}])
    assert {e["EventName"] for e in by_resource["Events"]} >= {"CreateLogGroup", "DeleteLogGroup"}
    page = ct.lookup_events(MaxResults=2)
    assert len(page["Events"]) == 2 and "NextToken" in page
    times = [e["EventTime"] for e in page["Events"]]
    assert times == sorted(times, reverse=True)
    nxt = ct.lookup_events(MaxResults=2, NextToken=page["NextToken"])
    assert not {e["EventId"] for e in nxt["Events"]} & {e["EventId"] for e in page["Events"]}
    for bad, code in [(dict(MaxResults=51), "InvalidMaxResultsException"),
                      (dict(LookupAttributes=[{"AttributeKey": "EventName", "AttributeValue": "a"},
                                              {"AttributeKey": "Username", "AttributeValue": "b"}]),
                       "InvalidLookupAttributesException")]:
        with pytest.raises(ClientError) as err:
            ct.lookup_events(**bad)
        assert err.value.response["Error"]["Code"] == code


def test_data_events_and_unsigned_requests_are_not_recorded(trail):
    logs = boto3.client("logs")
    logs.create_log_stream(logGroupName=trail["group"], logStreamName="app")
    logs.put_log_events(logGroupName=trail["group"], logStreamName="app",
                        logEvents=[{"timestamp": int(trail["cloud"].clock.now() * 1000), "message": "hello"}])
    names = {r["eventName"] for r in _records(trail, '{ $.eventSource = "logs.amazonaws.com" }')}
    assert "CreateLogStream" in names and "PutLogEvents" not in names


def test_stopped_trail_delivers_nothing_but_history_keeps_events(trail):
    ct, logs = boto3.client("cloudtrail"), boto3.client("logs")
    ct.stop_logging(Name="test-trail")
    try:
        logs.describe_log_groups(logGroupNamePrefix="while-stopped")
        assert _records(trail, '{ $.requestParameters.logGroupNamePrefix = "while-stopped" }') == []
        found = ct.lookup_events(LookupAttributes=[{"AttributeKey": "EventName", "AttributeValue": "DescribeLogGroups"}])
        assert any("while-stopped" in e["CloudTrailEvent"] for e in found["Events"])
    finally:
        ct.start_logging(Name="test-trail")


# --- units -----------------------------------------------------------------------------------------
@pytest.mark.parametrize("status,headers,body,expected", [
    (400, [], b'{"__type":"com.amazonaws.logs#ResourceNotFoundException","message":"gone"}',
     ("ResourceNotFoundException", "gone")),
    (400, [("x-amzn-query-error", "AccessDenied;Sender")], b'{"__type":"AccessDenied","message":"no"}',
     ("AccessDenied", "no")),
    (403, [], b"<Response><Errors><Error><Code>UnauthorizedOperation</Code><Message>You are not</Message></Error>"
              b"</Errors></Response>", ("UnauthorizedOperation", "You are not")),
    (404, [("x-amzn-ErrorType", "NotFoundException:http://internal")], b"", ("NotFoundException", None)),
    (200, [], b"{}", (None, None)),
])
def test_parse_error(status, headers, body, expected):
    assert parse_error(status, headers, body) == expected


def test_assumed_role_sessions_are_checked_and_recorded(trail):
    iam, sts = boto3.client("iam"), boto3.client("sts")
    trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": "*"},
                                                       "Action": "sts:AssumeRole"}]}
    role_arn = iam.create_role(RoleName="log-reader", AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
    iam.put_role_policy(RoleName="log-reader", PolicyName="read", PolicyDocument=json.dumps(READ_ONLY_POLICY))
    creds = sts.assume_role(RoleArn=role_arn, RoleSessionName="oncall")["Credentials"]
    session = boto3.Session(aws_access_key_id=creds["AccessKeyId"], aws_secret_access_key=creds["SecretAccessKey"],
                            aws_session_token=creds["SessionToken"], region_name="us-east-1")
    session.client("logs").describe_log_groups(limit=1)
    with pytest.raises(ClientError) as err:
        session.client("logs").delete_log_group(logGroupName=trail["group"])
    assert err.value.response["Error"]["Code"] == "AccessDeniedException"
    assert "assumed-role/log-reader/oncall" in err.value.response["Error"]["Message"]
    (record,) = _records(trail, '{ $.userIdentity.type = "AssumedRole" && $.eventName = "DeleteLogGroup" }')
    identity = record["userIdentity"]
    assert identity["arn"] == "arn:aws:sts::123456789012:assumed-role/log-reader/oncall"
    assert identity["sessionContext"]["sessionIssuer"]["arn"] == role_arn
    assert record["errorCode"] == "AccessDeniedException"
    # a wrong session token is refused before any policy is read
    bad = boto3.Session(aws_access_key_id=creds["AccessKeyId"], aws_secret_access_key=creds["SecretAccessKey"],
                        aws_session_token="not-the-token", region_name="us-east-1")
    with pytest.raises(ClientError) as err:
        bad.client("logs").describe_log_groups(limit=1)
    assert err.value.response["Error"]["Code"] == "UnrecognizedClientException"
