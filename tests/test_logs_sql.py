"""StartQuery queryLanguage="SQL" (the OpenSearch SQL subset) against the local cloud: every result compared with
pandas over the same events, and what is outside the subset answered with MalformedQueryException."""
from __future__ import annotations

import json
import math
import random
import time

import boto3
import pandas as pd
import pytest

from lab_app.localcloud.logs import sql
from lab_app.localcloud.logs.insights.ast import (
    BinOp,
    Call,
    Compare,
    Display,
    Field,
    Fields,
    Filter,
    Item,
    Like,
    Limit,
    Number,
    Regex,
    Sort,
    Star,
    Stats,
    String,
)

GROUP, OTHER = "sql-a", "sql-b"
ROUTES = ["/api/messages", "/api/activities/home", "/api/activities/search"]


@pytest.fixture(scope="module")
def dataset(module_cloud):
    rng = random.Random(11)
    logs = boto3.client("logs")
    now = int(time.time() * 1000)
    rows = []
    for group, n in ((GROUP, 300), (OTHER, 120)):
        logs.create_log_group(logGroupName=group)
        logs.create_log_stream(logGroupName=group, logStreamName="s")
        events = []
        for i in range(n):
            doc = {"route": rng.choice(ROUTES), "status": rng.choice([200] * 6 + [404, 500]),
                   "latency": round(rng.uniform(1, 90), 2)}
            if rng.random() < 0.7:
                doc["user"] = rng.choice(["andrew", "bayko", "Andrew"])
            events.append({"timestamp": now - 60_000 + i, "message": json.dumps(doc)})
            rows.append({"group": group, "ts": now - 60_000 + i, **doc})
        logs.put_log_events(logGroupName=group, logStreamName="s", logEvents=events)
    df = pd.DataFrame(rows)
    return {"logs": logs, "df": df, "start": now // 1000 - 120, "end": now // 1000 + 60}


def run_sql(dataset, query: str) -> list[dict]:
    logs = dataset["logs"]
    qid = logs.start_query(queryLanguage="SQL", queryString=query, startTime=dataset["start"],
                           endTime=dataset["end"])["queryId"]
    for _ in range(300):
        res = logs.get_query_results(queryId=qid)
        if res["status"] not in ("Scheduled", "Running"):
            break
        time.sleep(0.02)
    assert res["status"] == "Complete", res
    return [{f["field"]: f["value"] for f in row if f["field"] != "@ptr"} for row in res["results"]]


def norm(rows, ordered=False):
    def value(v):
        try:
            return round(float(v), 6)
        except (TypeError, ValueError):
            return v
    out = [tuple(sorted((k, value(v)) for k, v in r.items() if v is not None and not (
        isinstance(v, float) and math.isnan(v)))) for r in rows]
    return out if ordered else sorted(out, key=repr)


def a(df):
    return df[df.group == GROUP]


CASES = [
    ("SELECT COUNT(*) AS n FROM `sql-a`", lambda df: [{"n": len(a(df))}], False),
    ("SELECT route, COUNT(*) AS n FROM `sql-a` WHERE status = 500 GROUP BY route",
     lambda df: [{"route": k, "n": v} for k, v in a(df)[a(df).status == 500].route.value_counts().items()], False),
    ("SELECT route, AVG(latency) AS avg_ms, MAX(latency) AS worst FROM `sql-a` GROUP BY route HAVING avg_ms > 0 "
     "ORDER BY worst DESC",
     lambda df: [{"route": k, "avg_ms": g.latency.mean(), "worst": g.latency.max()}
                 for k, g in sorted(a(df).groupby("route"), key=lambda kg: -kg[1].latency.max())], True),
    ("SELECT route, status FROM `sql-a` WHERE latency > 85 ORDER BY latency DESC LIMIT 3",
     lambda df: [{"route": r.route, "status": r.status}
                 for r in a(df)[a(df).latency > 85].sort_values("latency", ascending=False).head(3).itertuples()],
     True),
    ("SELECT COUNT(*) AS n FROM `sql-a` WHERE route LIKE '%activities%' AND status <> 200",
     lambda df: [{"n": int((a(df).route.str.contains("activities") & (a(df).status != 200)).sum())}], False),
    ("SELECT COUNT(*) AS n FROM `sql-a` WHERE user IS NULL",
     lambda df: [{"n": int(a(df).user.isna().sum())}], False),
    ("SELECT COUNT(DISTINCT user) AS users, COUNT(user) AS with_user FROM `sql-a`",
     lambda df: [{"users": a(df).user.nunique(), "with_user": int(a(df).user.notna().sum())}], False),
    ("SELECT lower(user) AS who, COUNT(*) AS n FROM `sql-a` WHERE user IS NOT NULL GROUP BY lower(user)",
     lambda df: [{"who": k, "n": v} for k, v in a(df).user.dropna().str.lower().value_counts().items()], False),
    ("SELECT status, SUM(latency) AS total FROM `sql-a` WHERE status IN (404, 500) AND latency BETWEEN 10 AND 50 "
     "GROUP BY status",
     lambda df: [{"status": k, "total": g.latency.sum()} for k, g in
                 a(df)[a(df).status.isin([404, 500]) & a(df).latency.between(10, 50)].groupby("status")], False),
    ("SELECT `@log`, COUNT(*) AS n FROM `logGroups(logGroupIdentifier: ['sql-a', 'sql-b'])` GROUP BY `@log`",
     lambda df: [{"@log": f"123456789012:{k}", "n": v} for k, v in df.group.value_counts().items()], False),
    ("SELECT COUNT(*) AS n FROM `logGroups(logGroupIdentifier: ['arn:aws:logs:us-east-1:123456789012:log-group:sql-b'])`",
     lambda df: [{"n": int((df.group == OTHER).sum())}], False),
    ("select route as r, count(*) as n from `sql-a` group by route order by n desc limit 1;",
     lambda df: [{"r": a(df).route.value_counts().index[0], "n": a(df).route.value_counts().iloc[0]}], True),
]


@pytest.mark.parametrize("query,expected,ordered", CASES, ids=[c[0][:60] for c in CASES])
def test_sql_matches_pandas(dataset, query, expected, ordered):
    assert norm(run_sql(dataset, query), ordered) == norm(expected(dataset["df"]), ordered)


def test_select_star_shows_the_default_fields(dataset):
    rows = run_sql(dataset, "SELECT * FROM `sql-b` ORDER BY `@timestamp` ASC LIMIT 2")
    assert [set(r) for r in rows] == [{"@timestamp", "@message", "@logStream", "@log"}] * 2
    first = dataset["df"][dataset["df"].group == OTHER].sort_values("ts").iloc[0]
    assert json.loads(rows[0]["@message"])["latency"] == first.latency
    logs = dataset["logs"]
    qid = logs.start_query(queryLanguage="SQL", queryString="SELECT * FROM `sql-b` LIMIT 1",
                           startTime=dataset["start"], endTime=dataset["end"])["queryId"]
    described = {q["queryId"]: q for q in logs.describe_queries()["queries"]}
    assert described[qid]["queryLanguage"] == "SQL"
    assert logs.list_log_groups_for_query(queryId=qid)["logGroupIdentifiers"] == [
        "arn:aws:logs:us-east-1:123456789012:log-group:sql-b"]


@pytest.mark.parametrize("query", [
    "SELECT * FROM `sql-a` a INNER JOIN `sql-b` b ON a.route = b.route",
    "SELECT * FROM `sql-a` UNION SELECT * FROM `sql-b`",
    "SELECT * FROM (SELECT route FROM `sql-a`)",
    "SELECT route, status FROM `sql-a` GROUP BY route",
    "SELECT json_extract(x, '$.a') FROM `sql-a`",
    "SELECT * FROM `sql-a` GROUP BY route",
    "SELECT route FROM `sql-a` HAVING COUNT(*) > 1",
    "SELECT route, COUNT(*) FROM `sql-a` GROUP BY route ORDER BY SUM(latency)",
    "DELETE FROM `sql-a`",
    "SELECT * FROM `filterIndex('region' > 'us-east-1')`",
    "",
], ids=["join", "union", "subquery", "ungrouped column", "json function", "star grouped", "having without group",
        "order by unselected aggregate", "delete", "filterIndex with >", "empty"])
def test_outside_the_subset_is_malformed(dataset, query):
    from botocore.config import Config

    raw = boto3.client("logs", config=Config(parameter_validation=False))
    with pytest.raises(raw.exceptions.ClientError) as info:
        raw.start_query(queryLanguage="SQL", queryString=query, startTime=dataset["start"], endTime=dataset["end"])
    code = info.value.response["Error"]["Code"]
    assert code == ("InvalidParameterException" if query == "" else "MalformedQueryException"), info.value.response
    if code == "MalformedQueryException":
        assert "queryCompileError" in info.value.response


def test_from_filter_index_reads_the_indexed_groups(dataset):
    logs, df = dataset["logs"], dataset["df"]
    logs.put_index_policy(logGroupIdentifier=GROUP, policyDocument=json.dumps({"Fields": ["route"]}))
    try:
        qid = logs.start_query(queryLanguage="SQL", startTime=dataset["start"], endTime=dataset["end"],
                               queryString="SELECT COUNT(*) AS n FROM `filterIndex('route' in ['/api/messages', "
                                           "'/api/activities/home'])`")["queryId"]
        for _ in range(300):
            res = logs.get_query_results(queryId=qid)
            if res["status"] == "Complete":
                break
            time.sleep(0.02)
        # sql-b has no index on route: only sql-a is read
        want = int(((df.group == GROUP) & df.route.isin(["/api/messages", "/api/activities/home"])).sum())
        assert res["results"] == [[{"field": "n", "value": str(want)}]]
        assert logs.list_log_groups_for_query(queryId=qid)["logGroupIdentifiers"] == [
            "arn:aws:logs:us-east-1:123456789012:log-group:" + GROUP]
    finally:
        logs.delete_index_policy(logGroupIdentifier=GROUP)


def test_sql_errors_for_groups(dataset):
    logs = dataset["logs"]
    with pytest.raises(logs.exceptions.ResourceNotFoundException):
        logs.start_query(queryLanguage="SQL", queryString="SELECT * FROM `no-such-group`", startTime=dataset["start"],
                         endTime=dataset["end"])
    with pytest.raises(logs.exceptions.InvalidParameterException, match="FROM clause"):
        logs.start_query(queryLanguage="SQL", queryString="SELECT * FROM `sql-a`", logGroupName=GROUP,
                         startTime=dataset["start"], endTime=dataset["end"])


# SQL -> (log groups, the Insights AST), written out by hand
PARSE_TABLE = [
    ("SELECT * FROM `g`", ("g",), ()),
    ("SELECT `@message` FROM `g` WHERE status = 500 LIMIT 2", ("g",), (
        Filter(Compare("=", Field("status", 33, 39), Number(500.0))),
        Fields((Item(Field("@message", 7, 17), None, "@message", 7, 17),)), Limit(2), Display(("@message",)))),
    ("SELECT route AS r FROM `logGroups(logGroupIdentifier: ['a', 'b'])` WHERE route LIKE '%api_' ORDER BY r", ("a", "b"), (
        Filter(Like(Field("route", 73, 78), Regex("(?s)^.*api.$"))),
        Fields((Item(Field("route", 7, 12), "r", "route", 7, 17),)), Sort(((Field("r", 101, 102), False),)),
        Display(("r",)))),
    ("SELECT route, COUNT(*) AS n FROM `g` GROUP BY route HAVING n > 1 AND COUNT(*) < 9", ("g",), (
        Stats((Item(Call("count", (Star(),), 14, 22), "n", "COUNT(*)", 14, 27),),
              (Item(Field("route", 7, 12), None, "route", 7, 12),)),
        Filter(BinOp("and", Compare(">", Field("n", 59, 60), Number(1.0)), Compare("<", Field("n"), Number(9.0)))),
        Display(("route", "n")))),
    ("SELECT COUNT(*) AS n FROM `g` WHERE user = 'o''brien'", ("g",), (
        Filter(Compare("=", Field("user", 36, 40), String("o'brien"))),
        Stats((Item(Call("count", (Star(),), 7, 15), "n", "COUNT(*)", 7, 20),), ()), Display(("n",)))),
]


@pytest.mark.parametrize("query,groups,commands", PARSE_TABLE, ids=[row[0][:50] for row in PARSE_TABLE])
def test_sql_parse_table(query, groups, commands):
    parsed = sql.parse(query)
    assert parsed.groups == groups
    assert parsed.query.commands == commands


def test_awscli_start_query_sql(dataset):
    import os
    import subprocess
    import sys
    from pathlib import Path

    aws = Path(sys.executable).with_name("aws")
    out = subprocess.run([str(aws), "logs", "start-query", "--query-language", "SQL", "--query-string",
                          "SELECT COUNT(*) AS n FROM `sql-b`", "--start-time", str(dataset["start"]),
                          "--end-time", str(dataset["end"]), "--output", "json"],
                         env=dict(os.environ), capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    qid = json.loads(out.stdout)["queryId"]
    logs = dataset["logs"]
    for _ in range(300):
        res = logs.get_query_results(queryId=qid)
        if res["status"] == "Complete":
            break
        time.sleep(0.02)
    assert res["results"] == [[{"field": "n", "value": str(int((dataset["df"].group == OTHER).sum()))}]]
    bad = subprocess.run([str(aws), "logs", "start-query", "--query-language", "SQL", "--query-string",
                          "SELECT * FROM `sql-a` a INNER JOIN `sql-b` b ON a.x = b.x", "--start-time", "0",
                          "--end-time", "10"], env=dict(os.environ), capture_output=True, text=True, timeout=60)
    assert bad.returncode != 0 and "MalformedQueryException" in bad.stderr
