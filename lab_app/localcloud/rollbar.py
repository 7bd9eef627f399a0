"""The Rollbar stand-in, on the AWS port under ``/api/1/``.

Write side (what the rollbar SDK calls): ``POST /api/1/item/`` with the token in the
``X-Rollbar-Access-Token`` header or ``access_token`` in the body. Answers ``{"err": 0, "result":
{"id": null, "uuid": ...}}``; 401 ``{"err": 1, "message": ...}`` when the token is missing or unknown,
400 for a body that is not a JSON item, 413 over the size limit, as Rollbar does.

Each occurrence is stored and grouped into an *item* the way Rollbar's default grouping does:
same environment and same fingerprint, where the fingerprint is the payload's own ``fingerprint``
when given, else the exception class plus the location (file and method) of the frame that raised,
else the message text. Items carry Rollbar's fields: ``id``, ``counter`` (per project, from 1),
``environment``, ``title``, ``level`` (of the latest occurrence), ``first/last_occurrence_timestamp``,
``first/last_occurrence_id``, ``total_occurrences``, ``status``, ``hash``.

Read side, Rollbar API v1 shapes (token as header or ``?access_token=``):
``GET /api/1/items`` (``status``, ``level``, ``environment``, ``page`` filters; 100 per page),
``GET /api/1/item/<id>``, ``GET /api/1/item_by_counter/<counter>`` (301 to the item, like Rollbar),
``GET /api/1/item/<id>/instances`` (occurrences, newest first, 20 per page), ``GET /api/1/instance/<id>``.

Valid tokens: :data:`lab_app.config.LOCAL_ROLLBAR_TOKEN` plus any listed (comma-separated) in
``LAB_ROLLBAR_TOKENS``.
"""
from __future__ import annotations

import hashlib
import json
import os
import time
import uuid as uuidlib
from typing import Any, Callable

from werkzeug.wrappers import Request, Response

from lab_app import config
from lab_app.localcloud.component import Component, json_response

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


def valid_tokens() -> set[str]:
    extra = {t.strip() for t in os.environ.get("LAB_ROLLBAR_TOKENS", "").split(",") if t.strip()}
    return {config.LOCAL_ROLLBAR_TOKEN} | extra


def rollbar_error(status: int, message: str) -> Response:
    return json_response({"err": 1, "message": message}, status=status)


class PayloadError(ValueError):
    pass


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


class Rollbar(Component):
    name = "rollbar"

    def setup(self) -> None:
        self.store.ensure_table(ITEMS_TABLE, ITEMS_DDL)
        self.store.ensure_table(OCCURRENCES_TABLE, OCCURRENCES_DDL)

    def status(self) -> dict[str, Any]:
        return {"items": self.store.count(ITEMS_TABLE), "occurrences": self.store.count(OCCURRENCES_TABLE)}

    def matches(self, environ: dict) -> bool:
        return environ.get("PATH_INFO", "").startswith("/api/1/")

    def __call__(self, environ: dict, start_response: Callable):
        request = Request(environ)
        try:
            response = self.dispatch(request)
        except Exception:
            self.log.exception("rollbar request failed: %s %s", request.method, request.path)
            response = rollbar_error(500, "internal error in the local Rollbar stand-in")
        return response(environ, start_response)

    # routing ----------------------------------------------------------------------------------
    def dispatch(self, request: Request) -> Response:
        parts = [p for p in request.path.split("/") if p][2:]  # drop "api", "1"
        if parts == ["item"]:
            if request.method != "POST":
                return rollbar_error(405, "method not allowed: POST an item to /api/1/item/")
            return self.post_item(request)
        if request.method != "GET":
            return rollbar_error(405, "method not allowed")
        token = request.headers.get("X-Rollbar-Access-Token") or request.args.get("access_token")
        if not token:
            return rollbar_error(401, "access token required")
        if token not in valid_tokens():
            return rollbar_error(401, "invalid access token")
        if parts == ["items"]:
            return self.list_items(request)
        if len(parts) == 2 and parts[0] == "item":
            return self.get_item(parts[1])
        if len(parts) == 3 and parts[0] == "item" and parts[2] == "instances":
            return self.list_instances(parts[1], request)
        if len(parts) == 2 and parts[0] == "item_by_counter":
            return self.item_by_counter(parts[1])
        if len(parts) == 2 and parts[0] == "instance":
            return self.get_instance(parts[1])
        return rollbar_error(404, "not found")

    # write side -------------------------------------------------------------------------------
    def post_item(self, request: Request) -> Response:
        if (request.content_length or 0) > MAX_BODY_BYTES:
            return rollbar_error(413, "request entity too large (max 1 MB)")
        raw = request.get_data(cache=False)
        if len(raw) > MAX_BODY_BYTES:
            return rollbar_error(413, "request entity too large (max 1 MB)")
        try:
            payload = json.loads(raw) if raw else None
        except (ValueError, UnicodeDecodeError):
            payload = "invalid"
        header_token = request.headers.get("X-Rollbar-Access-Token")
        body_token = payload.get("access_token") if isinstance(payload, dict) else None
        token = header_token or (body_token if isinstance(body_token, str) else None)
        if not token:
            return rollbar_error(401, "access token required")
        if token not in valid_tokens():
            return rollbar_error(401, "invalid access token")
        if payload == "invalid":
            return rollbar_error(400, "invalid JSON in request body")
        if not isinstance(payload, dict) or not isinstance(payload.get("data"), dict):
            return rollbar_error(400, "invalid item: the body must be a JSON object with a 'data' object")
        data = payload["data"]
        try:
            occurrence_uuid = self.record(data)
        except PayloadError as exc:
            return rollbar_error(422, f"invalid item: {exc}")
        return json_response({"err": 0, "result": {"id": None, "uuid": occurrence_uuid}})

    def record(self, data: dict) -> str:
        """Store one occurrence and fold it into its item; returns the occurrence uuid."""
        hash_, title = fingerprint_and_title(data)
        level = str(data.get("level") or "error").lower()
        if level not in LEVELS:
            level = "error"
        environment = str(data.get("environment") or "unknown")[:255]
        occurrence_uuid = str(data.get("uuid") or uuidlib.uuid4())
        timestamp = data.get("timestamp")
        timestamp = int(timestamp) if isinstance(timestamp, (int, float)) and not isinstance(timestamp, bool) \
            else int(time.time())
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

    def list_items(self, request: Request) -> Response:
        where, params = [], []
        for name in ("status", "level", "environment"):
            value = request.args.get(name)
            if value:
                where.append(f"{name} = ?")
                params.append(value)
        try:
            page = max(1, int(request.args.get("page", 1)))
        except ValueError:
            return rollbar_error(400, "page must be an integer")
        clause = ("WHERE " + " AND ".join(where)) if where else ""
        total = self.store.execute(f"SELECT count(*) FROM {ITEMS_TABLE} {clause}", params)[0][0]
        items = self._item_rows(f"{clause} ORDER BY last_occurrence_timestamp DESC, id DESC LIMIT ? OFFSET ?",
                                params + [ITEMS_PAGE, (page - 1) * ITEMS_PAGE])
        return json_response({"err": 0, "result": {"items": items, "page": page, "total_count": total}})

    def _find_item(self, item_id: str) -> dict | None:
        try:
            key = int(item_id)
        except ValueError:
            return None
        rows = self._item_rows("WHERE id = ?", [key])
        return rows[0] if rows else None

    def get_item(self, item_id: str) -> Response:
        item = self._find_item(item_id)
        if item is None:
            return rollbar_error(404, "Item not found")
        return json_response({"err": 0, "result": item})

    def item_by_counter(self, counter: str) -> Response:
        try:
            rows = self.store.execute(f"SELECT id FROM {ITEMS_TABLE} WHERE counter = ?", [int(counter)])
        except ValueError:
            rows = []
        if not rows:
            return rollbar_error(404, "Item not found")
        path = f"/api/1/item/{rows[0][0]}"
        return json_response({"err": 0, "result": {"itemId": rows[0][0], "path": path, "uri": path}},
                             status=301, headers={"Location": path})

    def list_instances(self, item_id: str, request: Request) -> Response:
        if self._find_item(item_id) is None:
            return rollbar_error(404, "Item not found")
        try:
            page = max(1, int(request.args.get("page", 1)))
        except ValueError:
            return rollbar_error(400, "page must be an integer")
        frame = self.store.query_df(f"SELECT * FROM {OCCURRENCES_TABLE} WHERE item_id = ? ORDER BY id DESC "
                                    f"LIMIT ? OFFSET ?", [int(item_id), INSTANCES_PAGE, (page - 1) * INSTANCES_PAGE])
        instances = [_instance_json(rec) for rec in frame.to_dict("records")]
        return json_response({"err": 0, "result": {"instances": instances, "page": page}})

    def get_instance(self, instance_id: str) -> Response:
        try:
            frame = self.store.query_df(f"SELECT * FROM {OCCURRENCES_TABLE} WHERE id = ?", [int(instance_id)])
        except ValueError:
            frame = None
        if frame is None or frame.empty:
            return rollbar_error(404, "Instance not found")
        return json_response({"err": 0, "result": _instance_json(frame.to_dict("records")[0])})


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
