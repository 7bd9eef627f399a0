"""Log transformers with boto3 against the local cloud: the processors' results written out by hand, the rules
PutTransformer checks, and a transformer applied at ingest (what GetLogEvents and Insights then read)."""
from __future__ import annotations

import json
import time

import boto3
import pytest
from botocore.config import Config

ARN = "arn:aws:logs:us-east-1:123456789012:log-group:"


@pytest.fixture
def logs(cloud):
    client = boto3.client("logs")
    client.create_log_group(logGroupName="app")
    return client


@pytest.fixture
def raw(logs):
    return boto3.client("logs", config=Config(parameter_validation=False))


PARSE = {"parseJSON": {}}
# (processors, input message, the transformed event by hand)
CASES = [
    ("parseJSON at the root", [PARSE], '{"outer_key": {"inner_key": "inner_value"}}',
     {"outer_key": {"inner_key": "inner_value"}}),
    ("parseJSON into a destination", [{"parseJSON": {"destination": "test"}}], '{"a": 1}', {"test": {"a": 1}}),
    ("parseKeyValue", [{"parseKeyValue": {"fieldDelimiter": "!", "keyValueDelimiter": ":", "keyPrefix": "parsed_",
                                          "nonMatchValue": "defaultValue", "destination": "my_destination"}}],
     "key1:value1!key2:value2!key3", {"my_destination": {"parsed_key1": "value1", "parsed_key2": "value2",
                                                         "parsed_key3": "defaultValue"}}),
    ("parseKeyValue defaults", [{"parseKeyValue": {}}], "user=andrew&route=/api&broken", {"user": "andrew",
                                                                                            "route": "/api"}),
    ("addKeys keeps an existing key", [PARSE, {"addKeys": {"entries": [
        {"key": "env", "value": "lab"}, {"key": "user", "value": "x"}, {"key": "meta.team", "value": "cruddur"}]}}],
     '{"user": "andrew"}', {"user": "andrew", "env": "lab", "meta": {"team": "cruddur"}}),
    ("addKeys overwrite", [PARSE, {"addKeys": {"entries": [{"key": "user", "value": "x", "overwriteIfExists": True}]}}],
     '{"user": "andrew"}', {"user": "x"}),
    ("deleteKeys", [PARSE, {"deleteKeys": {"withKeys": ["secret", "http.cookie", "absent"]}}],
     '{"secret": "s", "keep": 1, "http": {"cookie": "c", "status": 200}}', {"keep": 1, "http": {"status": 200}}),
    ("renameKeys", [PARSE, {"renameKeys": {"entries": [{"key": "lvl", "renameTo": "level"},
                                                       {"key": "a", "renameTo": "b"}]}}],
     '{"lvl": "INFO", "a": 1, "b": 2}', {"level": "INFO", "a": 1, "b": 2}),
    ("copyValue and moveKeys", [PARSE, {"copyValue": {"entries": [{"source": "http.status", "target": "status"}]}},
                                {"moveKeys": {"entries": [{"source": "http.route", "target": "route"}]}}],
     '{"http": {"status": 500, "route": "/x"}}', {"http": {"status": 500}, "status": 500, "route": "/x"}),
    ("string mutators", [PARSE, {"lowerCaseString": {"withKeys": ["method"]}},
                         {"upperCaseString": {"withKeys": ["level"]}}, {"trimString": {"withKeys": ["user", "n"]}}],
     '{"method": "GET", "level": "warn", "user": "  bayko ", "n": 3}',
     {"method": "get", "level": "WARN", "user": "bayko", "n": 3}),
    ("grok access line", [{"grok": {"match": '%{IPORHOST:client} - %{USER:user} \\[%{HTTPDATE:time}\\] '
                                              '"%{WORD:req.method} %{URIPATH:req.path}" %{INT:status}'}}],
     '10.0.0.1 - andrew [02/Dec/2026:03:00:00 +0000] "GET /api/messages" 200',
     {"client": "10.0.0.1", "user": "andrew", "time": "02/Dec/2026:03:00:00 +0000",
      "req": {"method": "GET", "path": "/api/messages"}, "status": "200"}),
    ("grok level line", [{"grok": {"match": "%{TIMESTAMP_ISO8601:ts} %{LOGLEVEL:level} %{GREEDYDATA:msg}"}}],
     "2026-12-02T03:00:00Z ERROR payment failed", {"ts": "2026-12-02T03:00:00Z", "level": "ERROR",
                                                    "msg": "payment failed"}),
    ("csv with columns", [{"csv": {"columns": ["method", "path"]}}], 'GET,"/api/a,b",200',
     {"method": "GET", "path": "/api/a,b", "column_3": "200"}),
    ("csv tab into a destination", [{"csv": {"delimiter": "\\t", "destination": "row"}}], "a\tb",
     {"row": {"column_1": "a", "column_2": "b"}}),
    ("splitString", [PARSE, {"splitString": {"entries": [{"source": "path", "delimiter": "/"}]}}],
     '{"path": "api/messages/7"}', {"path": ["api", "messages", "7"]}),
    ("substituteString with a group", [PARSE, {"substituteString": {"entries": [
        {"source": "msg", "from": "user=(\\w+)", "to": "user=<$1>"}, {"source": "msg", "from": "\\d", "to": "#"}]}}],
     '{"msg": "login user=andrew from 10.0.0.1"}', {"msg": "login user=<andrew> from ##.#.#.#"}),
    ("typeConverter", [PARSE, {"typeConverter": {"entries": [
        {"key": "status", "type": "integer"}, {"key": "ok", "type": "boolean"}, {"key": "ms", "type": "double"},
        {"key": "id", "type": "string"}, {"key": "bad", "type": "integer"}]}}],
     '{"status": "500", "ok": "False", "ms": "12.5", "id": 7, "bad": "n/a"}',
     {"status": 500, "ok": False, "ms": 12.5, "id": "7", "bad": "n/a"}),
]


@pytest.mark.parametrize("case,processors,message,want", CASES, ids=[c[0] for c in CASES])
def test_test_transformer(logs, case, processors, message, want):
    (out,) = logs.test_transformer(transformerConfig=processors, logEventMessages=[message])["transformedLogs"]
    assert out["eventNumber"] == 1 and out["eventMessage"] == message
    assert json.loads(out["transformedEventMessage"]) == want


def test_a_failed_first_parser_leaves_the_event_unchanged(logs):
    out = logs.test_transformer(transformerConfig=[PARSE, {"addKeys": {"entries": [{"key": "k", "value": "v"}]}}],
                                logEventMessages=["not json", '{"a": 1}'])["transformedLogs"]
    assert [o["eventNumber"] for o in out] == [1, 2]
    assert out[0]["transformedEventMessage"] == "not json"
    assert json.loads(out[1]["transformedEventMessage"]) == {"a": 1, "k": "v"}


def test_put_get_delete_and_ingest(logs):
    config = [PARSE, {"addKeys": {"entries": [{"key": "env", "value": "lab"}]}},
              {"copyValue": {"entries": [{"source": "@logGroupName", "target": "group"}]}},
              {"deleteKeys": {"withKeys": ["password"]}}]
    logs.put_transformer(logGroupIdentifier="app", transformerConfig=config)
    got = logs.get_transformer(logGroupIdentifier=ARN + "app")
    assert got["transformerConfig"] == config and got["logGroupIdentifier"] == ARN + "app"
    assert got["creationTime"] == got["lastModifiedTime"] > 0
    logs.create_log_stream(logGroupName="app", logStreamName="s")
    now = int(time.time() * 1000)
    logs.put_log_events(logGroupName="app", logStreamName="s", logEvents=[
        {"timestamp": now, "message": json.dumps({"user": "andrew", "password": "hunter2"})},
        {"timestamp": now + 1, "message": "plain text"}])
    stored = [e["message"] for e in logs.get_log_events(logGroupName="app", logStreamName="s",
                                                         startFromHead=True)["events"]]
    assert json.loads(stored[0]) == {"user": "andrew", "env": "lab", "group": "app"} and stored[1] == "plain text"
    qid = logs.start_query(logGroupName="app", startTime=now // 1000 - 5, endTime=now // 1000 + 5,
                           queryString="filter env = 'lab' | fields user, group")["queryId"]
    for _ in range(200):
        res = logs.get_query_results(queryId=qid)
        if res["status"] == "Complete":
            break
        time.sleep(0.02)
    assert [{f["field"]: f["value"] for f in r if f["field"] != "@ptr"} for r in res["results"]] == [
        {"user": "andrew", "group": "app"}]
    config[1]["addKeys"]["entries"][0]["value"] = "prod"
    logs.put_transformer(logGroupIdentifier="app", transformerConfig=config)     # an update keeps creationTime
    again = logs.get_transformer(logGroupIdentifier="app")
    assert again["creationTime"] == got["creationTime"] and again["transformerConfig"] == config
    logs.delete_transformer(logGroupIdentifier="app")
    with pytest.raises(logs.exceptions.ResourceNotFoundException):
        logs.get_transformer(logGroupIdentifier="app")
    with pytest.raises(logs.exceptions.ResourceNotFoundException):
        logs.delete_transformer(logGroupIdentifier="app")
    logs.put_log_events(logGroupName="app", logStreamName="s", logEvents=[{"timestamp": now + 2, "message": '{"a":1}'}])
    assert logs.get_log_events(logGroupName="app", logStreamName="s")["events"][-1]["message"] == '{"a":1}'


ADD = {"addKeys": {"entries": [{"key": "k", "value": "v"}]}}
BAD = [
    ("first is not a parser", [ADD, PARSE], "InvalidParameterException"),
    ("empty", [], "InvalidParameterException"),
    ("21 processors", [PARSE] + [{"deleteKeys": {"withKeys": ["a"]}}] * 20, "InvalidParameterException"),
    ("six parsers", [PARSE] * 6, "InvalidParameterException"),
    ("two addKeys", [PARSE, ADD, ADD], "InvalidParameterException"),
    ("two types in one processor", [{"parseJSON": {}, "addKeys": ADD["addKeys"]}], "InvalidParameterException"),
    ("no type", [{}], "InvalidParameterException"),
    ("unknown grok pattern", [{"grok": {"match": "%{COMMONAPACHELOG}"}}], "InvalidParameterException"),
    ("two grok", [{"grok": {"match": "%{WORD:a}"}}, {"grok": {"match": "%{WORD:b}"}}], "InvalidParameterException"),
    ("not implemented here", [{"parseVPC": {}}], "InvalidParameterException"),
    ("first parseJSON not on @message", [{"parseJSON": {"source": "body"}}], "InvalidParameterException"),
    ("regex RE2 refuses", [PARSE, {"substituteString": {"entries": [{"source": "m", "from": "a(?=b)", "to": "x"}]}}],
     "InvalidParameterException"),
    ("bad type", [PARSE, {"typeConverter": {"entries": [{"key": "a", "type": "long"}]}}], "InvalidParameterException"),
    ("six addKeys entries", [PARSE, {"addKeys": {"entries": [{"key": f"k{i}", "value": "v"} for i in range(6)]}}],
     "InvalidParameterException"),
    ("entry without value", [PARSE, {"addKeys": {"entries": [{"key": "k"}]}}], "InvalidParameterException"),
]


@pytest.mark.parametrize("case,processors,code", BAD, ids=[b[0] for b in BAD])
def test_bad_transformers(logs, raw, case, processors, code):
    with pytest.raises(raw.exceptions.ClientError) as info:
        raw.put_transformer(logGroupIdentifier="app", transformerConfig=processors)
    assert info.value.response["Error"]["Code"] == code
    with pytest.raises(raw.exceptions.ClientError) as info:
        raw.test_transformer(transformerConfig=processors, logEventMessages=["{}"])
    assert info.value.response["Error"]["Code"] == code
    with pytest.raises(logs.exceptions.ResourceNotFoundException):
        logs.get_transformer(logGroupIdentifier="app")


def test_other_bad_input(logs, raw):
    with pytest.raises(logs.exceptions.ResourceNotFoundException):
        logs.put_transformer(logGroupIdentifier="missing", transformerConfig=[PARSE])
    logs.create_log_group(logGroupName="ia", logGroupClass="INFREQUENT_ACCESS")
    with pytest.raises(logs.exceptions.InvalidParameterException, match="Standard log class"):
        logs.put_transformer(logGroupIdentifier="ia", transformerConfig=[PARSE])
    with pytest.raises(raw.exceptions.InvalidParameterException):
        raw.test_transformer(transformerConfig=[PARSE], logEventMessages=["{}"] * 51)
    with pytest.raises(raw.exceptions.InvalidParameterException):
        raw.test_transformer(transformerConfig=[PARSE], logEventMessages=[])


def test_awscli_test_transformer(logs):
    import os
    import subprocess
    import sys
    from pathlib import Path

    aws = Path(sys.executable).with_name("aws")
    config = json.dumps([PARSE, {"upperCaseString": {"withKeys": ["level"]}}])
    out = subprocess.run([str(aws), "logs", "test-transformer", "--transformer-config", config,
                          "--log-event-messages", '{"level": "warn"}', "--output", "json"],
                         env=dict(os.environ), capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    (record,) = json.loads(out.stdout)["transformedLogs"]
    assert json.loads(record["transformedEventMessage"]) == {"level": "WARN"}
    bad = subprocess.run([str(aws), "logs", "put-transformer", "--log-group-identifier", "app",
                          "--transformer-config", json.dumps([{"upperCaseString": {"withKeys": ["level"]}}])],
                         env=dict(os.environ), capture_output=True, text=True, timeout=60)
    assert bad.returncode != 0 and "InvalidParameterException" in bad.stderr
