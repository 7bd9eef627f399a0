"""Fuzz: Logs Insights with 2,000 queries of its own tokens in random order (mostly malformed, some valid) and
arbitrary text: StartQuery, then GetQueryResults; a query the parser accepted must complete, never fail at run
time. Filter patterns and X-Ray filter expressions are in test_fuzz_filters.py (a file each, so two xdist workers
share them), Honeycomb query specs in test_fuzz_daemon_apis.py."""
from __future__ import annotations

import boto3
import pytest
from fuzz_support import EXAMPLES, NOW, Answer, Inputs, aws_wire, fuzz, mutate, query_resources, send_aws

_data = pytest.fixture(scope="module", name="data")(query_resources)


INSIGHTS = ["fields", "filter", "stats", "sort", "limit", "parse", "display", "dedup", "unmask", "pattern", "|",
            "@timestamp", "@message", "@logStream", "@log", "level", "ms", "user", "req.path", "tags.0", "count(*)",
            "count()", "avg(ms)", "sum(ms)", "min(ms)", "max(ms)", "pct(ms, 99)", "stddev(ms)", "count_distinct(user)",
            "earliest(@message)", "latest(ms)", "by", "bin(5m)", "bin(1h)", "bin(0s)", "as", "asc", "desc", ",", "(",
            ")", "[", "]", "=", "!=", "<", ">", "<=", ">=", "and", "or", "not", "like", "in", "/err/", "/(a+)+$/",
            "'x'", '"error"', "1", "-1", "0.5", "1e400", "99999999999999999999", "ispresent(level)",
            "strlen(@message)", "toupper(user)", "concat(user, 'x')", "abs(ms)", "floor(ms)", "datefloor(@timestamp, 1h)",
            "fromMillis(ms)", "coalesce(level, 'x')", "isblank(user)", "replace(user, 'a', 'b')", "@message like /x/",
            "* as a", "\"*\" as b", "/(?<u>\\w+)/", "+", "-", "*", "/", "%", "^", "#", "`", "$", "\\"]
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


