"""The newer Logs Insights commands (pattern, filterIndex, unnest with jsonParse) and StartQuery's queryLanguage:
the grammar's literal query -> AST rows, and results compared with values worked out by hand."""
from __future__ import annotations

import hashlib
import json
import time

import boto3
import pytest

from lab_app.localcloud.logs import insights
from lab_app.localcloud.logs.exceptions import MalformedQueryException
from lab_app.localcloud.logs.insights.ast import (
    Call,
    Compare,
    Field,
    Fields,
    FilterIndex,
    In,
    Item,
    Limit,
    Number,
    Pattern,
    Query,
    Sort,
    String,
    Unnest,
)

GROUP = "commands-group"
# message -> how many times it is written (with its own numbers); the pattern each one falls into, by hand
LINES = [
    ("INFO request {n} completed in {m} ms", 5, "INFO request <*> completed in <*> ms", "Info"),
    ("ERROR timeout calling 10.0.0.{n}:8080 after {m}ms", 2, "ERROR timeout calling <*> after <*>", "Error"),
    ("WARN cache miss for key session-{n}f2c", 3, "WARN cache miss for key <*>", "Warning"),
    ("user 2f1e7b3c-1111-2222-3333-44445555666{n} logged in at 2026-12-02T03:00:0{n}Z", 1,
     "user <*> logged in at <*>", "Unknown"),
]
N_EVENTS = sum(count for _, count, _, _ in LINES)


@pytest.fixture(scope="module")
def dataset(module_cloud):
    logs = boto3.client("logs")
    logs.create_log_group(logGroupName=GROUP)
    logs.create_log_stream(logGroupName=GROUP, logStreamName="app")
    now = int(time.time() * 1000)
    events = []
    for template, count, _, _ in LINES:
        for i in range(count):
            events.append(template.format(n=i + 1, m=(i + 1) * 7))
    json_docs = [{"order": "o1", "items": [{"sku": "a", "qty": 2}, {"sku": "b", "qty": 1}]},
                 {"order": "o2", "items": [{"sku": "a", "qty": 5}]},
                 {"order": "o3", "items": []},
                 {"order": "o4", "items": {"sku": "c", "qty": 4}}]    # not a list: one item, as documented
    logs.create_log_stream(logGroupName=GROUP, logStreamName="orders")
    logs.put_log_events(logGroupName=GROUP, logStreamName="app",
                        logEvents=[{"timestamp": now + i, "message": m} for i, m in enumerate(events)])
    logs.put_log_events(logGroupName=GROUP, logStreamName="orders",
                        logEvents=[{"timestamp": now + i, "message": json.dumps(d)} for i, d in enumerate(json_docs)])
    return {"logs": logs, "start": now // 1000 - 60, "end": now // 1000 + 60, "orders": json_docs}


def run(dataset, query: str) -> list[dict]:
    logs = dataset["logs"]
    qid = logs.start_query(logGroupName=GROUP, startTime=dataset["start"], endTime=dataset["end"],
                           queryString=query)["queryId"]
    for _ in range(300):
        res = logs.get_query_results(queryId=qid)
        if res["status"] not in ("Scheduled", "Running"):
            break
        time.sleep(0.02)
    assert res["status"] == "Complete", res
    return [{f["field"]: f["value"] for f in row if f["field"] != "@ptr"} for row in res["results"]]


def test_pattern_clusters_the_messages(dataset):
    rows = run(dataset, 'filter @logStream = "app" | pattern @message')
    want = sorted(((p, count, severity) for _, count, p, severity in LINES), key=lambda r: (-r[1], r[0]))
    assert [(r["@pattern"], int(r["@sampleCount"]), r["@severityLabel"]) for r in rows] == want
    for r in rows:
        assert r["@patternId"] == hashlib.md5(r["@pattern"].encode()).hexdigest()
        assert float(r["@ratio"]) == pytest.approx(int(r["@sampleCount"]) / N_EVENTS)
    assert list(rows[0]) == ["@pattern", "@patternId", "@sampleCount", "@ratio", "@severityLabel"]


def test_pattern_then_sort_filter_and_limit(dataset):
    rows = run(dataset, 'filter @logStream = "app" | pattern @message | filter @sampleCount > 1 '
                        '| sort @sampleCount asc | limit 2 | display @pattern, @sampleCount')
    assert rows == [{"@pattern": "ERROR timeout calling <*> after <*>", "@sampleCount": "2"},
                    {"@pattern": "WARN cache miss for key <*>", "@sampleCount": "3"}]
    # on a parsed field (the documented inputs: @message, a parse field or a string function)
    rows = run(dataset, 'filter @logStream = "app" | parse @message "* *" as level, rest | pattern tolower(rest)')
    assert {r["@pattern"]: r["@sampleCount"] for r in rows} == {
        "request <*> completed in <*> ms": "5", "timeout calling <*> after <*>": "2", "cache miss for key <*>": "3",
        "<*> logged in at <*>": "1"}


def test_unnest_json_parse(dataset):
    rows = run(dataset, 'filter @logStream = "orders" | fields jsonParse(@message) as js | unnest js.items into item '
                        '| display js.order, item.sku, item.qty')
    # by hand: o1 has two items, o2 one, o3 none (dropped), o4 an object (one item)
    assert sorted((r.get("js.order"), r.get("item.sku"), r.get("item.qty")) for r in rows) == [
        ("o1", "a", "2"), ("o1", "b", "1"), ("o2", "a", "5"), ("o4", "c", "4")]
    rows = run(dataset, 'filter @logStream = "orders" | fields jsonParse(@message) as js | unnest js.items into item '
                        '| stats sum(item.qty) as q by item.sku')
    assert {r["item.sku"]: r["q"] for r in rows} == {"a": "7", "b": "1", "c": "4"}


def test_filter_index_within_an_indexed_group(dataset):
    logs = dataset["logs"]
    logs.put_index_policy(logGroupIdentifier=GROUP, policyDocument=json.dumps({"Fields": ["order"]}))
    rows = run(dataset, 'filterIndex order in ["o1", "o4"] | fields order | sort order asc')
    assert [r["order"] for r in rows] == ["o1", "o4"]
    logs.delete_index_policy(logGroupIdentifier=GROUP)
    assert run(dataset, 'filterIndex order = "o1" | stats count(*) as n') == [{"n": "0"}]


# query -> the AST, written out by hand
PARSE_TABLE = [
    ('filterIndex requestId = "r1"',
     (FilterIndex("requestId", Compare("=", Field("requestId", 12, 21), String("r1"))),)),
    ("filterIndex status in [500, 503] | limit 5",
     (FilterIndex("status", In(Field("status", 12, 18), (Number(500.0), Number(503.0)))), Limit(5))),
    ("pattern @message", (Pattern(Field("@message", 8, 16)),)),
    ("pattern @message | sort @sampleCount desc",
     (Pattern(Field("@message", 8, 16)), Sort(((Field("@sampleCount", 24, 36), True),)))),
    ("unnest js.items into item", (Unnest("js.items", "item"),)),
    ("fields jsonParse(@message) as js",
     (Fields((Item(Call("jsonparse", (Field("@message", 17, 25),), 7, 26), "js", "jsonParse(@message)", 7, 32),)),)),
]


@pytest.mark.parametrize("query,commands", PARSE_TABLE, ids=[row[0] for row in PARSE_TABLE])
def test_parse_builds_the_ast(query, commands):
    assert insights.parse(query) == Query(commands, query)


@pytest.mark.parametrize("query", [
    "filterIndex status > 500",              # only = and IN
    "filterIndex status not in [1]",
    "filterIndex status = other_field",
    "stats count(*) by route | filterIndex route = 'x'",   # after stats the events are gone
    "pattern @message | filterIndex a = 1",
    "filterIndex",
    "pattern",
    "unnest items",
    "unnest items into",
])
def test_malformed_new_commands(query):
    with pytest.raises(MalformedQueryException):
        insights.parse(query)


def test_ppl_outside_its_subset_is_malformed(dataset):
    logs = dataset["logs"]
    with pytest.raises(logs.exceptions.MalformedQueryException, match="PPL"):
        logs.start_query(logGroupName=GROUP, startTime=dataset["start"], endTime=dataset["end"],
                         queryString="patterns new_field='x' pattern='[0-9]' message", queryLanguage="PPL")
    assert run(dataset, "stats count(*) as n") == [{"n": str(N_EVENTS + len(dataset["orders"]))}]
