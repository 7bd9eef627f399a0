"""Fuzz: the query languages, each with 2,000 strings of its own tokens in random order (mostly malformed, some
valid) and arbitrary text: Logs Insights (StartQuery, then GetQueryResults: a query the parser accepted must
complete, never fail at run time), filter patterns (FilterLogEvents and TestMetricFilter), X-Ray filter
expressions (GetTraceSummaries). Honeycomb query specs are in test_fuzz_daemon_apis.py."""
from __future__ import annotations

import json
import time

import boto3
import pytest
from fuzz_support import EXAMPLES, Answer, Inputs, aws_wire, fuzz, send_aws
from xray_helpers import Spec, documents

NOW = int(time.time())


@pytest.fixture(scope="module")
def data(module_cloud):
    """A log group with JSON, space-delimited and plain events; a few traces of two services."""
    logs = boto3.client("logs")
    logs.create_log_group(logGroupName="fuzz")
    logs.create_log_stream(logGroupName="fuzz", logStreamName="s")
    messages = ['{"level": "error", "user": "andrewbrown", "ms": 12, "tags": ["a", "b"], "req": {"path": "/x"}}',
                '127.0.0.1 - - [02/Dec/2026:00:00:00 +0000] "GET /api/activities/home HTTP/1.1" 200 512',
                "ERROR something failed user=andrewbrown latency=120ms", '{"level": "info", "ms": 3.5}',
                "user@example.com said hi", '{"level": null, "ms": "slow"}']
    logs.put_log_events(logGroupName="fuzz", logStreamName="s", logEvents=[
        {"timestamp": (NOW - 60 + i) * 1000, "message": m} for i, m in enumerate(messages)])
    xray = boto3.client("xray")
    specs = [Spec(response_time=0.2), Spec(status=500, annotations={"user_handle": "andrewbrown"}),
             Spec(downstream="notifications", response_time=1.5)]
    xray.put_trace_segments(TraceSegmentDocuments=[json.dumps(d) for i, spec in enumerate(specs)
                                                   for d in documents(spec, NOW - 120 + i)])
    return module_cloud


INSIGHTS = ["fields", "filter", "stats", "sort", "limit", "parse", "display", "dedup", "unmask", "pattern", "|",
            "@timestamp", "@message", "@logStream", "@log", "level", "ms", "user", "req.path", "tags.0", "count(*)",
            "count()", "avg(ms)", "sum(ms)", "min(ms)", "max(ms)", "pct(ms, 99)", "stddev(ms)", "count_distinct(user)",
            "earliest(@message)", "latest(ms)", "by", "bin(5m)", "bin(1h)", "bin(0s)", "as", "asc", "desc", ",", "(",
            ")", "[", "]", "=", "!=", "<", ">", "<=", ">=", "and", "or", "not", "like", "in", "/err/", "/(a+)+$/",
            "'x'", '"error"', "1", "-1", "0.5", "1e400", "99999999999999999999", "ispresent(level)",
            "strlen(@message)", "toupper(user)", "concat(user, 'x')", "abs(ms)", "floor(ms)", "datefloor(@timestamp, 1h)",
            "fromMillis(ms)", "coalesce(level, 'x')", "isblank(user)", "replace(user, 'a', 'b')", "@message like /x/",
            "* as a", "\"*\" as b", "/(?<u>\\w+)/", "+", "-", "*", "/", "%", "^", "#", "`", "$", "\\"]
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


def mutate(inputs: Inputs, text: str, vocabulary: list[str]) -> str:
    """Sometimes a character dropped, a token inserted, the text cut: near-valid input, where parsers break."""
    r = inputs.r
    pick = r.randrange(10)
    if pick == 0 and text:
        i = r.randrange(len(text))
        return text[:i] + text[i + 1:]
    if pick == 1:
        i = r.randrange(len(text) + 1)
        return text[:i] + " " + r.choice(vocabulary) + " " + text[i:]
    if pick == 2:
        return text[: r.randrange(len(text) + 1)]
    return text


FIELDS = ["@timestamp", "@message", "@logStream", "@log", "level", "ms", "user", "req.path", "tags.0", "nope", "u", "a"]


def insights_query(inputs: Inputs) -> str:
    """A pipeline of Insights commands built from the documented syntax, then perhaps mutated; or token soup."""
    r = inputs.r
    if r.random() < 0.2:
        return inputs.tokens(INSIGHTS, 12)
    field = lambda: r.choice(FIELDS)  # noqa: E731
    literal = lambda: r.choice(["'error'", '"info"', "12", "3.5", "-1", "0", "'andrewbrown'", "1e308", "''"])  # noqa: E731
    expression = lambda: r.choice([field(), field(), f"{r.choice(['strlen', 'toupper', 'tolower', 'abs', 'floor', 'ceil', 'ispresent', 'isblank', 'isempty', 'trim'])}({field()})",  # noqa: E731
                                   f"{field()} {r.choice(['+', '-', '*', '/', '%'])} {r.choice(['2', field()])}",
                                   f"concat({field()}, {literal()})", f"coalesce({field()}, {literal()})",
                                   f"datefloor(@timestamp, {r.choice(['1m', '1h', '5s'])})", literal()])

    def condition(depth: int = 0) -> str:
        pick = r.randrange(8 if depth < 2 else 5)
        if pick < 2:
            return f"{expression()} {r.choice(['=', '!=', '<', '>', '<=', '>='])} {literal()}"
        if pick == 2:
            pattern = r.choice(["/err/", "/^u.*$/", "/(a+)+$/", "'%x%'", "/[/"])
            return f"{field()} like {pattern}"
        if pick == 3:
            return f"{field()} {r.choice(['in', 'not in'])} [{literal()}, {literal()}]"
        if pick == 4:
            return f"ispresent({field()})"
        if pick == 5:
            return f"not ({condition(depth + 1)})"
        return f"{condition(depth + 1)} {r.choice(['and', 'or'])} {condition(depth + 1)}"

    def aggregate() -> str:
        fn = r.choice(["count", "sum", "avg", "min", "max", "stddev", "count_distinct", "earliest", "latest", "pct"])
        if fn == "pct":
            return f"pct({field()}, {r.choice(['50', '99', '101', '-1'])})"
        return f"{fn}({r.choice(['*', field()]) if fn == 'count' else field()})" + r.choice(["", f" as {field()}"])

    commands = [
        lambda: "fields " + ", ".join(expression() + r.choice(["", " as x"]) for _ in range(r.randint(1, 3))),
        lambda: "filter " + condition(),
        lambda: "stats " + ", ".join(aggregate() for _ in range(r.randint(1, 2))) + r.choice(
            ["", f" by {field()}", f" by bin({r.choice(['1m', '5m', '1h', '0s', '30d'])})", f" by {field()}, {field()}"]),
        lambda: f"sort {field()} {r.choice(['asc', 'desc', ''])}",
        lambda: f"limit {r.choice(['1', '10', '10000', '10001', '0', '-5'])}",
        lambda: "parse @message " + r.choice(['"* user=* latency=*" as a, b, u', "/user=(?<u>\\w+)/",
                                              '"[*] *" as a', "/(?<a>/"]),
        lambda: "display " + ", ".join(field() for _ in range(r.randint(1, 3))),
        lambda: "dedup " + ", ".join(field() for _ in range(r.randint(1, 2))),
    ]
    query = " | ".join(r.choice(commands)() for _ in range(r.randint(1, 4)))
    return mutate(inputs, query, INSIGHTS)


def test_insights_queries(data):
    wire = aws_wire(data)
    inputs = Inputs("insights")
    failed: list[str] = []

    def send(query: str) -> Answer:
        answer = send_aws(wire, "logs", ("StartQuery", {"logGroupName": "fuzz", "startTime": NOW - 3600,
                                                        "endTime": NOW + 60, "queryString": query}, None))
        if answer.status != 200:
            return answer
        for _ in range(50):     # GetQueryResults waits a little for a running query; poll as a client does
            results = send_aws(wire, "logs", ("GetQueryResults", {"queryId": answer.json()["queryId"]}, None))
            status = results.json().get("status")
            if status not in ("Scheduled", "Running"):
                break
        if status != "Complete":
            failed.append(f"{query!r}: {status}")
            return Answer(599, {}, f"query ended {status}".encode(), answer.seconds + results.seconds)
        return Answer(results.status, results.headers, results.body, answer.seconds + results.seconds)

    tally = fuzz("insights", (insights_query(inputs) for _ in range(EXAMPLES)), send)
    assert tally.statuses[200] > 500, "too few generated queries were valid to exercise the engine"
    logs = boto3.client("logs")
    query_id = logs.start_query(logGroupName="fuzz", startTime=NOW - 3600, endTime=NOW + 60,
                                queryString="filter level = 'error' | stats count(*) as n")["queryId"]
    results = logs.get_query_results(queryId=query_id)
    assert results["status"] == "Complete" and results["results"] == [[{"field": "n", "value": "1"}]]


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
