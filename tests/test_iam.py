"""IAM policy evaluation, and the denial errors in each service's protocol (the gateway middleware's answers;
end to end with boto3 in tests/test_cloudtrail.py)."""
from __future__ import annotations

import botocore.parsers
import pytest

from lab_app.localcloud.aws.errors import EC2, JSON_10_QUERY, JSON_11, QUERY, REST_JSON, REST_XML
from lab_app.localcloud.iam import evaluate
from lab_app.localcloud.iam.exceptions import access_denied, invalid_token

READ_ONLY_POLICY = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Action": ["logs:Describe*", "cloudwatch:Describe*", "ec2:Describe*"], "Resource": "*"}]}


@pytest.mark.parametrize("policies,action,decision", [
    ([READ_ONLY_POLICY], "logs:DescribeLogGroups", "allow"),
    ([READ_ONLY_POLICY], "logs:DeleteLogGroup", "implicit-deny"),
    ([READ_ONLY_POLICY, {"Statement": {"Effect": "Deny", "Action": "logs:describe*"}}], "logs:DescribeLogGroups",
     "explicit-deny"),
    ([{"Statement": [{"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"}]}], "iam:ListUsers", "implicit-deny"),
    ([{"Statement": [{"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"}]}], "ec2:DescribeVpcs", "allow"),
])
def test_policy_evaluation(policies, action, decision):
    assert evaluate(policies, action) == decision


@pytest.mark.parametrize("wire,code,status", [
    (JSON_11, "AccessDeniedException", 400), (JSON_10_QUERY, "AccessDenied", 400),
    (REST_JSON, "AccessDeniedException", 403), (QUERY, "AccessDenied", 403), (EC2, "UnauthorizedOperation", 403),
    (REST_XML, "AccessDenied", 403),
], ids=["json-1.1", "json-1.0-query", "rest-json", "query", "ec2", "rest-xml"])
def test_access_denied_has_the_code_of_the_protocol(wire, code, status):
    response = access_denied(wire, "User: arn:aws:iam::123456789012:user/u is not authorized").response(wire)
    parsed = botocore.parsers.create_parser(wire.protocol).parse(
        {"status_code": response.status_code, "headers": dict(response.headers), "body": response.get_data()}, None)
    assert (parsed["Error"]["Code"], response.status_code) == (code, status)
    assert "is not authorized" in parsed["Error"]["Message"]


@pytest.mark.parametrize("wire,code", [(JSON_11, "UnrecognizedClientException"), (QUERY, "InvalidClientTokenId"),
                                       (EC2, "InvalidClientTokenId")], ids=["json", "query", "ec2"])
def test_invalid_token(wire, code):
    response = invalid_token(wire).response(wire)
    parsed = botocore.parsers.create_parser(wire.protocol).parse(
        {"status_code": response.status_code, "headers": dict(response.headers), "body": response.get_data()}, None)
    assert parsed["Error"]["Code"] == code
