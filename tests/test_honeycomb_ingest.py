"""Contract tests for the Honeycomb stand-in's OTLP/HTTP receiver: the real OTLPSpanExporter, plain HTTP for bad input."""
from __future__ import annotations

import contextlib
import gzip
import json
import random
import threading
import time

import pytest
import requests
from google.rpc import status_pb2
from opentelemetry.exporter.otlp.proto.http import Compression
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, Status, StatusCode

from lab_app import config
from lab_app.localcloud.honeycomb.models import SPANS_TABLE, SpanJournal, SpanWriter, span_rows

KEY = config.LOCAL_HONEYCOMB_KEY
PB = "application/x-protobuf"


@pytest.fixture
def hc(module_cloud):
    module_cloud.reset()
    return module_cloud


def otlp_url(cloud) -> str:
    return f"http://127.0.0.1:{cloud.ports['otlp']}"


def make_provider(cloud, service: str, compression=Compression.NoCompression, key: str = KEY):
    memory = InMemorySpanExporter()
    exporter = OTLPSpanExporter(endpoint=otlp_url(cloud) + "/v1/traces", headers={"x-honeycomb-team": key},
                                compression=compression, timeout=5)
    provider = TracerProvider(resource=Resource.create({"service.name": service, "deployment.environment": "test"}))
    provider.add_span_processor(SimpleSpanProcessor(memory))
    return provider, exporter, memory


def export_some(cloud, service="backend-flask", n=20, compression=Compression.NoCompression):
    provider, exporter, memory = make_provider(cloud, service, compression)
    tracer = provider.get_tracer("tests.otlp", "1.0")
    t0 = 1_700_000_000_000_000_000
    for i in range(n):
        with tracer.start_as_current_span("GET /api/activities/home", kind=SpanKind.SERVER, start_time=t0 + i * 10**9,
                                          attributes={"http.route": "/api/activities/home", "http.status_code": 200,
                                                      "http.method": "GET", "i": i, "ratio": i / 4, "ok": i % 2 == 0,
                                                      "tags": ["a", "b"]},
                                          end_on_exit=False) as server:
            with tracer.start_as_current_span("home-activities", start_time=t0 + i * 10**9 + 1000,
                                              end_on_exit=False) as child:
                child.add_event("mock-data", {"count": 3}, timestamp=t0 + i * 10**9 + 2000)
                if i % 5 == 0:
                    child.set_status(Status(StatusCode.ERROR, "boom"))
                child.end(end_time=t0 + i * 10**9 + 1000 + (i + 1) * 1_000_000)
            server.end(end_time=t0 + i * 10**9 + (i + 2) * 1_000_000)
    spans = list(memory.get_finished_spans())
    result = exporter.export(spans)
    return spans, result


def stored(cloud):
    assert cloud.component("honeycomb").flush_pending(10)   # a reader of the table waits for acknowledged spans
    return cloud.store.query_df(f"SELECT * FROM {SPANS_TABLE} ORDER BY trace_id, start_time")


def test_real_exporter_spans_are_stored_with_every_field(hc):
    spans, result = export_some(hc, n=20)
    assert result is SpanExportResult.SUCCESS
    frame = stored(hc)
    assert len(frame) == len(spans) == 40
    by_id = {f"{s.context.span_id:016x}": s for s in spans}
    for row in frame.itertuples(index=False):
        span = by_id[row.span_id]
        assert row.trace_id == f"{span.context.trace_id:032x}"
        assert (row.parent_id if isinstance(row.parent_id, str) else None) == (f"{span.parent.span_id:016x}" if span.parent else None)
        assert row.name == span.name
        assert row.dataset == row.service == "backend-flask"
        assert row.kind == ("server" if span.kind is SpanKind.SERVER else "internal")
        assert row.duration_ms == pytest.approx((span.end_time - span.start_time) / 1e6)
        assert row.start_time.value // 1000 == span.start_time // 1000  # microsecond precision
        assert json.loads(row.attributes) == {k: (list(v) if isinstance(v, tuple) else v)
                                              for k, v in span.attributes.items()}
        assert json.loads(row.resource_attributes)["deployment.environment"] == "test"
        assert row.error == (span.status.status_code is StatusCode.ERROR)
        assert row.scope_name == "tests.otlp"
    child = frame[frame.name == "home-activities"].iloc[0]
    events = json.loads(child.events)
    assert events[0]["name"] == "mock-data" and events[0]["attributes"] == {"count": 3}
    server = frame[frame.kind == "server"].iloc[0]
    assert server.http_route == "/api/activities/home" and server.http_status_code == 200
    assert server.http_method == "GET"
    assert (frame.error.sum(), len(frame[frame.status_message == "boom"])) == (4, 4)


def test_gzip_export(hc):
    spans, result = export_some(hc, n=7, compression=Compression.Gzip)
    assert result is SpanExportResult.SUCCESS
    assert len(stored(hc)) == len(spans) == 14


def test_reply_is_an_export_trace_service_response(hc):
    body = ExportTraceServiceRequest().SerializeToString()
    reply = requests.post(otlp_url(hc) + "/v1/traces", data=body, headers={"Content-Type": PB, "x-honeycomb-team": KEY})
    assert reply.status_code == 200 and reply.headers["Content-Type"] == PB
    ExportTraceServiceResponse().ParseFromString(reply.content)  # decodes


def raw_request(service: str | None, n: int = 1) -> ExportTraceServiceRequest:
    request = ExportTraceServiceRequest()
    rs = request.resource_spans.add()
    if service is not None:
        kv = rs.resource.attributes.add()
        kv.key, kv.value.string_value = "service.name", service
    scope = rs.scope_spans.add()
    for i in range(n):
        span = scope.spans.add()
        span.trace_id = bytes([1] * 15 + [i])
        span.span_id = bytes([2] * 7 + [i])
        span.name = f"raw-{i}"
        span.start_time_unix_nano = 1_700_000_000_000_000_000
        span.end_time_unix_nano = 1_700_000_000_000_000_000 + 2_500_000
    return request


def post_pb(cloud, message, key=KEY, **headers):
    hdrs = {"Content-Type": PB, **({"x-honeycomb-team": key} if key else {}), **headers}
    data = message if isinstance(message, bytes) else message.SerializeToString()
    return requests.post(otlp_url(cloud) + "/v1/traces", data=data, headers=hdrs, timeout=10)


def test_dataset_is_service_name_or_unknown_service(hc):
    assert post_pb(hc, raw_request(None, 2)).status_code == 200
    assert post_pb(hc, raw_request("Notifications Service", 1)).status_code == 200
    frame = stored(hc)
    assert sorted(zip(frame.dataset, frame.service)) == [
        ("notifications-service", "Notifications Service"), ("unknown_service", "unknown_service"),
        ("unknown_service", "unknown_service")]
    assert frame.duration_ms.tolist() == [2.5, 2.5, 2.5]


def test_otlp_json_is_accepted_with_hex_ids(hc):
    body = {"resourceSpans": [{"resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "js-app"}}]},
                               "scopeSpans": [{"spans": [{
                                   "traceId": "5b8efff798038103d269b633813fc60c", "spanId": "eee19b7ec3c1b174",  # pragma: allowlist secret
                                   "parentSpanId": "eee19b7ec3c1b173", "name": "fetch", "kind": 3,
                                   "startTimeUnixNano": "1544712660000000000", "endTimeUnixNano": "1544712661000000000",
                                   "attributes": [{"key": "http.status_code", "value": {"intValue": "404"}}],
                                   "status": {"code": 2}}]}]}]}
    reply = requests.post(otlp_url(hc) + "/v1/traces", json=body, headers={"x-honeycomb-team": KEY})
    assert reply.status_code == 200 and reply.headers["Content-Type"].startswith("application/json")
    assert reply.json() == {}
    row = stored(hc).iloc[0]
    assert (row.trace_id, row.span_id, row.parent_id) == ("5b8efff798038103d269b633813fc60c", "eee19b7ec3c1b174",
                                                          "eee19b7ec3c1b173")
    assert (row.kind, row.dataset, row.duration_ms, row.http_status_code, bool(row.error)) == (
        "client", "js-app", 1000.0, 404, True)


def _assert_still_serving(cloud):
    assert post_pb(cloud, raw_request("alive", 1)).status_code == 200


def test_missing_key_is_401_with_status_body_and_exporter_fails(hc):
    reply = post_pb(hc, raw_request("x"), key=None)
    assert reply.status_code == 401
    status = status_pb2.Status()
    status.ParseFromString(reply.content)
    assert status.code == 16 and "x-honeycomb-team" in status.message
    reply = requests.post(otlp_url(hc) + "/v1/traces", json={}, timeout=5)
    assert reply.status_code == 401 and "x-honeycomb-team" in reply.json()["message"]
    provider, exporter, memory = make_provider(hc, "svc", key="not-a-key")
    with provider.get_tracer("t").start_as_current_span("s"):
        pass
    assert exporter.export(memory.get_finished_spans()) is SpanExportResult.FAILURE
    assert stored(hc).empty
    _assert_still_serving(hc)


def test_extra_keys_from_environment_are_accepted(hc, monkeypatch):
    assert post_pb(hc, raw_request("x"), key="team-key-2").status_code == 401
    monkeypatch.setenv("LAB_HONEYCOMB_KEYS", "team-key-1, team-key-2")
    assert post_pb(hc, raw_request("x"), key="team-key-2").status_code == 200


@pytest.mark.parametrize("headers,body,status", [
    ({"Content-Type": "text/plain"}, b"hello", 415),
    ({"Content-Type": "application/xml"}, b"<a/>", 415),
    ({}, b"\x00\x01", 415),  # no content type
    ({"Content-Type": PB}, b"\xff\xff\xff\xff\x0f", 400),  # truncated varint
    ({"Content-Type": PB, "Content-Encoding": "gzip"}, b"not gzip at all", 400),
    ({"Content-Type": PB, "Content-Encoding": "gzip"}, gzip.compress(b"\x0a\xff\xff\x03", mtime=0)[:-6], 400),
    ({"Content-Type": PB, "Content-Encoding": "br"}, b"x", 415),
    ({"Content-Type": "application/json"}, b"{not json", 400),
    ({"Content-Type": "application/json"}, b"[1, 2]", 400),
    ({"Content-Type": "application/json"}, json.dumps({"resourceSpans": [{"scopeSpans": [{"spans": [
        {"traceId": "zz-not-hex"}]}]}]}).encode(), 400),
    ({"Content-Type": "application/json"}, json.dumps({"resourceSpans": "nope"}).encode(), 400),
])
def test_bad_bodies_get_the_collector_status(hc, headers, body, status):
    reply = requests.post(otlp_url(hc) + "/v1/traces", data=body, headers={"x-honeycomb-team": KEY, **headers}, timeout=5)
    assert reply.status_code == status
    if headers.get("Content-Type") == PB:
        decoded = status_pb2.Status()
        decoded.ParseFromString(reply.content)
        assert decoded.message
    elif headers.get("Content-Type") == "application/json":
        assert reply.json()["message"]
    _assert_still_serving(hc)


def test_over_the_size_limit_is_413(hc):
    responses = hc.component("honeycomb").responses
    responses.max_body_bytes = 2000
    try:
        big = raw_request("big", 60)
        assert len(big.SerializeToString()) > 2000
        assert post_pb(hc, big).status_code == 413
        small = gzip.compress(big.SerializeToString())
        assert len(small) < 2000
        assert post_pb(hc, small, **{"Content-Encoding": "gzip"}).status_code == 200  # the limit is on the wire size
    finally:
        del responses.max_body_bytes
    assert post_pb(hc, big).status_code == 200


def test_wrong_method_and_path(hc):
    assert requests.get(otlp_url(hc) + "/v1/traces", timeout=5).status_code == 405
    assert requests.post(otlp_url(hc) + "/v1/logs", data=b"", headers={"x-honeycomb-team": KEY}, timeout=5).status_code == 404


def test_auth_endpoint_like_honeycomb(hc):
    answer = requests.get(otlp_url(hc) + "/1/auth", headers={"X-Honeycomb-Team": KEY}, timeout=5)
    assert answer.status_code == 200
    body = answer.json()
    assert set(body["team"]) == {"name", "slug"} and set(body["environment"]) == {"name", "slug"}
    assert body["api_key_access"]["queries"] is True
    missing = requests.get(otlp_url(hc) + "/1/auth", timeout=5)
    assert missing.status_code == 401 and "error" in missing.json()
    wrong = requests.get(otlp_url(hc) + "/1/auth", headers={"X-Honeycomb-Team": "nope"}, timeout=5)
    assert wrong.status_code == 401 and "error" in wrong.json()


def test_status_counts_spans_and_datasets(hc):
    post_pb(hc, raw_request("a", 3))
    post_pb(hc, raw_request("b", 2))
    status = hc.status()["components"]["honeycomb"]
    assert (status["spans"], status["datasets"]) == (5, 2)


def test_fuzz_random_bodies_never_break_the_receiver(hc):
    rng = random.Random(1234)
    types = [PB, "application/json", "text/plain", "application/protobuf", ""]
    seen = set()
    valid = raw_request("fuzz", 3).SerializeToString()
    for i in range(150):
        kind = rng.random()
        if kind < 0.3:
            body = bytes(rng.getrandbits(8) for _ in range(rng.randint(0, 400)))
        elif kind < 0.6:  # mutate a valid message
            data = bytearray(valid)
            for _ in range(rng.randint(1, 6)):
                data[rng.randrange(len(data))] = rng.getrandbits(8)
            body = bytes(data[: rng.randint(1, len(data))])
        else:
            body = json.dumps(rng.choice([{}, [], "x", {"resourceSpans": [{"scopeSpans": [{"spans": [{"name": 5}]}]}]},
                                          {"resourceSpans": [{"resource": None}]}, None, 1e308])).encode()
        headers = {"Content-Type": rng.choice(types), "x-honeycomb-team": KEY}
        if rng.random() < 0.2:
            headers["Content-Encoding"] = "gzip"
        reply = requests.post(otlp_url(hc) + "/v1/traces", data=body, headers=headers, timeout=5)
        seen.add(reply.status_code)
        assert reply.status_code in (200, 400, 413, 415), (i, reply.status_code, body[:60])
    assert {400, 415} <= seen
    _assert_still_serving(hc)


def test_wait_for_spans_returns_when_every_service_arrived_and_says_what_is_missing(cloud):
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor

    from lab_app.query import spans as spans_q

    provider = TracerProvider(resource=Resource.create({"service.name": "backend-flask"}))
    provider.add_span_processor(SimpleSpanProcessor(OTLPSpanExporter()))
    with provider.get_tracer("t").start_as_current_span("one") as span:
        trace_id = format(span.get_span_context().trace_id, "032x")
    provider.shutdown()
    frame = spans_q.wait_for_spans([trace_id], services=("backend-flask",), timeout=5)
    assert list(frame.loc[frame["trace_id"] == trace_id, "name"]) == ["one"]
    with pytest.raises(TimeoutError, match=r"'notifications': 1"):
        spans_q.wait_for_spans([trace_id], services=("backend-flask", "notifications"), timeout=0.5)


class _RecordingStore:
    """Records each INSERT; ``gate`` holds the first one until released (a slow insert), ``fail`` makes them fail."""

    def __init__(self, fail: bool = False, gate: threading.Event | None = None):
        self.inserts: list[list[str]] = []
        self.fail, self.gate = fail, gate
        self.started = threading.Event()

    @contextlib.contextmanager
    def transaction(self):
        yield self

    def execute(self, sql, params=None):
        return []

    def insert_frame(self, table, rows, columns):
        self.started.set()
        if self.gate is not None:
            self.gate.wait(10)
            self.gate = None
        if self.fail:
            raise RuntimeError("disk full")
        self.inserts.append(list(rows["span_id"]))


def test_batches_queued_while_an_insert_runs_go_in_together_and_flush_waits_for_them():
    gate = threading.Event()
    store = _RecordingStore(gate=gate)
    writer = SpanWriter(store)
    writer.write(span_rows(raw_request("a", 2)))          # the writer takes it and blocks inside the INSERT
    assert store.started.wait(5)
    for name, n in (("b", 1), ("c", 3), ("d", 1)):         # answered at once, queued behind the running INSERT
        started = time.monotonic()
        writer.write(span_rows(raw_request(name, n)))
        assert time.monotonic() - started < 1
    assert not writer.flush(timeout=0.2)                   # not in the table yet: flush says so
    gate.set()
    assert writer.flush(timeout=10)
    assert [len(i) for i in store.inserts] == [2, 5]       # the three queued batches in one statement
    writer.close()


def test_a_failed_insert_is_counted_and_the_writer_goes_on():
    store = _RecordingStore(fail=True)
    writer = SpanWriter(store)
    writer.write(span_rows(raw_request("a", 1)))
    assert writer.flush(timeout=10)
    assert writer.write_errors == 1 and writer.last_error == "RuntimeError: disk full"
    store.fail = False
    writer.write(span_rows(raw_request("b", 2)))
    assert writer.flush(timeout=10) and [len(i) for i in store.inserts] == [2]
    writer.close()


class _PoisonStore(_RecordingStore):
    """Fails any INSERT holding a span of the service ``poison`` (as DuckDB fails a whole statement on one value
    it cannot convert)."""

    def insert_frame(self, table, rows, columns):
        if "poison" in set(rows["service"]):
            raise ValueError("Conversion Error: value out of range")
        super().insert_frame(table, rows, columns)


def test_a_batch_that_cannot_be_stored_loses_only_its_own_rows():
    store = _PoisonStore()
    writer = SpanWriter(store)
    batch = [(span_rows(raw_request(name, n)), 0) for name, n in (("a", 2), ("poison", 3), ("b", 1))]
    assert writer.store_batches(batch) == 1                # the statement of all three failed; each on its own
    assert [len(i) for i in store.inserts] == [2, 1]
    assert writer.write_errors == 1 and writer.last_error == "ValueError: Conversion Error: value out of range"
    for part in batch:                                     # and through the writer thread, queued together
        writer.write(*part)
    assert writer.flush(timeout=10)
    assert [len(i) for i in store.inserts] == [2, 1, 2, 1] and writer.write_errors == 2
    writer.close()


def test_a_status_code_past_64_bits_is_kept_in_the_attributes_and_the_other_spans_of_its_insert_stored(hc):
    """``http.status_code`` of 1e300 (a double) or 2^64 as text is not a BIGINT: the promoted column is NULL, the
    attribute is stored as sent, and the spans inserted in the same statement are not lost with it."""
    now = time.time_ns()
    sent = {"ok": 200, "huge-double": 1e300, "huge-text": str(2 ** 64), "negative": -2 ** 63}
    for n, (name, code) in enumerate(sent.items(), start=1):
        message = raw_request("status-codes", 1)
        span = message.resource_spans[0].scope_spans[0].spans[0]
        span.name, span.span_id, span.start_time_unix_nano, span.end_time_unix_nano = name, bytes([n] * 8), now, now
        attribute = span.attributes.add()
        attribute.key = "http.status_code"
        if isinstance(code, float):
            attribute.value.double_value = code
        elif isinstance(code, str):
            attribute.value.string_value = code
        else:
            attribute.value.int_value = code
        assert post_pb(hc, message).status_code == 200
    hc.component("honeycomb").flush_pending(10)
    stored = {row["name"]: row for row in hc.component("honeycomb").backend.spans_between(dataset="status-codes")["spans"]}
    assert {name: row["http_status_code"] for name, row in stored.items()} == {
        "ok": 200, "huge-double": None, "huge-text": None, "negative": -2 ** 63}
    assert json.loads(stored["huge-text"]["attributes"])["http.status_code"] == str(2 ** 64)
    assert json.loads(stored["huge-double"]["attributes"])["http.status_code"] == 1e300
    assert hc.component("honeycomb").backend.writer.write_errors == 0


def test_writes_wait_when_the_queue_is_full():
    gate = threading.Event()
    store = _RecordingStore(gate=gate)
    writer = SpanWriter(store)
    writer.max_pending_rows = 3
    writer.write(span_rows(raw_request("a", 1)))          # taken by the writer, which blocks
    assert store.started.wait(5)
    writer.write(span_rows(raw_request("b", 3)))          # fills the queue
    blocked = threading.Thread(target=writer.write, args=(span_rows(raw_request("c", 1)),))
    blocked.start()
    blocked.join(0.3)
    assert blocked.is_alive()                              # back-pressure: waits for the writer
    gate.set()
    blocked.join(10)
    assert not blocked.is_alive() and writer.flush(10)
    assert sum(len(i) for i in store.inserts) == 5
    writer.close()


def test_the_writer_lingers_for_more_rows_and_a_reader_does_not_wait_for_it():
    store = _RecordingStore()
    writer = SpanWriter(store)
    writer.linger_s, writer.linger_rows = 30.0, 100
    for name, n in (("a", 2), ("b", 1), ("c", 3)):        # a steady stream while the writer lingers
        writer.write(span_rows(raw_request(name, n)))
    time.sleep(0.3)
    assert store.inserts == []                             # nothing inserted yet: fewer than 100 rows queued
    started = time.monotonic()
    assert writer.flush(timeout=10)                        # a reader: the writer inserts at once
    assert time.monotonic() - started < 5
    assert [len(i) for i in store.inserts] == [6]          # the three batches in one statement
    writer.linger_rows = 4
    writer.write(span_rows(raw_request("d", 5)))           # past linger_rows: inserted without a reader
    deadline = time.monotonic() + 10
    while len(store.inserts) < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert [len(i) for i in store.inserts] == [6, 5]
    writer.close()


def test_the_journal_replays_what_was_not_inserted_and_drops_a_torn_record(tmp_path):
    journal = SpanJournal(tmp_path / "j")
    assert journal.open(after_seq=0) == []
    bodies = [raw_request(name, 1).SerializeToString() for name in ("a", "b", "c")]
    assert [journal.append(b) for b in bodies] == [1, 2, 3]
    journal.close()
    with open(tmp_path / "j", "ab") as fh:                 # a write cut short by a kill: never acknowledged
        fh.write(SpanJournal.HEADER.pack(4, 1000, 0) + b"partial")
    again = SpanJournal(tmp_path / "j")
    assert again.open(after_seq=1) == [(2, bodies[1]), (3, bodies[2])]
    assert again.append(bodies[0]) == 4                    # numbering goes on after the last good record
    assert not again.truncate_if(3) and again.truncate_if(4)
    again.close()
    assert (tmp_path / "j").stat().st_size == 0


def test_acknowledged_spans_are_replayed_into_the_table_on_the_next_start(tmp_path):
    """What a killed process acknowledged but had not inserted yet: in the journal, inserted once on start."""
    from lab_app.localcloud.honeycomb.models import JOURNAL_FILE, SPANS_TABLE, HoneycombBackend
    from lab_app.localcloud.store import Store

    journal = SpanJournal(tmp_path / JOURNAL_FILE)
    journal.open(after_seq=0)
    for name, n in (("a", 2), ("b", 3)):
        journal.append(raw_request(name, n).SerializeToString())
    journal.close()
    store = Store(tmp_path / "localcloud.duckdb")
    backend = HoneycombBackend(store)
    backend.setup()
    assert store.execute(f"SELECT count(*) FROM {SPANS_TABLE}")[0][0] == 5
    backend.close()
    again = HoneycombBackend(store)                        # nothing replayed twice
    again.setup()
    assert store.execute(f"SELECT count(*) FROM {SPANS_TABLE}")[0][0] == 5
    again.close()
    store.close()


def test_a_journal_record_that_cannot_be_replayed_is_skipped_and_the_others_are_inserted(tmp_path):
    """A record that does not decode (or cannot be stored) fails at every start: it is logged and skipped, the
    stand-in starts, the other records go in, and the next start does not try it again."""
    from lab_app.localcloud.honeycomb.models import JOURNAL_FILE, SPANS_TABLE, HoneycombBackend
    from lab_app.localcloud.store import Store

    journal = SpanJournal(tmp_path / JOURNAL_FILE)
    journal.open(after_seq=0)
    journal.append(raw_request("a", 2).SerializeToString())
    journal.append(b"\xff\xff\xff not a protobuf message")        # intact on disk (its CRC holds), undecodable
    journal.append(raw_request("b", 3).SerializeToString())
    journal.close()
    store = Store(tmp_path / "localcloud.duckdb")
    backend = HoneycombBackend(store)
    backend.setup()
    assert store.execute(f"SELECT service, count(*) FROM {SPANS_TABLE} GROUP BY 1 ORDER BY 1") == [("a", 2), ("b", 3)]
    assert backend.writer.write_errors == 1
    backend.close()
    again = HoneycombBackend(store)
    again.setup()
    assert again.writer.write_errors == 0 and store.execute(f"SELECT count(*) FROM {SPANS_TABLE}")[0][0] == 5
    again.close()
    store.close()


def test_one_bad_span_is_rejected_in_partial_success_and_the_good_ones_are_kept(hc):
    # uint64 times >= 2^63 (past what the store's BIGINT holds) in two of five spans
    now = time.time_ns()
    message = ExportTraceServiceRequest()
    resource_spans = message.resource_spans.add()
    attribute = resource_spans.resource.attributes.add()
    attribute.key, attribute.value.string_value = "service.name", "partial"
    scope = resource_spans.scope_spans.add()
    rows = [("good-1", bytes([1] * 16), bytes([1] * 8), now, now + 1000),
            ("far-future", bytes([1] * 16), bytes([2] * 8), 2 ** 63 + 5, 2 ** 64 - 1),
            ("far-end", bytes([1] * 16), bytes([3] * 8), now, 2 ** 63),
            ("good-2", bytes([1] * 16), bytes([4] * 8), now, now + 2000)]
    for name, trace_id, span_id, start, end in rows:
        span = scope.spans.add()
        span.name, span.trace_id, span.span_id = name, trace_id, span_id
        span.start_time_unix_nano, span.end_time_unix_nano = start, end
    reply = post_pb(hc, message)
    assert reply.status_code == 200
    answer = ExportTraceServiceResponse.FromString(reply.content)
    assert answer.partial_success.rejected_spans == 2
    assert answer.partial_success.error_message.startswith("2 span(s) rejected; span 'far-future': ")
    hc.component("honeycomb").flush_pending(10)
    stored = hc.component("honeycomb").backend.spans_between(dataset="partial")["spans"]
    assert sorted(row["name"] for row in stored) == ["good-1", "good-2"]
    clean = ExportTraceServiceRequest()
    clean.resource_spans.add().scope_spans.add().spans.add().CopyFrom(scope.spans[0])
    assert post_pb(hc, clean).status_code == 200          # still serving
