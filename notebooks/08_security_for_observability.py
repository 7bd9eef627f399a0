# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3 (workbook)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Security for observability: audit trail, alarms, notifications, secrets and PII
#
# The seed's week ends with security: *CloudTrail records what is done in the account; metric filters turn
# matching log events into metrics; alarms watch the metrics; EventBridge and SNS deliver the alert.* Here you build that pipeline
# end to end with boto3, break a rule on purpose, watch the alarm fire and clear, receive the notification,
# and query the audit trail into pandas. Then you turn to the data the other notebooks send out: keys,
# tokens and personal data must never reach a telemetry backend, and a secret scanner guards the repository.

# %% [markdown]
# ## Overview
# 1. The seed's mistake: secrets in code and shell history, and how this workbook reads them instead
# 2. An audit trail: CloudTrail delivering the account's management events to a CloudWatch Logs group
# 3. CIS metric filters on the trail, root-user usage first
# 4. Where alerts go: an SNS topic with a local webhook, and an EventBridge rule
# 5. Alarms, and the events that trip them (a low-privilege identity, a deleted log group)
# 6. Watch the alarm: INSUFFICIENT_DATA -> ALARM -> OK, its history and the notifications
# 7. Query the trail with Logs Insights
# 8. Redact secrets and PII before telemetry leaves the process

# %% [markdown]
# ## Prerequisites
#
# | Concept | Importance | Notes |
# | --- | --- | --- |
# | [04 CloudWatch Logs](04_cloudwatch_logs.ipynb) | Necessary | log groups, metric filters, Logs Insights |
# | [02](02_opentelemetry_honeycomb.ipynb), [03](03_aws_xray.ipynb), [05](05_rollbar.ipynb) | Helpful | the traces, logs and error reports whose data we protect |
# | IAM users and policies | Helpful | `Allow` / `Deny`, actions like `logs:DeleteLogGroup` |
#
# - **Time to learn**: 40 minutes
# - **Runs in**: under 30 seconds in local mode. In cloud mode the alarm cells wait for CloudWatch (minutes),
#   and the cells create real resources (a trail, an IAM user, alarms): run the clean-up cell at the end.

# %% [markdown]
# ## Set-up
# `setup()` starts the local cloud (or finds your real keys in `.env`) and sets the environment variables the
# SDKs read. Run it before anything imports an SDK (the X-Ray recorder reads `AWS_XRAY_DAEMON_ADDRESS` when it is
# imported).

# %%
from lab_app.notebook import setup

lab = setup()
lab

# %% [markdown]
# ## Imports
# The first block is the AWS SDK and the four telemetry SDKs whose data section 8 protects; the second is the
# workbook's: `redact` (the redaction hooks, section 8) and the helpers that build the security pipeline and read
# results back.

# %%
import hashlib
import json
import logging
import os

import boto3
import pandas as pd
import rollbar
import watchtower
from aws_xray_sdk.core import xray_recorder
from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

from lab_app import security
from lab_app.instrument import redact
from lab_app.query import insights
from lab_app.query import xray as xq
from lab_app.webhook import Webhook

# %% [markdown]
# ## 1. The seed's mistake, and how this workbook reads secrets
#
# The seed's journal leaked its keys in two ways:
#
# - **Pasted into a published document.** The journal shows its commands with the real values in them
#   (`gp env HONEYCOMB_API_KEY="..."`, `export ROLLBAR_ACCESS_TOKEN="..."`); the copy in this repository has
#   placeholders instead. Anyone who read the page could use the keys. Typed into a terminal, the same commands
#   also leave the key in the shell's history.
# - **Hard-coded in the code.** Its first Rollbar set-up was `rollbar.init('<the token>', ...)` in `app.py`, a file
#   that is committed and pushed. (It later read `os.getenv('ROLLBAR_ACCESS_TOKEN')`, which is the fix.)
#
# Its `docker-compose.yml` did it right: `AWS_SECRET_ACCESS_KEY: "${AWS_SECRET_ACCESS_KEY}"` is interpolated from the
# environment when compose runs, so the committed file holds no key. A key that was published or committed can be
# read by anyone who saw it, for as long as it is valid: **rotating it is the only fix**; deleting the text is not.
#
# This workbook reads every secret from the environment or from an **ignored** `.env` file, in one place
# (`lab_app.config`), and shows them masked. In local mode they are documented placeholders.

# %%
configuration = lab.configuration()
configuration[configuration["variable"].str.contains("KEY|TOKEN|SECRET|HEADERS")]

# %% [markdown]
# A secret scanner catches the mistake before it is committed. CI runs [detect-secrets](https://github.com/Yelp/detect-secrets)
# over the whole repository, notebooks included, against an audited baseline (`tests/test_secrets_scan.py`).
# Here is the same scanner on the seed's three kinds of line: the pasted key, the hard-coded token and the compose
# interpolation (made-up values, assembled at run time, so this notebook itself does not contain them; the
# `# pragma: allowlist secret` comment is how you tell detect-secrets that a line was audited and is not a secret):

# %%
made_up = hashlib.sha256(b"not a real key").hexdigest()     # random-looking, and in no file
seed_style_lines = (
    f'gp env HONEYCOMB_API_KEY="hcaik_01{made_up[:24]}"\n'   # pasted with its value  # pragma: allowlist secret
    f"rollbar.init('{made_up[32:]}', 'production')\n"                                      # hard-coded in app.py
    '      AWS_SECRET_ACCESS_KEY: "${AWS_SECRET_ACCESS_KEY}"\n'                              # compose: interpolated
)
findings = security.scan_for_secrets(seed_style_lines)
findings

# %% [markdown]
# ### Checkpoint: the scanner flags the pasted key and the hard-coded token, not the interpolation

# %%
assert set(findings["line"]) == {1, 2}, findings
assert "Secret Keyword" in set(findings.loc[findings["line"] == 1, "type"])
assert "Hex High Entropy String" in set(findings.loc[findings["line"] == 2, "type"])
shown = lab.configuration().set_index("variable")["value"]
assert all("…" in v or v == "****" for k, v in shown.items() if k.endswith(("SECRET_ACCESS_KEY", "API_KEY", "TOKEN")) and v)

# %% [markdown]
# ## 2. An audit trail
#
# A trail records the account's **management events** by default: the API calls that create, change, delete or
# describe resources (`CreateTrail`, `DeleteLogGroup`, `AuthorizeSecurityGroupIngress`, console sign-ins...).
# **Data events** (reading an S3 object, invoking a Lambda function, high-volume calls on resources) and
# **Insights events** are not recorded unless you add them to the trail, and they are billed. With
# `CloudWatchLogsLogGroupArn` the trail also delivers each event, as one JSON document, to a log group, which is
# what lets metric filters and Logs Insights work on it. CloudTrail
# needs an S3 bucket (it always writes files there too) and a role it assumes to write to CloudWatch Logs.
#
# Local mode: the local cloud records the management calls that reach it (moto stores the trail, the local cloud
# does the recording), keeps the event history that `lookup_events` reads, and delivers to the log group at once
# (AWS takes up to about five minutes).

# %%
trail = security.setup_trail()
trail

# %%
cloudtrail = boto3.client("cloudtrail")
recent = cloudtrail.lookup_events(LookupAttributes=[{"AttributeKey": "EventSource", "AttributeValue": "cloudtrail.amazonaws.com"}],
                                  MaxResults=10)["Events"]
pd.DataFrame([{"time": e["EventTime"], "event": e["EventName"], "user": e["Username"], "read_only": e["ReadOnly"]} for e in recent])

# %% [markdown]
# One record, as delivered to the log group (note `userIdentity`, `requestParameters`, `readOnly`):

# %%
record = json.loads(recent[0]["CloudTrailEvent"])
print(json.dumps(record, indent=2)[:1500])

# %% [markdown]
# ### Checkpoint: the trail is logging and has recorded its own creation

# %%
status = cloudtrail.get_trail_status(Name=security.TRAIL_NAME)
assert status["IsLogging"] is True
assert {"CreateTrail", "StartLogging"} <= {e["EventName"] for e in recent} or \
    {"UpdateTrail", "StartLogging"} <= {e["EventName"] for e in recent}
assert record["eventVersion"].startswith("1.") and record["eventSource"] == "cloudtrail.amazonaws.com"

# %% [markdown]
# ## 3. CIS metric filters
#
# The CIS AWS Foundations Benchmark asks for a metric filter and an alarm for, among others, **use of the root
# user** (the most important: root can do anything, and is not restricted by any policy), unauthorized API calls,
# security-group changes and console sign-in without MFA; we add deleted log groups (someone erasing evidence).
# Each filter emits `1` for a matching trail event and `0` (`defaultValue`) for every other one, so the metric has
# data every minute the account is active.
#
# The root-user filter, written out (CIS 4.3, Security Hub control CloudWatch.1): a call whose `userIdentity.type` is
# `Root`, not made by an AWS service on the root's behalf (`invokedBy`), and not a service event.

# %%
logs_client = boto3.client("logs")
ROOT_PATTERN = '{ $.userIdentity.type = "Root" && $.userIdentity.invokedBy NOT EXISTS && $.eventType != "AwsServiceEvent" }'
logs_client.put_metric_filter(
    logGroupName=trail["log_group"], filterName="RootAccountUsage", filterPattern=ROOT_PATTERN,
    metricTransformations=[{"metricName": "RootAccountUsage", "metricNamespace": security.NAMESPACE,
                            "metricValue": "1", "defaultValue": 0.0}])
assert ROOT_PATTERN == security.ROOT_USAGE.pattern     # the helpers below know this filter and its alarm too

# %% [markdown]
# The other four are the same call in a loop (`security.put_cis_filters`), with the patterns in the table below.

# %%
others = [f for f in security.CIS_FILTERS if f is not security.ROOT_USAGE]
filters = security.put_cis_filters(trail["log_group"], filters=others)
filters

# %% [markdown]
# Test a pattern before you rely on it: `TestMetricFilter` runs it over sample events. The trail's own record of
# `CreateTrail` (section 2) was made with the workbook's key; is that the root user?

# %%
tested = logs_client.test_metric_filter(filterPattern=ROOT_PATTERN, logEventMessages=[json.dumps(record)])
as_root = record["userIdentity"]["type"] == "Root"
print(f"userIdentity.type = {record['userIdentity']['type']}: {len(tested['matches'])} match")

# %% [markdown]
# ### Checkpoint: five filters on the trail, and the root filter matches exactly the root's calls

# %%
assert set(filters["filter"]) == {f.name for f in security.CIS_FILTERS}
assert len(tested["matches"]) == (1 if as_root else 0)
service_call = {**record, "userIdentity": {**record["userIdentity"], "type": "Root", "invokedBy": "cloudtrail.amazonaws.com"}}
user_call = {**record, "userIdentity": {"type": "IAMUser", "userName": "cruddur-dev"}}
assert logs_client.test_metric_filter(filterPattern=ROOT_PATTERN, logEventMessages=[
    json.dumps(service_call), json.dumps(user_call)])["matches"] == []

# %% [markdown]
# ## 4. Where alerts go
#
# An SNS topic with an **http subscription** to a small webhook running in this kernel (it records what SNS
# POSTs), and an EventBridge rule that routes the `CloudWatch Alarm State Change` events of our alarms to an SQS
# queue. In cloud mode AWS cannot reach a webhook on your laptop: subscribe an e-mail address or a public
# endpoint instead; the EventBridge part works unchanged.

# %%
sns = boto3.client("sns")
hook = Webhook().start()
topic_arn = sns.create_topic(Name="cruddur-security-alerts")["TopicArn"]
security.subscribe_webhook(topic_arn, hook.url)
queue_url = security.route_alarm_events()
hook.url, topic_arn

# %% [markdown]
# ## 5. Alarms, and the events that trip them
#
# Each alarm: `Sum >= 1` over one 60-second period (`EvaluationPeriods=1`, `DatapointsToAlarm=1`),
# `TreatMissingData=missing`, SNS on `ALARM` and on `OK`. A new alarm starts in `INSUFFICIENT_DATA`: it has not
# seen a full period yet.
#
# **LOCAL ONLY:** `security.next_evaluation()` moves the local cloud's clock to the start of the next minute, and
# the local cloud evaluates every alarm at each minute boundary it crosses. AWS has no such control: in cloud
# mode the same call *waits* (polling `DescribeAlarms`) until CloudWatch has evaluated, which takes one to a
# few minutes. Alarms from an earlier run of this notebook are deleted first (their history stays), then we
# start on a fresh minute, so everything below happens inside one period. The skipped minutes stay skipped:
# the local cloud's clock (`security.cloud_now()`) is now ahead of your wall clock, and never goes back, even
# across restarts, so stored events keep their order (`python -m lab_app.localcloud reset` starts over).

# %%
security.delete_cis_alarms()
security.next_evaluation()      # LOCAL ONLY: jump to the start of a fresh minute (cloud mode: returns at once)
t0 = security.cloud_now()
cloudwatch = boto3.client("cloudwatch")
cloudwatch.put_metric_alarm(                                   # the root-user alarm, written out
    AlarmName="cis-root-account-usage", AlarmDescription="CIS 4.3: calls made with the account's root user",
    Namespace=security.NAMESPACE, MetricName="RootAccountUsage", Statistic="Sum", Period=60,
    EvaluationPeriods=1, DatapointsToAlarm=1, Threshold=1.0, ComparisonOperator="GreaterThanOrEqualToThreshold",
    TreatMissingData="missing", AlarmActions=[topic_arn], OKActions=[topic_arn])
security.put_cis_alarms(topic_arn, filters=others)             # the other four, the same call in a loop

# %% [markdown]
# ### Checkpoint: every new alarm starts with insufficient data

# %%
assert (security.alarm_states()["state"] == "INSUFFICIENT_DATA").all(), security.alarm_states()

# %% [markdown]
# Now the events. A user that may only *read* logs, metrics and EC2 descriptions tries to delete the trail's
# log group, open SSH to the world on a security group, and list IAM users. How is a call denied locally? The
# local cloud checks IAM policies for requests signed with an **IAM user's** access key (moto's IAM state:
# explicit `Deny` wins, an `Allow` is needed); the workbook's own dummy key acts as the account root, which
# policies do not restrict on AWS either. Denied calls come back with the code AWS uses for each protocol.

# %%
auditor = security.low_privilege_session()
attempts = security.cause_denied_calls(auditor, trail["log_group"])
attempts

# %% [markdown]
# And someone (the root identity) deletes a log group:

# %%
security.delete_scratch_log_group("cruddur-scratch")

# %% [markdown]
# ### Checkpoint: three calls denied with AWS's error codes, the read allowed

# %%
refused = attempts[~attempts["allowed"]]
codes = dict(zip(refused["operation"], refused["error_code"]))
assert codes == {"DeleteLogGroup": "AccessDeniedException", "AuthorizeSecurityGroupIngress": "UnauthorizedOperation",
                 "ListUsers": "AccessDenied"}, codes
assert attempts.set_index("operation").loc["DescribeLogGroups", "allowed"]
assert trail["log_group"] in [g["logGroupName"] for g in boto3.client("logs").describe_log_groups()["logGroups"]]

# %% [markdown]
# ## 6. Watch the alarm
#
# The minute with the denied calls is complete once the clock passes the next boundary; then the alarms
# evaluate it. (Cloud mode: this cell waits until CloudWatch shows the states.)

# %%
security.next_evaluation(wait_for={"cis-unauthorized-api-calls": "ALARM"})   # LOCAL ONLY clock jump; cloud: waits
states = security.alarm_states()
states

# %% [markdown]
# ### Checkpoint: three alarms fire, the MFA one has data and is OK, the root one fires if you work as root

# %%
now = states.set_index("alarm")["state"].to_dict()
assert now == {"cis-unauthorized-api-calls": "ALARM", "cis-security-group-changes": "ALARM",
               "cis-log-group-deletions": "ALARM", "cis-console-signin-without-mfa": "OK",
               "cis-root-account-usage": "ALARM" if as_root else "OK"}, now
print(states.set_index("alarm").loc["cis-unauthorized-api-calls", "reason"])

# %% [markdown]
# **`cis-root-account-usage` is in `ALARM` in local mode, and that is the lesson.** Every call this notebook
# makes is signed with the workbook's dummy key, which the local cloud treats as the account's root user (see the
# `userIdentity` above). On a real account that is exactly what this alarm exists to catch: the root user's keys
# should not exist, its password should sit behind MFA and be used for the handful of tasks only root can do; day
# to day you work as an IAM Identity Center user or an IAM role. With such a key in `.env` (cloud mode) the alarm
# stays `OK`.

# %% [markdown]
# `cis-console-signin-without-mfa` has data (a `0` for every recorded call) but no `ConsoleLogin` event: there
# is no console in front of the local cloud, so it goes straight to `OK`. On AWS it is one of the most useful
# alarms of the four.
#
# The security group was not changed (the call was denied), yet `cis-security-group-changes` fired: the CIS
# filter matches on `eventName` alone. That is deliberate: an *attempt* to open a security group is worth a
# look. The next minute is quiet: only reads (the `DescribeAlarms` above is one, and it is recorded, with
# value `0` for every filter). When that minute is evaluated, the alarms clear.

# %%
auditor.client("logs").describe_log_groups(limit=1)
security.next_evaluation(wait_for={"cis-unauthorized-api-calls": "OK"})   # LOCAL ONLY clock jump; cloud: waits
security.alarm_states()

# %% [markdown]
# The root alarm does not clear: the quiet minute was not quiet for it, because the `DescribeAlarms` calls that
# read the states were made as root too (if you work as root).

# %%
history = security.alarm_history(since=t0)
history

# %% [markdown]
# ### Checkpoint: the state history is INSUFFICIENT_DATA -> ALARM -> OK

# %%
unauthorized = history[history["alarm"] == "cis-unauthorized-api-calls"]
assert list(zip(unauthorized["old_state"], unauthorized["new_state"])) == [
    ("INSUFFICIENT_DATA", "ALARM"), ("ALARM", "OK")], unauthorized
final = security.alarm_states().set_index("alarm")["state"]
assert (final.drop("cis-root-account-usage") == "OK").all(), final
assert final["cis-root-account-usage"] == ("ALARM" if as_root else "OK")

# %% [markdown]
# ### The notifications
#
# Every state change with an action sent one SNS message (a JSON document whose `Message` is the alarm's own
# JSON: `AlarmName`, `OldStateValue`, `NewStateValue`, `NewStateReason`, `Trigger`...) and one EventBridge event.

# %%
received = hook.frame()
received[["alarm_name", "old_state", "new_state", "subject"]]

# %%
routed = security.read_alarm_events(queue_url)
routed

# %% [markdown]
# ### Checkpoint: the webhook got exactly the expected notifications, and EventBridge the same changes

# %%
expected = sorted([
    ("cis-unauthorized-api-calls", "INSUFFICIENT_DATA", "ALARM"), ("cis-unauthorized-api-calls", "ALARM", "OK"),
    ("cis-security-group-changes", "INSUFFICIENT_DATA", "ALARM"), ("cis-security-group-changes", "ALARM", "OK"),
    ("cis-log-group-deletions", "INSUFFICIENT_DATA", "ALARM"), ("cis-log-group-deletions", "ALARM", "OK"),
    ("cis-console-signin-without-mfa", "INSUFFICIENT_DATA", "OK"),
    ("cis-root-account-usage", "INSUFFICIENT_DATA", "ALARM" if as_root else "OK"),
])
got = sorted(zip(received["alarm_name"], received["old_state"], received["new_state"]))
assert got == expected, got
assert sorted(zip(routed["alarm"], routed["previous"], routed["state"])) == expected
assert received["subject"].str.match(r'^(ALARM|OK): "cis-').all()

# %% [markdown]
# ## 7. Query the trail with Logs Insights
#
# The trail is a log group of JSON documents, so Logs Insights discovers every field (`userIdentity.userName`,
# `errorCode`...). Who was refused what?

# %%
window = dict(log_groups=trail["log_group"], start=t0, end=security.cloud_now() + pd.Timedelta(minutes=1))
denied = insights.run_query(
    "fields eventTime, userIdentity.userName as user, eventSource, eventName, errorCode "
    "| filter ispresent(errorCode) | sort eventTime asc", **window)
denied

# %%
insights.run_query("stats count(*) as calls by userIdentity.type as identity, readOnly | sort calls desc", **window)

# %% [markdown]
# ### Checkpoint: the auditor's three denied calls are in the trail

# %%
mine = denied[denied["user"] == security.LOW_PRIVILEGE_USER]
assert sorted(zip(mine["eventName"], mine["errorCode"])) == [
    ("AuthorizeSecurityGroupIngress", "UnauthorizedOperation"), ("DeleteLogGroup", "AccessDeniedException"),
    ("ListUsers", "AccessDenied")], mine

# %% [markdown]
# ## 8. Secrets and PII in telemetry
#
# Telemetry is data leaving the process. A span attribute, a log line, an X-Ray annotation or a Rollbar payload
# can carry an `Authorization` header, an access key in an error message, or a user's e-mail address. The fix
# belongs in the process, *before* export: one `Redactor` (default patterns for AWS keys, secret keys, bearer
# tokens, Authorization headers, Honeycomb and Rollbar keys, plus the PII and field names you choose) and a
# hook for each telemetry SDK.
#
# None of the four SDKs redacts values for you (Rollbar's `scrub_fields` matches field *names*, not an access key
# inside a message; the others send what you give them), but each has an extension point that sees the data before
# it leaves. The one piece of `lab_app` in the set-up below is `lab_app.instrument.redact`: the `Redactor` (the
# patterns) and one small hook per extension point. Everything around it is the SDKs' own set-up, the same calls
# as in notebooks 02 to 05, here for a `security-demo` service.
#
# | SDK | SDK extension point | hook from `redact` | why there |
# | --- | --- | --- | --- |
# | OpenTelemetry | `provider.add_span_processor(...)` | `RedactingSpanProcessor` wrapping the exporting processor | a finished span is immutable: the exporter gets a redacted copy |
# | CloudWatch Logs (watchtower) | `handler.addFilter(...)` | `RedactingFilter` | the record is rewritten before it is formatted and queued |
# | X-Ray | `xray_recorder.configure(emitter=...)` | `RedactingEmitter`, a `UDPEmitter` | annotations, metadata and http are redacted in the datagram |
# | Rollbar | `rollbar.events.add_payload_handler(...)` | `rollbar_payload_handler(redactor)` | the item's `data` is redacted before it is sent |
#
# First the redactor: the default secret patterns, the literal values of the secrets this process holds
# (`from_environment`), e-mail addresses, and one field name of our own.

# %%
redactor = redact.Redactor.from_environment(pii=("email",), fields=("user_handle",))
redactor.text("contact learner@example.com, key " + "AKIA" + "EXAMPLE" + "0" * 9)

# %% [markdown]
# ### OpenTelemetry
#
# The hook: `redact.RedactingSpanProcessor` wraps the exporting `BatchSpanProcessor` and hands it a redacted copy
# of each finished span (the SDK has no redaction step of its own). `trace.set_tracer_provider` works **once per
# process**, so the cell checks first and keeps the provider it set on its first run, with that run's redactor
# (restart the kernel to change it).

# %%
if isinstance(trace.get_tracer_provider(), TracerProvider):   # this cell ran before in this kernel: keep it
    provider = trace.get_tracer_provider()
else:
    provider = TracerProvider(resource=Resource.create({"service.name": "security-demo"}))
    provider.add_span_processor(redact.RedactingSpanProcessor(BatchSpanProcessor(OTLPSpanExporter()), redactor))
    trace.set_tracer_provider(provider)
tracer = trace.get_tracer("security-demo")
provider.resource.attributes["service.name"]

# %% [markdown]
# ### CloudWatch Logs (watchtower)
#
# The hook: `redact.RedactingFilter` is a standard `logging.Filter` attached to the handler; it rewrites each
# record (message, dict fields, traceback, extra fields) before watchtower formats and queues it (watchtower has no
# redaction of its own). The rest is notebook 04's set-up: the group and the stream created up front (watchtower
# drops records while it creates a stream itself), a dedicated non-propagating `INFO` logger, and a re-run removes
# and closes the old handler before adding the new one.

# %%
LOG_GROUP = "cruddur"
STREAM = "security-demo/access-json"
logs = boto3.client("logs")
try:
    logs.create_log_group(logGroupName=LOG_GROUP)
except logs.exceptions.ResourceAlreadyExistsException:
    pass
try:
    logs.create_log_stream(logGroupName=LOG_GROUP, logStreamName=STREAM)
except logs.exceptions.ResourceAlreadyExistsException:
    pass

audit_log = logging.getLogger("cruddur.security_demo")
audit_log.setLevel(logging.INFO)
audit_log.propagate = False
for old in [h for h in audit_log.handlers if isinstance(h, watchtower.CloudWatchLogHandler)]:
    audit_log.removeHandler(old)   # a re-run replaces the handler instead of adding a second one
    old.close()
handler = watchtower.CloudWatchLogHandler(log_group_name=LOG_GROUP, log_stream_name=STREAM, boto3_client=logs,
                                          send_interval=1, create_log_group=False)
handler.addFilter(redact.RedactingFilter(redactor))
audit_log.addHandler(handler)
audit_log.handlers

# %% [markdown]
# ### X-Ray
#
# The hook: `redact.RedactingEmitter` is a subclass of the SDK's `UDPEmitter`, passed to `configure(emitter=...)`;
# it serializes each segment, redacts annotations, metadata, http and cause, and sends that datagram to the daemon
# at `AWS_XRAY_DAEMON_ADDRESS` (the X-Ray SDK has no redaction setting). `configure` may be called again, so a
# re-run simply installs a fresh emitter.

# %%
xray_recorder.configure(service="security-demo", sampling=False, emitter=redact.RedactingEmitter(redactor))
type(xray_recorder.emitter).__name__, f"{xray_recorder.emitter.ip}:{xray_recorder.emitter.port}"

# %% [markdown]
# ### Rollbar
#
# The hook: `redact.rollbar_payload_handler(redactor)` returns a function for pyrollbar's own
# `rollbar.events.add_payload_handler`, which redacts the item's `data` just before it is sent (the top-level
# `access_token` is the credential the SDK must send; `scrub_fields` only matches names, so a key inside the message
# text would go out). A second `rollbar.init` in one process is ignored apart from merged keyword settings, so the
# cell checks first (`rollbar.SETTINGS["access_token"]` is `None` until `init` has run); and a re-run removes the
# handler it added last time before adding the new one. `handler="blocking"` sends each report before
# `report_message` returns, so the search below sees it.

# %%
if rollbar.SETTINGS.get("access_token"):      # rollbar.init ran in this kernel: a second one would be ignored
    print("rollbar is already initialised in this kernel; keeping its settings")
else:
    rollbar.init(os.environ["ROLLBAR_ACCESS_TOKEN"], "security-demo",
                 endpoint=os.environ.get("ROLLBAR_ENDPOINT", "https://api.rollbar.com/api/1/"),
                 handler="blocking", allow_logging_basic_config=False)
previous = globals().get("redact_rollbar")     # a re-run: the handler this cell added last time
if previous is not None:
    rollbar.events.remove_payload_handler(previous)
redact_rollbar = redact.rollbar_payload_handler(redactor)
rollbar.events.add_payload_handler(redact_rollbar)
rollbar.SETTINGS["environment"], rollbar.SETTINGS["handler"]

# %% [markdown]
# ### Checkpoint: one redaction hook in each SDK

# %%
assert trace.get_tracer_provider() is provider, "the provider of the OpenTelemetry cell is not the global one"
assert [type(h).__name__ for h in audit_log.handlers] == ["CloudWatchLogHandler"] and not audit_log.propagate
assert sum(isinstance(f, redact.RedactingFilter) for f in handler.filters) == 1, handler.filters   # + watchtower's own
assert isinstance(xray_recorder.emitter, redact.RedactingEmitter), xray_recorder.emitter
assert rollbar.SETTINGS["access_token"] == os.environ["ROLLBAR_ACCESS_TOKEN"], "rollbar.init did not run"
assert rollbar.SETTINGS["endpoint"].endswith("/api/1/"), "the endpoint must end with /api/1/"

# %% [markdown]
# Now the mistake itself, once in each SDK: a planted (made-up) access key and an e-mail address, the way
# real code leaks them: in an attribute, a log line, an annotation, an error message.

# %%
PLANTED_KEY = "AKIA" + "PLANTED" + "0" * 9          # made up, assembled at run time
EMAIL = "learner@example.com"
planted_at = pd.Timestamp.now(tz="UTC")

with tracer.start_as_current_span("login") as span:
    span.set_attribute("enduser.email", EMAIL)
    span.set_attribute("app.debug", f"signed with {PLANTED_KEY}")
audit_log.info({"event": "login", "user_email": EMAIL, "user_handle": "learner", "note": f"key {PLANTED_KEY}"})
segment = xray_recorder.begin_segment("security-demo")
segment.put_annotation("user_email", EMAIL)
segment.put_metadata("request", {"Authorization": f"AWS4-HMAC-SHA256 Credential={PLANTED_KEY}/x",
                                 "note": f"retrying with key {PLANTED_KEY}"})
xray_recorder.end_segment()
rollbar.report_message(f"login failed for {EMAIL} using {PLANTED_KEY}", "warning")

provider.force_flush()       # the BatchSpanProcessor sends now, not in 5 s
handler.flush()              # watchtower sends what it has queued
xq.wait_for_traces([segment.trace_id])

# %%
found = security.find_in_backends([PLANTED_KEY, EMAIL, "[REDACTED:aws_access_key_id]", "[REDACTED:email]"],
                                  since=planted_at, log_group=LOG_GROUP)
found.pivot(index="backend", columns="needle", values="records_with_it")

# %% [markdown]
# ### Checkpoint: the planted secret and the e-mail reached none of the four backends, the redacted records did

# %%
searched = found.dropna(subset=["records_with_it"])        # cloud mode: the Honeycomb row is not searchable
leaks = searched[searched["needle"].isin([PLANTED_KEY, EMAIL])]
assert (leaks["records_with_it"] == 0).all(), leaks
markers = searched[searched["needle"] == "[REDACTED:aws_access_key_id]"].set_index("backend")["records_with_it"]
assert len(markers) >= 3 and (markers >= 1).all(), markers

# %% [markdown]
# ## Clean up
#
# The low-privilege user and its key are deleted; the webhook stops. (In cloud mode, also delete the trail,
# alarms and topic if you do not want to keep them: each costs a little.)

# %%
security.remove_low_privilege_user()
hook.stop()

# %% [markdown]
# ## Summary
#
# - CloudTrail records the account's management events (data events are opt-in) with **who** (`userIdentity`
#   from the access key), **what**
#   (`eventSource`, `eventName`, `requestParameters` with secrets hidden) and **how it went** (`errorCode`).
#   Delivered to CloudWatch Logs, it can be filtered, counted and queried like any other log. The first filter
#   and alarm to create is **root-user usage**; here it fired on the notebook's own calls.
# - **Metric filters** turn matching events into metrics; **alarms** evaluate them per period with M-of-N and
#   a missing-data policy, start in `INSUFFICIENT_DATA`, keep a **history**, and notify through **SNS** and
#   **EventBridge**.
# - Secrets live in the environment or an ignored `.env`, never in cells or shell history; a **secret scanner**
#   in CI catches the slip. Telemetry is redacted **in the process, before export**, in all four SDKs, through
#   each SDK's own extension point: a span processor wrapping the exporting one, a filter on the watchtower
#   handler, the X-Ray recorder's `emitter=`, and a `rollbar.events` payload handler.
#
# ## What's next
#
# [09 Metrics and SLOs](09_metrics_and_slos.ipynb): the third pillar on its own terms. backend-flask gets
# application metrics (OpenTelemetry and CloudWatch's embedded metric format), and the alarms you built here become
# SLO burn-rate alarms on metric math. Then [10 threat detection](10_threat_detection.ipynb): GuardDuty findings
# routed by EventBridge to an auto-remediation, and CloudWatch Logs data protection, which masks at rest what this
# notebook redacted before export. Later, go back to [06 correlate the pillars](06_correlate_the_pillars.ipynb) with
# redaction switched on and check that the correlation still works: trace ids are not secrets.
#
# ## Resources
# - AWS CloudTrail: [management events are logged by default, data events are not](https://docs.aws.amazon.com/awscloudtrail/latest/userguide/logging-management-events-with-cloudtrail.html),
#   [data events](https://docs.aws.amazon.com/awscloudtrail/latest/userguide/logging-data-events-with-cloudtrail.html),
#   [record contents](https://docs.aws.amazon.com/awscloudtrail/latest/userguide/cloudtrail-event-reference-record-contents.html),
#   [`userIdentity`](https://docs.aws.amazon.com/awscloudtrail/latest/userguide/cloudtrail-event-reference-user-identity.html)
# - CloudWatch: [alarm evaluation and missing data](https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/AlarmThatSendsEmail.html),
#   [alarm events and EventBridge](https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/cloudwatch-and-eventbridge.html),
#   [TestMetricFilter](https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_TestMetricFilter.html)
# - [Security Hub CloudWatch controls](https://docs.aws.amazon.com/securityhub/latest/userguide/cloudwatch-controls.html):
#   CloudWatch.1 is the root-user filter and alarm (CIS AWS Foundations Benchmark v1.4.0 4.3), with its pattern;
#   [root user best practices](https://docs.aws.amazon.com/IAM/latest/UserGuide/root-user-best-practices.html)
# - [CIS Amazon Web Services Foundations Benchmark](https://www.cisecurity.org/benchmark/amazon_web_services), section "Monitoring"
# - [OpenTelemetry: handling sensitive data](https://opentelemetry.io/docs/security/handling-sensitive-data/);
#   [Yelp detect-secrets](https://github.com/Yelp/detect-secrets); [Docker Compose variable interpolation](https://docs.docker.com/compose/how-tos/environment-variables/variable-interpolation/)

# %% [markdown]
# <!-- navigation -->
# ← Previous: [Sampling and cost: what each strategy keeps, and what it costs](07_sampling_and_cost.ipynb) · [Start here](00_start_here.ipynb) · Next: [Metrics and SLOs: OpenTelemetry metrics, CloudWatch EMF, metric math and burn-rate alarms](09_metrics_and_slos.ipynb) →
