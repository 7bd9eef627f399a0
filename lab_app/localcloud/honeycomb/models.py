"""The Honeycomb stand-in's data: spans (one row per OTLP span), saved queries and query results, in DuckDB.

- The dataset is the resource's ``service.name`` (``unknown_service`` when missing, as Honeycomb does),
  slugified the way Honeycomb slugs dataset names for its API paths.
- :func:`span_rows` turns an ``ExportTraceServiceRequest`` into rows (the hot path of ingest: one pass over
  each scope's spans per column, attributes decoded once per span).
- :class:`SpanJournal` makes an acknowledged export durable with one ``write()``; :class:`SpanWriter` inserts from
  one writer thread, every batch queued while an INSERT runs (or while it lingers, up to half a second, for more)
  going into the next statement; readers flush first, which also ends the lingering, so whatever was acknowledged
  is what a query sees at once. Code that reads the spans table directly must flush too
  (``component("honeycomb").flush_pending(timeout)``).
"""
from __future__ import annotations

import json
import math
import os
import re
import secrets
import struct
import threading
import time
import zlib
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import pandas as pd
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from lab_app import config
from lab_app.localcloud.honeycomb.exceptions import NotFound
from lab_app.localcloud.honeycomb.query.ast import ALL_DATASETS, HEATMAP_BUCKETS, Calculation, QuerySpec
from lab_app.localcloud.honeycomb.query.to_sql import heatmap_range_sql, heatmap_sql, series_sql, to_sql
from lab_app.localcloud.otlp.decode import INT64_MAX, INT64_MIN, attributes

SPANS_TABLE = "otlp_spans"
QUERIES_TABLE = "honeycomb_queries"
RESULTS_TABLE = "honeycomb_query_results"

SPANS_DDL = f"""
CREATE TABLE IF NOT EXISTS {SPANS_TABLE} (
    dataset VARCHAR,            -- Honeycomb dataset slug (from the resource service.name)
    service VARCHAR,            -- the resource service.name as sent
    trace_id VARCHAR,           -- 32 hex digits
    span_id VARCHAR,            -- 16 hex digits
    parent_id VARCHAR,          -- NULL for a root span
    name VARCHAR,
    kind VARCHAR,               -- server, client, internal, producer, consumer, unspecified
    start_time TIMESTAMP,       -- UTC
    end_time TIMESTAMP,
    duration_ms DOUBLE,
    status_code INTEGER,        -- 0 unset, 1 ok, 2 error (OTLP StatusCode)
    status_message VARCHAR,
    error BOOLEAN,              -- status_code = 2, as Honeycomb derives it
    http_route VARCHAR,         -- promoted copies of the attributes most queries group by
    http_method VARCHAR,
    http_status_code BIGINT,
    http_target VARCHAR,
    scope_name VARCHAR,
    attributes JSON,
    events JSON,
    links JSON,
    resource_attributes JSON,
    received_at TIMESTAMP
)"""
QUERIES_DDL = f"""
CREATE TABLE IF NOT EXISTS {QUERIES_TABLE} (
    id VARCHAR PRIMARY KEY, dataset VARCHAR, spec JSON, created_at TIMESTAMP
)"""
RESULTS_DDL = f"""
CREATE TABLE IF NOT EXISTS {RESULTS_TABLE} (
    id VARCHAR PRIMARY KEY, dataset VARCHAR, query_id VARCHAR, result JSON, created_at TIMESTAMP
)"""

JOURNAL_FILE = "honeycomb-spans.journal"          # beside the DuckDB file
JOURNAL_TABLE = "honeycomb_journal"
JOURNAL_DDL = f"""
CREATE TABLE IF NOT EXISTS {JOURNAL_TABLE} (id INTEGER PRIMARY KEY, committed_seq UBIGINT NOT NULL)"""

SPAN_COLUMNS = [
    "dataset", "service", "trace_id", "span_id", "parent_id", "name", "kind", "start_time", "end_time",
    "duration_ms", "status_code", "status_message", "error", "http_route", "http_method", "http_status_code",
    "http_target", "scope_name", "attributes", "events", "links", "resource_attributes", "received_at",
]

KIND_NAMES = {0: "unspecified", 1: "internal", 2: "server", 3: "client", 4: "producer", 5: "consumer"}

TEAM = {"name": "Local Cloud", "slug": "local-cloud"}
ENVIRONMENT = {"name": "local", "slug": "local"}

# json.dumps(value, default=str), the same text, without building an encoder per call: JSONEncoder.encode makes a
# new C encoder on every call (a third of the cost for an attribute dict); this one is made once. Span data has no
# cycles, so no cycle check. The pure-Python JSONEncoder where the C accelerator is missing.
_c_encoder = (json.encoder.c_make_encoder(None, str, json.encoder.encode_basestring_ascii, None, ": ", ", ",
                                          False, False, True) if json.encoder.c_make_encoder else None)


def _dumps(value) -> str:
    if _c_encoder is None:
        return json.JSONEncoder(default=str).encode(value)
    return "".join(_c_encoder(value, 0))


def dataset_slug(service_name: str) -> str:
    """Honeycomb's dataset slug: lower case, runs of other characters become ``-``."""
    slug = re.sub(r"[^a-z0-9_\-.]+", "-", service_name.strip().lower()).strip("-")
    return slug or "unknown_service"


CONFIGURATION_ACCESS = {"events": True, "markers": True, "triggers": True, "boards": True, "queries": True,
                        "columns": True, "createDatasets": True, "slos": True, "recipients": True,
                        "privateBoards": True}
# An ingest key sends events (and may create the datasets they land in); nothing else.
INGEST_ACCESS = {name: name in ("events", "createDatasets") for name in CONFIGURATION_ACCESS}


def api_keys() -> dict[str, str]:
    """Keys the stand-in accepts and their type (``configuration`` or ``ingest``): the two local keys plus any
    listed (comma-separated) in LAB_HONEYCOMB_KEYS, which are configuration keys with every permission."""
    extra = {k.strip() for k in os.environ.get("LAB_HONEYCOMB_KEYS", "").split(",") if k.strip()}
    keys = {key: "configuration" for key in extra}
    keys.update({config.LOCAL_HONEYCOMB_KEY: "configuration", config.LOCAL_HONEYCOMB_INGEST_KEY: "ingest"})
    return keys


def valid_keys() -> set[str]:
    return set(api_keys())


def key_access(key_type: str, plan: str) -> dict[str, bool]:
    """``api_key_access`` of a key: an ingest key sends events only; on a free team no key may query."""
    access = dict(CONFIGURATION_ACCESS if key_type == "configuration" else INGEST_ACCESS)
    if plan != "enterprise":
        access["queries"] = False
    return access


# --- spans -> rows --------------------------------------------------------------------------------
def _as_str(value) -> str | None:
    return None if value is None else str(value)


def _as_int(value) -> int | None:
    """A promoted integer column's value (BIGINT): None for what is not a whole number of that size (text, NaN,
    infinity, 1e300), which the attributes JSON still holds as sent."""
    try:
        number = None if value is None or isinstance(value, bool) else int(value)
    except (TypeError, ValueError, OverflowError):
        return None
    return number if number is not None and INT64_MIN <= number <= INT64_MAX else None


def _events_json(events) -> str:
    if not events:
        return "[]"
    return _dumps([{"name": ev.name, "time_unix_nano": ev.time_unix_nano, "attributes": attributes(ev.attributes)}
                   for ev in events])


def _links_json(links) -> str:
    if not links:
        return "[]"
    return _dumps([{"trace_id": ln.trace_id.hex(), "span_id": ln.span_id.hex(), "attributes": attributes(ln.attributes)}
                   for ln in links])


def span_rows(request, received_at: datetime | None = None) -> dict[str, np.ndarray]:
    """One row per span of an ``ExportTraceServiceRequest``: a column (numpy array) per :data:`SPAN_COLUMNS`
    name, ready for DuckDB to scan without a DataFrame in between."""
    cols: dict[str, list] = {c: [] for c in SPAN_COLUMNS if c not in _COMPUTED}
    starts: list[int] = []
    ends: list[int] = []
    codes: list[int] = []
    kinds = KIND_NAMES
    encode = _c_encoder
    for resource_spans in request.resource_spans:
        resource = attributes(resource_spans.resource.attributes)
        service = resource.get("service.name")
        service = str(service) if service not in (None, "") else "unknown_service"
        dataset = dataset_slug(service)
        resource_json = _dumps(resource)
        for scope_spans in resource_spans.scope_spans:
            spans = list(scope_spans.spans)    # one wrapper per span, reused by every pass below
            n = len(spans)
            if not n:
                continue
            attrs = [attributes(s.attributes) for s in spans]
            statuses = [s.status for s in spans]
            cols["dataset"] += [dataset] * n
            cols["service"] += [service] * n
            cols["trace_id"] += [s.trace_id.hex() for s in spans]
            cols["span_id"] += [s.span_id.hex() for s in spans]
            cols["parent_id"] += [s.parent_span_id.hex() or None for s in spans]
            cols["name"] += [s.name for s in spans]
            cols["kind"] += [kinds.get(s.kind, "unspecified") for s in spans]
            starts += [s.start_time_unix_nano for s in spans]
            ends += [s.end_time_unix_nano for s in spans]
            codes += [st.code for st in statuses]
            cols["status_message"] += [st.message or None for st in statuses]
            cols["http_route"] += [_as_str(a.get("http.route")) for a in attrs]
            cols["http_method"] += [_as_str(a.get("http.method", a.get("http.request.method"))) for a in attrs]
            cols["http_status_code"] += [_as_int(a.get("http.status_code", a.get("http.response.status_code")))
                                         for a in attrs]
            cols["http_target"] += [_as_str(a.get("http.target", a.get("url.path"))) for a in attrs]
            cols["scope_name"] += [scope_spans.scope.name or None] * n
            cols["attributes"] += [_dumps(a) for a in attrs] if encode is None else ["".join(encode(a, 0))
                                                                                      for a in attrs]
            cols["events"] += [_events_json(s.events) for s in spans]
            cols["links"] += [_links_json(s.links) for s in spans]
            cols["resource_attributes"] += [resource_json] * n
    out = {name: np.array(values, dtype=object) for name, values in cols.items()}
    start_ns = np.array(starts, dtype=np.int64)
    end_ns = np.array(ends, dtype=np.int64)
    status = np.array(codes, dtype=np.int32)
    out["start_time"] = start_ns.astype("datetime64[ns]")
    out["end_time"] = end_ns.astype("datetime64[ns]")
    out["duration_ms"] = (end_ns - start_ns) / 1e6
    out["status_code"] = status
    out["error"] = status == 2
    received = np.datetime64(received_at or datetime.now(timezone.utc).replace(tzinfo=None), "us")
    out["received_at"] = np.full(len(start_ns), received)
    return {name: out[name] for name in SPAN_COLUMNS}


_COMPUTED = {"start_time", "end_time", "duration_ms", "status_code", "error", "received_at"}


def row_count(rows: dict[str, np.ndarray]) -> int:
    return len(rows["trace_id"])


class SpanJournal:
    """Append-only file of the export requests accepted and not yet inserted: what makes a 200 durable.

    A record is ``<seq: u64><length: u32><crc32: u32>`` + the serialized ``ExportTraceServiceRequest``. It is written
    with one ``write()`` before the request is answered, so a killed process (``kill -9``) loses nothing it
    acknowledged: the bytes are in the operating system's page cache. (Not a power cut: nothing is fsynced.) On
    start the records newer than the last inserted ``seq`` are replayed; a torn last record fails its CRC and is
    dropped, as it was never acknowledged.
    """

    HEADER = struct.Struct("<QII")

    def __init__(self, path: Path):
        self.path = Path(path)
        self._lock = threading.Lock()
        self._fd: int | None = None
        self.last_seq = 0

    def open(self, after_seq: int) -> list[tuple[int, bytes]]:
        """Open for appending; returns the records newer than ``after_seq`` (to replay)."""
        records = list(self._read())
        self.last_seq = max([after_seq] + [seq for seq, _ in records])
        self._fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        return [(seq, body) for seq, body in records if seq > after_seq]

    def _read(self) -> Iterator[tuple[int, bytes]]:
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            return
        offset, size = 0, self.HEADER.size
        while offset + size <= len(data):
            seq, length, crc = self.HEADER.unpack_from(data, offset)
            body = data[offset + size: offset + size + length]
            if len(body) < length or zlib.crc32(body) != crc:
                return                        # a torn write: never acknowledged
            yield seq, body
            offset += size + length

    def append(self, body: bytes) -> int:
        with self._lock:
            if self._fd is None:
                raise RuntimeError("the span journal is not open")
            self.last_seq += 1
            os.write(self._fd, self.HEADER.pack(self.last_seq, len(body), zlib.crc32(body)) + body)
            return self.last_seq

    def truncate_if(self, committed_seq: int) -> bool:
        """Empty the file when every record in it has been inserted."""
        with self._lock:
            if self._fd is None or self.last_seq != committed_seq:
                return False
            os.ftruncate(self._fd, 0)
            return True

    def close(self) -> None:
        with self._lock:
            if self._fd is not None:
                os.close(self._fd)
                self._fd = None


class SpanWriter:
    """Spans reach the table through one writer thread that inserts every batch waiting in one statement.

    DuckDB's cost per INSERT is mostly fixed (milliseconds for this table), so an export request only journals
    its body (:class:`SpanJournal`, durable against a killed process), queues its rows and is answered; while the
    writer inserts, the next requests' rows pile up and go in together. The INSERT and the journal position it
    reached are committed in one transaction, so a restart replays exactly what was not inserted. Readers call
    :meth:`flush` first: it returns once everything written before the call is in the table, so a query sees every
    span that was acknowledged. Memory is bounded: :meth:`write` waits while :attr:`max_pending_rows` rows are
    queued. A failed INSERT is logged and counted (``write_errors``, in ``status()``); its spans are lost.

    Lingering: with fewer than :attr:`linger_rows` rows queued, the writer waits up to :attr:`linger_s` for more
    before inserting (as an OpenTelemetry BatchSpanProcessor or a Kafka producer does), unless a reader is waiting
    in :meth:`flush` or the writer is closing. Much of an INSERT's cost is per statement (measured: one row costs
    about as much CPU as 700 rows more), so under a steady stream this turns many small statements into a few
    large ones; nothing waits for it, since an export is answered once journaled and readers flush.
    """

    max_pending_rows = 200_000
    linger_rows = 32_768
    linger_s = 0.5

    def __init__(self, store, journal: SpanJournal | None = None, table: str = SPANS_TABLE,
                 columns: list[str] = SPAN_COLUMNS, log=None, journal_table: str = JOURNAL_TABLE,
                 name: str = "honeycomb-span-writer", what: str = "span"):
        self.store, self.journal, self.table, self.columns, self.log = store, journal, table, columns, log
        self.journal_table, self.name, self.what = journal_table, name, what
        self._cond = threading.Condition()
        self._pending: list[tuple[dict, int]] = []
        self._pending_rows = 0
        self._written = 0          # batches handed to write()
        self._done = 0             # batches inserted (or failed)
        self.inserts = 0
        self.write_errors = 0
        self.last_error: str | None = None
        self._thread: threading.Thread | None = None
        self._stopping = False
        self._flushing = 0         # readers waiting in flush(): the writer does not linger for them

    def write(self, rows: dict[str, np.ndarray], seq: int = 0) -> None:
        n = len(rows[self.columns[0]])
        with self._cond:
            while self._pending_rows and self._pending_rows + n > self.max_pending_rows:
                self._cond.wait(1.0)          # back-pressure: the writer is behind
            self._pending.append((rows, seq))
            self._pending_rows += n
            self._written += 1
            if self._thread is None or not self._thread.is_alive():
                self._stopping = False
                self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
                self._thread.start()
            self._cond.notify_all()

    def flush(self, timeout: float = 30.0) -> bool:
        """Wait until every batch written before this call is in the table; False if ``timeout`` ran out."""
        deadline = time.monotonic() + timeout
        with self._cond:
            target = self._written
            if self._done >= target:
                return True
            self._flushing += 1
            self._cond.notify_all()           # a lingering writer inserts now
            try:
                while self._done < target:
                    left = deadline - time.monotonic()
                    if left <= 0:
                        return False
                    self._cond.wait(left)
            finally:
                self._flushing -= 1
        return True

    def close(self, timeout: float = 30.0) -> None:
        self.flush(timeout)
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def insert(self, parts: list[dict], seq: int) -> None:
        """Insert row batches and record the journal position they reach, in one transaction."""
        combined = parts[0] if len(parts) == 1 else {
            name: np.concatenate([part[name] for part in parts]) for name in self.columns}
        with self.store.transaction() as conn:
            self.store.insert_frame(self.table, combined, self.columns)
            self._record_position(conn, seq)

    def _record_position(self, conn, seq: int) -> None:
        # an UPDATE of the row setup() made costs a third of the upsert; the upsert where there is none yet
        if seq and not conn.execute(f"UPDATE {self.journal_table} SET committed_seq = greatest(committed_seq, ?) "
                                    "WHERE id = 1", [seq]).fetchall()[0][0]:
            conn.execute(f"INSERT INTO {self.journal_table} VALUES (1, ?) ON CONFLICT (id) DO UPDATE "
                         "SET committed_seq = greatest(committed_seq, excluded.committed_seq)", [seq])

    def skip_to(self, seq: int) -> None:
        """Record ``seq`` as the journal position reached without inserting: after a replay, the records that
        failed again are not replayed at every start."""
        with self.store.transaction() as conn:
            self._record_position(conn, seq)

    def replay(self, records: list[tuple[int, bytes]], rows_of) -> None:
        """On start: insert the journal ``records`` (``(seq, body)``, acknowledged before the process stopped and
        not inserted), each made into rows by ``rows_of(seq, body)``. A record that cannot be decoded or stored is
        logged and skipped (it failed before and would fail at every start), and the journal position moves past
        it, so one bad record never keeps the stand-in from starting or stops the others."""
        if not records:
            return
        batch = []
        for seq, body in records:
            try:
                batch.append((rows_of(seq, body), seq))
            except Exception:
                self.write_errors += 1
                if self.log is not None:
                    self.log.exception("%s journal record %d could not be replayed: skipped", self.what, seq)
        failed = self.store_batches(batch) if batch else 0
        self.skip_to(records[-1][0])
        if self.log is not None:
            self.log.info("replayed %d acknowledged export(s) from the %s journal (%d skipped)", len(records),
                          self.what, len(records) - len(batch) + failed)

    def store_batches(self, batch: list[tuple[dict, int]]) -> int:
        """Insert ``(rows, seq)`` batches in one statement or, when that fails, each on its own, so rows that
        cannot be stored lose only themselves and not the other requests' rows inserted with them. Returns how
        many batches failed (logged, counted in ``write_errors``; their journal records stay uncommitted, so a
        restart tries them once more). The journal is emptied once every record in it is inserted."""
        reached, failed = max(s for _, s in batch), 0     # the journal position the inserted batches reach
        try:
            self.insert([rows for rows, _ in batch], reached)
            self.inserts += 1
        except Exception as exc:
            if len(batch) == 1:
                self._failed(exc, batch[0][0])
                return 1
            reached = 0
            for rows, seq in batch:
                try:
                    self.insert([rows], seq)
                    self.inserts += 1
                    reached = max(reached, seq)
                except Exception as one:
                    self._failed(one, rows)
                    failed += 1
        if self.journal is not None and reached:
            self.journal.truncate_if(reached)
        return failed

    def _failed(self, exc: Exception, rows: dict) -> None:
        self.write_errors += 1
        self.last_error = f"{type(exc).__name__}: {exc}"
        if self.log is not None:
            self.log.error("inserting %d %s row(s) failed: they are lost", len(rows[self.columns[0]]), self.what,
                           exc_info=exc)

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._pending and not self._stopping:
                    self._cond.wait()
                if not self._pending:
                    return
                linger_until = time.monotonic() + self.linger_s
                while (self._pending_rows < min(self.linger_rows, self.max_pending_rows) and not self._flushing
                       and not self._stopping):
                    left = linger_until - time.monotonic()
                    if left <= 0:
                        break
                    self._cond.wait(left)
                batch, self._pending, self._pending_rows = self._pending, [], 0
                self._cond.notify_all()       # writers held by back-pressure may queue again
            try:
                self.store_batches(batch)
            except Exception:  # the writer goes on whatever happens
                if self.log is not None:
                    self.log.exception("the %s writer failed on %d batches", self.what, len(batch))
            with self._cond:
                self._done += len(batch)
                self._cond.notify_all()


class KnownDatasets:
    """Whether a dataset holds rows, from memory when it can be: every Query Data API request asks (three per
    query run), and each answer from the table is a statement. A name seen at ingest or found in the table is kept
    (rows are only removed by a reset, which calls :meth:`clear`); a name found missing is remembered as missing
    until the next ingest, unless an ingest happened while it was looked up."""

    MAX_ABSENT = 1024

    def __init__(self, lookup):
        self.lookup = lookup            # name -> whether the table holds a row of it
        self._present: set[str] = set()
        self._absent: set[str] = set()
        self._generation = 0
        self._lock = threading.Lock()

    def added(self, names) -> None:
        with self._lock:
            self._present.update(names)
            if self._absent:
                self._absent.clear()
            self._generation += 1

    def clear(self) -> None:
        with self._lock:
            self._present.clear()
            self._absent.clear()
            self._generation += 1

    def __contains__(self, name: str) -> bool:
        if name in self._present:
            return True
        if name in self._absent:
            return False
        generation = self._generation
        found = self.lookup(name)
        with self._lock:
            if found:
                self._present.add(name)
            elif generation == self._generation and len(self._absent) < self.MAX_ABSENT:
                self._absent.add(name)
        return found


class RecentDocuments:
    """The last ``size`` query and result documents created (those up to ``max_bytes``), by id: Honeycomb's are
    immutable, and a client reads each right after creating it (create query, run it, read the result), so these
    reads need no statement."""

    def __init__(self, size: int = 256, max_bytes: int = 64 * 1024):   # at most 16 MiB
        from collections import OrderedDict

        self.size, self.max_bytes = size, max_bytes
        self._items: OrderedDict = OrderedDict()
        self._lock = threading.Lock()

    def put(self, key: tuple, text: str) -> None:
        if len(text) > self.max_bytes:
            return
        with self._lock:
            self._items[key] = text
            while len(self._items) > self.size:
                self._items.popitem(last=False)

    def get(self, key: tuple) -> str | None:
        return self._items.get(key)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()


# --- the backend ----------------------------------------------------------------------------------
class HoneycombBackend:
    def __init__(self, store, log=None):
        self.store = store
        self.journal = SpanJournal(Path(store.path).with_name(JOURNAL_FILE))
        self.writer = SpanWriter(store, self.journal, log=log)
        self.log = log
        self.spans_received = 0
        self.datasets = KnownDatasets(self._dataset_in_table)
        self.recent = RecentDocuments()

    def setup(self) -> None:
        self.store.ensure_table(SPANS_TABLE, SPANS_DDL)
        self.store.ensure_table(QUERIES_TABLE, QUERIES_DDL)
        self.store.ensure_table(RESULTS_TABLE, RESULTS_DDL)
        self.store.ensure_table(JOURNAL_TABLE, JOURNAL_DDL)
        self.store.execute(f"INSERT INTO {JOURNAL_TABLE} VALUES (1, 0) ON CONFLICT (id) DO NOTHING")
        committed = self.store.execute(f"SELECT committed_seq FROM {JOURNAL_TABLE} WHERE id = 1")[0][0]
        replay = self.journal.open(after_seq=committed)
        self.writer.replay(replay, lambda _seq, body: span_rows(ExportTraceServiceRequest.FromString(body)))
        self.journal.truncate_if(max([committed] + [seq for seq, _ in replay]))

    def close(self) -> None:
        self.writer.close()
        self.journal.close()

    def reset(self) -> None:
        self.writer.flush()
        self.spans_received = 0
        self.datasets.clear()
        self.recent.clear()

    def status(self) -> dict[str, Any]:
        self.writer.flush()
        rows = self.store.execute(f"SELECT count(*), count(DISTINCT dataset) FROM {SPANS_TABLE}")
        out = {"spans": rows[0][0], "datasets": rows[0][1], "queries": self.store.count(QUERIES_TABLE),
               "inserts": self.writer.inserts}
        if self.writer.write_errors:
            out.update(write_errors=self.writer.write_errors, last_write_error=self.writer.last_error)
        return out

    # spans ---------------------------------------------------------------------------------------
    def ingest(self, request, raw: bytes | None = None) -> int:
        """Store the spans of an ``ExportTraceServiceRequest``; returns how many. ``raw``: the request's protobuf
        bytes when the body was protobuf (journaled as they came, instead of encoding the message again)."""
        rows = span_rows(request)
        n = row_count(rows)
        if n:
            seq = self.journal.append(raw if raw is not None else request.SerializeToString())  # durable first
            self.writer.write(rows, seq)
            self.datasets.added(set(rows["dataset"]))
            self.spans_received += n
        return n

    def dataset_exists(self, dataset: str) -> bool:
        return dataset == ALL_DATASETS or dataset in self.datasets

    def _dataset_in_table(self, dataset: str) -> bool:
        self.writer.flush()
        return bool(self.store.execute(f"SELECT 1 FROM {SPANS_TABLE} WHERE dataset = ? LIMIT 1", [dataset]))

    def spans_between(self, start=None, end=None, dataset=None, limit: int = 100_000) -> dict:
        """Stored spans whose start lies in [start, end) (epoch seconds), oldest first."""
        self.writer.flush()
        where, params = [], []
        if start not in (None, ""):
            where.append("start_time >= ?")
            params.append(_epoch_to_dt(float(start)))
        if end not in (None, ""):
            where.append("start_time < ?")
            params.append(_epoch_to_dt(float(end)))
        if dataset not in (None, "", ALL_DATASETS):
            where.append("dataset = ?")
            params.append(dataset_slug(str(dataset)))
        sql = (f"SELECT * EXCLUDE (received_at) FROM {SPANS_TABLE}"
               + (" WHERE " + " AND ".join(where) if where else "")
               + " ORDER BY start_time, span_id LIMIT ?")
        params.append(max(0, min(limit, 1_000_000)) + 1)
        frame = self.store.query_df(sql, params)
        truncated = len(frame) > limit
        frame = frame.head(limit)
        for col in ("start_time", "end_time"):
            frame[col] = frame[col].map(lambda ts: None if pd.isna(ts) else ts.isoformat() + "Z")
        records = json.loads(frame.to_json(orient="records"))
        return {"spans": records, "count": len(records), "truncated": truncated}

    # queries and results -------------------------------------------------------------------------
    def create_query(self, dataset: str, spec: QuerySpec) -> dict:
        query_id = new_id()
        document = {**spec.to_json(), "id": query_id}
        text = json.dumps(document)
        self.store.execute(f"INSERT INTO {QUERIES_TABLE} VALUES (?, ?, ?, ?)", [query_id, dataset, text, _now_dt()])
        self.recent.put(("query", dataset, query_id), text)
        return document

    def get_query(self, dataset: str, query_id: str) -> dict:
        text = self.recent.get(("query", dataset, query_id))
        if text is None:
            rows = self.store.execute(f"SELECT spec FROM {QUERIES_TABLE} WHERE id = ? AND dataset = ?",
                                      [query_id, dataset])
            if not rows:
                raise NotFound("Query not found")
            text = rows[0][0]
        return json.loads(text)

    def save_result(self, dataset: str, query_id: str, result: dict) -> None:
        text = json.dumps(result, default=str)
        self.store.execute(f"INSERT INTO {RESULTS_TABLE} VALUES (?, ?, ?, ?, ?)",
                           [result["id"], dataset, query_id, text, _now_dt()])
        self.recent.put(("result", dataset, result["id"]), text)

    def get_result(self, dataset: str, result_id: str) -> str:
        """The stored result document, as the JSON text it was saved as."""
        text = self.recent.get(("result", dataset, result_id))
        if text is not None:
            return text
        rows = self.store.execute(f"SELECT result FROM {RESULTS_TABLE} WHERE id = ? AND dataset = ?",
                                  [result_id, dataset])
        if not rows:
            raise NotFound("Query result not found")
        return rows[0][0]

    def run_query(self, spec: QuerySpec, dataset: str, now: float, limit: int = 10_000, series: bool = True) -> dict:
        """Run a spec; returns Honeycomb's ``data`` object: ``{"results": [{"data": {...}}], "series": [...]}``."""
        self.writer.flush()
        start, end = spec.window(now)
        limit = min(limit, spec.limit or limit)
        sql, params, b_alias, c_alias = to_sql(spec, SPANS_TABLE, dataset, start, end, limit)
        rows = []
        for record in self.store.query_df(sql, params).itertuples(index=False):
            values = record._asdict()
            data = {name: _plain(values[b]) for name, b in zip(spec.breakdowns, b_alias)}
            for calc, alias in zip(spec.calculations, c_alias):
                if calc.op != "HEATMAP":
                    data[calc.key] = _plain(values[alias])
            rows.append(data)
        for calc in spec.calculations:
            if calc.op == "HEATMAP":
                self._fill_heatmap(spec, dataset, start, end, calc, rows)
        out: dict[str, Any] = {"results": [{"data": row} for row in rows]}
        if series:
            out["series"] = self._series(spec, dataset, start, end)
        return out

    def _fill_heatmap(self, spec: QuerySpec, dataset: str, start: float, end: float, calc: Calculation,
                      rows: list[dict]) -> None:
        lo, hi = self.store.execute(*heatmap_range_sql(spec, SPANS_TABLE, dataset, start, end, calc))[0]
        if lo is None:
            for row in rows:
                row[calc.key] = {"buckets": []}
            return
        width = (hi - lo) / HEATMAP_BUCKETS if hi > lo else 1.0
        sql, params = heatmap_sql(spec, SPANS_TABLE, dataset, start, end, calc, lo, width)
        counts: dict[tuple, dict[int, int]] = {}
        for rec in self.store.query_df(sql, params).itertuples(index=False):
            values = rec._asdict()
            key = tuple(_plain(values[f"b{i}"]) for i in range(len(spec.breakdowns)))
            counts.setdefault(key, {})[int(values["bucket"])] = int(values["n"])
        for row in rows:
            per = counts.get(tuple(row[name] for name in spec.breakdowns), {})
            row[calc.key] = {"buckets": [
                {"lower": lo + i * width, "upper": lo + (i + 1) * width, "count": per.get(i, 0)}
                for i in range(HEATMAP_BUCKETS)]}

    def _series(self, spec: QuerySpec, dataset: str, start: float, end: float) -> list[dict]:
        calcs = [calc for calc in spec.calculations if calc.op != "HEATMAP"]
        if not calcs:
            return []
        granularity = spec.granularity or max(1, int((end - start) // 100))
        sql, params = series_sql(spec, SPANS_TABLE, dataset, start, end, calcs, granularity)
        out = []
        for rec in self.store.query_df(sql, params).itertuples(index=False):
            values = rec._asdict()
            data = {name: _plain(values[f"b{i}"]) for i, name in enumerate(spec.breakdowns)}
            for i, calc in enumerate(calcs):
                data[calc.key] = _plain(values[f"c{i}"])
            moment = datetime.fromtimestamp(float(values["t"]), tz=timezone.utc)
            out.append({"time": moment.strftime("%Y-%m-%dT%H:%M:%SZ"), "data": data})
        return out


def _plain(value: Any) -> Any:
    """numpy/pandas scalars -> JSON-ready Python values (NaN/NaT -> None)."""
    if value is None:
        return None
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def new_id() -> str:
    return secrets.token_urlsafe(8).replace("-", "x").replace("_", "y")


def _now_dt() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)


def _epoch_to_dt(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, tz=timezone.utc).replace(tzinfo=None)
