"""Fuzz: filter patterns (FilterLogEvents and TestMetricFilter) and X-Ray filter expressions (GetTraceSummaries),
2,000 strings each of their own tokens in random order (mostly malformed, some valid), their documented syntax
mutated, and arbitrary text. Logs Insights is in test_fuzz_queries.py."""
from __future__ import annotations

import json

import boto3
import pytest
from fuzz_support import EXAMPLES, NOW, Answer, Inputs, aws_wire, fuzz, mutate, query_resources, send_aws

_data = pytest.fixture(scope="module", name="data")(query_resources)

FILTER_PATTERNS = ["ERROR", "error", '"GET /api"', "?ERROR", "?user", "-info", "{", "}", "$.level", "$.ms", "$.req.path",
                   "$.tags[0]", "$.*", "=", "!=", ">", "<", ">=", "&&", "||", "(", ")", '"error"', "*err*", "12", "3.5",
                   "-1", "1e400", "IS NULL", "NOT EXISTS", "IS TRUE", "[", "]", "w1", "w2", "status_code=200",
                   "size>100", ",", "...", "%ERROR%", "%(a+)+$%", "%[%", "%.*%", "\\", "'", "*"]
XRAY_FILTERS = ['service("backend-flask")', 'service("notifications")', 'edge("backend-flask", "notifications")',
                'id(name: "backend-flask", type: "AWS::EC2::Instance")', "responsetime", "duration", "http.status",
                "http.url", "http.method", "http.useragent", "http.clientip", "user", "annotation.user_handle",
                "annotation.results", "error", "fault", "throttle", "ok", "partial", "!", "AND", "OR", "NOT", "(",
                ")", "{", "}", "=", "!=", ">", "<", ">=", "<=", "CONTAINS", "BEGINSWITH", "ENDSWITH", "1", "0.5",
                "500", '"andrewbrown"', '"GET"', "true", "false", "group.name", '"Default"', "rootcause.fault.entity",
                "name", "rootcause.responsetime.service", "cause.message", "inferred", "service()", ".", ",", "\\"]



def test_filter_patterns(data):
    wire = aws_wire(data)
    inputs = Inputs("filter-patterns")
    r = inputs.r

    def calls():
        for _ in range(EXAMPLES):
            pattern = inputs.tokens(FILTER_PATTERNS, 10)
            if r.random() < 0.5:
                yield "FilterLogEvents", {"logGroupName": "fuzz", "filterPattern": pattern}
            else:
                yield "TestMetricFilter", {"filterPattern": pattern, "logEventMessages": [
                    "ERROR something failed user=andrewbrown", '{"level": "error", "ms": 12}', "a" * 2000]}

    tally = fuzz("filter patterns", calls(), lambda call: send_aws(wire, "logs", (*call, None)))
    assert tally.statuses[200] > 100
    found = boto3.client("logs").filter_log_events(logGroupName="fuzz", filterPattern='{ $.level = "error" }')
    assert [json.loads(e["message"])["user"] for e in found["events"]] == ["andrewbrown"]


def xray_filter(inputs: Inputs, depth: int = 0) -> str:
    """A filter expression of the documented grammar (keywords, comparisons, service/edge/id scopes, root-cause
    braces), combined and negated, then perhaps mutated; or token soup."""
    r = inputs.r
    if depth == 0 and r.random() < 0.2:
        return inputs.tokens(XRAY_FILTERS, 8)
    number = lambda: r.choice(["1", "0.5", "500", "-1", "1e400", "99999999999999999999"])  # noqa: E731
    string = lambda: r.choice(['"andrewbrown"', '"GET"', '"backend-flask"', '""', '"a\\"b"'])  # noqa: E731
    pick = r.randrange(10 if depth < 2 else 6)
    if pick == 0:
        term = r.choice(["error", "fault", "throttle", "ok", "partial", "inferred"])
    elif pick == 1:
        term = f"{r.choice(['responsetime', 'duration', 'http.status', 'annotation.results'])} " \
               f"{r.choice(['>', '<', '>=', '<=', '=', '!='])} {number()}"
    elif pick == 2:
        term = f"{r.choice(['http.url', 'http.method', 'user', 'annotation.user_handle', 'http.useragent', 'name'])} " \
               f"{r.choice(['=', '!=', 'CONTAINS', 'BEGINSWITH', 'ENDSWITH'])} {string()}"
    elif pick == 3:
        term = r.choice(['service("backend-flask")', 'service("notifications")', "service()",
                         'edge("backend-flask", "notifications")', 'id(name: "backend-flask", type: "AWS::EC2::Instance")',
                         'group.name = "Default"', 'group.arn = "x"'])
    elif pick == 4:
        term = f"annotation.{r.choice(['user_handle', 'cached', 'x'])} = {r.choice(['true', 'false', number(), string()])}"
    elif pick == 5:
        term = f"rootcause.{r.choice(['fault', 'error', 'responsetime'])}.{r.choice(['entity', 'service'])} " \
               f"{{ {r.choice(['name', 'type', 'message'])} = {string()} }}"
    elif pick == 6:
        term = f"{r.choice(['service', 'edge'])}({string()}{', ' + string() if r.random() < 0.5 else ''}) " \
               f"{{ {xray_filter(inputs, depth + 1)} }}"
    elif pick == 7:
        term = f"!{xray_filter(inputs, depth + 1)}"
    elif pick == 8:
        term = f"({xray_filter(inputs, depth + 1)})"
    else:
        term = f"{xray_filter(inputs, depth + 1)} {r.choice(['AND', 'OR', 'and', '&&', '||'])} {xray_filter(inputs, depth + 1)}"
    return mutate(inputs, term, XRAY_FILTERS) if depth == 0 else term


def test_xray_filter_expressions(data):
    wire = aws_wire(data)
    inputs = Inputs("xray-filters")

    def send(expression: str) -> Answer:
        return send_aws(wire, "xray", ("GetTraceSummaries", {"StartTime": NOW - 3600, "EndTime": NOW + 60,
                                                             "FilterExpression": expression}, None))

    tally = fuzz("xray filter expressions", (xray_filter(inputs) for _ in range(EXAMPLES)), send)
    assert tally.statuses[200] > 500
    summaries = boto3.client("xray").get_trace_summaries(StartTime=NOW - 3600, EndTime=NOW + 60,
                                                         FilterExpression="fault")["TraceSummaries"]
    assert len(summaries) == 1 and summaries[0]["HasFault"]
