"""Helpers for notebook 08 (security for observability): trail, CIS metric filters and alarms, a
low-privilege identity, alarm history, and secret scanning. Plain boto3: the same calls work on AWS.

    trail = security.setup_trail()                         # CloudTrail -> CloudWatch Logs
    security.put_cis_filters(trail["log_group"])           # the CIS benchmark metric filters
    security.put_cis_alarms(topic_arn)                     # one alarm per filter, SNS actions
    session = security.low_privilege_session()             # an IAM user that may only read
    security.cause_denied_calls(session)                   # -> AccessDenied / UnauthorizedOperation
    security.next_evaluation()                             # LOCAL ONLY: skip to the next evaluation
    security.alarm_history(["cis-unauthorized-api-calls"])
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

import pandas as pd

from lab_app import config

TRAIL_NAME = "cruddur-audit"
TRAIL_LOG_GROUP = "CloudTrail/cruddur-audit"
NAMESPACE = "CISBenchmark"
LOW_PRIVILEGE_USER = "cruddur-auditor"
READ_ONLY_POLICY = {
    "Version": "2012-10-17",
    "Statement": [{"Sid": "ReadOnlyObservability", "Effect": "Allow",
                   "Action": ["logs:Describe*", "logs:Get*", "logs:FilterLogEvents", "cloudwatch:Describe*",
                              "cloudwatch:Get*", "cloudwatch:List*", "ec2:Describe*"],
                   "Resource": "*"}],
}


@dataclass(frozen=True)
class CisFilter:
    control: str
    name: str
    alarm: str
    pattern: str
    description: str


ROOT_USAGE = CisFilter(
    "CIS 4.3", "RootAccountUsage", "cis-root-account-usage",
    '{ $.userIdentity.type = "Root" && $.userIdentity.invokedBy NOT EXISTS && $.eventType != "AwsServiceEvent" }',
    "calls made with the account's root user (not by an AWS service on its behalf)")

CIS_FILTERS = [
    ROOT_USAGE,
    CisFilter("CIS 4.1", "UnauthorizedAPICalls", "cis-unauthorized-api-calls",
              '{ ($.errorCode = "*UnauthorizedOperation") || ($.errorCode = "AccessDenied*") }',
              "API calls refused for lack of permission"),
    CisFilter("CIS 4.10", "SecurityGroupChanges", "cis-security-group-changes",
              "{ ($.eventName = AuthorizeSecurityGroupIngress) || ($.eventName = AuthorizeSecurityGroupEgress) || "
              "($.eventName = RevokeSecurityGroupIngress) || ($.eventName = RevokeSecurityGroupEgress) || "
              "($.eventName = CreateSecurityGroup) || ($.eventName = DeleteSecurityGroup) }",
              "changes (or attempted changes) to security groups"),
    CisFilter("CloudWatch Logs", "LogGroupDeletions", "cis-log-group-deletions",
              '{ ($.eventSource = "logs.amazonaws.com") && ($.eventName = "DeleteLogGroup") && ($.errorCode NOT EXISTS) }',
              "log groups deleted (evidence destroyed)"),
    CisFilter("CIS 4.2", "ConsoleSignInWithoutMFA", "cis-console-signin-without-mfa",
              '{ ($.eventName = "ConsoleLogin") && ($.additionalEventData.MFAUsed != "Yes") }',
              "console sign-ins that did not use MFA"),
]


def _client(name: str):
    import boto3

    return boto3.client(name)


def account_id() -> str:
    return _client("sts").get_caller_identity()["Account"]


def _region() -> str:
    return os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or config.REGION


# --- the trail ------------------------------------------------------------------------------------
def setup_trail(trail_name: str = TRAIL_NAME, log_group: str = TRAIL_LOG_GROUP, role_arn: str | None = None) -> dict:
    """Create (or update) a trail that delivers to a CloudWatch Logs group, and start it. Idempotent.

    A trail needs an S3 bucket (CloudTrail always writes files there too) with a policy that lets
    CloudTrail write, and, for CloudWatch Logs, a role CloudTrail assumes. In cloud mode give that role's
    ARN (``role_arn=`` or ``LAB_CLOUDTRAIL_ROLE_ARN``); the local cloud does not check it.
    """
    from botocore.exceptions import ClientError

    logs, s3, cloudtrail = _client("logs"), _client("s3"), _client("cloudtrail")
    account, region = account_id(), _region()
    try:
        logs.create_log_group(logGroupName=log_group)
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "ResourceAlreadyExistsException":
            raise
    group_arn = next(g["arn"] for g in logs.describe_log_groups(logGroupNamePrefix=log_group)["logGroups"]
                     if g["logGroupName"] == log_group)
    bucket = f"cruddur-trail-{account}-{region}"
    try:
        if region == "us-east-1":
            s3.create_bucket(Bucket=bucket)
        else:
            s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": region})
    except ClientError as exc:
        if exc.response["Error"]["Code"] not in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
            raise
    s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps({"Version": "2012-10-17", "Statement": [
        {"Sid": "AWSCloudTrailAclCheck", "Effect": "Allow", "Principal": {"Service": "cloudtrail.amazonaws.com"},
         "Action": "s3:GetBucketAcl", "Resource": f"arn:aws:s3:::{bucket}"},
        {"Sid": "AWSCloudTrailWrite", "Effect": "Allow", "Principal": {"Service": "cloudtrail.amazonaws.com"},
         "Action": "s3:PutObject", "Resource": f"arn:aws:s3:::{bucket}/AWSLogs/{account}/*",
         "Condition": {"StringEquals": {"s3:x-amz-acl": "bucket-owner-full-control"}}}]}))
    role = role_arn or os.environ.get("LAB_CLOUDTRAIL_ROLE_ARN")
    if not role:
        if config.mode() != "local":
            raise RuntimeError("a trail that writes to CloudWatch Logs needs an IAM role CloudTrail can assume: "
                               "create one (CloudTrail console > trail > CloudWatch Logs creates it) and set "
                               "LAB_CLOUDTRAIL_ROLE_ARN in .env")
        role = f"arn:aws:iam::{account}:role/CloudTrail_CloudWatchLogs_Role"
    settings = dict(S3BucketName=bucket, CloudWatchLogsLogGroupArn=group_arn, CloudWatchLogsRoleArn=role,
                    IsMultiRegionTrail=True, IncludeGlobalServiceEvents=True)
    try:
        trail = cloudtrail.create_trail(Name=trail_name, **settings)
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "TrailAlreadyExistsException":
            raise
        trail = cloudtrail.update_trail(Name=trail_name, **settings)
    cloudtrail.start_logging(Name=trail_name)
    status = cloudtrail.get_trail_status(Name=trail_name)
    return {"trail_arn": trail["TrailARN"], "log_group": log_group, "log_group_arn": group_arn, "bucket": bucket,
            "is_logging": status["IsLogging"]}


def put_cis_filters(log_group: str = TRAIL_LOG_GROUP, namespace: str = NAMESPACE,
                    filters: Iterable[CisFilter] = CIS_FILTERS) -> pd.DataFrame:
    """The CIS metric filters on the trail's log group; each emits 1 per match and 0 per other event.
    Returns every metric filter the log group has."""
    logs = _client("logs")
    for f in filters:
        logs.put_metric_filter(logGroupName=log_group, filterName=f.name, filterPattern=f.pattern,
                               metricTransformations=[{"metricName": f.name, "metricNamespace": namespace,
                                                       "metricValue": "1", "defaultValue": 0.0}])
    found = logs.describe_metric_filters(logGroupName=log_group)["metricFilters"]
    return pd.DataFrame([{"filter": m["filterName"], "pattern": m["filterPattern"],
                          "metric": f"{m['metricTransformations'][0]['metricNamespace']}/"
                                    f"{m['metricTransformations'][0]['metricName']}"} for m in found])


def delete_cis_alarms() -> None:
    """Delete this notebook's alarms (a re-run starts again from INSUFFICIENT_DATA; history is kept)."""
    _client("cloudwatch").delete_alarms(AlarmNames=[f.alarm for f in CIS_FILTERS])


def put_cis_alarms(topic_arn: str, namespace: str = NAMESPACE, period: int = 60,
                   filters: Iterable[CisFilter] = CIS_FILTERS) -> pd.DataFrame:
    """One alarm per CIS filter: Sum >= 1 over one period, SNS on ALARM and on OK.

    Updating an existing alarm keeps its state (as on AWS): call :func:`delete_cis_alarms` first to start
    again from INSUFFICIENT_DATA.
    """
    cloudwatch = _client("cloudwatch")
    for f in filters:
        cloudwatch.put_metric_alarm(
            AlarmName=f.alarm, AlarmDescription=f"{f.control}: {f.description}", Namespace=namespace,
            MetricName=f.name, Statistic="Sum", Period=period, EvaluationPeriods=1, DatapointsToAlarm=1,
            Threshold=1.0, ComparisonOperator="GreaterThanOrEqualToThreshold", TreatMissingData="missing",
            AlarmActions=[topic_arn], OKActions=[topic_arn])
    return alarm_states()


def alarm_states(names: Iterable[str] | None = None) -> pd.DataFrame:
    names = list(names or [f.alarm for f in CIS_FILTERS])
    alarms = _client("cloudwatch").describe_alarms(AlarmNames=names)["MetricAlarms"]
    frame = pd.DataFrame([{"alarm": a["AlarmName"], "state": a["StateValue"], "reason": a["StateReason"],
                           "updated": a["StateUpdatedTimestamp"]} for a in alarms],
                         columns=["alarm", "state", "reason", "updated"])
    frame["updated"] = pd.to_datetime(frame["updated"], utc=True)
    order = {name: i for i, name in enumerate(names)}
    return frame.sort_values("alarm", key=lambda s: s.map(order)).reset_index(drop=True)


def alarm_history(names: Iterable[str] | None = None, since=None, item_type: str | None = "StateUpdate") -> pd.DataFrame:
    """DescribeAlarmHistory for the alarms, oldest first: timestamp, alarm, type, summary, old/new state."""
    cloudwatch = _client("cloudwatch")
    rows = []
    for name in list(names or [f.alarm for f in CIS_FILTERS]):
        kwargs: dict[str, Any] = {"AlarmName": name, "ScanBy": "TimestampAscending", "MaxRecords": 100}
        if item_type:
            kwargs["HistoryItemType"] = item_type
        if since is not None:
            kwargs["StartDate"] = pd.Timestamp(since).floor("ms").to_pydatetime()
        for page in cloudwatch.get_paginator("describe_alarm_history").paginate(**kwargs):
            for item in page["AlarmHistoryItems"]:
                data = json.loads(item.get("HistoryData") or "{}")
                rows.append({"timestamp": item["Timestamp"], "alarm": item["AlarmName"],
                             "type": item["HistoryItemType"], "summary": item["HistorySummary"],
                             "old_state": data.get("oldState", {}).get("stateValue"),
                             "new_state": data.get("newState", {}).get("stateValue")})
    frame = pd.DataFrame(rows, columns=["timestamp", "alarm", "type", "summary", "old_state", "new_state"])
    frame["timestamp"] = pd.to_datetime(frame["timestamp"], utc=True)
    return frame.sort_values("timestamp", kind="stable").reset_index(drop=True)


# --- time ----------------------------------------------------------------------------------------------
def cloud_now() -> pd.Timestamp:
    """Now, as the alarms see it: the local cloud's clock in local mode (it can be ahead), else the wall clock."""
    if config.mode() == "local":
        import requests

        from lab_app.localcloud import control_headers

        answer = requests.get(f"http://{config.HOST}:{config.aws_port()}/_localcloud/clock",
                              headers=control_headers(), timeout=10).json()
        return pd.Timestamp(answer["now"], unit="s", tz="UTC")
    return pd.Timestamp.now(tz="UTC")


def next_evaluation(wait_for: dict[str, str] | None = None, timeout_s: float = 900.0) -> pd.Timestamp:
    """Let the alarms evaluate the minute that is running now.

    LOCAL ONLY: moves the local cloud's clock to one second past the next minute boundary (every alarm
    is evaluated at each boundary crossed before this returns). AWS has no such control: in cloud mode
    this polls DescribeAlarms until every alarm in ``wait_for`` has the given state (one to a few
    minutes; ``timeout_s`` at most), because CloudWatch evaluates each minute on its own schedule.
    """
    if config.mode() == "local":
        import lab_app.localcloud as localcloud

        now = cloud_now().timestamp()
        boundary = (int(now // 60) + 1) * 60
        localcloud.advance_clock(boundary + 1 - now)
        return cloud_now()
    deadline = time.monotonic() + timeout_s
    while wait_for and time.monotonic() < deadline:
        states = alarm_states(list(wait_for)).set_index("alarm")["state"].to_dict()
        if all(states.get(name) == state for name, state in wait_for.items()):
            break
        time.sleep(15)
    return cloud_now()


# --- a low-privilege identity -------------------------------------------------------------------------
def low_privilege_session(user_name: str = LOW_PRIVILEGE_USER, policy: dict | None = None):
    """An IAM user allowed to read logs, metrics and EC2 descriptions, and nothing else: a boto3 Session.

    Re-runnable: the user's old access keys are deleted and one new key is made. The secret never leaves
    this function except inside the returned Session (it is not printed, logged or returned).
    """
    import boto3
    from botocore.exceptions import ClientError

    iam = _client("iam")
    try:
        iam.create_user(UserName=user_name, Tags=[{"Key": "purpose", "Value": "notebook-08-denied-calls"}])
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "EntityAlreadyExists":
            raise
    iam.put_user_policy(UserName=user_name, PolicyName="read-only-observability",
                        PolicyDocument=json.dumps(policy or READ_ONLY_POLICY))
    for key in iam.list_access_keys(UserName=user_name)["AccessKeyMetadata"]:
        iam.delete_access_key(UserName=user_name, AccessKeyId=key["AccessKeyId"])
    key = iam.create_access_key(UserName=user_name)["AccessKey"]
    session = boto3.Session(aws_access_key_id=key["AccessKeyId"], aws_secret_access_key=key["SecretAccessKey"],
                            region_name=_region())
    if config.mode() != "local":  # a new IAM key takes a few seconds to work on AWS
        for _ in range(30):
            try:
                session.client("sts").get_caller_identity()
                break
            except ClientError:
                time.sleep(2)
    return session


def remove_low_privilege_user(user_name: str = LOW_PRIVILEGE_USER) -> None:
    from botocore.exceptions import ClientError

    iam = _client("iam")
    try:
        for key in iam.list_access_keys(UserName=user_name)["AccessKeyMetadata"]:
            iam.delete_access_key(UserName=user_name, AccessKeyId=key["AccessKeyId"])
        for name in iam.list_user_policies(UserName=user_name)["PolicyNames"]:
            iam.delete_user_policy(UserName=user_name, PolicyName=name)
        iam.delete_user(UserName=user_name)
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "NoSuchEntity":
            raise


def cause_denied_calls(session, trail_log_group: str = TRAIL_LOG_GROUP) -> pd.DataFrame:
    """Three things the read-only user may not do; returns what each call got back."""
    from botocore.exceptions import ClientError

    attempts = [
        ("logs", "DeleteLogGroup", lambda: session.client("logs").delete_log_group(logGroupName=trail_log_group)),
        ("ec2", "AuthorizeSecurityGroupIngress", lambda: session.client("ec2").authorize_security_group_ingress(
            GroupId="sg-0a1b2c3d4e5f60718", IpProtocol="tcp", FromPort=22, ToPort=22, CidrIp="0.0.0.0/0")),
        ("iam", "ListUsers", lambda: session.client("iam").list_users()),
        ("logs", "DescribeLogGroups", lambda: session.client("logs").describe_log_groups(limit=1)),
    ]
    rows = []
    for service, operation, call in attempts:
        try:
            call()
            rows.append({"service": service, "operation": operation, "allowed": True, "error_code": None,
                         "http_status": 200})
        except ClientError as exc:
            rows.append({"service": service, "operation": operation, "allowed": False,
                         "error_code": exc.response["Error"]["Code"],
                         "http_status": exc.response["ResponseMetadata"]["HTTPStatusCode"]})
    return pd.DataFrame(rows)


def delete_scratch_log_group(name: str = "cruddur-scratch") -> str:
    """Create a throw-away log group (if needed) and delete it: the event the deletions alarm watches."""
    from botocore.exceptions import ClientError

    logs = _client("logs")
    try:
        logs.create_log_group(logGroupName=name)
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "ResourceAlreadyExistsException":
            raise
    logs.delete_log_group(logGroupName=name)
    return name


# --- SNS and EventBridge -----------------------------------------------------------------------------------
def subscribe_webhook(topic_arn: str, url: str) -> str:
    """Subscribe an http(s) endpoint to the topic, removing this topic's older http(s) subscriptions
    (a webhook from an earlier run of the notebook listens on another port and would only fail)."""
    sns = _client("sns")
    for page in sns.get_paginator("list_subscriptions_by_topic").paginate(TopicArn=topic_arn):
        for sub in page["Subscriptions"]:
            if sub["Protocol"] in ("http", "https") and sub["Endpoint"] != url and sub["SubscriptionArn"].startswith("arn:"):
                sns.unsubscribe(SubscriptionArn=sub["SubscriptionArn"])
    protocol = "https" if url.startswith("https:") else "http"
    return sns.subscribe(TopicArn=topic_arn, Protocol=protocol, Endpoint=url)["SubscriptionArn"]

def route_alarm_events(queue_name: str = "cruddur-alarm-events", rule_name: str = "cruddur-alarm-state-changes",
                       alarm_names: Iterable[str] | None = None) -> str:
    """An EventBridge rule for "CloudWatch Alarm State Change" events of our alarms -> an SQS queue (URL)."""
    events, sqs = _client("events"), _client("sqs")
    queue_url = sqs.create_queue(QueueName=queue_name)["QueueUrl"]
    read_alarm_events(queue_url)   # drain an earlier run's events (PurgeQueue is allowed once a minute only)
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sqs.set_queue_attributes(QueueUrl=queue_url, Attributes={"Policy": json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "events.amazonaws.com"},
                                                "Action": "sqs:SendMessage", "Resource": queue_arn}]})})
    pattern = {"source": ["aws.cloudwatch"], "detail-type": ["CloudWatch Alarm State Change"],
               "detail": {"alarmName": list(alarm_names or [f.alarm for f in CIS_FILTERS])}}
    events.put_rule(Name=rule_name, EventPattern=json.dumps(pattern), State="ENABLED")
    events.put_targets(Rule=rule_name, Targets=[{"Id": "alarm-queue", "Arn": queue_arn}])
    return queue_url


def read_alarm_events(queue_url: str, max_batches: int = 20) -> pd.DataFrame:
    """Drain the queue: one row per alarm state-change event (time, alarm, previous -> new state)."""
    sqs = _client("sqs")
    rows = []
    for _ in range(max_batches):
        batch = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0).get("Messages", [])
        if not batch:
            break
        for message in batch:
            event = json.loads(message["Body"])
            detail = event.get("detail", {})
            rows.append({"time": event.get("time"), "alarm": detail.get("alarmName"),
                         "previous": detail.get("previousState", {}).get("value"),
                         "state": detail.get("state", {}).get("value"), "detail_type": event.get("detail-type")})
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
    frame = pd.DataFrame(rows, columns=["time", "alarm", "previous", "state", "detail_type"])
    frame["time"] = pd.to_datetime(frame["time"], utc=True)
    return frame.sort_values("time", kind="stable").reset_index(drop=True)


# --- secrets ------------------------------------------------------------------------------------------------
def scan_for_secrets(text: str, filename: str = "cell.py") -> pd.DataFrame:
    """Run detect-secrets (the scanner CI runs over the repository) on a piece of text."""
    hook = Path(sys.executable).parent / "detect-secrets"
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / filename
        path.write_text(text)
        out = subprocess.run([str(hook), "scan", str(path)], capture_output=True, text=True, timeout=60, cwd=tmp)
    results = json.loads(out.stdout or "{}").get("results", {})
    rows = [{"line": f["line_number"], "type": f["type"]} for findings in results.values() for f in findings]
    return pd.DataFrame(rows, columns=["line", "type"])


def find_in_backends(needles: Iterable[str], since, log_group: str) -> pd.DataFrame:
    """How many stored records in each of the four backends contain each needle.

    The Honeycomb row is searched in local mode only (``None`` in cloud mode: look at the spans in the UI).

    Honeycomb: the local stand-in's spans; X-Ray: full trace documents (BatchGetTraces); CloudWatch Logs:
    FilterLogEvents with the needle as a quoted term; Rollbar: every occurrence's payload.
    """
    from lab_app.query import insights
    from lab_app.query import rollbar as rollbar_query
    from lab_app.query import spans as spans_query
    from lab_app.query import xray as xray_query

    needles = list(needles)
    start = pd.Timestamp(since)
    end = cloud_now() + pd.Timedelta(minutes=5)
    def texts(frame: pd.DataFrame) -> pd.Series:
        return pd.Series([json.dumps(r, default=str) for r in frame.to_dict(orient="records")], dtype=object)

    local = config.mode() == "local"
    # Honeycomb's Query API aggregates; it cannot search attribute text: the local stand-in can.
    span_text = texts(spans_query.local_spans(start=start - pd.Timedelta(minutes=1))) if local else None
    summaries = xray_query.trace_summaries(minutes=None, start=start - pd.Timedelta(minutes=1), end=end)
    ids = list(summaries["trace_id"]) if "trace_id" in summaries else []
    traces = json.dumps(xray_query.batch_get_traces(ids)) if ids else ""
    occurrences = rollbar_query.all_occurrences()
    rollbar_text = texts(occurrences)
    rows = []
    for needle in needles:
        logs = insights.filter_events(log_group, pattern=json.dumps(needle), start=start - pd.Timedelta(minutes=1),
                                      end=end)
        rows += [
            {"backend": "Honeycomb (spans)", "needle": needle,
             "records_with_it": int(span_text.str.contains(needle, regex=False).sum()) if local else None},
            {"backend": "X-Ray (traces)", "needle": needle, "records_with_it": traces.count(needle)},
            {"backend": "CloudWatch Logs", "needle": needle, "records_with_it": len(logs)},
            {"backend": "Rollbar (occurrences)", "needle": needle, "records_with_it": int(rollbar_text.str.contains(needle, regex=False).sum())},
        ]
    return pd.DataFrame(rows)
