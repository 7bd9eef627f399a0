"""Filter-pattern table: one row per case (pattern, message, expected match), then the same through FilterLogEvents."""
from __future__ import annotations

import json
import time

import boto3
import pytest

from lab_app.localcloud.logs.filter_pattern import FilterPatternError, matches, parse

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
    assert matches(parse(pattern), message) is expected


@pytest.mark.parametrize("pattern", ["{ $.a = }", "{ $.a = 1", "[a, a]", "{ $.x ==== 3 }", "%(%", "[a,, b]", "%a(?=b)%"])
def test_bad_patterns(pattern):
    with pytest.raises(FilterPatternError):
        parse(pattern)


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
        want = [m for m in messages if matches(parse(pattern), m)]
        assert got == want, pattern
