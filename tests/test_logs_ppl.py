"""StartQuery queryLanguage="PPL" (the OpenSearch PPL subset) against the local cloud: results compared with pandas,
the query -> AST table, and what is outside the subset answered with MalformedQueryException."""
from __future__ import annotations

import json
import math
import random
import time

import boto3
import pandas as pd
import pytest
from botocore.config import Config

from lab_app.localcloud.logs import ppl
from lab_app.localcloud.logs.insights.ast import (
    Call,
    Compare,
    Dedup,
    Display,
    Field,
    Fields,
    Filter,
    Item,
    Limit,
    Number,
    Sort,
    Star,
    Stats,
)

GROUP = "ppl-group"
ROUTES = ["/api/messages", "/api/activities/home", "/api/activities/search"]


@pytest.fixture(scope="module")
def dataset(module_cloud):
    rng = random.Random(5)
    logs = boto3.client("logs")
    logs.create_log_group(logGroupName=GROUP)
    logs.create_log_stream(logGroupName=GROUP, logStreamName="s")
    now = int(time.time() * 1000)
    rows, events = [], []
    for i in range(250):
        doc = {"route": rng.choice(ROUTES), "status": rng.choice([200] * 5 + [404, 500]),
               "latency": round(rng.uniform(1, 90), 2)}
        if rng.random() < 0.6:
            doc["user"] = rng.choice(["andrew", "bayko"])
        events.append({"timestamp": now - 60_000 + i, "message": json.dumps(doc)})
        rows.append({"ts": now - 60_000 + i, **doc})
    logs.put_log_events(logGroupName=GROUP, logStreamName="s", logEvents=events)
    return {"logs": logs, "df": pd.DataFrame(rows), "start": now // 1000 - 120, "end": now // 1000 + 60}


def run_ppl(dataset, query: str) -> list[dict]:
    logs = dataset["logs"]
    qid = logs.start_query(queryLanguage="PPL", queryString=query, logGroupName=GROUP, startTime=dataset["start"],
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


CASES = [
    ("stats count() as n", lambda df: [{"n": len(df)}], False),
    ("where status = 500 | stats count() as n by route",
     lambda df: [{"n": v, "route": k} for k, v in df[df.status == 500].route.value_counts().items()], False),
    ("stats avg(latency) as a, max(latency) as m by route | sort - m",
     lambda df: [{"a": g.latency.mean(), "m": g.latency.max(), "route": k}
                 for k, g in sorted(df.groupby("route"), key=lambda kg: -kg[1].latency.max())], True),
    ("where latency > 80 | sort - latency | fields route, latency | head 3",
     lambda df: [{"route": r.route, "latency": r.latency}
                 for r in df[df.latency > 80].sort_values("latency", ascending=False).head(3).itertuples()], True),
    ("where like(route, '%activities%') and status != 200 | stats count() as n",
     lambda df: [{"n": int((df.route.str.contains("activities") & (df.status != 200)).sum())}], False),
    ("where isnull(user) | stats count() as n", lambda df: [{"n": int(df.user.isna().sum())}], False),
    ("stats dc(user) as users, count(user) as c",
     lambda df: [{"users": df.user.nunique(), "c": int(df.user.notna().sum())}], False),
    ("where status in (404, 500) | eval slow = latency * 2 | stats sum(slow) as s by status",
     lambda df: [{"s": 2 * g.latency.sum(), "status": k} for k, g in df[df.status.isin([404, 500])].groupby("status")],
     False),
    ("dedup route | stats count() as n", lambda df: [{"n": df.route.nunique()}], False),
    ("fields route | sort - latency | head", lambda df: [
        {"route": r} for r in df.sort_values("latency", ascending=False).route.head(10)], True),
]


@pytest.mark.parametrize("query,expected,ordered", CASES, ids=[c[0][:60] for c in CASES])
def test_ppl_matches_pandas(dataset, query, expected, ordered):
    assert norm(run_ppl(dataset, query), ordered) == norm(expected(dataset["df"]), ordered)


def test_head_takes_ten_by_default(dataset):
    rows = run_ppl(dataset, "fields route, status | head")
    assert len(rows) == 10 and all(set(r) == {"route", "status"} and r["route"] in ROUTES for r in rows)


def test_default_stats_names_and_column_order(dataset):
    rows = run_ppl(dataset, "stats count(), min(latency) by route | sort route")
    assert [list(r) for r in rows] == [["count()", "min(latency)", "route"]] * len(ROUTES)
    assert [r["route"] for r in rows] == sorted(ROUTES)


PARSE_TABLE = [
    ("head 3", (Limit(3),)),
    ("where status = 500", (Filter(Compare("=", Field("status", 6, 12), Number(500.0))),)),
    ("fields route", (Fields((Item(Field("route", 7, 12), None, "route", 7, 12),)), Display(("route",)))),
    ("stats count() as n by route | sort - n", (
        Stats((Item(Call("count", (Star(),), 6, 13), "n", "count()", 6, 18),),
              (Item(Field("route", 22, 27), None, "route", 22, 27),)),
        Display(("n", "route")), Sort(((Field("n", 37, 38), True),)))),
    ("dedup route", (Dedup(("route",)),)),
]


@pytest.mark.parametrize("query,commands", PARSE_TABLE, ids=[row[0] for row in PARSE_TABLE])
def test_ppl_parse_table(query, commands):
    assert ppl.parse(query).commands == commands


@pytest.mark.parametrize("query", [
    "LEFT JOIN left=l, right=r on l.id = r.id `other` | fields l.a",
    "parse `field1` \".*/(?<field2>[^/]+$)\"",
    "lookup table key",
    "where foo(x) = 1",
    "stats route",
    "where",
    "fields",
], ids=["join", "parse", "lookup", "unknown function", "stats without aggregation", "where alone", "fields alone"])
def test_outside_the_subset_is_malformed(dataset, query):
    raw = boto3.client("logs", config=Config(parameter_validation=False))
    with pytest.raises(raw.exceptions.ClientError) as info:
        raw.start_query(queryLanguage="PPL", queryString=query, logGroupName=GROUP, startTime=dataset["start"],
                        endTime=dataset["end"])
    assert info.value.response["Error"]["Code"] == "MalformedQueryException"
    assert "queryCompileError" in info.value.response


def test_ppl_needs_log_groups(dataset):
    logs = dataset["logs"]
    with pytest.raises(logs.exceptions.InvalidParameterException):
        logs.start_query(queryLanguage="PPL", queryString="head 1", startTime=dataset["start"], endTime=dataset["end"])
    qid = logs.start_query(queryLanguage="PPL", queryString="head 1", logGroupName=GROUP,
                           startTime=dataset["start"], endTime=dataset["end"])["queryId"]
    assert {q["queryId"]: q["queryLanguage"] for q in logs.describe_queries()["queries"]}[qid] == "PPL"
