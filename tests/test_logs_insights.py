"""Logs Insights against the local cloud: each query's expected result is computed independently with pandas."""
from __future__ import annotations

import json
import math
import random
import re
import time

import boto3
import numpy as np
import pandas as pd
import pytest

from lab_app.localcloud.logs import insights
from lab_app.localcloud.logs.insights.ast import (
    BinOp,
    Call,
    Compare,
    Dedup,
    Field,
    Fields,
    Filter,
    Item,
    Like,
    Limit,
    Not,
    Number,
    Query,
    Regex,
    Sort,
    Star,
    Stats,
)
from lab_app.localcloud.logs.insights.parser import AGGREGATES
from lab_app.localcloud.logs.insights.to_sql import AGGREGATE_FUNCTIONS

GROUP = "insights-table"
ROUTES = ["/api/activities/home", "/api/activities/search", "/api/messages", "/api/activities/notifications"]
N_EVENTS = 1500


def _fmt_ts(ms: int) -> str:
    return pd.Timestamp(ms, unit="ms").strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]


@pytest.fixture(scope="module")
def dataset(module_cloud):
    """Deterministic access logs: JSON lines in one stream, plain-text lines in another."""
    rng = random.Random(7)
    now_ms = int(time.time() * 1000)
    base = (now_ms // 60_000) * 60_000 - 20 * 60_000
    rows = []
    for i in range(N_EVENTS):
        ts = base + i * 700 + rng.randint(0, 600)
        route = rng.choice(ROUTES)
        status = rng.choice([200] * 8 + [404, 500, 503])
        method = "POST" if route == "/api/messages" and rng.random() < 0.5 else "GET"
        latency = round(rng.uniform(1, 50) + (400 if route.endswith("search") and rng.random() < 0.3 else 0), 3)
        user = rng.choice(["andrew", "bayko", None])
        plain = i % 5 == 0
        if plain:
            message = f"{method} {route} {status} {latency}ms"
            stream = "plain"
        else:
            doc = {"route": route, "method": method, "status": status, "latency_ms": latency,
                   "request_id": f"req-{i:05d}", "http": {"method": method, "status_code": status}}
            if user:
                doc["user"] = user
            message = json.dumps(doc)
            stream = "json"
        rows.append(dict(ts=ts, stream=stream, message=message, plain=plain, route=None if plain else route,
                         method=None if plain else method, status=None if plain else status,
                         latency_ms=None if plain else latency, user=None if plain else user,
                         request_id=None if plain else f"req-{i:05d}"))
    df = pd.DataFrame(rows)
    logs = boto3.client("logs")
    logs.create_log_group(logGroupName=GROUP)
    for stream, part in df.groupby("stream"):
        logs.create_log_stream(logGroupName=GROUP, logStreamName=stream)
        part = part.sort_values("ts")
        logs.put_log_events(logGroupName=GROUP, logStreamName=stream,
                            logEvents=[{"timestamp": int(t), "message": m} for t, m in zip(part.ts, part.message)])
    return {"df": df, "start": base // 1000 - 60, "end": now_ms // 1000 + 60}


def wait_results(logs, query_id: str) -> dict:
    for _ in range(200):
        res = logs.get_query_results(queryId=query_id)
        if res["status"] not in ("Scheduled", "Running"):
            return res
        time.sleep(0.02)
    raise AssertionError(f"query {query_id} still {res['status']}")


def run_query(query: str, dataset) -> tuple[list[dict], dict]:
    logs = boto3.client("logs")
    qid = logs.start_query(logGroupName=GROUP, startTime=dataset["start"], endTime=dataset["end"],
                           queryString=query)["queryId"]
    res = wait_results(logs, qid)
    assert res["status"] == "Complete", res
    rows = [{f["field"]: f["value"] for f in row if f["field"] != "@ptr"} for row in res["results"]]
    return rows, res["statistics"]


def _norm(value):
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    try:
        return round(float(value), 6)
    except (TypeError, ValueError):
        return str(value)


def _canon(rows: list[dict], ordered: bool) -> list:
    out = [tuple(sorted((k, _norm(v)) for k, v in r.items() if _norm(v) is not None)) for r in rows]
    return out if ordered else sorted(out, key=repr)


def _json(df):
    return df[~df.plain]


def _plain_parsed(df):
    rx = re.compile(r"(.*?)\ (.*?)\ (.*?)\ (.*?)ms")
    p = df[df.plain].copy()
    parts = p.message.map(lambda m: rx.search(m).groups())
    p["m"] = [x[0] for x in parts]
    p["st"] = [int(x[2]) for x in parts]
    p["ms"] = [float(x[3]) for x in parts]
    return p


def _records(frame: pd.DataFrame) -> list[dict]:
    return frame.to_dict("records")


CASES = [
    ("stats count(*) as n by route",
     lambda df: _records(df.groupby("route", dropna=False).size().rename("n").reset_index()), False),
    ("stats avg(latency_ms) as a, max(latency_ms) as mx, min(latency_ms) as mn, sum(latency_ms) as s by route",
     lambda df: _records(_json(df).groupby("route").latency_ms.agg(a="mean", mx="max", mn="min", s="sum").reset_index())
     + [{}],  # the plain lines have no route: one more group, with a null key and no values
     False),
    ("stats pct(latency_ms, 95) as p95, pct(latency_ms, 50) as p50 by route",
     lambda df: [{"route": r, "p95": np.percentile(g.latency_ms, 95), "p50": np.percentile(g.latency_ms, 50)}
                 for r, g in _json(df).groupby("route")] + [{}], False),
    ("filter status >= 500 | stats count(*) as n by route, status",
     lambda df: _records(_json(df)[_json(df).status >= 500].groupby(["route", "status"]).size().rename("n").reset_index()),
     False),
    ("stats count(*) as n by bin(1m) as minute",
     lambda df: [{"minute": _fmt_ts(k), "n": v} for k, v in df.groupby(df.ts // 60000 * 60000).size().items()], False),
    ("filter route like /search/ | stats count(*) as n",
     lambda df: [{"n": int(_json(df).route.str.contains("search").sum())}], False),
    ('filter route in ["/api/activities/home", "/api/messages"] and status = 200 | stats count(*) as n',
     lambda df: [{"n": int((_json(df).route.isin(["/api/activities/home", "/api/messages"]) & (_json(df).status == 200)).sum())}],
     False),
    ("fields @timestamp, latency_ms | sort latency_ms desc | limit 5",
     lambda df: [{"@timestamp": _fmt_ts(r.ts), "latency_ms": r.latency_ms}
                 for r in _json(df).sort_values("latency_ms", ascending=False).head(5).itertuples()], True),
    ("filter not ispresent(user) | stats count(*) as n",
     lambda df: [{"n": int(df.user.isna().sum())}], False),
    ("stats count_distinct(user) as u, count(user) as c, count(*) as all",
     lambda df: [{"u": _json(df).user.nunique(), "c": int(df.user.notna().sum()), "all": len(df)}], False),
    ('filter http.method = "POST" | stats count(*) as n by http.status_code',
     lambda df: [{"http.status_code": k, "n": v} for k, v in _json(df)[_json(df).method == "POST"].groupby("status").size().items()],
     False),
    ('filter @logStream = "plain" | parse @message "* * * *ms" as method, path, status, ms '
     '| stats count(*) as n, avg(ms) as a by method',
     lambda df: [{"method": k, "n": len(g), "a": g.ms.mean()} for k, g in _plain_parsed(df).groupby("m")], False),
    (r"parse @message /^(?<verb>GET|POST) (?<p>\S+) (?<code>\d+)/ | filter code >= 500 | stats count(*) as n",
     lambda df: [{"n": int((_plain_parsed(df).st >= 500).sum())}], False),
    ('fields concat(route, ":", status) as k | filter ispresent(route) | stats count(*) as n by k',
     lambda df: [{"k": f"{r}:{int(s)}", "n": len(g)} for (r, s), g in _json(df).groupby(["route", "status"])], False),
    ("fields tolower(route) as r | filter ispresent(r) | dedup r | stats count(*) as n",
     lambda df: [{"n": _json(df).route.nunique()}], False),
    ("stats earliest(request_id) as first, latest(request_id) as last",
     lambda df: [{"first": _json(df).sort_values("ts").request_id.iloc[0],
                  "last": _json(df).sort_values("ts").request_id.iloc[-1]}], False),
    ("filter latency_ms > 100 and not (status >= 500) | stats count(*) as n",
     lambda df: [{"n": int(((_json(df).latency_ms > 100) & ~(_json(df).status >= 500)).sum())}], False),
    ('filter @message not like "search" | stats count(*) as n',
     lambda df: [{"n": int((~df.message.str.contains("search")).sum())}], False),
    ("fields floor(latency_ms) as f, ceil(latency_ms) as c, abs(0 - latency_ms) as a | sort a desc | limit 3 "
     "| display f, c, a",
     lambda df: [{"f": math.floor(v), "c": math.ceil(v), "a": v}
                 for v in _json(df).latency_ms.sort_values(ascending=False).head(3)], True),
    ("stats stddev(latency_ms) as sd by route",
     lambda df: _records(_json(df).groupby("route").latency_ms.std().rename("sd").reset_index()) + [{}], False),
    ("fields substr(route, 0, 8) as p | filter ispresent(route) | stats count(*) as n by p",
     lambda df: [{"p": k, "n": v} for k, v in _json(df).route.str[:8].value_counts().items()], False),
    ('fields coalesce(user, "anonymous") as who | filter ispresent(route) | stats count(*) as n by who',
     lambda df: [{"who": k, "n": v} for k, v in _json(df).user.fillna("anonymous").value_counts().items()], False),
    ('filter strcontains(route, "activities") | stats count(*) as n',
     lambda df: [{"n": int(_json(df).route.str.contains("activities").sum())}], False),
    ("stats count(*) as n by @logStream",
     lambda df: [{"@logStream": k, "n": v} for k, v in df.stream.value_counts().items()], False),
    ("stats count(*) as n by route | sort n desc | limit 2",
     lambda df: [{"route": k, "n": v} for k, v in _json(df).route.value_counts().head(2).items()], True),
    ('fields replace(route, "/api/", "") as r | filter ispresent(r) | stats count(*) as n by r',
     lambda df: [{"r": k.replace("/api/", ""), "n": v} for k, v in _json(df).route.value_counts().items()], False),
    ("stats avg(latency_ms) * 2 + 1 as x",
     lambda df: [{"x": _json(df).latency_ms.mean() * 2 + 1}], False),
    ("fields datefloor(@timestamp, 5m) as b | stats count(*) as n by b",
     lambda df: [{"b": _fmt_ts(k), "n": v} for k, v in df.groupby(df.ts // 300000 * 300000).size().items()], False),
    ("# only the 404s\nfilter status = 404 # trailing comment\n| stats count(*) as n",
     lambda df: [{"n": int((_json(df).status == 404).sum())}], False),
    ("filter status != 200 and latency_ms <= 10 or user = 'bayko' and status = 503 | stats count(*) as n",
     lambda df: [{"n": int((((_json(df).status != 200) & (_json(df).latency_ms <= 10))
                           | ((_json(df).user == "bayko") & (_json(df).status == 503))).sum())}], False),
    ("filter status not in [200, 404] | stats count(*) as n by status",
     lambda df: [{"status": k, "n": v} for k, v in _json(df)[~_json(df).status.isin([200, 404])].status.value_counts().items()],
     False),
    ("fields strlen(@message) as L | stats max(L) as m",
     lambda df: [{"m": df.message.str.len().max()}], False),
    ("fields fromMillis(toMillis(@timestamp)) as t2, @timestamp | sort @timestamp asc | limit 2 | display t2",
     lambda df: [{"t2": _fmt_ts(t)} for t in df.ts.sort_values().head(2)], True),
    ("stats count(*) as n by route | stats max(n) as biggest, count(*) as groups",
     lambda df: [{"biggest": df.groupby("route", dropna=False).size().max(), "groups": df.route.nunique() + 1}], False),
    ("filter isempty(user) | stats count(*) as n",
     lambda df: [{"n": int(df.user.isna().sum())}], False),
    ('fields trim(concat("  ", route, "  ")) as t | filter ispresent(route) | stats count_distinct(t) as n',
     lambda df: [{"n": _json(df).route.nunique()}], False),
    ("fields request_id | filter ispresent(request_id) | sort route asc, latency_ms desc | limit 4 | display request_id",
     lambda df: [{"request_id": r} for r in _json(df).sort_values(["route", "latency_ms"], ascending=[True, False])
                 .request_id.head(4)], True),
    ("fields @message | filter @message =~ /(?i)get \\/api\\/messages/ | stats count(*) as n",
     lambda df: [{"n": int(df.message.str.contains(r"(?i)get /api/messages").sum())}], False),
]


@pytest.mark.parametrize("query,expected,ordered", CASES, ids=[c[0][:60] for c in CASES])
def test_insights_query_matches_pandas(dataset, query, expected, ordered):
    rows, stats = run_query(query, dataset)
    want = expected(dataset["df"])
    assert _canon(rows, ordered) == _canon(want, ordered)
    assert stats["recordsScanned"] == len(dataset["df"])


def test_default_fields_and_limit(dataset):
    rows, stats = run_query("filter status = 503", dataset)
    df = _json(dataset["df"])
    assert len(rows) == int((df.status == 503).sum())
    assert stats["recordsMatched"] == len(rows)
    assert set(rows[0]) == {"@timestamp", "@message", "@logStream", "@log"}
    assert rows[0]["@log"].endswith(":" + GROUP)
    # newest first by default
    assert [r["@timestamp"] for r in rows] == sorted((r["@timestamp"] for r in rows), reverse=True)
    rows, _ = run_query("fields @message", dataset)
    assert len(rows) == len(dataset["df"])  # under the 10,000 default


def test_start_query_limit_parameter(dataset):
    logs = boto3.client("logs")
    qid = logs.start_query(logGroupName=GROUP, startTime=dataset["start"], endTime=dataset["end"],
                           queryString="fields @message", limit=7)["queryId"]
    assert len(wait_results(logs, qid)["results"]) == 7


def test_records_matched_counts_events(dataset):
    df = _json(dataset["df"])
    _, stats = run_query("filter status = 404 | stats count(*) as n by route | filter n > 1000", dataset)
    assert stats["recordsMatched"] == int((df.status == 404).sum())
    _, stats = run_query("stats count(*) as n by route | filter n > 1000", dataset)
    assert stats["recordsMatched"] == len(dataset["df"])
    _, stats = run_query("filter status = 404 | limit 3", dataset)
    assert stats["recordsMatched"] == int((df.status == 404).sum())


def test_results_shape_and_statistics(dataset):
    logs = boto3.client("logs")
    qid = logs.start_query(logGroupName=GROUP, startTime=dataset["start"], endTime=dataset["end"],
                           queryString="fields @timestamp, @message | limit 3")["queryId"]
    res = wait_results(logs, qid)
    assert res["status"] == "Complete"
    assert len(res["results"]) == 3
    assert all(isinstance(f["value"], str) for row in res["results"] for f in row)
    assert [f["field"] for f in res["results"][0]] == ["@timestamp", "@message", "@ptr"]
    assert set(res["statistics"]) == {"recordsMatched", "recordsScanned", "bytesScanned"}
    assert res["statistics"]["bytesScanned"] == sum(len(m.encode()) for m in dataset["df"].message)
    described = logs.describe_queries(logGroupName=GROUP)["queries"]
    assert qid in [q["queryId"] for q in described]
    assert logs.stop_query(queryId=qid)["success"] is False  # already complete


def test_ptr_leads_to_the_full_record(dataset):
    logs = boto3.client("logs")
    qid = logs.start_query(logGroupName=GROUP, startTime=dataset["start"], endTime=dataset["end"],
                           queryString='filter request_id = "req-00001" | fields @timestamp')["queryId"]
    (row,) = wait_results(logs, qid)["results"]
    ptr = next(f["value"] for f in row if f["field"] == "@ptr")
    record = logs.get_log_record(logRecordPointer=ptr)["logRecord"]
    assert record["request_id"] == "req-00001" and record["http.method"] in ("GET", "POST")
    assert record["@logStream"] == "json" and json.loads(record["@message"])["request_id"] == "req-00001"
    with pytest.raises(logs.exceptions.InvalidParameterException):
        logs.get_log_record(logRecordPointer="not-a-pointer")


def test_time_range_restricts_events(dataset):
    df = dataset["df"]
    cut = int(df.ts.median() // 1000)
    logs = boto3.client("logs")
    qid = logs.start_query(logGroupName=GROUP, startTime=cut, endTime=dataset["end"],
                           queryString="stats count(*) as n")["queryId"]
    res = wait_results(logs, qid)
    assert int(res["results"][0][0]["value"]) == int((df.ts >= cut * 1000).sum())


@pytest.mark.parametrize("query,start", [
    ("stats count(* by route", 14),
    ("fields @message | | limit 3", 18),
    ("filter status =", 15),
    ("select @message", 0),
    ("limit abc", 6),
    ("stats count(*) by route | filter nope(1) = 2", 33),
    ("fields avg(latency_ms)", 7),
    ("parse @message \"* *\" as onlyone", 15),
    ("filter @message like /(unclosed/", 21),
    ("filter @message like /a(?=b)/", 21),  # look-ahead: Python accepts it, RE2 does not
    ("stats count(*) as n | filter route = 'x'", 29),
])
def test_malformed_query_reports_position(dataset, query, start):
    logs = boto3.client("logs")
    with pytest.raises(logs.exceptions.MalformedQueryException) as info:
        logs.start_query(logGroupName=GROUP, startTime=dataset["start"], endTime=dataset["end"], queryString=query)
    location = info.value.response["queryCompileError"]["location"]
    assert location["startCharOffset"] == start
    assert location["endCharOffset"] >= start
    # the server keeps serving
    assert logs.describe_log_groups(logGroupNamePrefix=GROUP)["logGroups"]


def test_query_unknown_group_and_bad_ranges(dataset):
    logs = boto3.client("logs")
    with pytest.raises(logs.exceptions.ResourceNotFoundException):
        logs.start_query(logGroupName="no-such-group", startTime=0, endTime=10, queryString="fields @message")
    with pytest.raises(logs.exceptions.InvalidParameterException):
        logs.start_query(logGroupName=GROUP, startTime=10, endTime=0, queryString="fields @message")
    with pytest.raises(logs.exceptions.ResourceNotFoundException):
        logs.get_query_results(queryId="00000000-0000-0000-0000-000000000000")


def test_log_group_identifiers_and_several_groups(dataset):
    logs = boto3.client("logs")
    arn = f"arn:aws:logs:us-east-1:123456789012:log-group:{GROUP}"
    qid = logs.start_query(logGroupIdentifiers=[arn], startTime=dataset["start"], endTime=dataset["end"],
                           queryString="stats count(*) as n")["queryId"]
    assert wait_results(logs, qid)["results"][0][0]["value"] == str(len(dataset["df"]))
    # the StartQuery reference: "If you specify an ARN, ... Don't include an * at the end" (AWS refuses it with
    # InvalidParameterException, as reported in grafana/grafana#79155)
    with pytest.raises(logs.exceptions.InvalidParameterException, match="at 'logGroupIdentifiers.1.member' failed"):
        logs.start_query(logGroupIdentifiers=[arn + ":*"], startTime=dataset["start"], endTime=dataset["end"],
                         queryString="stats count(*) as n")


def test_stop_query_cancels_a_scheduled_query(dataset, module_cloud, monkeypatch):
    """Hold the worker so the query is still Scheduled when StopQuery arrives (deterministic)."""
    import threading

    backend = module_cloud.component("logs").backend
    gate = threading.Event()
    original = backend._run_query

    def held(query_id, compiled):
        gate.wait(10)
        original(query_id, compiled)

    monkeypatch.setattr(backend, "_run_query", held)
    logs = boto3.client("logs")
    qid = logs.start_query(logGroupName=GROUP, startTime=dataset["start"], endTime=dataset["end"],
                           queryString="stats count(*)")["queryId"]
    assert logs.get_query_results(queryId=qid)["status"] == "Scheduled"
    running = logs.describe_queries(logGroupName=GROUP, status="Scheduled")["queries"]
    assert [q["queryId"] for q in running] == [qid]
    assert logs.stop_query(queryId=qid)["success"] is True
    gate.set()
    res = wait_results(logs, qid)
    assert res["status"] == "Cancelled" and res["results"] == []
    assert logs.stop_query(queryId=qid)["success"] is False
    # stored like any finished query, and out of memory (a query stopped before it started used to stay there)
    deadline = time.monotonic() + 5
    while qid in backend._jobs and time.monotonic() < deadline:
        time.sleep(0.01)
    assert qid not in backend._jobs
    stored = {q["queryId"]: q["status"] for q in logs.describe_queries(logGroupName=GROUP)["queries"]}
    assert stored[qid] == "Cancelled"


def test_query_text_never_reaches_sql(dataset):
    """Strings, regexes and field names are bound parameters or generated column names: SQL-looking
    text is just text, and the events table is untouched afterwards."""
    hostile = [
        "filter route = \"x'); DELETE FROM logs_events; --\" | stats count(*) as n",
        "filter @message like /'; DROP TABLE logs_events; --/ | stats count(*) as n",
        "fields `a\"; DROP TABLE logs_events; --` as `b\" --` | stats count(*) as n",
        'parse @message "*\'); DELETE FROM logs_events; --*" as x, y | filter ispresent(x) | stats count(*) as n',
    ]
    for query in hostile:
        rows, _ = run_query(query, dataset)
        assert rows in ([{"n": "0"}], [{"n": str(len(dataset["df"]))}]), (query, rows)
    rows, _ = run_query("stats count(*) as n", dataset)
    assert rows == [{"n": str(len(dataset["df"]))}]


def test_several_groups_and_the_log_field(dataset):
    logs = boto3.client("logs")
    logs.create_log_group(logGroupName="insights-second")
    logs.create_log_stream(logGroupName="insights-second", logStreamName="s")
    t = int(time.time() * 1000)
    logs.put_log_events(logGroupName="insights-second", logStreamName="s",
                        logEvents=[{"timestamp": t + i, "message": json.dumps({"route": "/x"})} for i in range(3)])
    qid = logs.start_query(logGroupNames=[GROUP, "insights-second"], startTime=dataset["start"],
                           endTime=dataset["end"] + 60, queryString="stats count(*) as n by @log")["queryId"]
    got = {row[0]["value"]: row[1]["value"] for row in wait_results(logs, qid)["results"]}
    assert got == {f"123456789012:{GROUP}": str(len(dataset["df"])), "123456789012:insights-second": "3"}


# query -> the AST insights.parse builds (character offsets included), written out by hand
PARSE_TABLE = [
    ("limit 5", (Limit(5),)),
    ("filter status >= 500", (Filter(Compare(">=", Field("status", 7, 13), Number(500.0))),)),
    ("fields @timestamp, route as r", (Fields((Item(Field("@timestamp", 7, 17), None, "@timestamp", 7, 17),
                                              Item(Field("route", 19, 24), "r", "route", 19, 29))),)),
    ("stats count(*) by route", (Stats((Item(Call("count", (Star(),), 6, 14), None, "count(*)", 6, 14),),
                                       (Item(Field("route", 18, 23), None, "route", 18, 23),)),)),
    ("sort @timestamp desc | dedup route", (Sort(((Field("@timestamp", 5, 15), True),)), Dedup(("route",)))),
    ("filter route like /api/ and not ispresent(user)",
     (Filter(BinOp("and", Like(Field("route", 7, 12), Regex("api", 18, 23)),
                   Not(Call("ispresent", (Field("user", 42, 46),), 32, 47)))),)),
]


@pytest.mark.parametrize("query,commands", PARSE_TABLE, ids=[row[0] for row in PARSE_TABLE])
def test_parse_builds_the_ast(query, commands):
    assert insights.parse(query) == Query(commands, query)


def test_every_aggregate_the_parser_knows_compiles():
    assert set(AGGREGATE_FUNCTIONS) == AGGREGATES
