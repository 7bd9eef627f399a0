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
# # Threat detection: GuardDuty, Security Hub, EventBridge auto-remediation and log data protection
#
# The seed's security section ends with three lines: *"Use AWS EventBridge to alert"*, *"Auto Remediation with
# Amazon EventBridge and AWS Security Hub"* and *"AWS Services for Threat Detection - Amazon GuardDuty"*, and it
# names Inspector and Macie. Notebook 08 stopped at alarms on CloudTrail metric filters: rules **you** write.
# Here a managed detector writes them: GuardDuty reads CloudTrail, VPC flow logs and DNS logs and reports
# **findings**; EventBridge routes each finding to a consumer that **fixes** what it names; Security Hub collects
# the findings in one format for triage. Last, the logs themselves: CloudWatch Logs data protection masks an
# e-mail address and a secret key *at rest*, where notebook 08 redacted them *before export*.

# %% [markdown]
# ## Overview
# 1. Turn on Security Hub and a GuardDuty detector, for the threats Cruddur faces
# 2. Route findings with an EventBridge rule to an SQS queue, then generate sample findings
# 3. Read the findings into pandas (type, severity, resource), filtered with `FindingCriteria`; `TestEventPattern`
# 4. Auto-remediation: a consumer that deactivates the exposed key, revokes the open SSH rule, revokes role sessions
# 5. The same findings in Security Hub (ASFF), triaged with `BatchUpdateFindings`; "Findings - Imported" events
# 6. Inspector and Macie: their EventBridge event patterns
# 7. Log data protection on the `cruddur` log group: masked on every read, unmasked only with `logs:Unmask`
# 8. Your turn: a pattern for high-severity findings only; a data identifier of your own

# %% [markdown]
# ## Prerequisites
#
# | Concept | Importance | Notes |
# | --- | --- | --- |
# | [08 security for observability](08_security_for_observability.ipynb) | Necessary | CloudTrail, EventBridge rules and targets, IAM policies, redaction before export |
# | [04 CloudWatch Logs](04_cloudwatch_logs.ipynb) | Helpful | log groups, Logs Insights |
# | JSON and pandas | Helpful | findings are nested JSON documents |
#
# - **Time to learn**: 40 minutes
# - **Runs in**: about 15 seconds in local mode (a fresh local cloud adds a few for its first EC2 call). In cloud
#   mode GuardDuty sends a finding's event within about five minutes, so the consumer cells wait; the cells
#   create real resources (a detector, Security Hub, an IAM user and role, a security group, rules and queues):
#   run the clean-up cell at the end. GuardDuty and Security Hub have 30-day free trials, then bill by volume.

# %% [markdown]
# ## Set-up
# `setup()` starts the local cloud (or finds your real keys in `.env`) and points boto3 at it.

# %%
from lab_app.notebook import setup

lab = setup()
lab

# %% [markdown]
# ## Imports
# boto3 and pandas do the lesson; `insights.run_query` is notebook 04's StartQuery / GetQueryResults loop.

# %%
import json
import time
from datetime import datetime, timezone

import boto3
import pandas as pd

from lab_app.query import insights

# %% [markdown]
# ## 1. Security Hub first, then a detector
#
# GuardDuty sends each **new** finding to Security Hub once Security Hub is on; findings from before are not
# copied over. So Security Hub comes first. `EnableSecurityHub` fails with `ResourceConflictException` when the
# account already has it, which is fine on a re-run.

# %%
securityhub = boto3.client("securityhub")
try:
    securityhub.enable_security_hub(EnableDefaultStandards=False)
except securityhub.exceptions.ResourceConflictException:
    pass   # already on (a re-run, or your account had it)
hub = securityhub.describe_hub()
ACCOUNT = boto3.client("sts").get_caller_identity()["Account"]
hub["HubArn"]

# %% [markdown]
# An account has one GuardDuty **detector** per Region. Reuse it if there is one; otherwise create it.

# %%
guardduty = boto3.client("guardduty")
detectors = guardduty.list_detectors()["DetectorIds"]
detector_id = detectors[0] if detectors else guardduty.create_detector(Enable=True)["DetectorId"]
detector = guardduty.get_detector(DetectorId=detector_id)
detector_id, detector["Status"], detector["FindingPublishingFrequency"]

# %% [markdown]
# GuardDuty needs real activity to find something. To see what its findings look like, and to test everything
# downstream of them, it generates **sample findings**: complete findings of a given type with placeholder values
# (`i-99999999`, `GeneratedFindingUserName`, the documentation address `198.51.100.0`), marked as samples in
# `Service.AdditionalInfo` (the console prefixes them with `[SAMPLE]`).
#
# Three threats Cruddur would face:
#
# | finding type | what happened | Cruddur's exposure |
# | --- | --- | --- |
# | `UnauthorizedAccess:EC2/SSHBruteForce` | someone is guessing SSH passwords on an instance | a security group with port 22 open to the world |
# | `UnauthorizedAccess:IAMUser/MaliciousIPCaller` | an IAM user's access key is used from a known malicious address | the CI user's long-lived key leaked (08, section 1) |
# | `UnauthorizedAccess:IAMUser/InstanceCredentialExfiltration.OutsideAWS` | an instance role's temporary credentials are used outside AWS | the backend's role credentials stolen through the instance metadata service |
#
# Security Hub and the EventBridge rule below see only findings created after them; GuardDuty's own list keeps
# everything, so `run_started` marks this run's findings.

# %%
THREATS = ["UnauthorizedAccess:EC2/SSHBruteForce", "UnauthorizedAccess:IAMUser/MaliciousIPCaller",
           "UnauthorizedAccess:IAMUser/InstanceCredentialExfiltration.OutsideAWS"]
run_started = datetime.now(timezone.utc).replace(microsecond=0)
run_started_ms = int(run_started.timestamp() * 1000)

# %% [markdown]
# ## 2. Route findings with EventBridge, then generate them
#
# The route has to exist before the findings do: GuardDuty publishes each new finding **once**, when it is
# created. GuardDuty puts a `GuardDuty Finding` event on the default bus for every new finding, with
# the whole finding as `detail`. The rule matches our three types; its target is an SQS queue, the buffer a
# remediation function reads. On AWS the queue's policy must let `events.amazonaws.com` send to it, for this
# rule only.

# %%
events = boto3.client("events")
sqs = boto3.client("sqs")
queue_url = sqs.create_queue(QueueName="cruddur-guardduty-findings")["QueueUrl"]
queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]

FINDINGS_PATTERN = {
    "source": ["aws.guardduty"],
    "detail-type": ["GuardDuty Finding"],
    "detail": {"type": THREATS},
}
rule_arn = events.put_rule(Name="cruddur-guardduty-remediation", EventPattern=json.dumps(FINDINGS_PATTERN),
                           State="ENABLED", Description="GuardDuty findings Cruddur remediates")["RuleArn"]
sqs.set_queue_attributes(QueueUrl=queue_url, Attributes={"Policy": json.dumps({
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": {"Service": "events.amazonaws.com"}, "Action": "sqs:SendMessage",
                   "Resource": queue_arn, "Condition": {"ArnEquals": {"aws:SourceArn": rule_arn}}}]})})
events.put_targets(Rule="cruddur-guardduty-remediation", Targets=[{"Id": "remediation-queue", "Arn": queue_arn}])


# The local cloud delivers an event before the call that caused it returns. On AWS a GuardDuty finding's event
# arrives within about five minutes: there the consumer long-polls (20 s, SQS's longest wait) until it has what
# it expects or the five minutes are over.
PATIENCE_S, POLL_S = (0, 0) if lab.local else (330, 20)


def receive_events(queue_url: str, expect: int = 0) -> list[dict]:
    """The queue's messages (each an EventBridge event), deleted once read: at least ``expect`` of them if they
    come in time, then whatever else is already there."""
    out, deadline = [], time.monotonic() + PATIENCE_S
    while True:
        batch = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10,
                                    WaitTimeSeconds=POLL_S if len(out) < expect else 0).get("Messages", [])
        for message in batch:
            out.append(json.loads(message["Body"]))
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
        if not batch and (len(out) >= expect or time.monotonic() > deadline):
            return out


leftovers = receive_events(queue_url)   # a re-run: what an earlier run left in the queue
rule_arn

# %% [markdown]
# Now the samples. `CreateSampleFindings` answers with an empty body; the findings, the events and the Security
# Hub copies follow.

# %%
guardduty.create_sample_findings(DetectorId=detector_id, FindingTypes=THREATS)

# %% [markdown]
# ## 3. The findings in pandas
#
# `ListFindings` takes **FindingCriteria**: attribute paths of the finding's JSON (`type`, `severity`,
# `resource.resourceType`, `service.archived`, `updatedAt`...) with conditions (`Eq`, `Neq`,
# `GreaterThanOrEqual`, ...; timestamps in epoch milliseconds). `GetFindings` returns up to 50 findings by id.

# %%
finding_ids = guardduty.list_findings(DetectorId=detector_id, FindingCriteria={"Criterion": {
    "type": {"Eq": THREATS},
    "updatedAt": {"GreaterThanOrEqual": run_started_ms},
}})["FindingIds"]
raw = guardduty.get_findings(DetectorId=detector_id, FindingIds=finding_ids)["Findings"]


def resource_id(resource: dict) -> str:
    if resource["ResourceType"] == "Instance":
        return resource["InstanceDetails"]["InstanceId"]
    return resource["AccessKeyDetails"]["AccessKeyId"]


findings = pd.DataFrame({
    "type": [f["Type"] for f in raw],
    "severity": [f["Severity"] for f in raw],
    "resource_type": [f["Resource"]["ResourceType"] for f in raw],
    "resource": [resource_id(f["Resource"]) for f in raw],
    "action": [f["Service"]["Action"]["ActionType"] for f in raw],
    "sample": [json.loads(f["Service"]["AdditionalInfo"]["Value"]).get("sample", False) for f in raw],
    "title": [f["Title"] for f in raw],
}).sort_values("severity", ascending=False, ignore_index=True)
findings

# %% [markdown]
# GuardDuty's severity is a number: 1.0-3.9 Low, 4.0-6.9 Medium, 7.0-8.9 High (9.0 and up, Critical, is for
# attack sequences). `GetFindingsStatistics` counts by severity without reading the findings.

# %%
counts = guardduty.get_findings_statistics(
    DetectorId=detector_id, FindingStatisticTypes=["COUNT_BY_SEVERITY"],
    FindingCriteria={"Criterion": {"type": {"Eq": THREATS}, "updatedAt": {"GreaterThanOrEqual": run_started_ms}}},
)["FindingStatistics"]["CountBySeverity"]
counts

# %% [markdown]
# ### Checkpoint: one finding of each threat, each a sample, on the resource its type names

# %%
assert sorted(findings["type"]) == sorted(THREATS), findings["type"].tolist()
assert findings["sample"].all()
by_type = findings.set_index("type")
assert by_type.loc["UnauthorizedAccess:EC2/SSHBruteForce", "resource_type"] == "Instance"
assert by_type.loc["UnauthorizedAccess:IAMUser/MaliciousIPCaller", "resource_type"] == "AccessKey"
assert by_type.loc[THREATS[2], "severity"] >= 7 > by_type.loc[THREATS[1], "severity"]
assert sum(counts.values()) == 3

# %% [markdown]
# `TestEventPattern` asks EventBridge whether a pattern matches an event, without creating anything. The
# events in the queue are the real thing:

# %%
routed = receive_events(queue_url, expect=len(THREATS))
[(e["detail-type"], e["detail"]["type"]) for e in routed]

# %%
unrelated = {**routed[0], "detail": {**routed[0]["detail"], "type": "Recon:EC2/Portscan"}}
tests = {name: events.test_event_pattern(EventPattern=json.dumps(FINDINGS_PATTERN), Event=json.dumps(event))["Result"]
         for name, event in [("routed finding", routed[0]), ("a port scan finding", unrelated)]}
tests

# %% [markdown]
# ### Checkpoint: the three findings were routed, each event carrying its whole finding

# %%
assert sorted(e["detail"]["type"] for e in routed) == sorted(THREATS)
assert {e["source"] for e in routed} == {"aws.guardduty"}
assert {e["detail"]["id"] for e in routed} == set(finding_ids)
assert tests == {"routed finding": True, "a port scan finding": False}

# %% [markdown]
# ## 4. Auto-remediation
#
# On AWS the rule's target would be a **Lambda function**; here the consumer is a Python function in the notebook
# that reads the queue, standing in for it (the local cloud runs no Lambda code). It does what a runbook says
# for each finding type, through boto3, and records what it did:
#
# | finding | remediation |
# | --- | --- |
# | `MaliciousIPCaller` on an IAM user's key | deactivate that access key (`UpdateAccessKey ... Status=Inactive`) |
# | `SSHBruteForce` on an instance | revoke the security groups' SSH rule open to `0.0.0.0/0` |
# | `InstanceCredentialExfiltration.OutsideAWS` | revoke the role's active sessions: a deny-all inline policy for tokens issued before now (what the IAM console's "Revoke active sessions" writes) |
#
# A sample finding names placeholder resources: a real function must recognise samples and do nothing, so this
# one does too.

# %%
iam = boto3.client("iam")
ec2 = boto3.client("ec2")
remediations: list[dict] = []


def remediate(event: dict) -> dict:
    """What the Lambda function would do with one GuardDuty Finding event; returns the record of it."""
    finding = event["detail"]
    resource, kind = finding["resource"], finding["type"]
    record = {"finding": kind, "finding_id": finding["id"], "at": pd.Timestamp.now(tz="UTC")}
    if json.loads(finding["service"].get("additionalInfo", {}).get("value") or "{}").get("sample"):
        return {**record, "action": "none: sample finding", "target": resource_id_of(resource)}
    if kind == "UnauthorizedAccess:IAMUser/MaliciousIPCaller":
        key = resource["accessKeyDetails"]
        iam.update_access_key(UserName=key["userName"], AccessKeyId=key["accessKeyId"], Status="Inactive")
        return {**record, "action": "deactivated access key", "target": key["accessKeyId"]}
    if kind == "UnauthorizedAccess:EC2/SSHBruteForce":
        groups = [g["groupId"] for nic in resource["instanceDetails"]["networkInterfaces"]
                  for g in nic["securityGroups"]]
        for group in groups:
            ec2.revoke_security_group_ingress(GroupId=group, IpPermissions=[{
                "IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}])
        return {**record, "action": "revoked SSH from 0.0.0.0/0", "target": ",".join(groups)}
    if kind.startswith("UnauthorizedAccess:IAMUser/InstanceCredentialExfiltration"):
        role = resource["accessKeyDetails"]["userName"]
        now = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        iam.put_role_policy(RoleName=role, PolicyName="AWSRevokeOlderSessions", PolicyDocument=json.dumps({
            "Version": "2012-10-17", "Statement": [{"Effect": "Deny", "Action": ["*"], "Resource": ["*"],
                                                   "Condition": {"DateLessThan": {"aws:TokenIssueTime": now}}}]}))
        return {**record, "action": "revoked role sessions", "target": role}
    return {**record, "action": "none: no runbook for this type", "target": resource_id_of(resource)}


def resource_id_of(resource: dict) -> str:
    if resource.get("instanceDetails"):
        return resource["instanceDetails"]["instanceId"]
    return resource.get("accessKeyDetails", {}).get("accessKeyId", "")


remediations += [remediate(e) for e in routed]
pd.DataFrame(remediations)

# %% [markdown]
# The three samples changed nothing. To see the function act, give it what a **real** finding of the same type
# would carry: Cruddur's own resources. Create them: a CI user with an access key (and a second key that is not
# exposed), a web security group with SSH open to the world, and the backend's instance role.

# %%
CI_USER, ROLE, GROUP = "cruddur-ci", "cruddur-backend-instance", "cruddur-web"
try:
    iam.create_user(UserName=CI_USER)
except iam.exceptions.EntityAlreadyExistsException:
    for old in iam.list_access_keys(UserName=CI_USER)["AccessKeyMetadata"]:   # a re-run: fresh keys
        iam.delete_access_key(UserName=CI_USER, AccessKeyId=old["AccessKeyId"])
exposed_key = iam.create_access_key(UserName=CI_USER)["AccessKey"]["AccessKeyId"]
other_key = iam.create_access_key(UserName=CI_USER)["AccessKey"]["AccessKeyId"]

try:
    iam.create_role(RoleName=ROLE, AssumeRolePolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"},
                                               "Action": "sts:AssumeRole"}]}))
except iam.exceptions.EntityAlreadyExistsException:   # a re-run: the revocation of the last run goes
    for name in iam.list_role_policies(RoleName=ROLE)["PolicyNames"]:
        iam.delete_role_policy(RoleName=ROLE, PolicyName=name)

existing = ec2.describe_security_groups(Filters=[{"Name": "group-name", "Values": [GROUP]}])["SecurityGroups"]
group_id = existing[0]["GroupId"] if existing else \
    ec2.create_security_group(GroupName=GROUP, Description="Cruddur web tier")["GroupId"]
SSH_OPEN = {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}
HTTPS_OPEN = {"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}
for permission in (SSH_OPEN, HTTPS_OPEN):
    try:
        ec2.authorize_security_group_ingress(GroupId=group_id, IpPermissions=[permission])
    except ec2.exceptions.ClientError as error:
        if error.response["Error"]["Code"] != "InvalidPermission.Duplicate":
            raise
exposed_key, other_key, group_id

# %% [markdown]
# A Lambda function is tested the same way: the console's **test event** is a copy of a real event with the
# values changed. Here each routed sample becomes a test event naming our resources, without the sample mark,
# sent to the queue the rule delivers to.

# %%
def as_test_event(event: dict) -> dict:
    finding = json.loads(json.dumps(event["detail"]))
    finding["service"]["additionalInfo"] = {"value": "{}", "type": "default"}
    resource = finding["resource"]
    if finding["type"] == "UnauthorizedAccess:IAMUser/MaliciousIPCaller":
        resource["accessKeyDetails"].update(accessKeyId=exposed_key, userName=CI_USER)
    elif finding["type"] == "UnauthorizedAccess:EC2/SSHBruteForce":
        resource["instanceDetails"]["networkInterfaces"][0]["securityGroups"] = [{"groupId": group_id,
                                                                                  "groupName": GROUP}]
    else:
        resource["accessKeyDetails"].update(userName=ROLE)
    return {**event, "detail": finding}


for event in routed:
    sqs.send_message(QueueUrl=queue_url, MessageBody=json.dumps(as_test_event(event)))
acted = [remediate(e) for e in receive_events(queue_url, expect=len(routed))]
remediations += acted
pd.DataFrame(acted)[["finding", "action", "target"]]

# %% [markdown]
# And the other direction: an unrelated finding (a port scan from one of our instances) and an unrelated
# application event reach the bus too. Neither matches the rule, so nothing reaches the queue and the function
# never runs. (On AWS, wait the full five minutes before you trust an empty queue.)

# %%
guardduty.create_sample_findings(DetectorId=detector_id, FindingTypes=["Recon:EC2/Portscan"])
events.put_events(Entries=[{"Source": "cruddur.app", "DetailType": "UserSignedUp",
                            "Detail": json.dumps({"user": "andrewbrown"})}])
after_unrelated = receive_events(queue_url)
remediations += [remediate(e) for e in after_unrelated]
len(after_unrelated)

# %% [markdown]
# ### Checkpoint: each resource changed, and nothing else did
#
# Read back through the APIs, not from the function's own record.

# %%
keys = {k["AccessKeyId"]: k["Status"] for k in iam.list_access_keys(UserName=CI_USER)["AccessKeyMetadata"]}
rules = ec2.describe_security_groups(GroupIds=[group_id])["SecurityGroups"][0]["IpPermissions"]
open_ports = sorted(p["FromPort"] for p in rules if any(r["CidrIp"] == "0.0.0.0/0" for r in p.get("IpRanges", [])))
revoke = json.loads(json.dumps(iam.get_role_policy(RoleName=ROLE, PolicyName="AWSRevokeOlderSessions")["PolicyDocument"]))
assert keys == {exposed_key: "Inactive", other_key: "Active"}, keys
assert open_ports == [443], open_ports              # SSH closed, HTTPS untouched
assert revoke["Statement"][0]["Effect"] == "Deny" and "aws:TokenIssueTime" in json.dumps(revoke)
assert after_unrelated == [], after_unrelated        # the port scan and the app event were not routed
assert sorted(r["action"] for r in acted) == ["deactivated access key", "revoked SSH from 0.0.0.0/0",
                                              "revoked role sessions"]

# %% [markdown]
# ## 5. The same findings in Security Hub
#
# Security Hub stores every product's findings in one format, the **AWS Security Finding Format** (ASFF,
# `SchemaVersion` 2018-10-08). GuardDuty's arrive with `ProductArn` `arn:aws:securityhub:<region>::product/aws/guardduty`,
# the finding ARN as `Id`, the detector as `GeneratorId`, a `Severity.Label` from the numeric severity, the
# resource as `AwsEc2Instance` or `AwsIamAccessKey`, and GuardDuty's own fields flattened into `ProductFields`.
# `GetFindings` filters with typed filters: strings (`EQUALS`, `PREFIX`, `NOT_EQUALS`...), numbers, dates, maps.

# %%
hub_filters = {
    "ProductName": [{"Value": "GuardDuty", "Comparison": "EQUALS"}],
    "Id": [{"Value": f["Arn"], "Comparison": "EQUALS"} for f in raw],
}
deadline = time.monotonic() + PATIENCE_S        # on AWS GuardDuty's findings reach Security Hub within minutes
while len(asff := securityhub.get_findings(Filters=hub_filters)["Findings"]) < len(raw) and \
        time.monotonic() < deadline:
    time.sleep(15)
in_hub = pd.DataFrame({
    "type": [f["Types"][0] for f in asff],
    "label": [f["Severity"]["Label"] for f in asff],
    "resource": [f["Resources"][0]["Type"] for f in asff],
    "workflow": [f["Workflow"]["Status"] for f in asff],
    "sample": [f["ProductFields"].get("aws/guardduty/service/additionalInfo/sample") for f in asff],
    "id": [f["Id"] for f in asff],
})
in_hub

# %% [markdown]
# **Triage** with `BatchUpdateFindings`: the SSH finding is resolved (its rule is gone), the malicious caller is
# notified to the CI owner, and the exfiltration is raised to CRITICAL. Every update is a
# `Security Hub Findings - Imported` event too, so a second rule can page on CRITICAL.

# %%
critical_url = sqs.create_queue(QueueName="cruddur-securityhub-critical")["QueueUrl"]
critical_arn = sqs.get_queue_attributes(QueueUrl=critical_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
critical_rule = events.put_rule(Name="cruddur-securityhub-critical", EventPattern=json.dumps({
    "source": ["aws.securityhub"], "detail-type": ["Security Hub Findings - Imported"],
    "detail": {"findings": {"Severity": {"Label": ["CRITICAL"]}, "Workflow": {"Status": ["NEW", "NOTIFIED"]}}},
}))["RuleArn"]
sqs.set_queue_attributes(QueueUrl=critical_url, Attributes={"Policy": json.dumps({
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": {"Service": "events.amazonaws.com"}, "Action": "sqs:SendMessage",
                   "Resource": critical_arn, "Condition": {"ArnEquals": {"aws:SourceArn": critical_rule}}}]})})
events.put_targets(Rule="cruddur-securityhub-critical", Targets=[{"Id": "page", "Arn": critical_arn}])
receive_events(critical_url)   # a re-run: empty it first

ids = in_hub.set_index("type")["id"]
product = asff[0]["ProductArn"]


def identifier(asff_type_suffix: str) -> list[dict]:
    return [{"Id": i, "ProductArn": product} for t, i in ids.items() if t.endswith(asff_type_suffix)]


triage = [
    securityhub.batch_update_findings(FindingIdentifiers=identifier("EC2-SSHBruteForce"),
                                      Workflow={"Status": "RESOLVED"},
                                      Note={"Text": "SSH rule revoked by auto-remediation", "UpdatedBy": "cruddur-bot"}),
    securityhub.batch_update_findings(FindingIdentifiers=identifier("IAMUser-MaliciousIPCaller"),
                                      Workflow={"Status": "NOTIFIED"},
                                      Note={"Text": "key deactivated; CI owner asked to rotate", "UpdatedBy": "cruddur-bot"}),
    securityhub.batch_update_findings(FindingIdentifiers=identifier("InstanceCredentialExfiltration.OutsideAWS"),
                                      Severity={"Label": "CRITICAL"}),
]
paged = receive_events(critical_url, expect=1)
[(len(t["ProcessedFindings"]), len(t["UnprocessedFindings"])) for t in triage], len(paged)

# %% [markdown]
# ### Checkpoint: three GuardDuty findings in ASFF, triaged, and only the critical one paged

# %%
assert len(asff) == 3 and {f["SchemaVersion"] for f in asff} == {"2018-10-08"}
assert product.endswith("::product/aws/guardduty")
assert set(in_hub["label"]) == {"LOW", "MEDIUM", "HIGH"} and set(in_hub["sample"]) == {"true"}
after = {f["Types"][0].rsplit("/", 1)[1]: f for f in securityhub.get_findings(Filters=hub_filters)["Findings"]}
assert after["UnauthorizedAccess:EC2-SSHBruteForce"]["Workflow"]["Status"] == "RESOLVED"
assert after["UnauthorizedAccess:IAMUser-MaliciousIPCaller"]["Note"]["UpdatedBy"] == "cruddur-bot"
assert after["UnauthorizedAccess:IAMUser-InstanceCredentialExfiltration.OutsideAWS"]["Severity"]["Label"] == "CRITICAL"
assert [e["detail"]["findings"][0]["Id"] for e in paged] == list(ids[ids.index.str.endswith("OutsideAWS")])

# %% [markdown]
# ## 6. Inspector and Macie
#
# Two more detectors the seed names. Neither is emulated by the local cloud: both scan things that do not exist
# here (Inspector: EC2 instances, container images and Lambda functions for known vulnerabilities; Macie: S3
# objects for sensitive data). What you can do here is what you would do first on AWS: write the EventBridge
# pattern for their findings and check it with `TestEventPattern` against an event of the documented shape.
#
# - Inspector sends `Inspector2 Finding` events (source `aws.inspector2`) for new findings and for every change of
#   state; `detail` is the finding, with `severity` a string (`CRITICAL`, `HIGH`, ...) and `status` `ACTIVE`,
#   `SUPPRESSED` or `CLOSED`.
# - Macie sends `Macie Finding` events (source `aws.macie`); `detail.severity.description` is `Low`, `Medium` or
#   `High`.

# %%
INSPECTOR_PATTERN = {"source": ["aws.inspector2"], "detail-type": ["Inspector2 Finding"],
                     "detail": {"severity": ["HIGH", "CRITICAL"], "status": ["ACTIVE"]}}
MACIE_PATTERN = {"source": ["aws.macie"], "detail-type": ["Macie Finding"],
                 "detail": {"severity": {"description": ["High"]}}}


def documented_event(source: str, detail_type: str, detail: dict) -> str:
    return json.dumps({"version": "0", "id": "7bf73129-1428-4cd3-a780-95db273d1602", "detail-type": detail_type,
                       "source": source, "account": ACCOUNT, "time": "2026-12-01T00:00:00Z",
                       "region": events.meta.region_name, "resources": [], "detail": detail})


checks = {
    "inspector CRITICAL ACTIVE": (INSPECTOR_PATTERN, documented_event(
        "aws.inspector2", "Inspector2 Finding", {"severity": "CRITICAL", "status": "ACTIVE",
                                                 "type": "PACKAGE_VULNERABILITY", "title": "CVE-2021-44228 - log4j-core"})),
    "inspector HIGH CLOSED": (INSPECTOR_PATTERN, documented_event(
        "aws.inspector2", "Inspector2 Finding", {"severity": "HIGH", "status": "CLOSED"})),
    "macie High": (MACIE_PATTERN, documented_event(
        "aws.macie", "Macie Finding", {"severity": {"score": 3, "description": "High"},
                                       "type": "SensitiveData:S3Object/Credentials"})),
    "macie Low": (MACIE_PATTERN, documented_event("aws.macie", "Macie Finding",
                                                  {"severity": {"score": 1, "description": "Low"}})),
}
matched = {name: events.test_event_pattern(EventPattern=json.dumps(p), Event=e)["Result"]
           for name, (p, e) in checks.items()}
matched

# %% [markdown]
# ### Checkpoint: each pattern takes the event it is for and leaves the other

# %%
assert matched == {"inspector CRITICAL ACTIVE": True, "inspector HIGH CLOSED": False, "macie High": True,
                   "macie Low": False}, matched

# %% [markdown]
# ## 7. Log data protection on the `cruddur` log group
#
# Notebook 08 redacted secrets and PII **in the process, before export**: the backend never sent them. That
# protects every backend, but only for the patterns you thought of, in the processes you instrumented. CloudWatch
# Logs **data protection** is the second line, **at rest**: a policy on the log group names *data identifiers*
# (managed ones such as `EmailAddress` and `AwsSecretKey`, or your own regular expressions); matches are masked
# when events are ingested, on every read path (GetLogEvents, FilterLogEvents, Logs Insights, subscriptions),
# and counted in audit findings. The original is kept: a caller allowed `logs:Unmask` can read it
# (`unmask=True`, or `unmask(@message)` in Insights); everyone else sees asterisks.
#
# | | redaction before export (08) | data protection at rest (here) |
# | --- | --- | --- |
# | where | in the process, per SDK hook | in CloudWatch Logs, per log group or account |
# | the original | never leaves the process | stored, readable with `logs:Unmask` |
# | covers | every backend the process sends to | CloudWatch Logs only |
# | misses | a process without the hook | data sent elsewhere (traces, Rollbar) |
#
# A policy has exactly two statements over the same identifiers: `Audit` (where findings go) and `Deidentify`
# (mask). Data protection applies to events ingested **after** the policy is in place.

# %%
logs = boto3.client("logs")
LOG_GROUP, STREAM = "cruddur", "threat-detection/data-protection"
for create in (lambda: logs.create_log_group(logGroupName=LOG_GROUP),
               lambda: logs.create_log_stream(logGroupName=LOG_GROUP, logStreamName=STREAM)):
    try:
        create()
    except logs.exceptions.ResourceAlreadyExistsException:
        pass


def identifier_arn(name: str) -> str:
    return f"arn:aws:dataprotection::aws:data-identifier/{name}"


def data_protection_policy(identifiers: list[str]) -> str:
    arns = [identifier_arn(i) for i in identifiers]
    return json.dumps({"Name": "cruddur-data-protection", "Version": "2021-06-01", "Statement": [
        {"Sid": "audit", "DataIdentifier": arns, "Operation": {"Audit": {"FindingsDestination": {}}}},
        {"Sid": "mask", "DataIdentifier": arns, "Operation": {"Deidentify": {"MaskConfig": {}}}},
    ]})


logs.put_data_protection_policy(logGroupIdentifier=LOG_GROUP,
                                policyDocument=data_protection_policy(["EmailAddress", "AwsSecretKey"]))
json.loads(logs.get_data_protection_policy(logGroupIdentifier=LOG_GROUP)["policyDocument"])["Statement"][1]

# %% [markdown]
# The mistake of 08 once more, this time without the redaction hook: a log line with an e-mail address and a
# secret access key (AWS's documented example key, assembled at run time).

# %%
PLANTED_EMAIL = "learner@example.com"
PLANTED_SECRET = "wJalrXUtnFEMI/K7MDENG/" + "bPxRfiCYEXAMPLEKEY"  # pragma: allowlist secret (AWS's documented example key)
planted_line = f"login failed for {PLANTED_EMAIL}: aws_secret_access_key={PLANTED_SECRET}"
planted_ms = int(time.time() * 1000)
logs.put_log_events(logGroupName=LOG_GROUP, logStreamName=STREAM,
                    logEvents=[{"timestamp": planted_ms, "message": planted_line}])
window = dict(log_groups=LOG_GROUP, start=pd.Timestamp(planted_ms, unit="ms", tz="UTC") - pd.Timedelta(seconds=1))
reads = {
    "GetLogEvents": logs.get_log_events(logGroupName=LOG_GROUP, logStreamName=STREAM,
                                        startTime=planted_ms)["events"][-1]["message"],
    "FilterLogEvents": logs.filter_log_events(logGroupName=LOG_GROUP, logStreamNames=[STREAM],
                                              startTime=planted_ms)["events"][-1]["message"],
    "Logs Insights": insights.run_query(f"fields @message | filter @logStream = '{STREAM}' | sort @timestamp desc "
                                        "| limit 1", **window)["@message"].iloc[0],
}
reads

# %% [markdown]
# Who may unmask: two roles a team would have. `cruddur-log-reader` reads logs; `cruddur-security-auditor` reads
# logs **and** has `logs:Unmask`. Each is assumed with STS, as a person or a tool would.

# %%
sts = boto3.client("sts")
READ_LOGS = ["logs:GetLogEvents", "logs:FilterLogEvents", "logs:StartQuery", "logs:GetQueryResults",
             "logs:DescribeLogGroups", "logs:DescribeLogStreams"]


def role_session(name: str, actions: list[str]) -> boto3.Session:
    try:
        iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps({
            "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                                                   "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}}]}))
    except iam.exceptions.EntityAlreadyExistsException:
        pass
    iam.put_role_policy(RoleName=name, PolicyName="logs", PolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": actions, "Resource": "*"}]}))
    credentials = sts.assume_role(RoleArn=iam.get_role(RoleName=name)["Role"]["Arn"],
                                  RoleSessionName="threat-detection")["Credentials"]
    return boto3.Session(aws_access_key_id=credentials["AccessKeyId"],
                         aws_secret_access_key=credentials["SecretAccessKey"],
                         aws_session_token=credentials["SessionToken"], region_name=events.meta.region_name)


auditor_logs = role_session("cruddur-security-auditor", READ_LOGS + ["logs:Unmask"]).client("logs")
reader_logs = role_session("cruddur-log-reader", READ_LOGS).client("logs")
UNMASK_QUERY = f"fields unmask(@message) as original | filter @logStream = '{STREAM}' | sort @timestamp desc | limit 1"
unmasked = insights.run_query(UNMASK_QUERY, client=auditor_logs, **window)["original"].iloc[0]
try:
    insights.run_query(UNMASK_QUERY, client=reader_logs, **window)
    reader_error = None
except reader_logs.exceptions.ClientError as error:
    reader_error = error.response["Error"]["Code"]
unmasked, reader_error

# %% [markdown]
# ### Checkpoint: masked on every read, the original only for the role allowed `logs:Unmask`

# %%
for path, message in reads.items():
    assert PLANTED_EMAIL not in message and PLANTED_SECRET not in message, (path, message)
    assert "*" in message, (path, message)
assert unmasked == planted_line
assert reader_error == "AccessDeniedException", reader_error

# %% [markdown]
# ## 8. Your turn
#
# ### Your turn 1: page only on high-severity GuardDuty findings
#
# Try it first: write an event pattern (a dict) that matches `GuardDuty Finding` events from `aws.guardduty`
# whose severity is **High or above** (7.0 and up), whatever the finding type. Hint: GuardDuty's severity is a
# number, and a list of literal numbers only matches exactly those numbers (`8` is not `8.0`); look for the
# `numeric` operator in the EventBridge user guide. The checkpoint tests it against this run's three routed
# findings (Low, Medium, High). The solution is in the collapsed cell below.

# %%
high_severity_pattern = ...  # your pattern (a dict)

# %% jupyter={"source_hidden": true}
if high_severity_pattern is ...:
    high_severity_pattern = {"source": ["aws.guardduty"], "detail-type": ["GuardDuty Finding"],
                             "detail": {"severity": [{"numeric": [">=", 7]}]}}

# %%
graded = {e["detail"]["type"]: events.test_event_pattern(EventPattern=json.dumps(high_severity_pattern),
                                                          Event=json.dumps(e))["Result"] for e in routed}
graded

# %% [markdown]
# ### Checkpoint: only the high-severity finding matches, and not an event from another source

# %%
assert graded == {THREATS[0]: False, THREATS[1]: False, THREATS[2]: True}, graded
impostor = {**routed[0], "source": "cruddur.app", "detail": {**routed[0]["detail"], "severity": 8}}
assert not events.test_event_pattern(EventPattern=json.dumps(high_severity_pattern), Event=json.dumps(impostor))["Result"], \
    "the pattern must also require source aws.guardduty"

# %% [markdown]
# ### Your turn 2: a data identifier of your own
#
# Cruddur logs the client's address on every request, and an address can identify a user. Try it first: add
# the managed `IpAddress` identifier to the `cruddur` group's policy (keep the other two). Put the identifiers
# you chose in `my_identifiers`; the cell after the solution writes the policy and one log line with an address
# in it.

# %%
my_identifiers = ...  # a list of managed data identifier names

# %% jupyter={"source_hidden": true}
if my_identifiers is ...:
    my_identifiers = ["EmailAddress", "AwsSecretKey", "IpAddress"]

# %%
logs.put_data_protection_policy(logGroupIdentifier=LOG_GROUP, policyDocument=data_protection_policy(my_identifiers))
ip_line = "GET /api/activities/home 200 from client 203.0.113.42"
ip_ms = int(time.time() * 1000)
logs.put_log_events(logGroupName=LOG_GROUP, logStreamName=STREAM, logEvents=[{"timestamp": ip_ms, "message": ip_line}])
stored = logs.get_log_events(logGroupName=LOG_GROUP, logStreamName=STREAM, startTime=ip_ms)["events"][-1]["message"]
stored

# %% [markdown]
# ### Checkpoint: the address is masked, the rest of the line kept, and the auditor can still read it

# %%
assert "203.0.113.42" not in stored, f"the address is stored unmasked: {stored}"
assert stored.startswith("GET /api/activities/home 200 from client "), stored
assert auditor_logs.get_log_events(logGroupName=LOG_GROUP, logStreamName=STREAM, startTime=ip_ms,
                                   unmask=True)["events"][-1]["message"] == ip_line
assert {"EmailAddress", "AwsSecretKey"} <= set(my_identifiers), "keep the identifiers the policy already had"

# %% [markdown]
# ## Clean up
#
# The rules and queues, the IAM user and roles, the security group and the log group's policy go; Security Hub
# and the detector stay (disable them in cloud mode if you do not want to keep them: each costs after its free
# trial). Re-running the notebook recreates everything.

# %%
for rule, target in (("cruddur-guardduty-remediation", "remediation-queue"), ("cruddur-securityhub-critical", "page")):
    events.remove_targets(Rule=rule, Ids=[target])
    events.delete_rule(Name=rule)
for url in (queue_url, critical_url):
    sqs.delete_queue(QueueUrl=url)
for key in iam.list_access_keys(UserName=CI_USER)["AccessKeyMetadata"]:
    iam.delete_access_key(UserName=CI_USER, AccessKeyId=key["AccessKeyId"])
iam.delete_user(UserName=CI_USER)
for role in (ROLE, "cruddur-security-auditor", "cruddur-log-reader"):
    for name in iam.list_role_policies(RoleName=role)["PolicyNames"]:
        iam.delete_role_policy(RoleName=role, PolicyName=name)
    iam.delete_role(RoleName=role)
ec2.delete_security_group(GroupId=group_id)
logs.delete_data_protection_policy(logGroupIdentifier=LOG_GROUP)

# %% [markdown]
# ## Summary
#
# - **GuardDuty** turns CloudTrail, VPC flow logs and DNS logs into **findings**: a type
#   (`ThreatPurpose:ResourceType/ThreatFamily`), a numeric severity, the resource, and the action seen. Sample
#   findings let you build everything downstream before a real attack; `FindingCriteria` filters them.
# - **EventBridge** gets every new finding as a `GuardDuty Finding` event; a rule's pattern picks the ones a
#   runbook covers and a target (SQS here, Lambda on AWS) acts. The remediation acts through the same APIs you
#   would use by hand, ignores samples, and is proven by reading the resources back.
# - **Security Hub** keeps all products' findings in **ASFF**; `GetFindings` filters, `BatchUpdateFindings`
#   triages (workflow, note, severity), and every change is a `Security Hub Findings - Imported` event.
# - **Inspector** (vulnerabilities) and **Macie** (sensitive data in S3) route the same way:
#   `Inspector2 Finding` and `Macie Finding` events.
# - **Data protection** masks sensitive data in CloudWatch Logs at rest, for every reader without `logs:Unmask`;
#   redaction before export (08) keeps it out of every backend. Use both.
#
# ## What's next
#
# You have finished the workbook. Go back to [08 security for observability](08_security_for_observability.ipynb)
# and route its CIS alarms through the same EventBridge rules as the findings here.
#
# ## Resources
# - GuardDuty: [finding types](https://docs.aws.amazon.com/guardduty/latest/ug/guardduty_finding-types-active.html),
#   [retired finding types](https://docs.aws.amazon.com/guardduty/latest/ug/guardduty_finding-types-retired.html),
#   [severity levels](https://docs.aws.amazon.com/guardduty/latest/ug/guardduty_findings-severity.html),
#   [sample findings](https://docs.aws.amazon.com/guardduty/latest/ug/sample_findings.html),
#   [EventBridge events for findings](https://docs.aws.amazon.com/guardduty/latest/ug/guardduty_findings_eventbridge.html),
#   [remediating compromised credentials](https://docs.aws.amazon.com/guardduty/latest/ug/compromised-creds.html),
#   [the API (ListFindings, FindingCriteria)](https://docs.aws.amazon.com/guardduty/latest/APIReference/API_ListFindings.html),
#   [pricing and the 30-day free trial](https://aws.amazon.com/guardduty/pricing/)
# - EventBridge: [event patterns](https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-event-patterns.html),
#   [comparison operators](https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-create-pattern-operators.html),
#   [TestEventPattern](https://docs.aws.amazon.com/eventbridge/latest/APIReference/API_TestEventPattern.html),
#   [input transformation](https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-transform-target-input.html),
#   [SQS target permissions](https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-use-resource-based.html#eb-sqs-permissions);
#   [SQS long polling (at most 20 s)](https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-short-and-long-polling.html)
# - Security Hub: [ASFF](https://docs.aws.amazon.com/securityhub/latest/userguide/securityhub-findings-format.html),
#   [GuardDuty integration](https://docs.aws.amazon.com/guardduty/latest/ug/securityhub-integration.html),
#   [BatchUpdateFindings](https://docs.aws.amazon.com/securityhub/1.0/APIReference/API_BatchUpdateFindings.html),
#   [EventBridge events](https://docs.aws.amazon.com/securityhub/latest/userguide/securityhub-cwe-integration-types.html),
#   [pricing and the 30-day free trial](https://aws.amazon.com/security-hub/pricing/)
# - [Inspector EventBridge events](https://docs.aws.amazon.com/inspector/latest/user/eventbridge-integration.html);
#   [Macie EventBridge event schema](https://docs.aws.amazon.com/macie/latest/user/findings-publish-event-schemas.html)
# - IAM: [revoking role sessions](https://docs.aws.amazon.com/IAM/latest/UserGuide/id_roles_use_revoke-sessions.html);
#   [UpdateAccessKey](https://docs.aws.amazon.com/IAM/latest/APIReference/API_UpdateAccessKey.html)
# - CloudWatch Logs: [data protection](https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/mask-sensitive-log-data.html),
#   [managed data identifiers](https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/CWL-managed-data-identifiers.html),
#   [PutDataProtectionPolicy](https://docs.amazonaws.cn/en_us/AmazonCloudWatchLogs/latest/APIReference/API_PutDataProtectionPolicy.html)
# - [AWS's example secret access key](https://docs.aws.amazon.com/IAM/latest/UserGuide/security-creds.html) and
#   the documentation address ranges ([RFC 5737](https://www.rfc-editor.org/rfc/rfc5737)) used as planted values

# %% [markdown]
# <!-- navigation -->
# ← Previous: [Metrics and SLOs: OpenTelemetry metrics, CloudWatch EMF, metric math and burn-rate alarms](09_metrics_and_slos.ipynb) · [Start here](00_start_here.ipynb)
