"""Keep secrets and personal data out of telemetry: one Redactor, a hook for each of the four pillars.

None of the four SDKs has a "redact before export" setting of its own (Rollbar's ``scrub_fields`` matches
field *names* only, not an access key inside a message), so this module is the one piece of the workbook a
notebook plugs into the SDKs' own extension points. Each hook works on the object you hand it:

    from lab_app.instrument import redact
    redactor = redact.Redactor(pii=("email",), fields=("handle",))   # + the default secret patterns
    provider.add_span_processor(redact.RedactingSpanProcessor(BatchSpanProcessor(OTLPSpanExporter()), redactor))
    handler.addFilter(redact.RedactingFilter(redactor))              # a watchtower CloudWatchLogHandler
    xray_recorder.configure(emitter=redact.RedactingEmitter(redactor))
    rollbar.events.add_payload_handler(redact.rollbar_payload_handler(redactor))

Every hook runs in the process, *before* the data leaves it:

* OpenTelemetry: a finished span (``ReadableSpan``) is immutable, so :class:`RedactingSpanProcessor`
  wraps the processor that exports (Batch/Simple) and hands it a redacted *copy* of each span
  (attributes, event attributes such as ``exception.message``, status description, name).
  :class:`RedactingSpanExporter` does the same one level down, around an exporter.
* logging (watchtower / CloudWatch Logs): :class:`RedactingFilter` on the *handler* rewrites the
  record's message, dict messages, exception text and extra fields.
* X-Ray: :class:`RedactingEmitter` is a ``UDPEmitter`` (the recorder's ``emitter=`` setting) that sends
  a redacted serialization of each segment (annotations, metadata, http, cause).
* Rollbar: :func:`rollbar_payload_handler` is a ``rollbar.events`` payload handler that redacts the
  item's ``data`` (the top-level ``access_token`` is the credential the SDK itself must send).
"""
from __future__ import annotations

import json
import logging
import os
import re
from dataclasses import dataclass, field
from typing import Any, Sequence

from aws_xray_sdk.core.emitters.udp_emitter import DEFAULT_DAEMON_ADDRESS, UDPEmitter
from opentelemetry.sdk.trace import SpanProcessor
from opentelemetry.sdk.trace.export import SpanExporter

REDACTED = "[REDACTED:{kind}]"

# (kind, pattern, group to replace: 0 = the whole match)
SECRET_PATTERNS: list[tuple[str, str, int]] = [
    ("aws_access_key_id", r"(?<![A-Z0-9])(?:AKIA|ASIA|AGPA|AIDA|AROA|AIPA|ANPA|ANVA|APKA)[A-Z0-9]{16}(?![A-Z0-9])", 0),
    ("aws_secret_access_key",
     r"(?i)(?:aws_?secret_?access_?key|secret_?access_?key|aws_?secret)[\"']?\s*[:=]\s*[\"']?([A-Za-z0-9/+=]{40})", 1),
    ("authorization", r"(?i)(?:authorization)[\"']?\s*[:=]\s*[\"']?((?:bearer|basic|aws4-hmac-sha256)\s+[^\"'\n]+|[^\s\"',;]+)", 1),
    ("bearer_token", r"(?i)\bbearer\s+([A-Za-z0-9\-._~+/]+=*)", 1),
    ("honeycomb_key", r"(?i)x-honeycomb-team[\"']?\s*[:=]\s*[\"']?([^\s\"',;&]+)", 1),
    ("honeycomb_key", r"\bhc[a-z]{2}k_[A-Za-z0-9]{20,}\b", 0),
    ("rollbar_token", r"(?i)(?:x-rollbar-access-token|rollbar_access_token|access_token)[\"']?\s*[:=]\s*[\"']?([A-Za-z0-9\-_]{16,})", 1),
    ("aws_session_token", r"(?i)(?:x-amz-security-token|aws_session_token|sessiontoken)[\"']?\s*[:=]\s*[\"']?([A-Za-z0-9/+=]{16,})", 1),
    ("password", r"(?i)(?:password|passwd|pwd|secret|api_?key)[\"']?\s*[:=]\s*[\"']?([^\s\"',;&]+)", 1),
]
PII_PATTERNS: dict[str, str] = {
    "email": r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9.\-]+\.[A-Za-z]{2,}",
    "phone": r"(?<![\w.])(?:\+\d{1,3}[\s.\-]?)?(?:\(\d{3}\)|\d{3})[\s.\-]\d{3}[\s.\-]\d{4}(?![\w])",
}
# Field names whose whole value is a secret wherever they appear (headers, attributes, JSON keys).
SECRET_FIELDS = (
    "authorization", "proxy-authorization", "x-honeycomb-team", "x-rollbar-access-token", "x-amz-security-token",
    "cookie", "set-cookie", "password", "passwd", "secret", "secret_access_key", "aws_secret_access_key",
    "aws_session_token", "session_token", "api_key", "apikey", "access_token", "token", "private_key",
    "honeycomb_api_key", "rollbar_access_token",
)
# ...and names that end like a secret (``clientSecret``, ``SecretString``, ``newPassword``), compared
# without case, dashes or underscores; ``nextToken`` and ``SecretId`` are not secrets and do not match.
SECRET_SUFFIXES = ("secret", "password", "passwd", "privatekey", "accesstoken", "sessiontoken", "apikey",
                   "secretstring", "secretbinary", "secretaccesskey", "authorization", "cookie")
ENV_SECRETS = ("AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "HONEYCOMB_API_KEY", "HONEYCOMB_CONFIG_KEY",
               "ROLLBAR_ACCESS_TOKEN", "ROLLBAR_READ_TOKEN")


def _norm(name: str) -> str:
    return name.strip().lower().replace("-", "_")


@dataclass
class Redactor:
    """Finds secrets and the PII the learner asks for, and replaces them with ``[REDACTED:<kind>]``.

    ``pii``: any of ``"email"``, ``"phone"``; ``fields``: extra field names whose values are always
    redacted (e.g. ``"handle"``); ``literals``: exact strings to remove (the secret values this
    process holds: :meth:`from_environment` adds them).
    """

    pii: Sequence[str] = ()
    fields: Sequence[str] = ()
    literals: Sequence[str] = ()
    secret_patterns: Sequence[tuple[str, str, int]] = field(default_factory=lambda: list(SECRET_PATTERNS))
    _compiled: list = field(init=False, repr=False)
    _fields: frozenset = field(init=False, repr=False)

    def __post_init__(self) -> None:
        unknown = set(self.pii) - set(PII_PATTERNS)
        if unknown:
            raise ValueError(f"unknown PII kind(s) {sorted(unknown)}: choose from {sorted(PII_PATTERNS)}")
        compiled = [(kind, re.compile(p), g) for kind, p, g in self.secret_patterns]
        compiled += [(kind, re.compile(PII_PATTERNS[kind]), 0) for kind in self.pii]
        self._compiled = compiled
        self._fields = frozenset(_norm(f) for f in (*SECRET_FIELDS, *self.fields))
        self.literals = tuple(sorted({v for v in self.literals if v and len(v) >= 6}, key=len, reverse=True))

    @classmethod
    def from_environment(cls, **kwargs: Any) -> "Redactor":
        """A Redactor that also removes the literal values of the secrets set in this process's environment."""
        values = [os.environ.get(name, "") for name in ENV_SECRETS]
        headers = os.environ.get("OTEL_EXPORTER_OTLP_HEADERS", "")
        values += [item.split("=", 1)[1] for item in headers.split(",") if "=" in item]
        return cls(literals=(*kwargs.pop("literals", ()), *values), **kwargs)

    # --- the core -----------------------------------------------------------------------------
    def is_secret_field(self, name: str) -> bool:
        key = _norm(str(name))
        if key in self._fields:
            return True
        last = re.split(r"[.\s/]", key)[-1]
        if last in self._fields:
            return True
        compact = last.replace("_", "")
        return compact.endswith(SECRET_SUFFIXES)

    def text(self, value: str) -> str:
        """``value`` with every secret, configured PII and literal replaced."""
        if not value:
            return value
        out = value
        for literal in self.literals:
            if literal in out:
                out = out.replace(literal, REDACTED.format(kind="secret"))
        for kind, pattern, group in self._compiled:
            out = pattern.sub(lambda m, k=kind, g=group: _replace(m, g, k), out)
        return out

    def value(self, value: Any, key: str | None = None) -> Any:
        """Redact any JSON-like value; a secret field name replaces the whole value."""
        if key is not None and self.is_secret_field(key) and value not in (None, "", [], {}):
            kind = "field:" + _norm(str(key)).split(".")[-1]
            if isinstance(value, (list, tuple)):
                return type(value)(REDACTED.format(kind=kind) for _ in value)
            return REDACTED.format(kind=kind)
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, dict):
            return {k: self.value(v, str(k)) for k, v in value.items()}
        if isinstance(value, list):
            return [self.value(v) for v in value]
        if isinstance(value, tuple):
            return tuple(self.value(v) for v in value)
        return value

    def mapping(self, data: dict) -> dict:
        return self.value(data) if isinstance(data, dict) else data

    def found(self, value: Any) -> bool:
        """True when redaction would change ``value`` (used by checkpoints and tests)."""
        return self.value(value) != value


def _replace(match: re.Match, group: int, kind: str) -> str:
    marker = REDACTED.format(kind=kind)
    if group == 0:
        return marker
    start, end = match.span(group)
    whole_start = match.start()
    text = match.group(0)
    return text[: start - whole_start] + marker + text[end - whole_start:]


# --- OpenTelemetry ---------------------------------------------------------------------------------
def redact_span(span, redactor: Redactor):
    """A redacted copy of a finished span (ReadableSpan is immutable)."""
    from opentelemetry.sdk.trace import Event, ReadableSpan
    from opentelemetry.trace import Status

    status = span.status
    if status is not None and status.description:
        status = Status(status.status_code, redactor.text(status.description))
    events = [Event(e.name, redactor.value(dict(e.attributes or {})), e.timestamp) for e in span.events]
    return ReadableSpan(
        name=redactor.text(span.name), context=span.context, parent=span.parent, resource=span.resource,
        attributes=redactor.value(dict(span.attributes or {})), events=events, links=span.links, kind=span.kind,
        status=status, start_time=span.start_time, end_time=span.end_time,
        instrumentation_scope=span.instrumentation_scope,
    )


class RedactingSpanProcessor(SpanProcessor):
    """Wraps a span processor (usually the exporting one) and gives it redacted copies of spans.

    ``provider.add_span_processor(RedactingSpanProcessor(BatchSpanProcessor(exporter), redactor))``
    """

    def __init__(self, inner: SpanProcessor, redactor: Redactor):
        self.inner = inner
        self.redactor = redactor

    def on_start(self, span, parent_context=None) -> None:
        self.inner.on_start(span, parent_context=parent_context)

    def on_end(self, span) -> None:
        self.inner.on_end(redact_span(span, self.redactor))

    def shutdown(self) -> None:
        self.inner.shutdown()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return self.inner.force_flush(timeout_millis)


class RedactingSpanExporter(SpanExporter):
    """Wraps a span exporter: every batch is redacted before it is exported."""

    def __init__(self, inner: SpanExporter, redactor: Redactor):
        self.inner = inner
        self.redactor = redactor

    def export(self, spans):
        return self.inner.export([redact_span(s, self.redactor) for s in spans])

    def shutdown(self) -> None:
        self.inner.shutdown()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return self.inner.force_flush(timeout_millis)


# --- logging (watchtower) -----------------------------------------------------------------------------
_RECORD_FIELDS = frozenset(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {"message", "asctime"}


class RedactingFilter(logging.Filter):
    """A handler filter that rewrites each record before the handler formats and ships it."""

    def __init__(self, redactor: Redactor):
        super().__init__()
        self.redactor = redactor

    def filter(self, record: logging.LogRecord) -> bool:
        r = self.redactor
        if isinstance(record.msg, dict):
            record.msg = r.value(record.msg)
        else:
            try:
                message = record.getMessage()
            except Exception:
                message = str(record.msg)
            record.msg, record.args = r.text(message), None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = r.text(record.exc_text)
        if record.stack_info:
            record.stack_info = r.text(record.stack_info)
        for key, value in list(record.__dict__.items()):
            if key not in _RECORD_FIELDS:
                record.__dict__[key] = r.value(value, key)
        return True


# --- X-Ray -----------------------------------------------------------------------------------------------
def _xray_document(doc: dict, redactor: Redactor) -> dict:
    keep = {"id", "trace_id", "parent_id", "start_time", "end_time", "in_progress", "type", "origin",
            "namespace", "error", "fault", "throttle", "service", "aws"}
    out = {}
    for key, value in doc.items():
        if key in keep and key != "aws":
            out[key] = value
        elif key == "subsegments":
            out[key] = [_xray_document(s, redactor) for s in value]
        else:
            out[key] = redactor.value(value, key)
    return out


class _RedactedEntity:
    """What the emitter serializes: the segment's document with the redactor applied."""

    def __init__(self, entity, redactor: Redactor):
        self.entity, self.redactor = entity, redactor

    def serialize(self) -> str:
        document = _xray_document(json.loads(self.entity.serialize()), self.redactor)
        return json.dumps(document, separators=(",", ":"))


class RedactingEmitter(UDPEmitter):
    """The X-Ray UDP emitter, redacting each segment/subsegment document before it is sent.

    ``xray_recorder.configure(emitter=RedactingEmitter(redactor))``. The daemon address is
    ``AWS_XRAY_DAEMON_ADDRESS`` (as for the SDK's own emitter) unless you pass one.
    """

    def __init__(self, redactor: Redactor, daemon_address: str | None = None):
        super().__init__(daemon_address or os.environ.get("AWS_XRAY_DAEMON_ADDRESS") or DEFAULT_DAEMON_ADDRESS)
        self.redactor = redactor

    def send_entity(self, entity) -> None:
        super().send_entity(_RedactedEntity(entity, self.redactor))


# --- Rollbar ----------------------------------------------------------------------------------------------
def rollbar_payload_handler(redactor: Redactor, keep_locals: bool = False):
    """A ``rollbar.events`` payload handler: redacts ``payload['data']`` (not the top-level access token).

    ``rollbar.events.add_payload_handler(rollbar_payload_handler(redactor))``; keep the function to
    ``remove_payload_handler`` it later (a re-run would otherwise add a second one).

    Frame locals: pyrollbar sends the local variables of every frame of a traceback (``locals.enabled`` is on by
    default). A secret held in a variable whose *name* says nothing (``token = os.environ[...]``, a 32-hex Rollbar
    token, a random API key) matches no pattern, so the values of ``locals`` and of the frame arguments are
    replaced by ``[REDACTED:local]``, keeping the names (what the frame held, not its contents). The same goes
    for the process's command line, which pyrollbar sends as ``server.argv`` (``--token ...``): every argument
    after the program becomes ``[REDACTED:argv]``. Pass ``keep_locals=True`` to keep both, redacted by the
    patterns and field names only.
    """

    def redact_rollbar_payload(payload, **kw):
        if isinstance(payload, dict) and isinstance(payload.get("data"), dict):
            data = payload["data"] if keep_locals else _without_locals(payload["data"])
            payload = {**payload, "data": redactor.value(data)}
        return payload

    redact_rollbar_payload.redactor = redactor  # type: ignore[attr-defined]
    return redact_rollbar_payload


LOCAL_REDACTED = REDACTED.format(kind="local")


def _frame_without_locals(frame: Any) -> Any:
    if not isinstance(frame, dict):
        return frame
    frame = dict(frame)
    if isinstance(frame.get("locals"), dict):
        frame["locals"] = {name: LOCAL_REDACTED for name in frame["locals"]}
    for key in ("args", "kwargs"):
        if key in frame:
            frame[key] = LOCAL_REDACTED
    return frame


def _trace_without_locals(trace: Any) -> Any:
    if not isinstance(trace, dict):
        return trace
    return {**trace, "frames": [_frame_without_locals(frame) for frame in trace.get("frames") or []]}


def _without_locals(data: dict) -> dict:
    """``data`` with every frame's ``locals`` values (and ``args``/``kwargs``) replaced, names kept, and the
    command line's arguments replaced."""
    server = data.get("server")
    if isinstance(server, dict) and isinstance(server.get("argv"), list):
        argv = server["argv"]
        data = {**data, "server": {**server, "argv": argv[:1] + [REDACTED.format(kind="argv")] * len(argv[1:])}}
    body = data.get("body")
    if not isinstance(body, dict):
        return data
    body = dict(body)
    if "trace" in body:
        body["trace"] = _trace_without_locals(body["trace"])
    if isinstance(body.get("trace_chain"), list):
        body["trace_chain"] = [_trace_without_locals(trace) for trace in body["trace_chain"]]
    return {**data, "body": body}
