"""SigV4 signatures are verified for the keys the local cloud knows (its own and moto's IAM keys), as AWS
verifies them: the real clients' requests pass on every protocol, a wrong secret gets AWS's error code."""
from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys

import boto3
import pytest
import requests
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

from lab_app import config
from lab_app.localcloud.aws.sigv4 import canonical_query, expected_signature, signed_parts

WRONG = "not-the-local-cloud-secret"  # pragma: allowlist secret


def client(service: str, secret: str = config.LOCAL_AWS_SECRET_ACCESS_KEY,
           key: str = config.LOCAL_AWS_ACCESS_KEY_ID, **kwargs):
    return boto3.client(service, aws_access_key_id=key, aws_secret_access_key=secret, **kwargs)


def code_of(call) -> tuple[str, int]:
    with pytest.raises(ClientError) as caught:
        call()
    error = caught.value.response
    return error["Error"]["Code"], error["ResponseMetadata"]["HTTPStatusCode"]


@pytest.mark.parametrize("service, call, expected", [
    ("logs", lambda c: c.describe_log_groups(), ("InvalidSignatureException", 400)),              # JSON 1.1
    ("xray", lambda c: c.get_sampling_rules(), ("InvalidSignatureException", 403)),               # REST-JSON
    ("sts", lambda c: c.get_caller_identity(), ("SignatureDoesNotMatch", 403)),                   # query
    ("iam", lambda c: c.list_users(), ("SignatureDoesNotMatch", 403)),                            # query
    ("cloudwatch", lambda c: c.list_metrics(), ("SignatureDoesNotMatch", 403)),                   # JSON 1.0, query-compatible
    ("s3", lambda c: c.list_buckets(), ("SignatureDoesNotMatch", 403)),                           # REST-XML
    ("events", lambda c: c.list_rules(), ("InvalidSignatureException", 400)),
], ids=["logs", "xray", "sts", "iam", "cloudwatch", "s3", "events"])
def test_a_wrong_secret_for_the_local_key_is_refused_as_aws_refuses_it(module_cloud, service, call, expected):
    assert code_of(lambda: call(client(service, WRONG))) == expected
    call(client(service))                           # the right secret: served


def test_the_real_clients_pass_on_every_protocol_with_awkward_paths_and_queries(module_cloud):
    refused_before = module_cloud.middleware[0].refused
    s3 = client("s3")
    s3.create_bucket(Bucket="signed")
    for key in ("plain.txt", "a b+c/ü~(1).txt", "dir//double", "percent%20literal", "dots/../x"):
        s3.put_object(Bucket="signed", Key=key, Body=b"payload " + key.encode())
        assert s3.get_object(Bucket="signed", Key=key)["Body"].read() == b"payload " + key.encode()
    listed = s3.list_objects_v2(Bucket="signed", Prefix="a b+c/", Delimiter="/")
    assert [o["Key"] for o in listed["Contents"]] == ["a b+c/ü~(1).txt"]
    from botocore.config import Config

    url = client("s3", config=Config(signature_version="s3v4")).generate_presigned_url(
        "get_object", Params={"Bucket": "signed", "Key": "a b+c/ü~(1).txt"})
    assert requests.get(url, timeout=10).content == "payload a b+c/ü~(1).txt".encode()
    logs = client("logs")
    logs.create_log_group(logGroupName="/aws/lambda/signed-#1_.x")
    assert logs.describe_log_groups(logGroupNamePrefix="/aws/lambda/signed")["logGroups"]
    xray = client("xray")
    xray.create_group(GroupName="signed", FilterExpression='service("a b")')
    assert xray.get_group(GroupName="signed")["Group"]["FilterExpression"] == 'service("a b")'
    sqs = client("sqs")
    queue = sqs.create_queue(QueueName="signed")["QueueUrl"]
    sqs.send_message(QueueUrl=queue, MessageBody="x & y = ü")
    assert module_cloud.middleware[0].refused == refused_before


def test_a_presigned_url_with_a_wrong_secret_is_refused(module_cloud):
    client("s3").create_bucket(Bucket="presigned")
    client("s3").put_object(Bucket="presigned", Key="k", Body=b"v")
    from botocore.config import Config

    v4 = Config(signature_version="s3v4")         # boto3 presigns with SigV2 in us-east-1 unless told
    url = client("s3", WRONG, config=v4).generate_presigned_url("get_object", Params={"Bucket": "presigned", "Key": "k"})
    assert "X-Amz-Signature=" in url
    answer = requests.get(url, timeout=10)
    assert answer.status_code == 403 and b"<Code>SignatureDoesNotMatch</Code>" in answer.content


def test_an_iam_users_key_is_verified_with_its_own_secret(module_cloud):
    iam = client("iam")
    iam.create_user(UserName="signer")
    iam.put_user_policy(UserName="signer", PolicyName="read-logs", PolicyDocument=json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "logs:Describe*", "Resource": "*"}]}))
    key = iam.create_access_key(UserName="signer")["AccessKey"]
    right = client("logs", key["SecretAccessKey"], key["AccessKeyId"])
    right.describe_log_groups()
    wrong = client("logs", WRONG, key["AccessKeyId"])
    assert code_of(wrong.describe_log_groups) == ("InvalidSignatureException", 400)
    assert code_of(lambda: client("logs", config.LOCAL_AWS_SECRET_ACCESS_KEY,
                                  key["AccessKeyId"]).describe_log_groups())[0] == "InvalidSignatureException"


def test_an_unknown_key_is_accepted_unverified(module_cloud):
    client("logs", "anything", "AKIAUNKNOWNKEY000001").describe_log_groups()  # pragma: allowlist secret


def test_the_awscli_signs_as_aws_expects(module_cloud, tmp_path):
    env = {**os.environ, "AWS_ACCESS_KEY_ID": config.LOCAL_AWS_ACCESS_KEY_ID,
           "AWS_SECRET_ACCESS_KEY": config.LOCAL_AWS_SECRET_ACCESS_KEY, "AWS_CONFIG_FILE": str(tmp_path / "none")}
    aws = [sys.executable, "-m", "awscli"]
    ok = subprocess.run([*aws, "logs", "describe-log-groups"], env=env, capture_output=True, text=True, timeout=120)
    assert ok.returncode == 0, ok.stderr
    env["AWS_SECRET_ACCESS_KEY"] = WRONG
    bad = subprocess.run([*aws, "xray", "get-sampling-rules"], env=env, capture_output=True, text=True, timeout=120)
    assert bad.returncode != 0 and "InvalidSignatureException" in bad.stderr


def test_signature_matches_botocore_for_a_request_built_by_hand():
    """The verifier against botocore's own signer, independent of any server."""
    credentials = Credentials("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY")  # pragma: allowlist secret
    body = b'{"logGroupNamePrefix": "x"}'
    aws_request = AWSRequest("POST", "http://127.0.0.1:4566/a%20b/./c/?b=2&a=%2F&a=1", data=body,
                             headers={"Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": "Logs_20140328.X"})
    SigV4Auth(credentials, "logs", "us-east-1").add_auth(aws_request)
    headers = aws_request.headers
    environ = {"REQUEST_METHOD": "POST", "RAW_URI": "/a%20b/./c/?b=2&a=%2F&a=1", "QUERY_STRING": "b=2&a=%2F&a=1",
               "CONTENT_TYPE": headers["Content-Type"], "HTTP_HOST": "127.0.0.1:4566",
               "HTTP_X_AMZ_DATE": headers["X-Amz-Date"], "HTTP_X_AMZ_TARGET": headers["X-Amz-Target"],
               "HTTP_AUTHORIZATION": headers["Authorization"]}
    signed = signed_parts(environ)
    assert signed is not None and signed.signed_headers == ["content-type", "host", "x-amz-date", "x-amz-target"]
    assert expected_signature(environ, body, signed, credentials.secret_key) == signed.signature
    assert expected_signature(environ, body + b" ", signed, credentials.secret_key) != signed.signature
    assert canonical_query("b=2&a=%2F&a=1", False) == "a=%2F&a=1&b=2"
    assert hashlib.sha256(body).hexdigest() != signed.signature


@pytest.mark.parametrize("path, headers, expected", [
    ("/GetSamplingRules", {"Authorization": "garbage"}, (403, "IncompleteSignatureException")),
    ("/TraceSummaries", {"Authorization": "AWS4-HMAC-SHA256 Credential=x"}, (403, "IncompleteSignatureException")),
    ("/", {"Authorization": "Bearer abc", "X-Amz-Target": "Logs_20140328.DescribeLogGroups",
           "Content-Type": "application/x-amz-json-1.1"}, (400, "IncompleteSignatureException")),
], ids=["xray-garbage", "xray-sigv4-without-parts", "logs-bearer"])
def test_a_malformed_authorization_header_gets_incomplete_signature_not_a_500(module_cloud, path, headers, expected):
    answer = requests.post(module_cloud.aws_url + path, headers=headers, data=b"{}", timeout=10)
    code = answer.headers.get("x-amzn-ErrorType") or answer.json()["__type"]
    assert (answer.status_code, code.split(":")[0]) == expected
    assert "Authorization header requires 'Credential' parameter" in answer.text
    assert requests.post(module_cloud.aws_url + "/GetSamplingRules", data=b"{}", timeout=10).status_code == 200
