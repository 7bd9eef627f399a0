"""Fuzz: Honeycomb query specs (2,000: create, run, read the result) and its API routes (2,000), the X-Ray daemon's UDP side (2,000 datagrams: segment documents of every field type, poisoned, cut, raw
bytes) and TCP side (2,000 sampling requests), Rollbar's item and read API (2,000).
The daemon must keep its worker alive, count each datagram, and store a good segment sent afterwards."""
from __future__ import annotations

import json
import os
import socket
import time

import boto3
import pytest
from fuzz_support import EXAMPLES, MAX_SECONDS, Answer, Inputs, WsgiWire, aws_wire, fuzz, service_model
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue

from lab_app import config

NOW = int(time.time())


@pytest.fixture(scope="module")
def data(module_cloud):
    """Spans of backend-flask in Honeycomb, for the query specs to run over."""
    spans = ExportTraceServiceRequest()
    resource_spans = spans.resource_spans.add()
    resource_spans.resource.attributes.append(KeyValue(key="service.name", value=AnyValue(string_value="backend-flask")))
    scope = resource_spans.scope_spans.add()
    for i in range(20):
        start = (NOW - 300 + i) * 10 ** 9
        span = scope.spans.add(trace_id=bytes([i + 1] * 16), span_id=bytes([i + 1] * 8), name=f"GET /api/{i % 3}",
                               kind=2, start_time_unix_nano=start, end_time_unix_nano=start + (i + 1) * 10 ** 7)
        span.attributes.append(KeyValue(key="http.status_code", value=AnyValue(int_value=500 if i % 5 == 0 else 200)))
        span.status.code = 2 if i % 5 == 0 else 0
    honeycomb = WsgiWire(module_cloud.component("honeycomb")._server.app, module_cloud.ports["otlp"])
    answer = honeycomb.send("POST", "/v1/traces", spans.SerializeToString(), {
        "Content-Type": "application/x-protobuf", "X-Honeycomb-Team": config.LOCAL_HONEYCOMB_KEY})
    assert answer.status == 200
    assert module_cloud.component("honeycomb").flush_pending(10)
    return module_cloud


HEADER = b'{"format": "json", "version": 1}\n'


def trace_id() -> str:
    return f"1-{int(time.time()):08x}-{os.urandom(12).hex()}"


def segment(inputs: Inputs, depth: int = 0) -> dict:
    """A segment or subsegment document with random members of the types the X-Ray schema has, and wrong ones."""
    r = inputs.r
    doc = {"name": r.choice(["backend-flask", "notifications", "", "x" * 300, inputs.text(0, 20)]),
           "id": r.choice([os.urandom(8).hex(), "zz", "", inputs.text(0, 20)]),
           "trace_id": r.choice([trace_id(), "1-00000000-000000000000000000000000", "bad", ""]),
           "start_time": r.choice([time.time() - r.uniform(0, 600), 0, -1, 1e20, "x"])}
    doc["end_time"] = r.choice([doc["start_time"] + r.uniform(0, 3) if isinstance(doc["start_time"], float) else 1,
                                None, 0, "later"])
    if r.random() < 0.2:
        doc.pop("end_time")
        doc["in_progress"] = r.choice([True, False, "yes"])
    for key, values in (("http", [{"request": {"method": "GET", "url": "http://x/y", "client_ip": "10.0.0.1"},
                                   "response": {"status": r.choice([200, 500, "x", -1]), "content_length": 5}},
                                  {"request": "x"}, []]),
                        ("annotations", [{"user_handle": "andrewbrown", "n": 3, "ok": True}, {"": 1},
                                         {"a" * 600: "b"}, {"k": {"nested": 1}}, "x"]),
                        ("metadata", [{"default": {"a": [1, 2, {"b": None}]}}, {"x": "y" * 1000}, 5]),
                        ("aws", [{"xray": {"sdk": "X-Ray for Python"}}, {"operation": "GetItem"}, "x"]),
                        ("error", [True, "x"]), ("fault", [True, 1]), ("throttle", [True]),
                        ("cause", [{"exceptions": [{"id": "1", "message": "boom", "type": "ValueError"}]}, "id", 7]),
                        ("origin", ["AWS::EC2::Instance", 5]), ("user", ["andrewbrown", 3]),
                        ("namespace", ["remote", "aws", "bogus"]), ("parent_id", [os.urandom(8).hex(), 5]),
                        ("type", ["subsegment", "segment", 1])):
        if r.random() < 0.25:
            doc[key] = r.choice(values)
    if depth < 2 and r.random() < 0.3:
        doc["subsegments"] = r.choice([[segment(inputs, depth + 1) for _ in range(r.randint(0, 3))], "x", [1]])
    if r.random() < 0.1:
        doc[r.choice(list(doc))] = inputs.hostile()
    return doc


def datagram(inputs: Inputs) -> bytes:
    r = inputs.r
    body = json.dumps(segment(inputs), default=str).encode()
    pick = r.randrange(10)
    if pick < 6:
        return HEADER + body
    if pick == 6:
        return body                                   # no header line
    if pick == 7:
        return HEADER + inputs.raw_body(body)
    if pick == 8:
        return r.choice([b"", HEADER, b"\n", r.randbytes(r.randint(1, 500)), HEADER + b"[" * 5000,
                         b'{"format": "json", "version": 99}\n' + body, b'{"format": "xml"}\n' + body])
    return HEADER + json.dumps([segment(inputs), segment(inputs)]).encode()


def test_daemon_udp(module_cloud):
    """Datagrams in groups of 50; the "request" time is how long the daemon takes to take a group in."""
    daemon = module_cloud.component("xray").daemon
    inputs = Inputs("daemon-udp")
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    target = (config.HOST, module_cloud.ports["daemon"])

    def drained(expected: int, started: float) -> float:
        while daemon.counters["datagrams"] + daemon.counters["dropped"] < expected:
            if time.perf_counter() - started > 10:
                break
            time.sleep(0.002)
        return time.perf_counter() - started

    def groups():
        for _ in range(EXAMPLES // 50):
            yield [datagram(inputs) for _ in range(50)]

    before = daemon.counters["datagrams"] + daemon.counters["dropped"]
    sent = 0

    def send(group: list[bytes]) -> Answer:
        nonlocal sent
        started = time.perf_counter()
        for data in group:
            sock.sendto(data[:65000], target)
        sent += len(group)
        seconds = drained(before + sent, started)
        problems = module_cloud.problems()
        status = 599 if problems or daemon.counters["datagrams"] + daemon.counters["dropped"] < before + sent else 200
        # the rule's limit is per request; a group of 50 datagrams gets 50 requests' worth of it
        return Answer(status, {}, json.dumps(problems).encode(), seconds / 50 if seconds < MAX_SECONDS * 50 else seconds)

    tally = fuzz("daemon udp", groups(), send, minimum=EXAMPLES // 50)
    assert sent == EXAMPLES + 50 * tally.resent and tally.count * 50 == EXAMPLES
    assert daemon.counters["malformed"] > 100 and daemon.counters["worker_errors"] == 0
    # a good segment afterwards is stored
    good = trace_id()
    now = time.time()
    sock.sendto(HEADER + json.dumps({"name": "after-fuzz", "id": os.urandom(8).hex(), "trace_id": good,
                                     "start_time": now, "end_time": now + 0.1}).encode(), target)
    sock.close()
    xray = boto3.client("xray")
    for _ in range(200):
        traces = xray.batch_get_traces(TraceIds=[good])["Traces"]
        if traces:
            break
        time.sleep(0.02)
    assert [t["Id"] for t in traces] == [good]


def test_daemon_tcp(module_cloud):
    daemon = module_cloud.component("xray").daemon
    wire = WsgiWire(daemon._tcp.app, module_cloud.ports["daemon"])
    inputs = Inputs("daemon-tcp", ["Default", "fuzz", "a" * 24])
    model = service_model("xray")
    targets = model.operation_model("GetSamplingTargets").input_shape
    rules = model.operation_model("GetSamplingRules").input_shape
    r = inputs.r

    def requests():
        for _ in range(EXAMPLES):
            pick = r.randrange(10)
            if pick < 5:
                yield "POST", "/SamplingTargets", json.dumps(inputs.structure(targets), default=str).encode()
            elif pick < 7:
                yield "POST", "/GetSamplingRules", json.dumps(inputs.structure(rules), default=str).encode()
            elif pick < 9:
                yield "POST", r.choice(["/SamplingTargets", "/GetSamplingRules"]), inputs.raw_body()
            else:
                yield r.choice(["GET", "PUT", "DELETE"]), r.choice(["/", "/TraceSegments", "/x/../GetSamplingRules",
                                                                    "/GetSamplingRules"]), b""

    fuzz("daemon tcp", requests(), lambda item: wire.send(item[0], item[1], item[2],
                                                          {"Content-Type": "application/json"}))
    good = wire.send("POST", "/GetSamplingRules", b"{}", {"Content-Type": "application/json"})
    assert good.status == 200 and any(rule["SamplingRule"]["RuleName"] == "Default"
                                      for rule in good.json()["SamplingRuleRecords"])


def rollbar_item(inputs: Inputs) -> dict:
    r = inputs.r
    frame = {"filename": r.choice(["app.py", "", 5]), "lineno": r.choice([1, -1, "x", 2 ** 70]),
             "method": "handler", "locals": {"password": "hunter2", "x": inputs.json_value()}}  # pragma: allowlist secret
    body = r.choice([{"trace": {"frames": [frame] * r.randint(0, 3), "exception": {
        "class": r.choice(["ValueError", "", None]), "message": inputs.text(0, 40)}}},
        {"message": {"body": r.choice(["hello", "", None, 5, "x" * 20000])}},
        {"trace_chain": [{"frames": [frame], "exception": {"class": "E"}}] * r.randint(0, 2)},
        {}, inputs.json_value()])
    data = {"environment": r.choice(["development", "", None, 5]), "body": body,
            "level": r.choice(["error", "warning", "critical", "info", "debug", "nope", 3]),
            "timestamp": r.choice([int(time.time()), -1, 2 ** 70, "now"]),
            "platform": "python", "language": "python", "uuid": r.choice([os.urandom(16).hex(), "x", 5]),
            "fingerprint": r.choice([None, "fp", 7]), "title": r.choice([None, "t", {"x": 1}]),
            "request": r.choice([{"url": "http://x", "headers": {"Authorization": "Bearer x"}}, "x"]),
            "person": r.choice([{"id": "1", "username": "andrewbrown"}, {"id": None}, 5])}
    for key in r.sample(sorted(data), r.randint(0, 3)):
        data[key] = inputs.hostile()
    return {"data": r.choice([data, data, data, None, "x", [data]]),
            **({"access_token": r.choice([config.LOCAL_ROLLBAR_POST_TOKEN, "wrong", 5])} if r.random() < 0.2 else {})}


def test_rollbar(module_cloud):
    wire = aws_wire(module_cloud)
    inputs = Inputs("rollbar")
    r = inputs.r
    tokens = [config.LOCAL_ROLLBAR_POST_TOKEN, config.LOCAL_ROLLBAR_READ_TOKEN, config.LOCAL_ROLLBAR_TOKEN, "", "x"]

    def requests():
        for _ in range(EXAMPLES):
            token = {"X-Rollbar-Access-Token": r.choice(tokens)} if r.random() < 0.9 else {}
            if r.random() < 0.6:
                body = json.dumps(rollbar_item(inputs), default=str).encode() if r.random() < 0.85 else inputs.raw_body()
                yield "POST", "/api/1/item/", body, {"Content-Type": "application/json", **token}
            else:
                path = r.choice(["items", "item/1", "item/999999", "item/x/instances", "item/1/instances",
                                 "item_by_counter/1", "item_by_counter/-1", "instance/1", "instance/abc", "nothing"])
                query = r.choice(["", "?page=2", "?page=-1", "?page=x", "?status=active&level=error",
                                  "?environment=" + "x" * 2000, "?access_token=" + config.LOCAL_ROLLBAR_READ_TOKEN])
                yield "GET", f"/api/1/{path}{query}", b"", token

    fuzz("rollbar", requests(), lambda item: wire.send(*item))
    answer = wire.send("POST", "/api/1/item/", json.dumps({"data": {
        "environment": "development", "level": "error", "body": {"message": {"body": "after fuzz"}}}}).encode(),
        {"Content-Type": "application/json", "X-Rollbar-Access-Token": config.LOCAL_ROLLBAR_POST_TOKEN})
    assert answer.status == 200 and answer.json()["err"] == 0


def test_honeycomb_api_routes(module_cloud):
    """Every route of the Honeycomb port with random methods, ids, keys and bodies (the specs have their own
    fuzz in test_fuzz_queries.py)."""
    wire = WsgiWire(module_cloud.component("honeycomb")._server.app, module_cloud.ports["otlp"])
    inputs = Inputs("honeycomb-api")
    r = inputs.r
    keys = [config.LOCAL_HONEYCOMB_KEY, "", "wrong-key", "x" * 200, "hcaik_" + "0" * 58]

    def requests():
        for _ in range(EXAMPLES):
            dataset = r.choice(["backend-flask", "__all__", "", "..", "%00", "x" * 300, inputs.text(1, 10)])
            path = r.choice(["/1/auth", f"/1/queries/{dataset}", f"/1/queries/{dataset}/{inputs.text(0, 12)}",
                             f"/1/query_results/{dataset}", f"/1/query_results/{dataset}/abc", "/1/",
                             "/1/datasets", "/v1/logs", "/", "/1/markers/x"])
            from urllib.parse import quote

            path = quote(path, safe="/%", errors="replace")
            headers = {"X-Honeycomb-Team": r.choice(keys)} if r.random() < 0.9 else {}
            yield r.choice(["GET", "POST", "POST", "PUT", "DELETE"]), path, inputs.raw_body(), headers

    fuzz("honeycomb api", requests(), lambda item: wire.send(*item))
    answer = wire.send("GET", "/1/auth", b"", {"X-Honeycomb-Team": config.LOCAL_HONEYCOMB_KEY})
    assert answer.status == 200 and "environment" in answer.json()


CALC_OPS = ["COUNT", "COUNT", "SUM", "AVG", "MAX", "MIN", "P50", "P99", "HEATMAP", "COUNT_DISTINCT", "bogus"]
COLUMNS = ["duration_ms", "duration_ms", "name", "name", "service.name", "http.status_code", "error",
           "trace.trace_id", "http.route", "no.such.column", "x" * 300]
FILTER_OPS = ["=", "!=", ">", ">=", "<", "<=", "exists", "does-not-exist", "contains", "does-not-contain",
              "starts-with", "in", "not-in", "~", ""]


VALID_OPS = ["COUNT", "SUM", "AVG", "MAX", "MIN", "P50", "P99", "HEATMAP", "COUNT_DISTINCT"]
VALID_COLUMNS = ["duration_ms", "name", "service.name", "http.status_code", "error", "no.such.column"]
VALID_FILTER_OPS = ["=", "!=", ">", ">=", "<", "<=", "exists", "does-not-exist", "contains", "does-not-contain",
                    "starts-with", "in", "not-in"]


def honeycomb_spec(inputs: Inputs) -> dict:
    """A query spec of Honeycomb's documented fields: most with valid choices only (so queries run), the rest
    drawing from invalid ops, columns and values too."""
    r = inputs.r
    valid = r.random() < 0.7
    ops, columns, filter_ops = (VALID_OPS, VALID_COLUMNS, VALID_FILTER_OPS) if valid else (CALC_OPS, COLUMNS, FILTER_OPS)
    spec: dict = {}
    if r.random() < 0.8:
        spec["calculations"] = [{"op": op, **({"column": r.choice(columns)} if op != "COUNT" or not valid and
                                              r.random() < 0.3 else {})}
                                for op in (r.choice(ops) for _ in range(r.randint(0, 3)))]
    if r.random() < 0.6:
        spec["filters"] = []
        for _ in range(r.randint(0, 3)):
            op = r.choice(filter_ops)
            value = {"in": [200, 500], "not-in": ["GET /api/0"]}.get(op, r.choice([200, "GET /api/1", 10.5, True]))
            if not valid:
                value = r.choice([value, None, {}, [1, 2], "x"])
            spec["filters"].append({"column": r.choice(columns), "op": op,
                                    **({} if op in ("exists", "does-not-exist") else {"value": value})})
        spec["filter_combination"] = r.choice(["AND", "OR"] if valid else ["AND", "XOR", 1])
    if r.random() < 0.5:
        spec["breakdowns"] = [r.choice(columns) for _ in range(r.randint(0, 2))]
    if r.random() < 0.4 and spec.get("calculations"):
        calc = r.choice(spec["calculations"])
        spec["orders"] = [{"op": calc["op"], **({"column": calc["column"]} if "column" in calc else {}),
                           "order": r.choice(["ascending", "descending"] if valid else ["up", 5])}]
    for key, good, bad in (("time_range", [600, 7200], [0, -5, 10 ** 12, "1h"]), ("granularity", [0, 60], [-1, 10 ** 9]),
                           ("limit", [1, 1000], [0, -1, 10 ** 7])):
        if r.random() < 0.3:
            spec[key] = r.choice(good if valid else good + bad)
    if not valid and r.random() < 0.3:
        r.choice([lambda: spec.update({"calculations": inputs.hostile()}),
                  lambda: spec.update({inputs.text(0, 8): inputs.json_value()}),
                  lambda: spec.update({"start_time": r.choice([NOW - 600, -1, "x"]), "end_time": NOW - 10 ** 6})])()
    return spec


def test_honeycomb_query_specs(data):
    honeycomb = data.component("honeycomb")
    wire = WsgiWire(honeycomb._server.app, data.ports["otlp"])
    inputs = Inputs("honeycomb-specs")
    # Honeycomb's 10 query results a minute (answered 429 after that) would make the rest of the run rate-limit
    # tests; tests/test_honeycomb_query.py covers the limit itself
    limit, honeycomb.responses.query_results_per_minute = honeycomb.responses.query_results_per_minute, None
    headers = {"X-Honeycomb-Team": config.LOCAL_HONEYCOMB_KEY, "Content-Type": "application/json"}

    def send(spec: dict) -> Answer:
        dataset = inputs.r.choice(["backend-flask"] * 8 + ["__all__", "nope", "%2e%2e"])
        created = wire.send("POST", f"/1/queries/{dataset}", json.dumps(spec, default=str).encode(), headers)
        if created.status != 200:
            return created
        run = wire.send("POST", f"/1/query_results/{dataset}",
                        json.dumps({"query_id": created.json()["id"]}).encode(), headers)
        if run.status not in (200, 201):
            return run
        result = wire.send("GET", f"/1/query_results/{dataset}/{run.json()['id']}", b"", headers)
        return Answer(result.status, result.headers, result.body, created.seconds + run.seconds + result.seconds)

    try:
        tally = fuzz("honeycomb query specs", (honeycomb_spec(inputs) for _ in range(EXAMPLES)), send)
    finally:
        honeycomb.responses.query_results_per_minute = limit
    assert tally.statuses[200] > 500
    answer = wire.send("GET", "/1/auth", b"", headers)
    assert answer.status == 200
