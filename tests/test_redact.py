"""Redaction before data leaves the process: the Redactor, then each pillar's real client on the wire.

Every planted value below is a made-up placeholder, never a real credential.
"""
from __future__ import annotations

import gzip
import json
import logging
import socket
from pathlib import Path

import pytest
from werkzeug.wrappers import Request, Response

from lab_app.instrument import redact
from lab_app.runner import ServerThread

FAKE_KEY_ID = "AKIA" + "Z" * 12 + "7Q2X"                       # pragma: allowlist secret
FAKE_SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzzzzzzzzzz"     # pragma: allowlist secret
FAKE_HONEYCOMB = "hcaik_" + "0" * 26 + "planted"               # pragma: allowlist secret
FAKE_ROLLBAR = "f" * 32                                         # pragma: allowlist secret


@pytest.mark.parametrize("text,kind,leak", [
    (f"key id {FAKE_KEY_ID} in a log line", "aws_access_key_id", FAKE_KEY_ID),
    (f"aws_secret_access_key = {FAKE_SECRET}", "aws_secret_access_key", FAKE_SECRET),  # pragma: allowlist secret
    ("Authorization: Bearer abc.def.ghi", "authorization", "abc.def.ghi"),
    ("sent with bearer eyJhbGciOi.payload.sig", "bearer_token", "eyJhbGciOi.payload.sig"),
    ("OTEL_EXPORTER_OTLP_HEADERS=x-honeycomb-team=abcdef123456", "honeycomb_key", "abcdef123456"),  # pragma: allowlist secret
    (f"key {FAKE_HONEYCOMB}", "honeycomb_key", FAKE_HONEYCOMB),
    (f"X-Rollbar-Access-Token: {FAKE_ROLLBAR}", "rollbar_token", FAKE_ROLLBAR),
    ("db password=hunter2hunter2 ok", "password", "hunter2hunter2"),  # pragma: allowlist secret
])
def test_default_secret_patterns(text, kind, leak):
    out = redact.Redactor().text(text)
    assert leak not in out
    assert f"[REDACTED:{kind}]" in out


def test_ids_that_look_random_are_left_alone():
    r = redact.Redactor()
    trace = "trace 1-5f84c7a1-0123456789abcdef01234567 span 53995c3f42cd8ad8 otel 4bf92f3577b34da6a3ce929d0e0e4736"
    assert r.text(trace) == trace


def test_pii_only_when_configured_and_field_names():
    line = "contact andrew@example.com or +1 555-123-4567"
    assert redact.Redactor().text(line) == line
    r = redact.Redactor(pii=("email", "phone"), fields=("handle",))
    assert r.text(line) == "contact [REDACTED:email] or [REDACTED:phone]"
    data = {"handle": "andrewbrown", "Authorization": "AWS4-HMAC-SHA256 Credential=x", "nested": [{"token": "t0k3n"}],
            "http.request.header.x_honeycomb_team": ["abc"], "ok": 3}
    assert r.value(data) == {
        "handle": "[REDACTED:field:handle]",
        "Authorization": "[REDACTED:field:authorization]",
        "nested": [{"token": "[REDACTED:field:token]"}],
        "http.request.header.x_honeycomb_team": ["[REDACTED:field:x_honeycomb_team]"],
        "ok": 3,
    }
    with pytest.raises(ValueError):
        redact.Redactor(pii=("ssn",))


@pytest.mark.parametrize("name,secret", [
    ("clientSecret", True), ("SecretString", True), ("newPassword", True), ("X-Honeycomb-Team", True),
    ("http.request.header.authorization", True), ("nextToken", False), ("SecretId", False), ("user", False),
])
def test_secret_field_names(name, secret):
    assert redact.Redactor().is_secret_field(name) is secret


def test_literal_secrets_from_the_environment(monkeypatch):
    monkeypatch.setenv("HONEYCOMB_API_KEY", "plain-literal-key-42")
    r = redact.Redactor.from_environment()
    assert r.text("sending plain-literal-key-42 now") == "sending [REDACTED:secret] now"


@pytest.mark.parametrize("name", ["HONEYCOMB_CONFIG_KEY", "ROLLBAR_READ_TOKEN"])
def test_the_cloud_mode_read_keys_are_redacted_too(monkeypatch, name):
    monkeypatch.setenv(name, "read-key-literal-0042")
    assert redact.Redactor.from_environment().text("key read-key-literal-0042") == "key [REDACTED:secret]"


# --- on the wire ----------------------------------------------------------------------------------------
class Capture:
    """A tiny HTTP server that keeps every request body (decompressed)."""

    def __init__(self, reply=b"{}", content_type="application/json"):
        self.bodies: list[bytes] = []
        self.reply, self.content_type = reply, content_type
        self.server = ServerThread(self, port=0, name="capture")

    def __call__(self, environ, start_response):
        request = Request(environ)
        body = request.get_data()
        if request.headers.get("Content-Encoding") == "gzip":
            body = gzip.decompress(body)
        self.bodies.append(str(dict(request.headers)).encode() + b"\n" + body)
        return Response(self.reply, content_type=self.content_type)(environ, start_response)

    def __enter__(self):
        self.server.start()
        return self

    def __exit__(self, *exc):
        self.server.stop()

    @property
    def url(self):
        return self.server.url

    def everything(self) -> bytes:
        return b"\n".join(self.bodies)


def test_span_processor_keeps_the_secret_from_the_otlp_receiver():
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor

    r = redact.Redactor(pii=("email",))
    with Capture(reply=ExportTraceServiceResponse().SerializeToString(), content_type="application/x-protobuf") as cap:
        provider = TracerProvider()
        exporter = OTLPSpanExporter(endpoint=cap.url + "/v1/traces", headers={"x-honeycomb-team": "local"})
        provider.add_span_processor(redact.RedactingSpanProcessor(SimpleSpanProcessor(exporter), r))
        tracer = provider.get_tracer("test")
        with tracer.start_as_current_span("signup") as span:
            span.set_attribute("app.user_email", "andrew@example.com")
            span.set_attribute("http.request.header.authorization", f"Bearer {FAKE_SECRET}")
            span.set_attribute("app.note", f"key {FAKE_KEY_ID}")
            try:
                raise RuntimeError(f"boom with {FAKE_KEY_ID}")
            except RuntimeError as exc:
                span.record_exception(exc)
        provider.shutdown()
        wire = cap.everything()
    assert b"signup" in wire                       # the span really reached the receiver
    assert b"[REDACTED:" in wire
    for leak in (FAKE_SECRET, FAKE_KEY_ID, "andrew@example.com"):
        assert leak.encode() not in wire


def test_unwrapped_processor_would_leak():
    """The control experiment: without the wrapper the planted value reaches the receiver."""
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor

    with Capture(reply=ExportTraceServiceResponse().SerializeToString(), content_type="application/x-protobuf") as cap:
        provider = TracerProvider()
        provider.add_span_processor(SimpleSpanProcessor(OTLPSpanExporter(endpoint=cap.url + "/v1/traces")))
        with provider.get_tracer("t").start_as_current_span("x") as span:
            span.set_attribute("app.note", FAKE_KEY_ID)
        provider.shutdown()
        assert FAKE_KEY_ID.encode() in cap.everything()


def test_span_exporter_wrapper():
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    memory = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(redact.RedactingSpanExporter(memory, redact.Redactor())))
    with provider.get_tracer("t").start_as_current_span("x", attributes={"token": "abc123", "n": 1}):
        pass
    (span,) = memory.get_finished_spans()
    assert dict(span.attributes) == {"token": "[REDACTED:field:token]", "n": 1}


def test_logging_filter_redacts_message_args_extra_and_traceback():
    import io

    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(message)s %(user)s"))
    handler.addFilter(redact.RedactingFilter(redact.Redactor(pii=("email",))))
    logger = logging.getLogger("test_redact.logging")
    logger.propagate = False
    logger.addHandler(handler)
    try:
        try:
            raise ValueError(f"secret_access_key={FAKE_SECRET}")
        except ValueError:
            logger.exception("login by %s with key %s", "andrew@example.com", FAKE_KEY_ID,
                             extra={"user": "andrew@example.com"})
    finally:
        logger.removeHandler(handler)
    out = stream.getvalue()
    assert "ValueError" in out and "[REDACTED:email]" in out
    for leak in (FAKE_SECRET, FAKE_KEY_ID, "andrew@example.com"):
        assert leak not in out


def test_watchtower_handler_ships_redacted_lines():
    import boto3
    import watchtower

    with Capture() as cap:
        client = boto3.client("logs", endpoint_url=cap.url, region_name="us-east-1",
                              aws_access_key_id="AKIAIOSFODNN7EXAMPLE", aws_secret_access_key="x")  # pragma: allowlist secret
        handler = watchtower.CloudWatchLogHandler(log_group_name="redact-test", log_stream_name="s",
                                                  boto3_client=client, create_log_group=False, send_interval=0.1)
        handler.addFilter(redact.RedactingFilter(redact.Redactor()))
        logger = logging.getLogger("test_redact.watchtower")
        logger.propagate = False
        logger.addHandler(handler)
        logger.warning("calling AWS with %s", FAKE_KEY_ID)
        logger.warning({"event": "login", "password": "hunter2hunter2"})  # pragma: allowlist secret
        handler.flush()
        logger.removeHandler(handler)
        handler.close()
        wire = cap.everything()
    assert b"PutLogEvents" in wire and b"calling AWS with" in wire
    assert FAKE_KEY_ID.encode() not in wire and b"hunter2hunter2" not in wire


def _xray_datagram(emitter_for) -> str:
    """One segment with planted values, sent by a fresh recorder through ``emitter_for(address)``."""
    from aws_xray_sdk.core import AWSXRayRecorder

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.settimeout(5)
        emitter = emitter_for(f"127.0.0.1:{sock.getsockname()[1]}")
        recorder = AWSXRayRecorder()
        recorder.configure(sampling=False, context_missing="LOG_ERROR", emitter=emitter)
        assert recorder.emitter is emitter
        segment = recorder.begin_segment("cruddur")
        segment.put_annotation("user_email", "andrew@example.com")
        segment.put_metadata("request", {"headers": {"Authorization": f"Bearer {FAKE_SECRET}"}, "ok": 1})
        segment.put_http_meta("url", f"http://x/api?api_key={FAKE_ROLLBAR}")
        with recorder.in_subsegment("db") as sub:
            sub.put_annotation("note", f"key {FAKE_KEY_ID}")
        recorder.end_segment()
        datagram = sock.recv(65536).decode()
    assert json.loads(datagram.partition("\n")[2])["trace_id"] == segment.trace_id
    return datagram


def test_xray_emitter_redacts_the_datagram():
    datagram = _xray_datagram(lambda address: redact.RedactingEmitter(redact.Redactor(pii=("email",)), address))
    header, _, body = datagram.partition("\n")
    assert json.loads(header) == {"format": "json", "version": 1}
    doc = json.loads(body)
    assert doc["name"] == "cruddur" and doc["subsegments"][0]["name"] == "db"
    assert doc["annotations"]["user_email"] == "[REDACTED:email]"
    assert doc["subsegments"][0]["annotations"]["note"] == "key [REDACTED:aws_access_key_id]"
    for leak in (FAKE_SECRET, FAKE_ROLLBAR, FAKE_KEY_ID, "andrew@example.com"):
        assert leak not in body


def test_sdk_emitter_would_leak():
    """The control experiment: the SDK's own UDPEmitter sends the planted values as they are."""
    from aws_xray_sdk.core.emitters.udp_emitter import UDPEmitter

    body = _xray_datagram(UDPEmitter).partition("\n")[2]
    assert "andrew@example.com" in body and FAKE_KEY_ID in body


# pyrollbar keeps its settings in module state and honours only the first rollbar.init of a process,
# so each report runs in a fresh interpreter, exactly as an app would set it up.
ROLLBAR_SCRIPT = """
import sys, rollbar
from lab_app.instrument import redact
endpoint, redacting, message, note = sys.argv[1:5]
rollbar.init("local-rollbar-token-0000", "test", endpoint=endpoint, handler="blocking",
             allow_logging_basic_config=False)
if redacting == "yes":
    rollbar.events.add_payload_handler(redact.rollbar_payload_handler(redact.Redactor(pii=("email",))))
rollbar.report_message(message, "error", extra_data={"note": note})
"""


def _rollbar_wire(redacting: bool) -> bytes:
    import subprocess
    import sys

    with Capture(reply=json.dumps({"err": 0, "result": {"uuid": "u"}}).encode()) as cap:
        subprocess.run([sys.executable, "-c", ROLLBAR_SCRIPT, cap.url + "/api/1/", "yes" if redacting else "no",
                        f"user andrew@example.com used {FAKE_KEY_ID}", f"aws_secret_access_key={FAKE_SECRET}"],
                       check=True, timeout=60, cwd=Path(__file__).resolve().parent.parent)
        return cap.everything()


def test_rollbar_payload_handler_on_the_wire():
    wire = _rollbar_wire(redacting=True)
    assert b"[REDACTED:email]" in wire and b"local-rollbar-token-0000" in wire   # the credential itself still travels
    for leak in (FAKE_SECRET, FAKE_KEY_ID, "andrew@example.com"):
        assert leak.encode() not in wire


def test_rollbar_without_the_handler_would_leak():
    wire = _rollbar_wire(redacting=False)
    assert b"andrew@example.com" in wire and FAKE_KEY_ID.encode() in wire


def test_redact_uses_only_the_sdks():
    """redact.py plugs into the SDKs' public extension points; it imports none of the workbook's other helpers."""
    import ast

    tree = ast.parse(Path(redact.__file__).read_text())
    imported = {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module}
    imported |= {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    assert not {m for m in imported if m.startswith("lab_app")}, imported


# Six planted values in frame locals and arguments, under names that say nothing (pyrollbar sends every frame's
# locals by default): before the fix two of them went out, because no pattern recognises a bare token.
ROLLBAR_LOCALS_SCRIPT = """
import sys, rollbar
from lab_app.instrument import redact
endpoint, redacting, *planted = sys.argv[1:]
rollbar.init("local-rollbar-token-0000", "test", endpoint=endpoint, handler="blocking",
             allow_logging_basic_config=False)
if redacting == "yes":
    rollbar.events.add_payload_handler(redact.rollbar_payload_handler(redact.Redactor(pii=("email",))))

def handler(first, *rest, **options):
    value_a, value_b, value_c = rest[0], rest[1], options["x"]
    bag = {"k": rest[2]}
    raise RuntimeError("boom")

try:
    handler(planted[0], planted[1], planted[2], planted[3], x=planted[4], y=planted[5])
except RuntimeError:
    rollbar.report_exc_info()
"""
PLANTED_LOCALS = [FAKE_ROLLBAR, "0123456789abcdef0123456789abcdef", FAKE_SECRET, FAKE_KEY_ID, FAKE_HONEYCOMB,  # pragma: allowlist secret
                  "andrew@example.com"]


def _rollbar_locals_wire(redacting: bool) -> bytes:
    import subprocess
    import sys

    with Capture(reply=json.dumps({"err": 0, "result": {"uuid": "u"}}).encode()) as cap:
        subprocess.run([sys.executable, "-c", ROLLBAR_LOCALS_SCRIPT, cap.url + "/api/1/",
                        "yes" if redacting else "no", *PLANTED_LOCALS],
                       check=True, timeout=60, cwd=Path(__file__).resolve().parent.parent)
        return cap.everything()


def test_rollbar_frame_locals_are_redacted_all_six():
    wire = _rollbar_locals_wire(redacting=True)
    leaked = [value for value in PLANTED_LOCALS if value.encode() in wire]
    assert leaked == []
    item = json.loads(wire.partition(b"\n")[2])
    assert item["data"]["server"]["argv"][1:] == ["[REDACTED:argv]"] * (len(PLANTED_LOCALS) + 2)
    frames = item["data"]["body"]["trace"]["frames"]
    handler = next(frame for frame in frames if frame.get("method") == "handler")
    assert set(handler["locals"]) >= {"first", "value_a", "value_b", "value_c", "bag"}     # the names stay
    assert handler["locals"]["value_a"] == "[REDACTED:local]"


def test_rollbar_frame_locals_without_the_handler_would_leak():
    wire = _rollbar_locals_wire(redacting=False)
    assert all(value.encode() in wire for value in PLANTED_LOCALS)
