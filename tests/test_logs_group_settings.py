"""ListLogGroups, deletion protection and KMS key association against the local cloud (boto3, awscli)."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import boto3
import pytest
from botocore.exceptions import ClientError

AWS_CLI = Path(sys.executable).with_name("aws")
ARN = "arn:aws:logs:us-east-1:123456789012:log-group:"


@pytest.fixture(scope="module")
def logs(module_cloud):
    client = boto3.client("logs")
    for name in ("/aws/lambda/api", "/aws/lambda/worker", "/app/discovery", "/app/web", "plain-group"):
        client.create_log_group(logGroupName=name)
    client.create_log_group(logGroupName="/app/infrequent", logGroupClass="INFREQUENT_ACCESS")
    return client


LIST_CASES = [
    ("everything", {}, ["/app/discovery", "/app/infrequent", "/app/web", "/aws/lambda/api", "/aws/lambda/worker",
                        "plain-group"]),
    ("prefix with ^", {"logGroupNamePattern": "^/aws/lambda"}, ["/aws/lambda/api", "/aws/lambda/worker"]),
    ("substring", {"logGroupNamePattern": "web"}, ["/app/web"]),
    ("alternatives (the documented example)", {"logGroupNamePattern": "^/aws/lambda|discovery"},
     ["/app/discovery", "/aws/lambda/api", "/aws/lambda/worker"]),
    ("case sensitive", {"logGroupNamePattern": "WEB"}, []),
    ("class", {"logGroupClass": "INFREQUENT_ACCESS"}, ["/app/infrequent"]),
    ("class and pattern", {"logGroupClass": "STANDARD", "logGroupNamePattern": "^/app"},
     ["/app/discovery", "/app/web"]),
]


@pytest.mark.parametrize("case,request_,names", LIST_CASES, ids=[c[0] for c in LIST_CASES])
def test_list_log_groups(logs, case, request_, names):
    got = logs.list_log_groups(**request_)
    assert [g["logGroupName"] for g in got["logGroups"]] == names
    assert all(set(g) == {"logGroupName", "logGroupArn", "logGroupClass"} for g in got["logGroups"])
    assert all(g["logGroupArn"] == ARN + g["logGroupName"] for g in got["logGroups"])


def test_list_log_groups_pages(logs):
    seen, token, pages = [], None, 0
    while True:
        page = logs.list_log_groups(limit=2, **({"nextToken": token} if token else {}))
        seen += [g["logGroupName"] for g in page["logGroups"]]
        pages += 1
        token = page.get("nextToken")
        if not token:
            break
    assert seen == LIST_CASES[0][2] and pages == 3
    with pytest.raises(logs.exceptions.InvalidParameterException):
        logs.list_log_groups(nextToken="not-a-token")
    with pytest.raises(logs.exceptions.InvalidParameterException):   # the model's pattern: 3-24 name characters
        logs.list_log_groups(logGroupNamePattern="a b c")


def test_deletion_protection(logs):
    logs.create_log_group(logGroupName="/keep/me")
    logs.put_log_group_deletion_protection(logGroupIdentifier="/keep/me", deletionProtectionEnabled=True)
    group = logs.describe_log_groups(logGroupNamePrefix="/keep/me")["logGroups"][0]
    assert group["deletionProtectionEnabled"] is True
    with pytest.raises(ClientError) as err:
        logs.delete_log_group(logGroupName="/keep/me")
    assert err.value.response["Error"] == {
        "Code": "ValidationException",
        "Message": "Cannot delete log group with deletion protection enabled. Disable deletion protection first."}
    logs.put_log_group_deletion_protection(logGroupIdentifier=ARN + "/keep/me", deletionProtectionEnabled=False)
    assert logs.describe_log_groups(logGroupNamePrefix="/keep/me")["logGroups"][0]["deletionProtectionEnabled"] \
        is False
    logs.delete_log_group(logGroupName="/keep/me")
    with pytest.raises(logs.exceptions.ResourceNotFoundException):
        logs.put_log_group_deletion_protection(logGroupIdentifier="/keep/me", deletionProtectionEnabled=True)
    logs.create_log_group(logGroupName="/keep/born-protected", deletionProtectionEnabled=True)
    with pytest.raises(logs.exceptions.ValidationException):
        logs.delete_log_group(logGroupName="/keep/born-protected")
    assert logs.describe_log_groups(logGroupNamePrefix="/keep/born")["logGroups"][0]["deletionProtectionEnabled"]


def test_kms_key_association(logs):
    kms = boto3.client("kms")
    key = kms.create_key()["KeyMetadata"]
    logs.create_log_group(logGroupName="/secret/app")
    logs.associate_kms_key(logGroupName="/secret/app", kmsKeyId=key["Arn"])
    assert logs.describe_log_groups(logGroupNamePrefix="/secret/app")["logGroups"][0]["kmsKeyId"] == key["Arn"]
    logs.disassociate_kms_key(logGroupName="/secret/app")
    assert "kmsKeyId" not in logs.describe_log_groups(logGroupNamePrefix="/secret/app")["logGroups"][0]
    kms.disable_key(KeyId=key["KeyId"])
    asymmetric = kms.create_key(KeySpec="RSA_2048", KeyUsage="ENCRYPT_DECRYPT")["KeyMetadata"]["Arn"]
    bad = [{"logGroupName": "/secret/app", "kmsKeyId": asymmetric},{"logGroupName": "/secret/app", "kmsKeyId": key["KeyId"]},                      # not an ARN
           {"logGroupName": "/secret/app", "kmsKeyId": key["Arn"]},                        # disabled
           {"logGroupName": "/secret/app",
            "kmsKeyId": "arn:aws:kms:us-east-1:123456789012:key/00000000-0000-0000-0000-000000000000"}]
    for request in bad:
        with pytest.raises(ClientError) as err:
            logs.associate_kms_key(**request)
        assert err.value.response["Error"]["Code"] == "InvalidParameterException", request
    with pytest.raises(logs.exceptions.ResourceNotFoundException):
        logs.disassociate_kms_key(logGroupName="/secret/none")


def test_awscli_list_log_groups(logs):
    out = subprocess.run([str(AWS_CLI), "logs", "list-log-groups", "--log-group-name-pattern", "^/aws/lambda",
                          "--output", "json"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert [g["logGroupName"] for g in json.loads(out.stdout)["logGroups"]] == ["/aws/lambda/api",
                                                                                "/aws/lambda/worker"]
