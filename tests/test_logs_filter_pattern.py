"""Filter-pattern table: one row per case (pattern, message, expected match), then the same through FilterLogEvents."""
from __future__ import annotations

import json
import time

import boto3
import pytest

from lab_app.localcloud.logs import filter_pattern
from lab_app.localcloud.logs.filter_pattern import FilterPatternError
from lab_app.localcloud.logs.filter_pattern.ast import (
    DCompare,
    DelimitedPattern,
    DField,
    Ellipsis_,
    JCheck,
    JCompare,
    JOr,
    JsonPattern,
    MatchAll,
    Number,
    Selector,
    Term,
    TermPattern,
    Text,
)

JSON_MSG = json.dumps({"level": "ERROR", "latency_ms": 150, "status": 503, "user": None, "ok": False,
                       "http": {"route": "/api/activities/search", "method": "GET"}, "tags": ["a", "b"]})
ACCESS = '127.0.0.1 frank [10/Oct/2000:13:55:36 -0700] "GET /apache_pb.gif HTTP/1.0" 404 2326'
PLAIN = "2024-01-01 12:00:00 ERROR Exception occurred in handler: timeout"

CASES = [
    # terms, phrases, alternatives, exclusions (case-sensitive)
    ("", PLAIN, True),
    ("ERROR", PLAIN, True),
    ("error", PLAIN, False),
    ("ERROR timeout", PLAIN, True),
    ("ERROR missing", PLAIN, False),
    ('"Exception occurred"', PLAIN, True),
    ('"occurred Exception"', PLAIN, False),
    ("?WARN ?ERROR", PLAIN, True),
    ("?WARN ?DEBUG", PLAIN, False),
    ("ERROR -timeout", PLAIN, False),
    ("ERROR -DEBUG", PLAIN, True),
    ("%time[a-z]+%", PLAIN, True),
    ("%^ERROR%", PLAIN, False),
    # JSON
    ('{ $.level = "ERROR" }', JSON_MSG, True),
    ('{ $.level = "INFO" }', JSON_MSG, False),
    ('{ $.level != "INFO" }', JSON_MSG, True),
    ("{ $.latency_ms > 100 && $.status >= 500 }", JSON_MSG, True),
    ("{ $.latency_ms > 200 && $.status >= 500 }", JSON_MSG, False),
    ("{ $.latency_ms > 200 || $.status = 503 }", JSON_MSG, True),
    ("{ ($.status = 200 || $.status = 503) && $.level = ERR* }", JSON_MSG, True),
    ('{ $.http.route = "/api/activities/*" }', JSON_MSG, True),
    ('{ $.http.method = "POST" }', JSON_MSG, False),
    ('{ $.tags[1] = "b" }', JSON_MSG, True),
    ("{ $.user IS NULL }", JSON_MSG, True),
    ("{ $.level IS NULL }", JSON_MSG, False),
    ("{ $.missing NOT EXISTS }", JSON_MSG, True),
    ("{ $.level NOT EXISTS }", JSON_MSG, False),
    ("{ $.ok IS FALSE }", JSON_MSG, True),
    ("{ $.level = %ERR.R% }", JSON_MSG, True),
    ("{ $.latency_ms = * }", JSON_MSG, True),
    ('{ $.level = "ERROR" }', PLAIN, False),   # not JSON: no match
    # space-delimited
    ("[ip, user, timestamp, request, status_code, bytes]", ACCESS, True),
    ("[ip, user, timestamp, request, status_code]", ACCESS, False),   # field count must line up
    ("[ip, user, ..., status_code = 404, bytes]", ACCESS, True),
    ("[ip, user, ..., status_code = 4*, bytes > 1000]", ACCESS, True),
    ("[ip, user, ..., status_code = 5*, bytes]", ACCESS, False),
    ("[ip, user, ..., status_code = 500 || status_code = 404, bytes]", ACCESS, True),
    ('[ip = 127.0.0.1, ...]', ACCESS, True),
    ("[ip != 127.0.0.1, ...]", ACCESS, False),
    ('[..., request = "*gif*", status, size]', ACCESS, True),
]


@pytest.mark.parametrize("pattern,message,expected", CASES, ids=[f"{i}:{c[0][:40]}" for i, c in enumerate(CASES)])
def test_filter_pattern_table(pattern, message, expected):
    assert filter_pattern.matches(filter_pattern.parse(pattern), message) is expected


@pytest.mark.parametrize("pattern", ["{ $.a = }", "{ $.a = 1", "[a, a]", "{ $.x ==== 3 }", "%(%", "[a,, b]", "%a(?=b)%"])
def test_bad_patterns(pattern):
    with pytest.raises(FilterPatternError):
        filter_pattern.parse(pattern)


def test_filter_log_events_agrees_with_table(module_cloud):
    logs = boto3.client("logs")
    logs.create_log_group(logGroupName="fp")
    logs.create_log_stream(logGroupName="fp", logStreamName="s")
    t = int(time.time() * 1000)
    messages = [JSON_MSG, ACCESS, PLAIN]
    logs.put_log_events(logGroupName="fp", logStreamName="s",
                        logEvents=[{"timestamp": t + i, "message": m} for i, m in enumerate(messages)])
    for pattern in sorted({c[0] for c in CASES}):
        got = [e["message"] for e in logs.filter_log_events(logGroupName="fp", filterPattern=pattern)["events"]]
        want = [m for m in messages if filter_pattern.matches(filter_pattern.parse(pattern), m)]
        assert got == want, pattern


# pattern -> the AST filter_pattern.parse builds, written out by hand
PARSE_TABLE = [
    ("", MatchAll()),
    ("ERROR ?WARN -DEBUG", TermPattern(required=(Term("word", "ERROR"),), optional=(Term("word", "WARN"),),
                                       excluded=(Term("word", "DEBUG"),))),
    ('"a phrase"', TermPattern(required=(Term("phrase", "a phrase"),))),
    ("%time.*out%", TermPattern(required=(Term("regex", "time.*out"),))),
    ("{ $.status = 500 }", JsonPattern(JCompare(Selector("$.status", ("status",)), "=", Number(500.0)))),
    ("{ $.a.b[0] EXISTS || $.c IS NULL }", JsonPattern(JOr(JCheck(Selector("$.a.b[0]", ("a", "b", 0)), "exists"),
                                                           JCheck(Selector("$.c", ("c",)), "null")))),
    ("[ip, user, ..., status = 5*, bytes > 1000]", DelimitedPattern((
        DField("ip", None), DField("user", None), Ellipsis_(),
        DField("status", DCompare("status", "=", Text("5*"))),
        DField("bytes", DCompare("bytes", ">", Number(1000.0)))))),
]


@pytest.mark.parametrize("pattern,expected", PARSE_TABLE, ids=[row[0] or "(empty)" for row in PARSE_TABLE])
def test_parse_builds_the_ast(pattern, expected):
    assert filter_pattern.parse(pattern) == expected


def test_to_sql_pushes_term_patterns_down_with_bound_parameters():
    params: dict = {}
    sql = filter_pattern.to_sql(filter_pattern.parse("ERROR ?WARN -DEBUG"), "message", params)
    assert sql == "contains(message, $fp0) AND (contains(message, $fp1)) AND NOT contains(message, $fp2)"
    assert params == {"fp0": "ERROR", "fp1": "WARN", "fp2": "DEBUG"}
    assert filter_pattern.to_sql(filter_pattern.parse("{ $.a = 1 }"), "message", {}) is None


@pytest.mark.parametrize("pattern, message, expected", [
    ("%(a+)+$%", "a" * 40 + "!", False),                     # exponential for a backtracking engine
    ("%(a|aa)+$%", "a" * 60 + "!", False),
    ('{ $.user = "*a*a*a*a*a*a*a*a*a*a*b" }', json.dumps({"user": "a" * 5000}), False),   # many wildcards
    ("%(x+x+)+y%", "x" * 5000, False),
], ids=["nested-plus", "alternation", "wildcards", "polynomial"])
def test_hostile_regexes_run_in_linear_time(pattern, message, expected):
    started = time.perf_counter()
    assert filter_pattern.matches(filter_pattern.parse(pattern), message) is expected
    assert time.perf_counter() - started < 2            # Python's re took seconds to hours on these


def test_test_metric_filter_with_a_redos_pattern_answers_at_once(module_cloud):
    logs = boto3.client("logs")
    started = time.perf_counter()
    answer = logs.test_metric_filter(filterPattern="%(a+)+$%", logEventMessages=["a" * 40 + "!", "aaa"])
    assert [m["eventMessage"] for m in answer["matches"]] == ["aaa"]
    assert time.perf_counter() - started < 2
