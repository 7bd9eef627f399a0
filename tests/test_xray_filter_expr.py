"""Filter expressions: a parametrized table against a known trace set; expected sets computed from the specs."""
from __future__ import annotations

import json
import time

import boto3
import pytest
from botocore.exceptions import ClientError
from xray_helpers import Spec, documents

from lab_app.localcloud.xray import filter_expr
from lab_app.localcloud.xray.filter_expr.ast import (
    And,
    AnnotationCompare,
    BoolKeyword,
    Compare,
    EdgeScope,
    GroupRef,
    Not,
    Or,
    ServiceRef,
    ServiceScope,
)

BASE = time.time() - 1800

SPECS = {
    "plain": Spec(response_time=0.1),
    "slow_search": Spec(response_time=2.5, url="http://127.0.0.1:4567/api/activities/search",
                        annotations={"query": "cruddur", "results": 3}),
    "fault_post": Spec(status=500, url="http://127.0.0.1:4567/api/activities", method="POST",
                       annotations={"user_handle": "andrewbrown", "cached": False}),
    "not_found": Spec(status=404, url="http://127.0.0.1:4567/api/users/nobody", user="nobody"),
    "throttled": Spec(status=429, user="andrewbrown"),
    "downstream_fault": Spec(downstream="notifications", downstream_status=500, status=200),
    "downstream_ok": Spec(downstream="notifications", response_time=0.4, downstream_time=0.2,
                          annotations={"user_handle": "andrewbrown", "results": 7}),
    "in_progress": Spec(in_progress=True),
    "curl_slow": Spec(response_time=4.0, user_agent="curl/8.5", client_ip="10.0.0.7", annotations={"cached": True}),
}


def duration(s: Spec):
    return None if s.in_progress else s.response_time


# (expression, predicate over a Spec) -- the predicate is the documented meaning, written independently
TABLE = [
    ("ok", lambda s: s.status < 400),
    ("fault", lambda s: s.fault),
    ("error", lambda s: s.error),
    ("throttle", lambda s: s.throttle),
    ("!fault", lambda s: not s.fault),
    ("fault = false", lambda s: not s.fault),
    ("error = true", lambda s: s.error),
    ("partial", lambda s: s.in_progress),
    ("!partial AND ok", lambda s: not s.in_progress and s.status < 400),
    ("responsetime > 2", lambda s: duration(s) is not None and s.response_time > 2),
    ("responsetime <= 0.1", lambda s: duration(s) is not None and s.response_time <= 0.1),
    ("duration >= 4", lambda s: duration(s) is not None and s.response_time >= 4),
    ("http.status = 404", lambda s: s.status == 404),
    ("http.status >= 500", lambda s: s.status >= 500),
    ("http.status != 200", lambda s: s.status != 200),
    ('http.url CONTAINS "search"', lambda s: "search" in s.url),
    ('http.url BEGINSWITH "http://127.0.0.1:4567/api/users"', lambda s: s.url.startswith("http://127.0.0.1:4567/api/users")),
    ('http.url ENDSWITH "/home"', lambda s: s.url.endswith("/home")),
    ('http.method = "POST"', lambda s: s.method == "POST"),
    ('http.method != "GET"', lambda s: s.method != "GET"),
    ('http.useragent = "curl/8.5"', lambda s: s.user_agent == "curl/8.5"),
    ('http.clientip = "127.0.0.1"', lambda s: s.client_ip == "127.0.0.1"),
    ('user = "andrewbrown"', lambda s: s.user == "andrewbrown"),
    ('user BEGINSWITH "no"', lambda s: (s.user or "").startswith("no")),
    ('annotation.user_handle = "andrewbrown"', lambda s: s.annotations.get("user_handle") == "andrewbrown"),
    ("annotation.results > 5", lambda s: s.annotations.get("results", -1) > 5),
    ("annotation[results] <= 3", lambda s: "results" in s.annotations and s.annotations["results"] <= 3),
    ("annotation.cached = true", lambda s: s.annotations.get("cached") is True),
    ("annotation.cached = false", lambda s: s.annotations.get("cached") is False),
    ('annotation.query CONTAINS "crud"', lambda s: "crud" in s.annotations.get("query", "")),
    ('service("notifications")', lambda s: s.downstream == "notifications"),
    ('service("notifications") { fault }', lambda s: s.downstream == "notifications" and s.downstream_status >= 500),
    ('service("notifications") { ok }', lambda s: s.downstream == "notifications" and s.downstream_status < 400),
    ('service(id(name: "notifications"))', lambda s: s.downstream == "notifications"),
    ('service("backend-flask") { responsetime > 3 }', lambda s: duration(s) is not None and s.response_time > 3),
    ('service() { fault }', lambda s: s.fault or s.downstream_status >= 500),
    ('edge("backend-flask", "notifications")', lambda s: s.downstream == "notifications"),
    ('edge("backend-flask", "notifications") { fault }', lambda s: s.downstream == "notifications" and s.downstream_status >= 500),
    ('edge("backend-flask", "notifications") { responsetime >= 0.2 }', lambda s: s.downstream is not None and s.downstream_time >= 0.2),
    ("ok !partial duration < 3", lambda s: s.status < 400 and not s.in_progress and s.response_time < 3),
    ("fault OR throttle", lambda s: s.fault or s.throttle),
    ('(fault OR error) AND http.method = "GET"', lambda s: (s.fault or s.error) and s.method == "GET"),
    ("!(ok)", lambda s: not s.status < 400),
    ("ok AND responsetime < 1 OR fault", lambda s: (s.status < 400 and duration(s) is not None and s.response_time < 1) or s.fault),
    ('group.name = "slow"', lambda s: duration(s) is not None and s.response_time > 2),
]


@pytest.fixture(scope="module")
def xray(module_cloud):
    client = boto3.client("xray")
    docs = []
    for i, spec in enumerate(SPECS.values()):
        docs += documents(spec, BASE + i)
    answer = client.put_trace_segments(TraceSegmentDocuments=[json.dumps(d) for d in docs])
    assert answer["UnprocessedTraceSegments"] == []
    client.create_group(GroupName="slow", FilterExpression="responsetime > 2")
    return client


def matching(client, expression: str) -> set[str]:
    ids: set[str] = set()
    kwargs = {"StartTime": BASE - 10, "EndTime": BASE + 60, "FilterExpression": expression}
    for page in client.get_paginator("get_trace_summaries").paginate(**kwargs):
        ids |= {s["Id"] for s in page["TraceSummaries"]}
    return ids


@pytest.mark.parametrize("expression,predicate", TABLE, ids=[row[0] for row in TABLE])
def test_filter_expression(xray, expression, predicate):
    expected = {spec.trace_id for spec in SPECS.values() if predicate(spec)}
    assert matching(xray, expression) == expected


def test_table_is_discriminating():
    """Every expression in the table must select some but not all traces, or it would prove nothing."""
    for expression, predicate in TABLE:
        hits = sum(bool(predicate(s)) for s in SPECS.values())
        assert 0 < hits < len(SPECS), expression


@pytest.mark.parametrize("expression,where", [
    ("responsetime >", "end of the expression"),
    ("ok AND", "end of the expression"),
    ("(ok", "end of the expression"),
    ('http.url CONTAINS api', "column 19"),
    ("ok && fault", "column 4"),
    ('service(a)', "column 9"),
])
def test_syntax_errors_say_where(xray, expression, where):
    with pytest.raises(ClientError) as info:
        matching(xray, expression)
    assert info.value.response["Error"]["Code"] == "InvalidRequestException"
    assert where in info.value.response["Error"]["Message"]


@pytest.mark.parametrize("expression,words", [
    ('duration CONTAINS "x"', "number keyword"),
    ('http.url > 3', "string keyword"),
    ("annotation.x", "needs an operator"),
    ("foo = 3", "unknown keyword 'foo'"),
    ('group.name = "missing"', "Group not found"),
])
def test_type_errors(xray, expression, words):
    with pytest.raises(ClientError) as info:
        matching(xray, expression)
    assert info.value.response["Error"]["Code"] == "InvalidRequestException"
    assert words in info.value.response["Error"]["Message"]


@pytest.mark.parametrize("expression", [
    "inferred", 'rootcause.fault.service { name = "x" }', "json.foo = 1", "coverage > 0.5", "index = 1",
    'id(name: "x")',
])
def test_documented_but_unsupported_is_rejected(xray, expression):
    with pytest.raises(ClientError) as info:
        matching(xray, expression)
    err = info.value.response["Error"]
    assert err["Code"] == "InvalidRequestException"
    assert "not implement" in err["Message"]


def test_user_text_is_bound_not_pasted(xray):
    """A value full of SQL must be compared as text (and match nothing), never executed."""
    assert matching(xray, "http.url = \"x' OR 1=1 --\"") == set()
    assert matching(xray, 'annotation.user_handle = "\\"; DROP TABLE xray_traces; --"') == set()
    assert len(matching(xray, "!partial OR partial")) == len(SPECS)


# expression -> the AST filter_expr.parse builds, written out by hand
PARSE_TABLE = [
    ("fault", BoolKeyword("fault")),
    ("!(error)", BoolKeyword("error", False)),
    ("ok !partial duration < 3", And((BoolKeyword("ok"), BoolKeyword("partial", False), Compare("duration", "<", 3.0)))),
    ("http.status >= 500 OR throttle", Or((Compare("http.status", ">=", 500.0), BoolKeyword("throttle")))),
    ('!(http.url CONTAINS "x")', Not(Compare("http.url", "CONTAINS", "x"))),
    ('annotation.user = "x"', AnnotationCompare("user", "=", "x")),
    ("annotation[results] <= 3", AnnotationCompare("results", "<=", 3.0)),
    ('service("a") { fault }', ServiceScope(ServiceRef("a"), BoolKeyword("fault"))),
    ('edge("a", "b")', EdgeScope(ServiceRef("a"), ServiceRef("b"), None)),
    ('group.name = "slow"', GroupRef("name", "slow")),
]


@pytest.mark.parametrize("expression,expected", PARSE_TABLE, ids=[row[0] for row in PARSE_TABLE])
def test_parse_builds_the_ast(expression, expected):
    assert filter_expr.parse(expression) == expected


def test_service_id_with_type_and_group_arn(module_cloud):
    client = boto3.client("xray")
    base = BASE + 600
    typed = documents(Spec(), base)[0]
    typed["origin"] = "AWS::EC2::Instance"
    plain = documents(Spec(), base + 1)[0]
    client.put_trace_segments(TraceSegmentDocuments=[json.dumps(typed), json.dumps(plain)])
    window = {"StartTime": base - 1, "EndTime": base + 5}

    def ids(expression):
        return {s["Id"] for s in client.get_trace_summaries(**window, FilterExpression=expression)["TraceSummaries"]}

    assert ids('service(id(name: "backend-flask", type: "AWS::EC2::Instance"))') == {typed["trace_id"]}
    assert ids('service(id(name: "backend-flask"))') == {typed["trace_id"], plain["trace_id"]}
    assert ids('service(id(type: "AWS::EC2::Instance")) { ok }') == {typed["trace_id"]}
    arn = client.create_group(GroupName="ec2", FilterExpression='service(id(type: "AWS::EC2::Instance"))')["Group"]["GroupARN"]
    assert ids(f'group.arn = "{arn}"') == {typed["trace_id"]}
