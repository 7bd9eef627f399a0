"""CloudWatch Logs export tasks (CreateExportTask / DescribeExportTasks / CancelExportTask) to S3 buckets in moto.

AWS's behaviour, followed here: a task starts ``PENDING``, then ``RUNNING`` while it copies, then ``COMPLETED``
(or ``CANCELLED`` / ``FAILED``); one active (pending or running) task per account at a time
(``LimitExceededException``); the bucket must exist. Before exporting, CloudWatch Logs writes
``<prefix>/aws-logs-write-test`` ("Permission Check Successful"); each log stream's events with
``from <= timestamp <= to`` go to ``<prefix>/<taskId>/<logStreamName>/000000.gz`` (then ``000001.gz`` ... past
``OBJECT_BYTES`` of text: the local cloud's choice, AWS does not document where it splits), gzip-compressed text, one line per event: ``<ISO-8601 UTC timestamp with ms> <message>``.
The default prefix is ``exportedlogs``. A task waits ``PENDING_S`` seconds before it runs (AWS takes minutes),
long enough to cancel it.
"""
from __future__ import annotations

import gzip
import logging
import threading
import uuid
from datetime import datetime, timezone
from typing import Callable

from lab_app.localcloud.logs import exceptions as exc

PENDING_S = 1.0
OBJECT_BYTES = 64 * 1024 * 1024       # uncompressed text per object before the next 00000N.gz (our choice)
DEFAULT_PREFIX = "exportedlogs"
ACTIVE = ("PENDING", "RUNNING", "PENDING_CANCEL")
DDL = """CREATE TABLE IF NOT EXISTS logs_export_tasks (
    task_id VARCHAR PRIMARY KEY, region VARCHAR, name VARCHAR, grp VARCHAR, stream_prefix VARCHAR, from_ts BIGINT,
    to_ts BIGINT, bucket VARCHAR, prefix VARCHAR, code VARCHAR, message VARCHAR, created BIGINT, completed BIGINT)"""
MESSAGES = {"PENDING": "Pending.", "RUNNING": "Started successfully", "COMPLETED": "Completed successfully",
            "CANCELLED": "Cancelled by user", "FAILED": "Failed"}


def iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _s3(account: str):
    from moto.s3.models import s3_backends

    return s3_backends[account]["aws"]


class ExportTasks:
    def __init__(self, store, now_ms: Callable[[], int], require_group, events_table: str, account: str,
                 log: logging.Logger):
        self.store = store
        self.now_ms = now_ms
        self.require_group = require_group
        self.events_table = events_table
        self.account = account
        self.log = log
        self._cv = threading.Condition()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def setup(self) -> None:
        self.store.ensure_table("logs_export_tasks", DDL)
        # tasks that were active when the process stopped never finish
        self.store.execute("UPDATE logs_export_tasks SET code = 'FAILED', message = 'The local cloud stopped while "
                           "the task was active' WHERE code IN ('PENDING', 'RUNNING', 'PENDING_CANCEL')")

    def start(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name="logs-export", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        with self._cv:
            self._cv.notify_all()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    # ---- the API -----------------------------------------------------------------------------------
    def create(self, region: str, body: dict) -> str:
        group, bucket = body["logGroupName"], body["destination"]
        start, end = int(body["from"]), int(body["to"])
        if start > end:
            raise exc.InvalidParameterException("The value of 'to' must be greater than or equal to the value of "
                                                "'from'.")
        try:
            _s3(self.account).get_bucket(bucket)
        except Exception:
            raise exc.InvalidParameterException("The given bucket does not exist. Please make sure the bucket is "
                                                "valid.") from None
        self.require_group(region, group)
        prefix = body.get("destinationPrefix")
        prefix = DEFAULT_PREFIX if prefix is None else prefix.strip("/")
        with self.store.lock:
            if self.store.execute("SELECT 1 FROM logs_export_tasks WHERE code IN ('PENDING', 'RUNNING', "
                                  "'PENDING_CANCEL') LIMIT 1"):
                raise exc.LimitExceededException("Resource limit exceeded.")
            task_id = str(uuid.uuid4())
            self.store.execute("INSERT INTO logs_export_tasks VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'PENDING', ?, ?, NULL)",
                               [task_id, region, body.get("taskName"), group, body.get("logStreamNamePrefix"), start,
                                end, bucket, prefix, MESSAGES["PENDING"], self.now_ms()])
        with self._cv:
            self._cv.notify_all()
        return task_id

    def describe(self, region: str, task_id: str | None, status: str | None, limit: int,
                 offset: int) -> tuple[list[dict], bool]:
        sql = ("SELECT task_id, name, grp, from_ts, to_ts, bucket, prefix, code, message, created, completed "
               "FROM logs_export_tasks WHERE region = ?")
        params: list = [region]
        if task_id:
            sql += " AND task_id = ?"
            params.append(task_id)
        if status:
            sql += " AND code = ?"
            params.append(status)
        rows = self.store.execute(sql + " ORDER BY created DESC, task_id LIMIT ? OFFSET ?", params + [limit + 1, offset])
        out = []
        for tid, name, grp, start, end, bucket, prefix, code, message, created, completed in rows[:limit]:
            task = {"taskId": tid, "logGroupName": grp, "from": int(start), "to": int(end), "destination": bucket,
                    "destinationPrefix": prefix, "status": {"code": code, "message": message},
                    "executionInfo": {"creationTime": int(created),
                                      **({"completionTime": int(completed)} if completed is not None else {})}}
            if name:
                task["taskName"] = name
            out.append(task)
        return out, len(rows) > limit

    def cancel(self, region: str, task_id: str) -> None:
        with self.store.lock:
            rows = self.store.execute("SELECT code FROM logs_export_tasks WHERE region = ? AND task_id = ?",
                                      [region, task_id])
            if not rows:
                raise exc.ResourceNotFoundException("The specified export task does not exist.")
            if rows[0][0] not in ("PENDING", "RUNNING"):
                raise exc.InvalidOperationException(f"The specified export task has already finished with status "
                                                    f"{rows[0][0]}.")
            self.store.execute("UPDATE logs_export_tasks SET code = 'CANCELLED', message = ?, completed = ? "
                               "WHERE task_id = ?", [MESSAGES["CANCELLED"], self.now_ms(), task_id])

    # ---- the work ----------------------------------------------------------------------------------
    def _loop(self) -> None:
        while not self._stop.is_set():
            rows = self.store.execute("SELECT task_id, created FROM logs_export_tasks WHERE code = 'PENDING' "
                                      "ORDER BY created LIMIT 1")
            wait = 1.0
            if rows:
                due = rows[0][1] + PENDING_S * 1000 - self.now_ms()
                if due <= 0:
                    self._run(rows[0][0])
                    continue
                wait = min(wait, due / 1000)
            with self._cv:
                self._cv.wait(wait)

    def _set(self, task_id: str, code: str, message: str | None = None, when: str = "") -> bool:
        """Move a task on unless it was cancelled meanwhile; False when it was."""
        with self.store.lock:
            current = self.store.execute("SELECT code FROM logs_export_tasks WHERE task_id = ?", [task_id])
            if not current or current[0][0] == "CANCELLED":
                return False
            self.store.execute("UPDATE logs_export_tasks SET code = ?, message = ?"
                               + (", completed = ?" if when else "") + " WHERE task_id = ?",
                               [code, message or MESSAGES[code]] + ([self.now_ms()] if when else []) + [task_id])
            return True

    def _run(self, task_id: str) -> None:
        if not self._set(task_id, "RUNNING"):
            return
        (region, group, stream_prefix, start, end, bucket, prefix), = self.store.execute(
            "SELECT region, grp, stream_prefix, from_ts, to_ts, bucket, prefix FROM logs_export_tasks "
            "WHERE task_id = ?", [task_id])
        try:
            s3 = _s3(self.account)
            base = f"{prefix}/" if prefix else ""
            s3.put_object(bucket, f"{base}aws-logs-write-test", b"Permission Check Successful")
            sql = (f"SELECT stream, ts, message FROM {self.events_table} WHERE region = ? AND grp = ? "
                   "AND ts BETWEEN ? AND ?")
            params: list = [region, group, start, end]
            if stream_prefix:
                sql += " AND starts_with(stream, ?)"
                params.append(stream_prefix)
            rows = self.store.execute(sql + " ORDER BY stream, ts, id", params)
            by_stream: dict[str, list[str]] = {}
            for stream, ts, message in rows:
                by_stream.setdefault(stream, []).append(f"{iso(int(ts))} {message}\n")
            for stream, lines in by_stream.items():
                part, chunk, size = 0, [], 0
                for line in lines + [None]:
                    if line is None or (chunk and size + len(line) > OBJECT_BYTES):
                        if chunk:
                            key = f"{base}{task_id}/{stream}/{part:06d}.gz"
                            s3.put_object(bucket, key, gzip.compress("".join(chunk).encode(), mtime=0))
                            part, chunk, size = part + 1, [], 0
                        if line is None:
                            break
                    chunk.append(line)
                    size += len(line)
            self._set(task_id, "COMPLETED", when="completed")
        except Exception as e:
            self.log.warning("export task %s failed: %s", task_id, e)
            self._set(task_id, "FAILED", f"Failed: {e}", when="completed")
