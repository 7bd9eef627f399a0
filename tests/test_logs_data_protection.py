"""CloudWatch Logs data protection contract tests: boto3 and the awscli against the local cloud.

Every expected masked text and finding offset below is counted by hand from the planted message (character
positions written next to each message), not computed with the code under test.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import boto3
import pytest

AWS_CLI = Path(sys.executable).with_name("aws")
ARN = "arn:aws:dataprotection::aws:data-identifier/"
ACCOUNT = "123456789012"

# "login " is 6 characters, the address 15 (6..21), " from " 6, the IP 11 (27..38)
LOGIN = "login ana@example.com from 203.0.113.7"
LOGIN_MASKED = "login " + "*" * 15 + " from " + "*" * 11
# "aws_secret_access_key=" is 22 characters, the secret key 40 (22..62)
SECRET = "aws_secret_access_key=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"  # pragma: allowlist secret
SECRET_MASKED = "aws_secret_access_key=" + "*" * 40  # pragma: allowlist secret
# "paid with visa " is 15 characters, the card number 19 with its spaces (15..34); 4111 1111 1111 1111 passes Luhn
CARD = "paid with visa 4111 1111 1111 1111"
CARD_MASKED = "paid with visa " + "*" * 19
# "key id " is 7 characters, the access key id 20 (7..27): caught by the custom identifier only
KEY_ID = "key id AKIAIOSFODNN7EXAMPLE"  # pragma: allowlist secret
KEY_ID_MASKED = "key id " + "*" * 20
CLEAN = "GET /api/activities/home 200"
MANAGED = ["EmailAddress", "IpAddress", "AwsSecretKey", "CreditCardNumber"]


def policy(identifiers=MANAGED, custom=None, destination=None, **top) -> str:
    ids = [ARN + i for i in identifiers] + [c["Name"] for c in custom or []]
    doc = {"Name": "cruddur-protection", "Description": "mask what must not be read", "Version": "2021-06-01",
           "Statement": [
               {"Sid": "audit", "DataIdentifier": ids,
                "Operation": {"Audit": {"FindingsDestination": destination or {}}}},
               {"Sid": "redact", "DataIdentifier": ids, "Operation": {"Deidentify": {"MaskConfig": {}}}}]}
    if custom:
        doc["Configuration"] = {"CustomDataIdentifier": custom}
    doc.update(top)
    return json.dumps(doc)


ACCESS_KEY_ID = {"Name": "AwsAccessKeyId", "Regex": "AKIA[0-9A-Z]{16}"}


@pytest.fixture
def logs(cloud):
    return boto3.client("logs")


def now_ms() -> int:
    return int(time.time() * 1000)


def put(logs, group, stream, messages):
    t = now_ms()
    logs.put_log_events(logGroupName=group, logStreamName=stream,
                        logEvents=[{"timestamp": t + i, "message": m} for i, m in enumerate(messages)])


def make_group(logs, group="cruddur", stream="backend"):
    logs.create_log_group(logGroupName=group)
    logs.create_log_stream(logGroupName=group, logStreamName=stream)


def query(logs, group, text) -> list[dict]:
    t = int(time.time())
    qid = logs.start_query(logGroupName=group, startTime=t - 600, endTime=t + 600, queryString=text)["queryId"]
    for _ in range(100):
        res = logs.get_query_results(queryId=qid)
        if res["status"] == "Complete":
            return [{f["field"]: f["value"] for f in row} for row in res["results"]]
        time.sleep(0.05)
    raise AssertionError(res)


# ---- the operations -------------------------------------------------------------------------------------
def test_put_get_delete_and_the_group_status(logs):
    make_group(logs)
    assert "policyDocument" not in logs.get_data_protection_policy(logGroupIdentifier="cruddur")
    doc = policy()
    out = logs.put_data_protection_policy(logGroupIdentifier="cruddur", policyDocument=doc)
    assert out["logGroupIdentifier"] == "cruddur" and out["policyDocument"] == doc
    assert abs(out["lastUpdatedTime"] - now_ms()) < 5_000
    arn = f"arn:aws:logs:us-east-1:{ACCOUNT}:log-group:cruddur"
    got = logs.get_data_protection_policy(logGroupIdentifier=arn)
    assert got["policyDocument"] == doc and got["logGroupIdentifier"] == arn
    group = logs.describe_log_groups(logGroupNamePrefix="cruddur")["logGroups"][0]
    assert group["dataProtectionStatus"] == "ACTIVATED"
    logs.delete_data_protection_policy(logGroupIdentifier="cruddur")
    assert "policyDocument" not in logs.get_data_protection_policy(logGroupIdentifier="cruddur")
    assert logs.describe_log_groups(logGroupNamePrefix="cruddur")["logGroups"][0]["dataProtectionStatus"] == "DELETED"
    with pytest.raises(logs.exceptions.ResourceNotFoundException):
        logs.delete_data_protection_policy(logGroupIdentifier="cruddur")
    with pytest.raises(logs.exceptions.ResourceNotFoundException):
        logs.put_data_protection_policy(logGroupIdentifier="missing", policyDocument=doc)
    with pytest.raises(logs.exceptions.ResourceNotFoundException):
        logs.get_data_protection_policy(logGroupIdentifier="missing")
    # the log group's ARN as DescribeLogGroups prints it (with ":*") breaks the identifier's pattern
    with pytest.raises(logs.exceptions.ClientError) as info:
        logs.get_data_protection_policy(logGroupIdentifier=arn + ":*")
    assert info.value.response["Error"]["Code"] == "ValidationException"
    assert "Member must satisfy regular expression pattern" in info.value.response["Error"]["Message"]


def _doc(**changes):
    base = json.loads(policy())
    for key, value in changes.items():
        if value is None:
            base.pop(key)
        else:
            base[key] = value
    return json.dumps(base)


def _statements(audit_ids=None, deid_ids=None, audit_op=None, deid_op=None):
    ids = [ARN + "EmailAddress"]
    return _doc(Statement=[
        {"DataIdentifier": audit_ids or ids, "Operation": audit_op or {"Audit": {"FindingsDestination": {}}}},
        {"DataIdentifier": deid_ids or ids, "Operation": deid_op or {"Deidentify": {"MaskConfig": {}}}}])


INVALID = [
    ("not-json", "{not json", "not valid JSON"),
    ("not-an-object", "[]", "must be a JSON object"),
    ("wrong-version", _doc(Version="2012-10-17"), 'Version must be "2021-06-01"'),
    ("no-statement", _doc(Statement=None), "exactly two statements"),
    ("one-statement", _doc(Statement=json.loads(policy())["Statement"][:1]), "exactly two statements"),
    ("two-audits", _statements(deid_op={"Audit": {"FindingsDestination": {}}}), "exactly one Audit"),
    ("identifiers-differ", _statements(deid_ids=[ARN + "IpAddress"]), "must match exactly"),
    ("mask-config-not-empty", _statements(deid_op={"Deidentify": {"MaskConfig": {"MaskWith": "#"}}}),
     "empty MaskConfig"),
    ("no-findings-destination", _statements(audit_op={"Audit": {}}), "FindingsDestination object"),
    ("unknown-operation", _statements(deid_op={"Deny": {}}), "exactly one of Audit or Deidentify"),
    ("unknown-managed-identifier", _statements(audit_ids=[ARN + "EmailAdress"], deid_ids=[ARN + "EmailAdress"]),
     "is not a managed data identifier"),
    ("aws-identifier-not-detected-here", policy(["DriversLicense-US"]), "does not detect it"),
    ("undefined-custom-identifier", _statements(audit_ids=["EmployeeId"], deid_ids=["EmployeeId"]),
     "neither a managed data identifier ARN"),
    ("custom-regex-forbidden-characters", policy([], [{"Name": "Emp", "Regex": "(EMP)-[0-9]+"}]),
     "characters a custom data identifier cannot use"),
    ("custom-regex-not-re2", policy([], [{"Name": "Emp", "Regex": "EMP[0-9"}]), "not a valid regular expression"),
    ("custom-regex-too-long", policy([], [{"Name": "Emp", "Regex": "A" * 201}]), "1 to 200 characters"),
    ("custom-regex-matches-empty", policy([], [{"Name": "Emp", "Regex": "[0-9]*"}]), "matches the empty string"),
    ("custom-name-is-managed", policy([], [{"Name": "EmailAddress", "Regex": "x+"}]),
     "name of a managed data identifier"),
    ("custom-name-characters", policy([], [{"Name": "Emp Id", "Regex": "x+"}]), "1 to 128 characters"),
    ("eleven-custom-identifiers", policy([], [{"Name": f"C{i}", "Regex": f"X{i}+"} for i in range(11)]),
     "at most 10 custom data identifiers"),
    ("missing-destination-group", policy(destination={"CloudWatchLogs": {"LogGroup": "no-such-group"}}),
     "log group no-such-group does not exist"),
    ("missing-destination-bucket", policy(destination={"S3": {"Bucket": "no-such-bucket"}}),
     "S3 bucket no-such-bucket does not exist"),
    ("bad-destination-shape", policy(destination={"CloudWatchLogs": {"Group": "x"}}), '{"LogGroup": "..."}'),
    ("too-long", policy(Description="x" * 30_721), "the maximum is 30720"),
]


@pytest.mark.parametrize("document,message", [(d, m) for _, d, m in INVALID], ids=[i for i, _, _ in INVALID])
def test_invalid_policy_documents(logs, document, message):
    make_group(logs)
    with pytest.raises(logs.exceptions.InvalidParameterException) as info:
        logs.put_data_protection_policy(logGroupIdentifier="cruddur", policyDocument=document)
    assert message in info.value.response["Error"]["Message"]
    assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert "policyDocument" not in logs.get_data_protection_policy(logGroupIdentifier="cruddur")


# ---- masking ----------------------------------------------------------------------------------------------
def test_masked_on_every_read_path_and_only_after_the_policy(logs):
    make_group(logs)
    put(logs, "cruddur", "backend", ["before " + LOGIN])   # ingested before the policy: never masked
    logs.put_data_protection_policy(logGroupIdentifier="cruddur", policyDocument=policy(custom=[ACCESS_KEY_ID]))
    put(logs, "cruddur", "backend", [LOGIN, SECRET, CARD, KEY_ID, CLEAN])
    expected = ["before " + LOGIN, LOGIN_MASKED, SECRET_MASKED, CARD_MASKED, KEY_ID_MASKED, CLEAN]
    events = logs.get_log_events(logGroupName="cruddur", logStreamName="backend", startFromHead=True)["events"]
    assert [e["message"] for e in events] == expected
    assert [e["message"] for e in logs.filter_log_events(logGroupName="cruddur")["events"]] == expected
    # a filter pattern sees what the reader sees: the masked address no longer matches
    assert [e["message"] for e in logs.filter_log_events(logGroupName="cruddur", filterPattern='"ana@"')[
        "events"]] == ["before " + LOGIN]
    rows = query(logs, "cruddur", "fields @message | sort @timestamp asc")
    assert [r["@message"] for r in rows] == expected
    record = logs.get_log_record(logRecordPointer=rows[1]["@ptr"])["logRecord"]
    assert record["@message"] == LOGIN_MASKED
    # the account root (the workbook's default identity) may unmask
    unmasked = logs.get_log_events(logGroupName="cruddur", logStreamName="backend", startFromHead=True, unmask=True)
    assert [e["message"] for e in unmasked["events"]] == ["before " + LOGIN, LOGIN, SECRET, CARD, KEY_ID, CLEAN]
    assert [e["message"] for e in logs.filter_log_events(logGroupName="cruddur", filterPattern='"ana@"',
                                                         unmask=True)["events"]] == ["before " + LOGIN, LOGIN]
    assert logs.get_log_record(logRecordPointer=rows[1]["@ptr"], unmask=True)["logRecord"]["@message"] == LOGIN
    rows = query(logs, "cruddur", "fields @message, unmask(@message) as original | sort @timestamp asc")
    assert [(r["@message"], r["original"]) for r in rows][1:3] == [(LOGIN_MASKED, LOGIN), (SECRET_MASKED, SECRET)]
    rows = query(logs, "cruddur", "filter unmask(@message) like /ana@example/ | stats count(*) as n")
    assert rows == [{"n": "2"}]


def test_keywords_and_checks_decide_like_aws_documents(logs):
    make_group(logs)
    logs.put_data_protection_policy(logGroupIdentifier="cruddur", policyDocument=policy())
    kept = [
        "order 4111111111111111 shipped",                       # a card number without a card keyword nearby
        "visa 4111111111111112",                                # fails the Luhn check (last digit changed)
        "token wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",      # 40 characters, no secret-key keyword
        "version 256.1.1.1 and 1.2.3.4.5",                      # not IPv4 addresses
    ]
    put(logs, "cruddur", "backend", kept + ["secret key: wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"])
    got = [e["message"] for e in logs.get_log_events(logGroupName="cruddur", logStreamName="backend",
                                                     startFromHead=True)["events"]]
    # "secret key: " is 12 characters, then the 40-character key
    assert got == kept + ["secret key: " + "*" * 40]


def test_audit_findings_reach_the_log_group_and_the_metric(logs):
    make_group(logs, "cruddur-audited")   # a name of its own: moto's metric store outlives each test's cloud
    logs.create_log_group(logGroupName="audit")
    logs.put_data_protection_policy(logGroupIdentifier="cruddur-audited", policyDocument=policy(
        custom=[ACCESS_KEY_ID], destination={"CloudWatchLogs": {"LogGroup": "audit"}}))
    put(logs, "cruddur-audited", "backend", [LOGIN, CLEAN, "two a@b.co c@d.io " + KEY_ID])
    reports = [json.loads(e["message"]) for e in logs.filter_log_events(logGroupName="audit")["events"]]
    assert len(reports) == 2   # one report per event with sensitive data; the clean event has none
    first, second = reports
    assert first["resourceArn"] == f"arn:aws:logs:us-east-1:{ACCOUNT}:log-group:cruddur-audited:*"
    assert first["auditTimestamp"].endswith("Z") and len(first["auditTimestamp"]) == 20
    assert first["dataIdentifiers"] == [
        {"name": "EmailAddress", "count": 1, "detections": [{"start": 6, "end": 21}]},
        {"name": "IpAddress", "count": 1, "detections": [{"start": 27, "end": 38}]}]
    # "two " 4, "a@b.co" 6 (4..10), " " , "c@d.io" 6 (11..17), " key id " 8, the key id 20 (25..45)
    assert second["dataIdentifiers"] == [
        {"name": "EmailAddress", "count": 2, "detections": [{"start": 4, "end": 10}, {"start": 11, "end": 17}]},
        {"name": "AwsAccessKeyId", "count": 1, "detections": [{"start": 25, "end": 45}]}]
    cw = boto3.client("cloudwatch")
    from datetime import datetime, timedelta, timezone

    now = datetime.now(timezone.utc)
    stats = cw.get_metric_statistics(Namespace="AWS/Logs", MetricName="LogEventsWithFindings",
                                     Dimensions=[{"Name": "LogGroupName", "Value": "cruddur-audited"}],
                                     StartTime=now - timedelta(minutes=5), EndTime=now + timedelta(minutes=5),
                                     Period=600, Statistics=["Sum"])
    assert sum(p["Sum"] for p in stats["Datapoints"]) == 2.0   # events with findings, not matches (3 + 2)


def test_findings_to_s3(logs):
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket="cruddur-findings")
    make_group(logs)
    logs.put_data_protection_policy(logGroupIdentifier="cruddur", policyDocument=policy(
        destination={"S3": {"Bucket": "cruddur-findings"}}))
    put(logs, "cruddur", "backend", [LOGIN, CARD])
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket="cruddur-findings")["Contents"]]
    assert len(keys) == 1 and keys[0].startswith(f"AWSLogs/{ACCOUNT}/DataProtection/us-east-1/cruddur/")
    lines = s3.get_object(Bucket="cruddur-findings", Key=keys[0])["Body"].read().decode().splitlines()
    assert [[d["name"] for d in json.loads(line)["dataIdentifiers"]] for line in lines] == [
        ["EmailAddress", "IpAddress"], ["CreditCardNumber"]]


# ---- who may unmask -----------------------------------------------------------------------------------------
def _user(name: str, actions: list[str]) -> boto3.Session:
    iam = boto3.client("iam")
    iam.create_user(UserName=name)
    iam.put_user_policy(UserName=name, PolicyName="logs", PolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": actions, "Resource": "*"}]}))
    key = iam.create_access_key(UserName=name)["AccessKey"]
    return boto3.Session(aws_access_key_id=key["AccessKeyId"], aws_secret_access_key=key["SecretAccessKey"],
                         region_name="us-east-1")


READ = ["logs:GetLogEvents", "logs:FilterLogEvents", "logs:StartQuery", "logs:GetQueryResults", "logs:GetLogRecord",
        "logs:DescribeLogGroups"]


def test_unmask_needs_logs_unmask(logs):
    make_group(logs)
    logs.put_data_protection_policy(logGroupIdentifier="cruddur", policyDocument=policy())
    put(logs, "cruddur", "backend", [LOGIN])
    viewer = _user("viewer", READ).client("logs")
    auditor = _user("auditor", READ + ["logs:Unmask"]).client("logs")
    for client in (viewer, auditor):
        assert client.get_log_events(logGroupName="cruddur", logStreamName="backend")["events"][0][
            "message"] == LOGIN_MASKED
    calls = {
        "GetLogEvents": lambda c: c.get_log_events(logGroupName="cruddur", logStreamName="backend",
                                                   unmask=True)["events"][0]["message"],
        "FilterLogEvents": lambda c: c.filter_log_events(logGroupName="cruddur", unmask=True)["events"][0]["message"],
        "Insights": lambda c: query(c, "cruddur", "fields unmask(@message) as original")[0]["original"],
    }
    for name, call in calls.items():
        assert call(auditor) == LOGIN, name
        with pytest.raises(viewer.exceptions.ClientError) as info:
            call(viewer)
        error = info.value.response["Error"]
        assert error["Code"] == "AccessDeniedException", name
        assert error["Message"] == (
            f"User: arn:aws:iam::{ACCOUNT}:user/viewer is not authorized to perform: logs:Unmask on resource: "
            f"arn:aws:logs:us-east-1:{ACCOUNT}:log-group:cruddur because no identity-based policy allows the "
            "logs:Unmask action"), name
    # an explicit deny wins over logs:*
    denied = _user("denied", ["logs:*"]).client("logs")
    boto3.client("iam").put_user_policy(UserName="denied", PolicyName="no-unmask", PolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Deny", "Action": "logs:Unmask", "Resource": "*"}]}))
    with pytest.raises(denied.exceptions.ClientError) as info:
        denied.get_log_events(logGroupName="cruddur", logStreamName="backend", unmask=True)
    assert "with an explicit deny in an identity-based policy" in info.value.response["Error"]["Message"]


def test_insights_unmask_takes_message_only(logs):
    make_group(logs)
    t = int(time.time())
    with pytest.raises(logs.exceptions.MalformedQueryException):
        logs.start_query(logGroupName="cruddur", startTime=t - 60, endTime=t,
                         queryString="fields unmask(@logStream)")


# ---- account-level policy -------------------------------------------------------------------------------------
def test_account_policy_applies_to_every_group(logs):
    make_group(logs, "before-policy")
    out = logs.put_account_policy(policyName="account-protection", policyType="DATA_PROTECTION_POLICY",
                                  policyDocument=policy(["EmailAddress"]), scope="ALL")["accountPolicy"]
    assert (out["policyName"], out["policyType"], out["scope"], out["accountId"]) == (
        "account-protection", "DATA_PROTECTION_POLICY", "ALL", ACCOUNT)
    make_group(logs, "after-policy")
    for group in ("before-policy", "after-policy"):
        put(logs, group, "backend", [LOGIN])
        got = logs.get_log_events(logGroupName=group, logStreamName="backend")["events"][0]["message"]
        assert got == "login " + "*" * 15 + " from 203.0.113.7"   # only the account policy's EmailAddress
    assert logs.describe_log_groups(logGroupNamePrefix="after")["logGroups"][0]["inheritedProperties"] == [
        "ACCOUNT_DATA_PROTECTION"]
    # cumulative with a log group policy: the group's IpAddress and the account's EmailAddress
    logs.put_data_protection_policy(logGroupIdentifier="after-policy", policyDocument=policy(["IpAddress"]))
    put(logs, "after-policy", "backend", [LOGIN])
    assert logs.get_log_events(logGroupName="after-policy", logStreamName="backend")["events"][-1][
        "message"] == LOGIN_MASKED
    listed = logs.describe_account_policies(policyType="DATA_PROTECTION_POLICY")["accountPolicies"]
    assert [p["policyName"] for p in listed] == ["account-protection"]
    with pytest.raises(logs.exceptions.LimitExceededException):
        logs.put_account_policy(policyName="second", policyType="DATA_PROTECTION_POLICY", policyDocument=policy())
    with pytest.raises(logs.exceptions.InvalidParameterException):
        logs.put_account_policy(policyName="x", policyType="DATA_PROTECTION_POLICY", policyDocument="{}")
    with pytest.raises(logs.exceptions.InvalidParameterException):
        logs.put_account_policy(policyName="x", policyType="DATA_PROTECTION_POLICY", policyDocument=policy(),
                                selectionCriteria="LogGroupName NOT IN []")
    logs.delete_account_policy(policyName="account-protection", policyType="DATA_PROTECTION_POLICY")
    assert logs.describe_account_policies(policyType="DATA_PROTECTION_POLICY")["accountPolicies"] == []
    with pytest.raises(logs.exceptions.ResourceNotFoundException):
        logs.delete_account_policy(policyName="account-protection", policyType="DATA_PROTECTION_POLICY")
    put(logs, "before-policy", "backend", [LOGIN])
    assert logs.get_log_events(logGroupName="before-policy", logStreamName="backend")["events"][-1][
        "message"] == LOGIN


def test_policies_survive_a_restart(tmp_path):
    from lab_app.localcloud.server import LocalCloud

    lc = LocalCloud(tmp_path / "lab", aws_port=0, otlp_port=0, daemon_port=0).start()
    try:
        client = boto3.client("logs", endpoint_url=lc.aws_url, region_name="us-east-1")
        make_group(client)
        client.put_data_protection_policy(logGroupIdentifier="cruddur", policyDocument=policy())
    finally:
        lc.stop()
    lc = LocalCloud(tmp_path / "lab", aws_port=0, otlp_port=0, daemon_port=0).start()
    try:
        client = boto3.client("logs", endpoint_url=lc.aws_url, region_name="us-east-1")
        put(client, "cruddur", "backend", [LOGIN])
        assert client.get_log_events(logGroupName="cruddur", logStreamName="backend")["events"][0][
            "message"] == LOGIN_MASKED
    finally:
        lc.stop()


def test_awscli(cloud, tmp_path):
    env = {**os.environ, **cloud.env()}

    def aws(*args):
        return subprocess.run([str(AWS_CLI), "logs", *args, "--output", "json"], env=env, capture_output=True,
                              text=True, timeout=60)

    assert aws("create-log-group", "--log-group-name", "cli-group").returncode == 0
    assert aws("create-log-stream", "--log-group-name", "cli-group", "--log-stream-name", "s").returncode == 0
    doc = tmp_path / "policy.json"
    doc.write_text(policy(["EmailAddress"]))
    r = aws("put-data-protection-policy", "--log-group-identifier", "cli-group", "--policy-document",
            f"file://{doc}")
    assert r.returncode == 0, r.stderr
    assert json.loads(aws("get-data-protection-policy", "--log-group-identifier", "cli-group").stdout)[
        "policyDocument"] == doc.read_text()
    events = json.dumps([{"timestamp": now_ms(), "message": LOGIN}])
    assert aws("put-log-events", "--log-group-name", "cli-group", "--log-stream-name", "s",
               "--log-events", events).returncode == 0
    masked = json.loads(aws("get-log-events", "--log-group-name", "cli-group", "--log-stream-name", "s").stdout)
    assert masked["events"][0]["message"] == "login " + "*" * 15 + " from 203.0.113.7"
    plain = json.loads(aws("get-log-events", "--log-group-name", "cli-group", "--log-stream-name", "s",
                           "--unmask").stdout)
    assert plain["events"][0]["message"] == LOGIN
    r = aws("put-data-protection-policy", "--log-group-identifier", "cli-group", "--policy-document", "{}")
    assert r.returncode != 0 and "InvalidParameterException" in r.stderr
    assert aws("delete-data-protection-policy", "--log-group-identifier", "cli-group").returncode == 0
    r = aws("put-account-policy", "--policy-name", "cli-account", "--policy-type", "DATA_PROTECTION_POLICY",
            "--policy-document", f"file://{doc}", "--scope", "ALL")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["accountPolicy"]["policyName"] == "cli-account"
    listed = json.loads(aws("describe-account-policies", "--policy-type", "DATA_PROTECTION_POLICY").stdout)
    assert [p["policyName"] for p in listed["accountPolicies"]] == ["cli-account"]
    assert aws("delete-account-policy", "--policy-name", "cli-account", "--policy-type",
               "DATA_PROTECTION_POLICY").returncode == 0
    r = aws("delete-account-policy", "--policy-name", "cli-account", "--policy-type", "DATA_PROTECTION_POLICY")
    assert r.returncode != 0 and "ResourceNotFoundException" in r.stderr


def test_a_store_from_before_data_protection_gets_the_column(tmp_path):
    """A data directory written by an older version: its events table has no ``unmasked`` column yet."""
    import duckdb

    from lab_app.localcloud.component import Clock
    from lab_app.localcloud.logs.models import LogsBackend
    from lab_app.localcloud.store import Store

    path = tmp_path / "old.duckdb"
    conn = duckdb.connect(str(path))
    conn.execute("CREATE TABLE logs_events (region VARCHAR, grp VARCHAR, stream VARCHAR, ts BIGINT, ingest BIGINT, "
                 "id BIGINT, message VARCHAR, is_json BOOLEAN)")
    conn.execute("INSERT INTO logs_events VALUES ('us-east-1', 'g', 's', 1, 1, 7, 'old event', FALSE)")
    conn.close()
    backend = LogsBackend(Store(path), Clock())
    backend.setup()
    backend.create_log_group("us-east-1", "g")
    backend.create_log_stream("us-east-1", "g", "s")
    backend.put_data_protection_policy("us-east-1", "g", policy(["EmailAddress"]))
    backend.deliver("us-east-1", "g", "s", [{"timestamp": now_ms(), "message": LOGIN}])
    events = backend.filter_log_events("us-east-1", "g", unmask=True)["events"]
    assert [e["message"] for e in events] == ["old event", LOGIN]
    assert [e["message"] for e in backend.filter_log_events("us-east-1", "g")["events"]] == [
        "old event", "login " + "*" * 15 + " from 203.0.113.7"]


def test_raw_bad_input_gets_aws_shaped_400s(cloud, logs):
    import requests

    make_group(logs)

    def call(operation, body):
        return requests.post(cloud.aws_url, data=json.dumps(body), headers={
            "X-Amz-Target": f"Logs_20140328.{operation}", "Content-Type": "application/x-amz-json-1.1"})

    cases = [
        ("PutDataProtectionPolicy", {"logGroupIdentifier": "cruddur", "policyDocument": {"Statement": []}}),
        ("PutDataProtectionPolicy", {"logGroupIdentifier": "cruddur"}),
        ("GetDataProtectionPolicy", {"logGroupIdentifier": ""}),
        ("GetLogEvents", {"logGroupName": "cruddur", "logStreamName": "backend", "unmask": "yes"}),
        ("PutAccountPolicy", {"policyName": "p", "policyType": "NOPE", "policyDocument": policy()}),
        ("PutAccountPolicy", {"policyName": "p", "policyType": "FIELD_INDEX_POLICY", "policyDocument": "{}"}),
        ("DescribeAccountPolicies", {}),
    ]
    for operation, body in cases:
        r = call(operation, body)
        assert r.status_code == 400 and r.json()["__type"] == "InvalidParameterException", (operation, body, r.text)


def test_get_log_record_unmask_needs_logs_unmask(logs):
    make_group(logs)
    logs.put_data_protection_policy(logGroupIdentifier="cruddur", policyDocument=policy())
    put(logs, "cruddur", "backend", [LOGIN])
    pointer = query(logs, "cruddur", "fields @message")[0]["@ptr"]
    viewer = _user("record-viewer", READ).client("logs")
    assert viewer.get_log_record(logRecordPointer=pointer)["logRecord"]["@message"] == LOGIN_MASKED
    with pytest.raises(viewer.exceptions.ClientError) as info:
        viewer.get_log_record(logRecordPointer=pointer, unmask=True)
    assert info.value.response["Error"]["Code"] == "AccessDeniedException"


def test_account_policy_needs_put_data_protection_policy_too(logs):
    only_account = _user("account-admin", ["logs:PutAccountPolicy"]).client("logs")
    with pytest.raises(only_account.exceptions.ClientError) as info:
        only_account.put_account_policy(policyName="p", policyType="DATA_PROTECTION_POLICY", policyDocument=policy())
    assert info.value.response["Error"]["Code"] == "AccessDeniedException"
    assert "logs:PutDataProtectionPolicy" in info.value.response["Error"]["Message"]
    both = _user("dp-admin", ["logs:PutAccountPolicy", "logs:PutDataProtectionPolicy"]).client("logs")
    assert both.put_account_policy(policyName="p", policyType="DATA_PROTECTION_POLICY",
                                   policyDocument=policy())["accountPolicy"]["policyName"] == "p"


def test_metric_filters_see_the_masked_event(logs):
    """AWS masks at every egress point, metric filters included: a filter on the address no longer counts it."""
    from datetime import datetime, timedelta, timezone

    make_group(logs)
    logs.put_data_protection_policy(logGroupIdentifier="cruddur", policyDocument=policy())
    for name, pattern in (("address", '"ana@example.com"'), ("login", '"login"')):
        logs.put_metric_filter(logGroupName="cruddur", filterName=name, filterPattern=pattern, metricTransformations=[
            {"metricName": name, "metricNamespace": "DataProtectionTest", "metricValue": "1"}])
    put(logs, "cruddur", "backend", [LOGIN])
    cw, now = boto3.client("cloudwatch"), datetime.now(timezone.utc)

    def total(name):
        points = cw.get_metric_statistics(Namespace="DataProtectionTest", MetricName=name, Period=600,
                                          StartTime=now - timedelta(minutes=5), EndTime=now + timedelta(minutes=5),
                                          Statistics=["Sum"])["Datapoints"]
        return sum(p["Sum"] for p in points)

    assert (total("address"), total("login")) == (0, 1.0)


def test_findings_to_firehose(logs):
    s3, firehose = boto3.client("s3"), boto3.client("firehose")
    s3.create_bucket(Bucket="firehose-findings")
    firehose.create_delivery_stream(DeliveryStreamName="findings", ExtendedS3DestinationConfiguration={
        "RoleARN": f"arn:aws:iam::{ACCOUNT}:role/firehose", "BucketARN": "arn:aws:s3:::firehose-findings"})
    make_group(logs)
    logs.put_data_protection_policy(logGroupIdentifier="cruddur", policyDocument=policy(
        destination={"Firehose": {"DeliveryStream": "findings"}}))
    put(logs, "cruddur", "backend", [LOGIN, CLEAN, CARD])
    objects = s3.list_objects_v2(Bucket="firehose-findings")["Contents"]
    text = "".join(s3.get_object(Bucket="firehose-findings", Key=o["Key"])["Body"].read().decode() for o in objects)
    assert [[d["name"] for d in json.loads(line)["dataIdentifiers"]] for line in text.splitlines()] == [
        ["EmailAddress", "IpAddress"], ["CreditCardNumber"]]
    with pytest.raises(logs.exceptions.InvalidParameterException):
        logs.put_data_protection_policy(logGroupIdentifier="cruddur", policyDocument=policy(
            destination={"Firehose": {"DeliveryStream": "no-such-stream"}}))
