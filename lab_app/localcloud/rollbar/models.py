"""Rollbar's items and occurrences: storage and Rollbar's default grouping (no HTTP here).

Each occurrence is stored and grouped into an *item* the way Rollbar's default grouping does:
same environment and same fingerprint, where the fingerprint is the payload's own ``fingerprint``
when given, else the exception class plus the location (file and method) of the frame that raised,
else the message text. Items carry Rollbar's fields: ``id``, ``counter`` (per project, from 1),
``environment``, ``title``, ``level`` (of the latest occurrence), ``first/last_occurrence_timestamp``,
``first/last_occurrence_id``, ``total_occurrences``, ``status``, ``hash``.
"""
from __future__ import annotations

import hashlib
import json
import time
import uuid as uuidlib

from lab_app.localcloud.rollbar.exceptions import NotFound, PayloadError
from lab_app.localcloud.store import Store

ITEMS_TABLE = "rollbar_items"
OCCURRENCES_TABLE = "rollbar_occurrences"
ITEMS_DDL = f"""
CREATE TABLE IF NOT EXISTS {ITEMS_TABLE} (
    id BIGINT PRIMARY KEY, counter BIGINT, project_id BIGINT, environment VARCHAR, hash VARCHAR, title VARCHAR,
    level VARCHAR, platform VARCHAR, language VARCHAR, framework VARCHAR, status VARCHAR,
    first_occurrence_id BIGINT, first_occurrence_timestamp BIGINT, last_occurrence_id BIGINT,
    last_occurrence_timestamp BIGINT, total_occurrences BIGINT
)"""
OCCURRENCES_DDL = f"""
CREATE TABLE IF NOT EXISTS {OCCURRENCES_TABLE} (
    id BIGINT PRIMARY KEY, item_id BIGINT, project_id BIGINT, uuid VARCHAR, timestamp BIGINT, level VARCHAR,
    environment VARCHAR, data JSON
)"""
PROJECT_ID = 1
ITEM_ID_BASE = 1_000_000_000
OCCURRENCE_ID_BASE = 5_000_000_000
MAX_BODY_BYTES = 1024 * 1024  # Rollbar rejects payloads over 1 MB (HTTP 413)
LEVELS = ("debug", "info", "warning", "error", "critical")
ITEMS_PAGE = 100
INSTANCES_PAGE = 20


def _trace_of(body: dict) -> dict | None:
    if isinstance(body.get("trace"), dict):
        return body["trace"]
    chain = body.get("trace_chain")
    if isinstance(chain, list) and chain and isinstance(chain[0], dict):
        return chain[0]  # the SDK puts the exception that was raised last first
    return None


def fingerprint_and_title(data: dict) -> tuple[str, str]:
    """Rollbar's default grouping key and the item title for one occurrence's ``data``."""
    body = data.get("body")
    if not isinstance(body, dict):
        raise PayloadError("data.body is required (trace, trace_chain, message or crash_report)")
    trace = _trace_of(body)
    if trace is not None:
        exc = trace.get("exception") if isinstance(trace.get("exception"), dict) else {}
        cls = str(exc.get("class") or "Exception")
        frames = trace.get("frames") if isinstance(trace.get("frames"), list) else []
        top = frames[-1] if frames and isinstance(frames[-1], dict) else {}
        location = f"{top.get('filename', '?')}:{top.get('method', '?')}"
        key = f"trace|{cls}|{location}"
        message = exc.get("message")
        title = f"{cls}: {message}" if message not in (None, "") else cls
    elif isinstance(body.get("message"), dict):
        text = body["message"].get("body")
        text = "" if text is None else str(text)
        key, title = f"message|{text}", text
    elif isinstance(body.get("crash_report"), dict):
        raw = str(body["crash_report"].get("raw", ""))
        key, title = f"crash|{raw[:200]}", raw.splitlines()[0] if raw else "crash report"
    else:
        raise PayloadError("data.body must contain one of trace, trace_chain, message, crash_report")
    if data.get("fingerprint") not in (None, ""):
        key = f"custom|{data['fingerprint']}"
    if isinstance(data.get("title"), str) and data["title"]:
        title = data["title"]
    return hashlib.sha1(key.encode("utf-8", "replace")).hexdigest(), title[:255]


class RollbarBackend:
    def __init__(self, store: Store):
        self.store = store

    def setup(self) -> None:
        self.store.ensure_table(ITEMS_TABLE, ITEMS_DDL)
        self.store.ensure_table(OCCURRENCES_TABLE, OCCURRENCES_DDL)

    def status(self) -> dict:
        return {"items": self.store.count(ITEMS_TABLE), "occurrences": self.store.count(OCCURRENCES_TABLE)}

    def record(self, data: dict) -> str:
        """Store one occurrence and fold it into its item; returns the occurrence uuid."""
        hash_, title = fingerprint_and_title(data)
        level = str(data.get("level") or "error").lower()
        if level not in LEVELS:
            level = "error"
        environment = str(data.get("environment") or "unknown")[:255]
        occurrence_uuid = str(data.get("uuid") or uuidlib.uuid4())
        timestamp = data.get("timestamp")
        if timestamp is None:
            timestamp = int(time.time())
        elif isinstance(timestamp, bool) or not isinstance(timestamp, (int, float)) or not 0 <= timestamp < 2 ** 53:
            raise PayloadError("data.timestamp must be a unix timestamp (seconds since the epoch)")
        else:
            timestamp = int(timestamp)
        platform = str(data.get("platform") or "")
        language = str(data.get("language") or "")
        framework = str(data.get("framework") or "")
        with self.store.transaction() as conn:
            occ_id = conn.execute(f"SELECT coalesce(max(id), {OCCURRENCE_ID_BASE}) + 1 FROM {OCCURRENCES_TABLE}"
                                  ).fetchone()[0]
            row = conn.execute(f"SELECT id FROM {ITEMS_TABLE} WHERE hash = ? AND environment = ?",
                               [hash_, environment]).fetchone()
            if row is None:
                item_id, counter = conn.execute(
                    f"SELECT coalesce(max(id), {ITEM_ID_BASE}) + 1, coalesce(max(counter), 0) + 1 FROM {ITEMS_TABLE}"
                ).fetchone()
                conn.execute(f"INSERT INTO {ITEMS_TABLE} VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'active', ?, ?, ?, ?, 1)",
                             [item_id, counter, PROJECT_ID, environment, hash_, title, level, platform, language,
                              framework, occ_id, timestamp, occ_id, timestamp])
            else:
                item_id = row[0]
                conn.execute(f"UPDATE {ITEMS_TABLE} SET total_occurrences = total_occurrences + 1, level = ?, "
                             f"last_occurrence_id = ?, last_occurrence_timestamp = greatest(last_occurrence_timestamp, ?), "
                             f"first_occurrence_timestamp = least(first_occurrence_timestamp, ?) WHERE id = ?",
                             [level, occ_id, timestamp, timestamp, item_id])
            conn.execute(f"INSERT INTO {OCCURRENCES_TABLE} VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                         [occ_id, item_id, PROJECT_ID, occurrence_uuid, timestamp, level, environment,
                          json.dumps(data, default=str)])
        return occurrence_uuid

    # read side --------------------------------------------------------------------------------
    def _item_rows(self, where: str, params: list) -> list[dict]:
        frame = self.store.query_df(f"SELECT * FROM {ITEMS_TABLE} {where}", params)
        return [_item_json(rec) for rec in frame.to_dict("records")]

    def list_items(self, filters: dict[str, str], page: int) -> dict:
        where, params = [], []
        for name in ("status", "level", "environment"):
            if filters.get(name):
                where.append(f"{name} = ?")
                params.append(filters[name])
        clause = ("WHERE " + " AND ".join(where)) if where else ""
        total = self.store.execute(f"SELECT count(*) FROM {ITEMS_TABLE} {clause}", params)[0][0]
        items = self._item_rows(f"{clause} ORDER BY last_occurrence_timestamp DESC, id DESC LIMIT ? OFFSET ?",
                                params + [ITEMS_PAGE, (page - 1) * ITEMS_PAGE])
        return {"items": items, "page": page, "total_count": total}

    def get_item(self, item_id: str) -> dict:
        try:
            key = int(item_id)
        except ValueError:
            raise NotFound("Item not found") from None
        rows = self._item_rows("WHERE id = ?", [key])
        if not rows:
            raise NotFound("Item not found")
        return rows[0]

    def item_id_by_counter(self, counter: str) -> int:
        try:
            rows = self.store.execute(f"SELECT id FROM {ITEMS_TABLE} WHERE counter = ?", [int(counter)])
        except ValueError:
            rows = []
        if not rows:
            raise NotFound("Item not found")
        return rows[0][0]

    def list_instances(self, item_id: str, page: int) -> list[dict]:
        """One page of an item's occurrences, newest first (``item_id`` must name an item: see get_item)."""
        frame = self.store.query_df(f"SELECT * FROM {OCCURRENCES_TABLE} WHERE item_id = ? ORDER BY id DESC "
                                    f"LIMIT ? OFFSET ?", [int(item_id), INSTANCES_PAGE, (page - 1) * INSTANCES_PAGE])
        return [_instance_json(rec) for rec in frame.to_dict("records")]

    def get_instance(self, instance_id: str) -> dict:
        try:
            frame = self.store.query_df(f"SELECT * FROM {OCCURRENCES_TABLE} WHERE id = ?", [int(instance_id)])
        except ValueError:
            frame = None
        if frame is None or frame.empty:
            raise NotFound("Instance not found")
        return _instance_json(frame.to_dict("records")[0])


def _int(value) -> int | None:
    try:
        return None if value is None else int(value)
    except (TypeError, ValueError):
        return None


def _item_json(rec: dict) -> dict:
    return {
        "id": _int(rec["id"]), "counter": _int(rec["counter"]), "project_id": _int(rec["project_id"]),
        "environment": rec["environment"], "hash": rec["hash"], "title": rec["title"], "level": rec["level"],
        "platform": rec["platform"] or None, "language": rec["language"] or None,
        "framework": rec["framework"] or None, "status": rec["status"],
        "first_occurrence_id": _int(rec["first_occurrence_id"]),
        "first_occurrence_timestamp": _int(rec["first_occurrence_timestamp"]),
        "last_occurrence_id": _int(rec["last_occurrence_id"]),
        "last_occurrence_timestamp": _int(rec["last_occurrence_timestamp"]),
        "total_occurrences": _int(rec["total_occurrences"]),
        "unique_occurrences": None, "resolved_in_version": None, "assigned_user_id": None,
    }


def _instance_json(rec: dict) -> dict:
    data = json.loads(rec["data"]) if rec["data"] else {}
    return {"id": _int(rec["id"]), "item_id": _int(rec["item_id"]), "project_id": _int(rec["project_id"]),
            "timestamp": _int(rec["timestamp"]), "version": 2, "billable": 1, "uuid": rec["uuid"], "data": data}
