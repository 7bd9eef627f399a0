"""The shared AWS plumbing (lab_app.localcloud.aws): the SigV4 scope, request parsing, the JSON body reader,
the error family in every wire protocol (parsed back with botocore's own parsers) and keyset NextTokens."""
from __future__ import annotations

import io

import botocore.parsers
import pytest

from lab_app import config
from lab_app.localcloud.aws import paging, request
from lab_app.localcloud.aws.errors import EC2, JSON_10_QUERY, JSON_11, QUERY, REST_JSON, REST_XML, AwsError
from lab_app.localcloud.aws.sigv4 import credential_scope, region_of

AUTH = ("AWS4-HMAC-SHA256 Credential=AKIAEXAMPLE/20260101/eu-west-1/logs/aws4_request, "
        "SignedHeaders=host, Signature=x")  # pragma: allowlist secret


@pytest.mark.parametrize("environ,expected", [
    ({"HTTP_AUTHORIZATION": AUTH}, ("AKIAEXAMPLE", "20260101", "eu-west-1", "logs")),
    ({"QUERY_STRING": "X-Amz-Credential=AKIAEXAMPLE%2F20260102%2Fus-west-2%2Fs3%2Faws4_request&X-Amz-Signature=x"},
     ("AKIAEXAMPLE", "20260102", "us-west-2", "s3")),
    ({"HTTP_AUTHORIZATION": "Bearer abc"}, None),
    ({}, None),
], ids=["header", "presigned-url", "not-sigv4", "unsigned"])
def test_credential_scope(environ, expected):
    scope = credential_scope(environ)
    assert (tuple(scope) if scope else None) == expected


def test_region_of_falls_back_to_the_configured_region():
    assert region_of({"HTTP_AUTHORIZATION": AUTH}) == "eu-west-1"
    assert region_of({"HTTP_AUTHORIZATION": AUTH}, "xray") == config.REGION    # signed for another service
    assert region_of({}) == config.REGION
    assert request.caller({}) == (config.ACCOUNT_ID, config.REGION)


def test_rest_operations_are_named_from_the_service_model():
    environ = {"HTTP_AUTHORIZATION": "AWS4-HMAC-SHA256 Credential=AKIAEXAMPLE/20260101/us-east-1/xray/aws4_request, "
                                     "SignedHeaders=host, Signature=x",  # pragma: allowlist secret
               "REQUEST_METHOD": "POST", "PATH_INFO": "/TraceSummaries", "CONTENT_TYPE": "application/json"}
    call = request.parse(environ, b'{"StartTime": 1, "EndTime": 2}')
    assert (call.operation, call.event_source, call.read_only) == ("GetTraceSummaries", "xray.amazonaws.com", True)
    environ.update(PATH_INFO="/my-bucket", REQUEST_METHOD="PUT", QUERY_STRING="",
                   HTTP_AUTHORIZATION=environ["HTTP_AUTHORIZATION"].replace("/xray/", "/s3/"))
    assert request.parse(environ, b"").operation == "CreateBucket"
    environ["QUERY_STRING"] = "policy="
    assert request.parse(environ, b"").operation == "PutBucketPolicy"


def test_query_protocol_parameters_are_nested():
    environ = {"HTTP_AUTHORIZATION": AUTH.replace("/logs/", "/ec2/"), "REQUEST_METHOD": "POST", "PATH_INFO": "/",
               "CONTENT_TYPE": "application/x-www-form-urlencoded"}
    call = request.parse(environ, b"Action=AuthorizeSecurityGroupIngress&Version=2016-11-15&GroupId=sg-1"
                                  b"&IpPermissions.1.IpProtocol=tcp&IpPermissions.1.FromPort=22")
    assert call.operation == "AuthorizeSecurityGroupIngress" and call.iam_action == "ec2:AuthorizeSecurityGroupIngress"
    assert call.params == {"GroupId": "sg-1", "IpPermissions": [{"IpProtocol": "tcp", "FromPort": "22"}]}


def test_read_body_leaves_the_body_readable():
    environ = {"CONTENT_LENGTH": "2", "wsgi.input": io.BytesIO(b"{}")}
    assert request.read_body(environ) == b"{}"
    assert environ["wsgi.input"].read() == b"{}"
    assert request.read_body(environ) == b"{}"


@pytest.mark.parametrize("raw,expected", [(b"", {}), (b"  ", {}), (b'{"a": 1}', {"a": 1}),
                                          (b"{not json", None), (b"[1]", None), (b"\xff", None)])
def test_json_body(raw, expected):
    if expected is None:
        with pytest.raises(AwsError) as err:
            request.json_body(raw)
        assert err.value.code == "SerializationException"
    else:
        assert request.json_body(raw) == expected


@pytest.mark.parametrize("wire", [JSON_11, JSON_10_QUERY, REST_JSON, QUERY, EC2, REST_XML],
                         ids=["json-1.1", "json-1.0-query", "rest-json", "query", "ec2", "rest-xml"])
def test_errors_parse_back_to_their_code_with_botocore(wire):
    response = AwsError("no <way>", code="SomeError", status=403).response(wire)
    parsed = botocore.parsers.create_parser(wire.protocol).parse(
        {"status_code": response.status_code, "headers": dict(response.headers), "body": response.get_data()}, None)
    assert parsed["Error"]["Code"] == "SomeError"
    assert parsed["Error"]["Message"] == "no <way>"
    assert parsed["ResponseMetadata"]["HTTPStatusCode"] == 403


def test_query_compatible_json_names_the_code_in_its_header():
    response = AwsError("bad", code="ValidationError").response(JSON_10_QUERY)
    assert response.headers["x-amzn-query-error"] == "ValidationError;Sender"
    assert response.content_type == "application/x-amz-json-1.0"
    assert "x-amzn-query-error" not in AwsError("bad").response(JSON_11).headers


@pytest.mark.parametrize("keyset,rows,expected_order", [
    (paging.Keyset("t", "id", descending=True, tie_descending=False), [(3, "a"), (3, "b"), (2, "c"), (1, "d")],
     ["a", "b", "c", "d"]),
    (paging.Keyset("t", "seq", descending=False, tie_descending=False, tie_key="seq", tie_type=int),
     [(1, 1), (1, 2), (2, 3), (3, 4)], [1, 2, 3, 4]),
], ids=["newest-first-ids-ascending", "oldest-first"])
def test_keyset_pages_cover_every_row_once(keyset, rows, expected_order):
    import duckdb

    conn = duckdb.connect()
    conn.execute(f"CREATE TABLE r (t DOUBLE, {keyset.tie_column} {'VARCHAR' if keyset.tie_type is str else 'BIGINT'})")
    conn.executemany("INSERT INTO r VALUES (?, ?)", rows)
    seen, token = [], None
    for _ in range(len(rows) + 1):
        where, args = keyset.after(token) if token else ("TRUE", [])
        page = conn.execute(f"SELECT t, {keyset.tie_column} FROM r WHERE {where} ORDER BY {keyset.order_by()} "
                            "LIMIT 2", args).fetchall()
        seen += [r[1] for r in page]
        if len(page) < 2:
            break
        token = keyset.token(*page[-1])
    assert seen == expected_order


@pytest.mark.parametrize("token", ["garbage", paging.encode({"t": 1}), paging.encode([1, 2])])
def test_keyset_rejects_tokens_it_did_not_issue(token):
    with pytest.raises(paging.InvalidToken):
        paging.Keyset("t", "id").after(token)
