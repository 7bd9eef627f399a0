"""CloudWatch Logs Live Tail (StartLiveTail): an HTTP response that stays open and carries an AWS event stream
(``application/vnd.amazon.eventstream``), which boto3 reads as ``response["responseStream"]``.

The frames (``encode_frame``) are AWS's binary event-stream messages: a prelude (total length, headers length,
CRC32 of those 8 bytes), headers (name length, name, type 7 = string, value length, value), the JSON payload and
a CRC32 of the whole message (zlib.crc32, the CRC botocore's ``botocore.eventstream`` checks). As for every
JSON-protocol event stream, the first event is ``initial-response`` (botocore requires it), then ``sessionStart``
(the session id and the request echoed), then a ``sessionUpdate`` about every second with ``sessionResults``: the
log events stored since the previous update in the session's log groups (and streams), that match
``logEventFilterPattern``; at most 500 per update (AWS's figure), ``sessionMetadata.sampled`` true when more
arrived. After 3 hours (on the local cloud's clock) the session ends with a ``SessionTimeoutException`` event.
At most 15 concurrent sessions per account (AWS's quota): a 16th is ``LimitExceededException``.

botocore's model gives StartLiveTail the host prefix ``stream-``: a client pointed at ``http://127.0.0.1:4566``
would call ``http://stream-127.0.0.1:4566``, which does not resolve. Local clients turn the injection off, with
``botocore.config.Config(inject_host_prefix=False)`` or ``AWS_DISABLE_HOST_PREFIX_INJECTION=true``.
"""
from __future__ import annotations

import json
import struct
import threading
import time
import uuid
import zlib
from collections import deque
from typing import Any, Callable

from werkzeug.wrappers import Response

from lab_app.localcloud.logs import exceptions as exc
from lab_app.localcloud.logs import filter_pattern
from lab_app.localcloud.logs.filter_pattern import FilterPatternError
from lab_app.localcloud.logs.models import _group_name_from_identifier

UPDATE_S = 1.0
MAX_RESULTS_PER_UPDATE = 500
MAX_SESSION_MS = 3 * 3600 * 1000
MAX_SESSIONS = 15
MAX_BUFFERED = 50_000          # events kept per session between updates (the rest only make it "sampled")
CONTENT_TYPE = "application/vnd.amazon.eventstream"
STRING = 7                     # the event-stream header value type for a UTF-8 string


def encode_header(name: str, value: str) -> bytes:
    n, v = name.encode(), value.encode()
    return bytes([len(n)]) + n + bytes([STRING]) + struct.pack(">H", len(v)) + v


def encode_frame(headers: dict[str, str], payload: bytes) -> bytes:
    """One event-stream message: prelude + prelude CRC + headers + payload + message CRC (all big-endian)."""
    head = b"".join(encode_header(k, v) for k, v in headers.items())
    prelude = struct.pack(">II", 12 + len(head) + len(payload) + 4, len(head))
    message = prelude + struct.pack(">I", zlib.crc32(prelude)) + head + payload
    return message + struct.pack(">I", zlib.crc32(message))


def event(event_type: str, document: dict) -> bytes:
    return encode_frame({":message-type": "event", ":event-type": event_type, ":content-type": "application/json"},
                        json.dumps(document, separators=(",", ":")).encode())


def exception(exception_type: str, message: str) -> bytes:
    return encode_frame({":message-type": "exception", ":exception-type": exception_type,
                         ":content-type": "application/json"}, json.dumps({"message": message}).encode())


class Session:
    def __init__(self, groups: dict[str, str], streams: list[str] | None, prefixes: list[str] | None, pattern: Any):
        self.id = str(uuid.uuid4())
        self.groups = groups            # group name -> identifier as the request gave it
        self.streams = set(streams) if streams else None
        self.prefixes = tuple(prefixes) if prefixes else None
        self.pattern = pattern
        self.buffer: deque = deque()
        self.dropped = 0
        self.lock = threading.Lock()

    def wants_stream(self, stream: str) -> bool:
        if self.streams is not None:
            return stream in self.streams
        if self.prefixes is not None:
            return stream.startswith(self.prefixes)
        return True


class LiveTail:
    def __init__(self, store, now_ms: Callable[[], int], require_group: Callable, events_table: str):
        self.store = store
        self.now_ms = now_ms
        self.require_group = require_group
        self.events_table = events_table
        self._sessions: dict[str, Session] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self.started = 0

    def status(self) -> dict:
        return {"live_tail_sessions": len(self._sessions)}

    def stop(self) -> None:
        self._stop.set()

    def stored(self, region: str, group: str, stream: str, timestamps, ids, messages: list[str]) -> None:
        """After each stored batch: hand it to the sessions that tail the group (matched in their own thread)."""
        if not self._sessions:
            return
        now = self.now_ms()
        for session in list(self._sessions.values()):
            if (region, group) not in session.groups or not session.wants_stream(stream):
                continue
            with session.lock:
                for ts, message in zip(timestamps, messages):
                    if len(session.buffer) >= MAX_BUFFERED:
                        session.dropped += 1
                        continue
                    session.buffer.append((group, stream, int(ts), message, now))

    def start(self, region: str, body: dict) -> Response:
        identifiers = body["logGroupIdentifiers"]
        streams, prefixes = body.get("logStreamNames"), body.get("logStreamNamePrefixes")
        if streams and prefixes:
            raise exc.InvalidParameterException("logStreamNames and logStreamNamePrefixes are mutually exclusive.")
        if (streams or prefixes) and len(identifiers) != 1:
            raise exc.InvalidParameterException("logStreamNames and logStreamNamePrefixes can be given only with "
                                                "exactly one log group in logGroupIdentifiers.")
        groups = {}
        for identifier in identifiers:
            name = _group_name_from_identifier(identifier)
            self.require_group(region, name)
            groups[(region, name)] = identifier
        try:
            pattern = filter_pattern.parse(body.get("logEventFilterPattern") or "")
        except FilterPatternError as e:
            raise exc.InvalidParameterException(f"Invalid filter pattern: {e}") from None
        session = Session(groups, streams, prefixes, pattern)
        with self._lock:
            if len(self._sessions) >= MAX_SESSIONS:
                raise exc.LimitExceededException(f"You have reached the limit of {MAX_SESSIONS} concurrent Live "
                                                 "Tail sessions.")
            self._sessions[session.id] = session
        request_id = str(uuid.uuid4())
        start = {"requestId": request_id, "sessionId": session.id, "logGroupIdentifiers": list(identifiers),
                 **({"logStreamNames": streams} if streams else {}),
                 **({"logStreamNamePrefixes": prefixes} if prefixes else {}),
                 "logEventFilterPattern": body.get("logEventFilterPattern") or ""}
        return Response(self._frames(session, start), status=200, content_type=CONTENT_TYPE,
                        headers={"x-amzn-RequestId": request_id}, direct_passthrough=True)

    def _frames(self, session: Session, start: dict):
        began = self.now_ms()
        try:
            yield event("initial-response", {})
            yield event("sessionStart", start)
            while not self._stop.is_set():
                deadline = time.monotonic() + UPDATE_S
                while time.monotonic() < deadline and not self._stop.is_set():
                    time.sleep(min(0.1, max(0.0, deadline - time.monotonic())))
                if self.now_ms() - began >= MAX_SESSION_MS:
                    yield exception("SessionTimeoutException", "Session timed out after 3 hours.")
                    return
                yield event("sessionUpdate", self._update(session))
        finally:
            with self._lock:
                self._sessions.pop(session.id, None)

    def _update(self, session: Session) -> dict:
        with session.lock:
            pending, session.buffer = list(session.buffer), deque()
            dropped, session.dropped = session.dropped, 0
        results = []
        matched = 0
        for group, stream, ts, message, ingested in pending:
            if not filter_pattern.matches(session.pattern, message):
                continue
            matched += 1
            if len(results) < MAX_RESULTS_PER_UPDATE:
                results.append({"logStreamName": stream, "logGroupIdentifier": session.groups[(session_region(
                    session, group), group)], "message": message, "timestamp": ts, "ingestionTime": ingested})
        sampled = matched > MAX_RESULTS_PER_UPDATE or dropped > 0
        return {"sessionMetadata": {"sampled": sampled}, "sessionResults": results}


def session_region(session: Session, group: str) -> str:
    return next(region for region, name in session.groups if name == group)
