"""CloudWatch Logs state and logic, stored in DuckDB (durable), with AWS's validation rules.

Tables: ``logs_groups``, ``logs_streams``, ``logs_events`` (one row per event: the message as stored, masked when
a data protection policy found sensitive data, the original in ``unmasked`` then, and an ``is_json`` flag computed
at ingest), ``logs_metric_filters``, ``logs_data_protection`` and ``logs_account_policies`` (data protection
policies, see ``data_protection``) and ``logs_queries``. Events are bulk
inserted from a pandas frame (one statement per batch); Insights queries run as one SQL statement.
"""
from __future__ import annotations

import base64
import json
import math
import threading
import time
import uuid
from datetime import datetime, timezone
from typing import Any, Callable

import numpy as np
import pandas as pd

from lab_app import config
from lab_app.localcloud.aws import paging
from lab_app.localcloud.logs import data_protection, filter_pattern, insights
from lab_app.localcloud.logs import exceptions as exc
from lab_app.localcloud.logs.filter_pattern import FilterPatternError, evaluate
from lab_app.localcloud.logs.filter_pattern.ast import JsonPattern
from lab_app.localcloud.logs.filter_pattern.evaluate import dimension_value, metric_value
from lab_app.localcloud.logs.insights.to_sql import EVENTS_TABLE, Scope, used_params

MAX_BATCH_BYTES = 1_048_576
EVENT_OVERHEAD = 26
MAX_BATCH_EVENTS = 10_000
MAX_EVENT_BYTES = 1_048_576 - EVENT_OVERHEAD
MAX_SPAN_MS = 24 * 3600 * 1000
TOO_OLD_MS = 14 * 24 * 3600 * 1000
TOO_NEW_MS = 2 * 3600 * 1000
RETENTION_DAYS = (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922,
                  3288, 3653)
MAX_METRIC_FILTERS_PER_GROUP = 100
MAX_CONCURRENT_QUERIES = 30
MAX_QUERY_CHARS = 10_000
QUERY_WORKERS = 2
RESULTS_WAIT_S = 0.1
MAX_CACHED_GROUPS = 10_000

DDL = {
    "logs_groups": """CREATE TABLE IF NOT EXISTS logs_groups (
        region VARCHAR, name VARCHAR, created BIGINT, retention INTEGER, kms_key VARCHAR, log_class VARCHAR,
        PRIMARY KEY (region, name))""",
    "logs_streams": """CREATE TABLE IF NOT EXISTS logs_streams (
        region VARCHAR, grp VARCHAR, name VARCHAR, created BIGINT, first_ts BIGINT, last_ts BIGINT,
        last_ingest BIGINT, stored_bytes BIGINT, PRIMARY KEY (region, grp, name))""",
    EVENTS_TABLE: f"""CREATE TABLE IF NOT EXISTS {EVENTS_TABLE} (
        region VARCHAR, grp VARCHAR, stream VARCHAR, ts BIGINT, ingest BIGINT, id BIGINT, message VARCHAR,
        is_json BOOLEAN, unmasked VARCHAR)""",
    "logs_metric_filters": """CREATE TABLE IF NOT EXISTS logs_metric_filters (
        region VARCHAR, grp VARCHAR, name VARCHAR, pattern VARCHAR, transformations VARCHAR, created BIGINT,
        PRIMARY KEY (region, grp, name))""",
    "logs_tags": """CREATE TABLE IF NOT EXISTS logs_tags (
        region VARCHAR, grp VARCHAR, key VARCHAR, value VARCHAR, PRIMARY KEY (region, grp, key))""",
    "logs_data_protection": """CREATE TABLE IF NOT EXISTS logs_data_protection (
        region VARCHAR, grp VARCHAR, document VARCHAR, updated BIGINT, status VARCHAR, PRIMARY KEY (region, grp))""",
    "logs_account_policies": """CREATE TABLE IF NOT EXISTS logs_account_policies (
        region VARCHAR, policy_type VARCHAR, name VARCHAR, document VARCHAR, scope VARCHAR, updated BIGINT,
        PRIMARY KEY (region, policy_type, name))""",
    "logs_queries": """CREATE TABLE IF NOT EXISTS logs_queries (
        query_id VARCHAR PRIMARY KEY, region VARCHAR, query_string VARCHAR, groups VARCHAR, status VARCHAR,
        create_time BIGINT, results VARCHAR, statistics VARCHAR)""",
    # the log groups a query analyzed (ListLogGroupsForQuery): fewer than asked when filterIndex skipped some
    "logs_query_groups": """CREATE TABLE IF NOT EXISTS logs_query_groups (
        query_id VARCHAR PRIMARY KEY, region VARCHAR, groups VARCHAR, language VARCHAR)""",
}


def _arn(region: str, group: str) -> str:
    return f"arn:aws:logs:{region}:{config.ACCOUNT_ID}:log-group:{group}"


def _token(payload: Any) -> str:
    return paging.encode(payload)


def _untoken(token: str) -> Any:
    try:
        return paging.decode(token)
    except paging.InvalidToken:
        raise exc.InvalidParameterException("The specified nextToken is invalid.") from None


def _group_name_from_identifier(identifier: str) -> str:
    """logGroupIdentifier: a name or an ARN (with or without the trailing ``:*``)."""
    if identifier.startswith("arn:"):
        part = identifier.split(":log-group:", 1)[-1]
        return part[:-2] if part.endswith(":*") else part
    return identifier


def format_timestamp(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=timezone.utc).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]


def format_value(value: Any, kind: str) -> str | None:
    if value is None:
        return None
    if kind == "ts":
        return format_timestamp(int(value))
    if kind == "ptr":
        return base64.b64encode(f"lc:{int(value)}".encode()).decode()
    if kind == "bool":
        return "true" if value else "false"
    if isinstance(value, float):
        if math.isnan(value) or math.isinf(value):
            return str(value)
        if value.is_integer() and abs(value) < 1e15:
            return str(int(value))
        return repr(value)
    return str(value)


class LogsBackend:
    def __init__(self, store, clock, publish_metric: Callable[[str, str, list[dict]], None] | None = None,
                 on_ingest: Callable[[str, list[str]], None] | None = None):
        self.store = store
        self.clock = clock
        self.publish_metric = publish_metric
        self.on_ingest = on_ingest      # (region, messages) after each stored batch: embedded metric format
        # (region, group, stream, timestamps, ids, messages) after each stored batch: subscription filters, live tail
        self.on_stored: list[Callable] = []
        self._id_lock = threading.Lock()
        self._next_id = 0
        self._jobs: dict[str, dict] = {}
        self._jobs_lock = threading.Lock()
        self._groups: dict[tuple[str, str], tuple] = {}     # _require_group's rows
        self._groups_lock = threading.Lock()
        self._groups_generation = 0
        self._pool = None
        self._dp_lock = threading.Lock()
        self._dp_groups: dict[tuple[str, str], data_protection.Policy] = {}
        self._dp_account: dict[str, data_protection.Policy] = {}
        # (region, group, field) -> whether a field index covers it (index_policies); None: no index policies
        self.indexed_on: Callable[[str, str, str], bool] | None = None
        # (region, group, stream, messages) -> the messages a log transformer made of them (transformers)
        self.transform: Callable[[str, str, str, list[str]], list[str]] | None = None
        self.group_tables: list[str] = []   # other modules' per-group tables (a ``grp`` column): deleted with the group

    # ---- lifecycle ---------------------------------------------------------------------------------
    def setup(self) -> None:
        for name, ddl in DDL.items():
            self.store.ensure_table(name, ddl)
        # a store written before data protection existed has no column for the originals
        self.store.execute(f"ALTER TABLE {EVENTS_TABLE} ADD COLUMN IF NOT EXISTS unmasked VARCHAR")
        # queries that were running when the process stopped will never finish
        self.store.execute("UPDATE logs_queries SET status = 'Failed' WHERE status IN ('Scheduled', 'Running')")
        self.reset()

    def reset(self) -> None:
        with self._jobs_lock:   # the store was wiped: running queries stop, and none is stored afterwards
            for job in self._jobs.values():
                job["forgotten"] = True
                if job["status"] in ("Scheduled", "Running"):
                    job["status"] = "Cancelled"
                    if job["cursor"] is not None:
                        job["cursor"].interrupt()
            self._jobs.clear()
        with self._groups_lock:
            self._groups.clear()
            self._groups_generation += 1
        rows = self.store.execute(f"SELECT coalesce(max(id), 0) FROM {EVENTS_TABLE}")
        with self._id_lock:
            self._next_id = int(rows[0][0]) + 1
        self._load_data_protection()

    def now_ms(self) -> int:
        return int(self.clock.now() * 1000)

    def _ids(self, n: int) -> np.ndarray:
        with self._id_lock:
            start = self._next_id
            self._next_id += n
        return np.arange(start, start + n, dtype=np.int64)

    def status(self) -> dict:
        return {"log_groups": self.store.count("logs_groups"), "events": self.store.count(EVENTS_TABLE),
                "metric_filters": self.store.count("logs_metric_filters")}

    # ---- groups ------------------------------------------------------------------------------------
    def _require_group(self, region: str, name: str) -> tuple:
        """(name, created, retention, kms_key, log_class) of a log group, or ResourceNotFoundException.

        Most requests start here, so the rows read are kept in memory; every write to ``logs_groups`` calls
        :meth:`_group_changed`, and a row read while one happened is not kept."""
        key = (region, name)
        row = self._groups.get(key)
        if row is not None:
            return row
        generation = self._groups_generation
        rows = self.store.execute("SELECT name, created, retention, kms_key, log_class FROM logs_groups "
                                  "WHERE region = ? AND name = ?", [region, name])
        if not rows:
            raise exc.ResourceNotFoundException("The specified log group does not exist.")
        with self._groups_lock:
            if generation == self._groups_generation and len(self._groups) < MAX_CACHED_GROUPS:
                self._groups[key] = rows[0]
        return rows[0]

    def _group_changed(self, region: str, name: str) -> None:
        """Call after writing a log group's row (created, deleted, retention, KMS key)."""
        with self._groups_lock:
            self._groups.pop((region, name), None)
            self._groups_generation += 1

    def _validate_group_name(self, name: Any, parameter: str = "logGroupName") -> str:
        if not isinstance(name, str) or not name:
            raise exc.InvalidParameterException.constraint(parameter, name, "Member must have length greater than or equal to 1")
        if len(name) > 512:
            raise exc.InvalidParameterException.constraint(parameter, name, "Member must have length less than or equal to 512")
        import re

        if not re.fullmatch(r"[\.\-_/#A-Za-z0-9]+", name):
            raise exc.InvalidParameterException.constraint(
                parameter, name, "Member must satisfy regular expression pattern: [\\.\\-_/#A-Za-z0-9]+")
        return name

    def create_log_group(self, region: str, name: str, kms_key: str | None = None,
                         log_class: str | None = None) -> None:
        self._validate_group_name(name)
        with self.store.lock:
            if self.store.execute("SELECT 1 FROM logs_groups WHERE region = ? AND name = ?", [region, name]):
                raise exc.ResourceAlreadyExistsException("The specified log group already exists")
            self.store.execute("INSERT INTO logs_groups VALUES (?, ?, ?, NULL, ?, ?)",
                               [region, name, self.now_ms(), kms_key, log_class or "STANDARD"])
        self._group_changed(region, name)

    def delete_log_group(self, region: str, name: str) -> None:
        with self.store.transaction() as conn:
            self._require_group(region, name)
            for table, col in (("logs_groups", "name"), ("logs_streams", "grp"), (EVENTS_TABLE, "grp"),
                               ("logs_metric_filters", "grp"), ("logs_tags", "grp"), ("logs_data_protection", "grp"),
                               *((t, "grp") for t in self.group_tables)):
                conn.execute(f"DELETE FROM {table} WHERE region = ? AND {col} = ?", [region, name])
        self._group_changed(region, name)
        with self._dp_lock:
            self._dp_groups.pop((region, name), None)

    def describe_log_groups(self, region: str, prefix: str | None = None, pattern: str | None = None,
                            limit: int | None = None, token: str | None = None) -> tuple[list[dict], str | None]:
        limit = self._limit(limit, 50)
        if prefix and pattern:
            raise exc.InvalidParameterException(
                "LogGroup name prefix and LogGroup name pattern are mutually exclusive parameters.")
        after = _untoken(token) if token else ""
        sql = ("SELECT g.name, g.created, g.retention, g.kms_key, g.log_class, "
               "(SELECT coalesce(sum(stored_bytes), 0) FROM logs_streams s WHERE s.region = g.region AND s.grp = g.name), "
               "(SELECT count(*) FROM logs_metric_filters m WHERE m.region = g.region AND m.grp = g.name), "
               "(SELECT d.status FROM logs_data_protection d WHERE d.region = g.region AND d.grp = g.name) "
               "FROM logs_groups g WHERE g.region = ? AND g.name > ?")
        params: list = [region, after]
        if prefix:
            sql += " AND starts_with(g.name, ?)"
            params.append(prefix)
        if pattern:
            sql += " AND contains(lower(g.name), lower(?))"
            params.append(pattern)
        sql += " ORDER BY g.name LIMIT ?"
        params.append(limit + 1)
        rows = self.store.execute(sql, params)
        more = len(rows) > limit
        rows = rows[:limit]
        groups = []
        account_policy = self._dp_account.get(region) is not None
        for name, created, retention, kms, log_class, stored, n_filters, dp_status in rows:
            g = {"logGroupName": name, "creationTime": created, "metricFilterCount": n_filters,
                 "arn": _arn(region, name) + ":*", "storedBytes": int(stored), "logGroupClass": log_class,
                 "logGroupArn": _arn(region, name)}
            if retention is not None:
                g["retentionInDays"] = retention
            if kms:
                g["kmsKeyId"] = kms
            if dp_status:
                g["dataProtectionStatus"] = dp_status
            if account_policy:
                g["inheritedProperties"] = ["ACCOUNT_DATA_PROTECTION"]
            groups.append(g)
        return groups, (_token(rows[-1][0]) if more else None)

    # ---- tags --------------------------------------------------------------------------------------
    def group_from_arn(self, region: str, arn: str) -> tuple[str, str]:
        parts = arn.split(":")
        if len(parts) < 7 or parts[2] != "logs" or parts[5] != "log-group":
            raise exc.InvalidParameterException(f"Invalid resourceArn: {arn}")
        group = parts[6]
        self._require_group(parts[3] or region, group)
        return parts[3] or region, group

    def tag_group(self, region: str, group: str, tags: dict) -> None:
        if not isinstance(tags, dict) or not tags:
            raise exc.InvalidParameterException.constraint("tags", tags, "Member must have length greater than or equal to 1")
        with self.store.transaction() as conn:
            self._require_group(region, group)
            for key, value in tags.items():
                conn.execute("DELETE FROM logs_tags WHERE region = ? AND grp = ? AND key = ?", [region, group, key])
                conn.execute("INSERT INTO logs_tags VALUES (?, ?, ?, ?)", [region, group, key, str(value)])
            n = conn.execute("SELECT count(*) FROM logs_tags WHERE region = ? AND grp = ?", [region, group]).fetchall()[0][0]
            if n > 50:
                raise exc.InvalidParameterException("A log group can have at most 50 tags.")

    def untag_group(self, region: str, group: str, keys: list[str]) -> None:
        self._require_group(region, group)
        for key in keys or []:
            self.store.execute("DELETE FROM logs_tags WHERE region = ? AND grp = ? AND key = ?", [region, group, key])

    def list_tags(self, region: str, group: str) -> dict:
        self._require_group(region, group)
        return dict(self.store.execute("SELECT key, value FROM logs_tags WHERE region = ? AND grp = ? ORDER BY key",
                                       [region, group]))

    def put_retention_policy(self, region: str, name: str, days: Any) -> None:
        if days not in RETENTION_DAYS:
            raise exc.InvalidParameterException.constraint(
                "retentionInDays", days, "Member must satisfy enum value set: "
                "[" + ", ".join(map(str, RETENTION_DAYS)) + "]")
        self._require_group(region, name)
        self.store.execute("UPDATE logs_groups SET retention = ? WHERE region = ? AND name = ?", [days, region, name])
        self._group_changed(region, name)

    def delete_retention_policy(self, region: str, name: str) -> None:
        self._require_group(region, name)
        self.store.execute("UPDATE logs_groups SET retention = NULL WHERE region = ? AND name = ?", [region, name])
        self._group_changed(region, name)

    # ---- streams -----------------------------------------------------------------------------------
    def create_log_stream(self, region: str, group: str, name: str) -> None:
        if not isinstance(name, str) or not name or len(name) > 512 or ":" in name or "*" in name:
            raise exc.InvalidParameterException.constraint(
                "logStreamName", name, "Member must satisfy regular expression pattern: [^:*]*")
        with self.store.lock:
            self._require_group(region, group)
            if self.store.execute("SELECT 1 FROM logs_streams WHERE region = ? AND grp = ? AND name = ?",
                                  [region, group, name]):
                raise exc.ResourceAlreadyExistsException("The specified log stream already exists")
            self.store.execute("INSERT INTO logs_streams VALUES (?, ?, ?, ?, NULL, NULL, NULL, 0)",
                               [region, group, name, self.now_ms()])

    def delete_log_stream(self, region: str, group: str, name: str) -> None:
        with self.store.transaction() as conn:
            self._require_group(region, group)
            if not conn.execute("SELECT 1 FROM logs_streams WHERE region = ? AND grp = ? AND name = ?",
                                [region, group, name]).fetchall():
                raise exc.ResourceNotFoundException("The specified log stream does not exist.")
            conn.execute("DELETE FROM logs_streams WHERE region = ? AND grp = ? AND name = ?", [region, group, name])
            conn.execute(f"DELETE FROM {EVENTS_TABLE} WHERE region = ? AND grp = ? AND stream = ?",
                         [region, group, name])

    def describe_log_streams(self, region: str, group: str, prefix: str | None = None,
                             order_by: str | None = None, descending: bool = False, limit: int | None = None,
                             token: str | None = None) -> tuple[list[dict], str | None]:
        limit = self._limit(limit, 50)
        order_by = order_by or "LogStreamName"
        if order_by not in ("LogStreamName", "LastEventTime"):
            raise exc.InvalidParameterException.constraint(
                "orderBy", order_by, "Member must satisfy enum value set: [LogStreamName, LastEventTime]")
        if order_by == "LastEventTime" and prefix:
            raise exc.InvalidParameterException("Cannot order by LastEventTime with a logStreamNamePrefix.")
        self._require_group(region, group)
        offset = int(_untoken(token)) if token else 0
        key = "name" if order_by == "LogStreamName" else "coalesce(last_ts, -1)"
        direction = "DESC" if descending else "ASC"
        sql = ("SELECT name, created, first_ts, last_ts, last_ingest, stored_bytes FROM logs_streams "
               "WHERE region = ? AND grp = ?")
        params: list = [region, group]
        if prefix:
            sql += " AND starts_with(name, ?)"
            params.append(prefix)
        sql += f" ORDER BY {key} {direction}, name {direction} LIMIT ? OFFSET ?"
        params += [limit + 1, offset]
        rows = self.store.execute(sql, params)
        more = len(rows) > limit
        streams = []
        for name, created, first_ts, last_ts, last_ingest, stored in rows[:limit]:
            s = {"logStreamName": name, "creationTime": created,
                 "arn": f"{_arn(region, group)}:log-stream:{name}", "storedBytes": int(stored or 0),
                 "uploadSequenceToken": "1"}
            if first_ts is not None:
                s.update(firstEventTimestamp=first_ts, lastEventTimestamp=last_ts, lastIngestionTime=last_ingest)
            streams.append(s)
        return streams, (_token(offset + limit) if more else None)

    # ---- ingest ------------------------------------------------------------------------------------
    def put_log_events(self, region: str, group: str, stream: str, events: Any) -> dict:
        if not isinstance(events, list) or not events:
            raise exc.InvalidParameterException.constraint(
                "logEvents", events, "Member must have length greater than or equal to 1")
        if len(events) > MAX_BATCH_EVENTS:
            raise exc.InvalidParameterException.constraint(
                "logEvents", f"[{len(events)} events]", "Member must have length less than or equal to 10000")
        try:
            timestamps = np.fromiter((e["timestamp"] for e in events), dtype=np.int64, count=len(events))
            messages = [e["message"] for e in events]
        except (KeyError, TypeError, ValueError, OverflowError):
            raise exc.InvalidParameterException(
                "Each log event needs an integer 'timestamp' (ms since the epoch) and a 'message'.") from None
        for m in messages:
            if not isinstance(m, str) or not m:
                raise exc.InvalidParameterException.constraint(
                    "logEvents.member.message", m, "Member must have length greater than or equal to 1")
        size = sum(len(m) for m in messages)  # characters; exact bytes only when close to the limit
        if size + EVENT_OVERHEAD * len(events) > MAX_BATCH_BYTES / 4:
            size = sum(len(m.encode("utf-8")) for m in messages)
        if size + EVENT_OVERHEAD * len(events) > MAX_BATCH_BYTES:
            raise exc.InvalidParameterException(
                f"Log event batch is too large: {size + EVENT_OVERHEAD * len(events)} bytes "
                f"(messages in UTF-8 plus 26 bytes per event) exceeds the maximum of {MAX_BATCH_BYTES} bytes.")
        if len(timestamps) > 1 and bool(np.any(np.diff(timestamps) < 0)):
            raise exc.InvalidParameterException(
                "Log events in a single PutLogEvents request must be in chronological order.")
        if int(timestamps[-1]) - int(timestamps[0]) > MAX_SPAN_MS:
            raise exc.InvalidParameterException(
                "The batch of log events in a single PutLogEvents request cannot span more than 24 hours.")
        row = self._require_group(region, group)
        retention = row[2]
        now = self.now_ms()
        oldest = now - TOO_OLD_MS
        rejected: dict[str, int] = {}
        # sorted timestamps: too-old events are a prefix, too-new a suffix
        lo = int(np.searchsorted(timestamps, oldest, side="left"))
        if retention is not None:
            lo_expired = int(np.searchsorted(timestamps, now - retention * 86_400_000, side="left"))
            if lo_expired > lo:
                rejected["expiredLogEventEndIndex"] = lo_expired
                lo = lo_expired
        too_old = int(np.searchsorted(timestamps, oldest, side="left"))
        if too_old > 0:
            rejected["tooOldLogEventEndIndex"] = too_old
        hi = int(np.searchsorted(timestamps, now + TOO_NEW_MS, side="right"))
        if hi < len(timestamps):
            rejected["tooNewLogEventStartIndex"] = hi
        if not self.store.execute("SELECT 1 FROM logs_streams WHERE region = ? AND grp = ? AND name = ?",
                                  [region, group, stream]):
            raise exc.ResourceNotFoundException("The specified log stream does not exist.")
        accepted_ts = timestamps[lo:hi]
        accepted_msgs = messages[lo:hi]
        if len(accepted_ts):
            self._store_events(region, group, stream, accepted_ts, accepted_msgs, now)
        return {"nextSequenceToken": f"{now:056d}"[-56:], **({"rejectedLogEventsInfo": rejected} if rejected else {})}

    def _store_events(self, region: str, group: str, stream: str, timestamps: np.ndarray, messages: list[str],
                      now: int) -> int:
        n = len(messages)
        if self.transform is not None:     # a log transformer rewrites events before anything reads them
            messages = self.transform(region, group, stream, messages)
        originals = None
        policies = self._policies_for(region, group)
        if policies:
            scanned = data_protection.scan(policies, messages)
            if scanned.findings:
                originals = [m if c else None for m, c in zip(messages, scanned.changed)]
                messages = scanned.masked
        frame = pd.DataFrame({
            "region": pd.Categorical.from_codes(np.zeros(n, dtype=np.int8), [region]),
            "grp": pd.Categorical.from_codes(np.zeros(n, dtype=np.int8), [group]),
            "stream": pd.Categorical.from_codes(np.zeros(n, dtype=np.int8), [stream]),
            "ts": timestamps,
            "ingest": np.full(n, now, dtype=np.int64),
            "id": (ids := self._ids(n)),
            "message": messages,
            "unmasked": originals if originals is not None else pd.Series([None] * n, dtype=object),
        })
        size = sum(len(m) for m in messages)
        # one transaction: the events and the stream's counters are stored together or not at all
        with self.store.transaction() as conn:
            conn.register("_logs_incoming", frame)
            try:
                conn.execute(
                    f"INSERT INTO {EVENTS_TABLE} (region, grp, stream, ts, ingest, id, message, is_json, unmasked) "
                    "SELECT CAST(region AS VARCHAR), CAST(grp AS VARCHAR), "
                    "CAST(stream AS VARCHAR), ts, ingest, id, message, "
                    "(starts_with(ltrim(message), '{') AND json_valid(message)), CAST(unmasked AS VARCHAR) "
                    "FROM _logs_incoming")
            finally:
                conn.unregister("_logs_incoming")
            conn.execute(
                "UPDATE logs_streams SET first_ts = least(coalesce(first_ts, ?), ?), "
                "last_ts = greatest(coalesce(last_ts, ?), ?), last_ingest = ?, stored_bytes = stored_bytes + ? "
                "WHERE region = ? AND grp = ? AND name = ?",
                [int(timestamps[0]), int(timestamps[0]), int(timestamps[-1]), int(timestamps[-1]), now, size,
                 region, group, stream])
        self._apply_metric_filters(region, group, timestamps, messages)  # masked: AWS masks metric filters' input too
        if policies and scanned.findings:
            self._report_findings(region, group, policies, scanned, timestamps, now)
        if self.on_ingest is not None:      # embedded metric format (cloudwatch/emf.py), on the masked text too
            self.on_ingest(region, messages)
        for hook in self.on_stored:         # subscriptions and live tail queue the batch; they never block ingest
            hook(region, group, stream, timestamps, ids, messages)
        return n

    def deliver(self, region: str, group: str, stream: str, events: list[dict]) -> int:
        """Store events from another stand-in (e.g. CloudTrail). Creates the stream if missing."""
        self._require_group(region, group)
        if not events:
            return 0
        ordered = sorted(events, key=lambda e: int(e["timestamp"]))
        with self.store.lock:
            if not self.store.execute("SELECT 1 FROM logs_streams WHERE region = ? AND grp = ? AND name = ?",
                                      [region, group, stream]):
                self.create_log_stream(region, group, stream)
        stored = 0
        for i in range(0, len(ordered), MAX_BATCH_EVENTS):
            chunk = ordered[i:i + MAX_BATCH_EVENTS]
            stored += self._store_events(region, group, stream,
                                         np.array([int(e["timestamp"]) for e in chunk], dtype=np.int64),
                                         [str(e["message"]) for e in chunk], self.now_ms())
        return stored

    # ---- reading -----------------------------------------------------------------------------------
    def _limit(self, limit: Any, maximum: int, default: int | None = None) -> int:
        if limit is None:
            return default if default is not None else maximum
        if not isinstance(limit, int) or limit < 1:
            raise exc.InvalidParameterException.constraint("limit", limit, "Member must have value greater than or equal to 1")
        if limit > maximum:
            raise exc.InvalidParameterException.constraint(
                "limit", limit, f"Member must have value less than or equal to {maximum}")
        return limit

    def get_log_events(self, region: str, group: str, stream: str, start: int | None = None, end: int | None = None,
                       token: str | None = None, limit: int | None = None, start_from_head: bool | None = None,
                       unmask: bool = False) -> dict:
        """``unmask``: the originals of masked events (the caller's ``logs:Unmask`` is checked by the responses)."""
        limit = self._limit(limit, 10_000)
        self._require_group(region, group)
        if not self.store.execute("SELECT 1 FROM logs_streams WHERE region = ? AND grp = ? AND name = ?",
                                  [region, group, stream]):
            raise exc.ResourceNotFoundException("The specified log stream does not exist.")
        where = "region = ? AND grp = ? AND stream = ?"
        params: list = [region, group, stream]
        if start is not None:
            where += " AND ts >= ?"
            params.append(int(start))
        if end is not None:
            where += " AND ts < ?"
            params.append(int(end))
        if token:
            direction, _, pos = token.partition("/")
            try:
                ts_s, id_s = pos.split(":")
                boundary = (int(ts_s), int(id_s))
            except ValueError:
                raise exc.InvalidParameterException("The specified nextToken is invalid.") from None
            if direction not in ("f", "b"):
                raise exc.InvalidParameterException("The specified nextToken is invalid.")
            forward = direction == "f"
        else:
            forward = bool(start_from_head)
            boundary = None
        cols = f"ts, {'coalesce(unmasked, message)' if unmask else 'message'}, ingest, id"
        if forward:
            cond = " AND (ts, id) > (?, ?)" if boundary else ""
            rows = self.store.execute(f"SELECT {cols} FROM {EVENTS_TABLE} WHERE {where}{cond} ORDER BY ts, id LIMIT ?",
                                      params + (list(boundary) if boundary else []) + [limit])
        else:
            cond = " AND (ts, id) < (?, ?)" if boundary else ""
            rows = self.store.execute(
                f"SELECT {cols} FROM {EVENTS_TABLE} WHERE {where}{cond} ORDER BY ts DESC, id DESC LIMIT ?",
                params + (list(boundary) if boundary else []) + [limit])[::-1]
        events = [{"timestamp": ts, "message": msg, "ingestionTime": ing} for ts, msg, ing, _ in rows]
        if rows:
            fwd = f"f/{rows[-1][0]}:{rows[-1][3]}"
            bwd = f"b/{rows[0][0]}:{rows[0][3]}"
        elif boundary:
            fwd = f"f/{boundary[0]}:{boundary[1]}"
            bwd = f"b/{boundary[0]}:{boundary[1]}"
        else:  # nothing (yet): following the forward token later returns whatever has arrived by then
            fwd, bwd = "f/-1:-1", "b/-1:-1"
        return {"events": events, "nextForwardToken": fwd, "nextBackwardToken": bwd}

    def _group_for(self, region: str, name: str | None, identifier: str | None) -> str:
        if name and identifier:
            raise exc.InvalidParameterException("LogGroup name and LogGroup ARN are mutually exclusive parameters.")
        group = name or (_group_name_from_identifier(identifier) if identifier else None)
        if not group:
            raise exc.InvalidParameterException("Either logGroupName or logGroupIdentifier is required.")
        self._require_group(region, group)
        return group

    def filter_log_events(self, region: str, group: str, stream_names: list[str] | None = None,
                          stream_prefix: str | None = None, start: int | None = None, end: int | None = None,
                          pattern_text: str | None = None, token: str | None = None, limit: int | None = None,
                          unmask: bool = False) -> dict:
        """``unmask``: match and return the originals of masked events (``logs:Unmask`` checked by the responses)."""
        limit = self._limit(limit, 10_000)
        text = "coalesce(unmasked, message)" if unmask else "message"
        if stream_names and stream_prefix:
            raise exc.InvalidParameterException(
                "logStreamNames and logStreamNamePrefix are mutually exclusive parameters.")
        pattern = self._pattern(pattern_text)
        params: dict = {"region": region, "grp": group}
        where = "region = $region AND grp = $grp"
        if stream_names:
            names = []
            for i, s in enumerate(stream_names):
                params[f"s{i}"] = s
                names.append(f"$s{i}")
            where += f" AND stream IN ({', '.join(names)})"
        if stream_prefix:
            params["prefix"] = stream_prefix
            where += " AND starts_with(stream, $prefix)"
        if start is not None:
            params["start"] = int(start)
            where += " AND ts >= $start"
        if end is not None:
            params["end"] = int(end)
            where += " AND ts <= $end"
        if token:
            after = _untoken(token)
            params["after_ts"], params["after_id"] = int(after[0]), int(after[1])
            where += " AND (ts, id) > ($after_ts, $after_id)"
        pushed = filter_pattern.to_sql(pattern, text, params)
        if pushed:
            where += f" AND {pushed}"
        elif isinstance(pattern, JsonPattern):
            where += " AND is_json"  # only JSON events can match; the rest never reach Python
        out: list[dict] = []
        chunk = max(limit, 1000)
        cursor = None
        stopped_at = None
        while stopped_at is None:
            cond = where
            if cursor is not None:
                params["c_ts"], params["c_id"] = cursor
                cond += " AND (ts, id) > ($c_ts, $c_id)"
            rows = self.store.execute(
                f"SELECT stream, ts, {text}, ingest, id FROM {EVENTS_TABLE} WHERE {cond} "
                f"ORDER BY ts, id LIMIT {int(chunk)}", params)
            for stream, ts, message, ingest, eid in rows:
                if pushed is None and not evaluate(pattern, message)[0]:
                    continue
                out.append({"logStreamName": stream, "timestamp": ts, "message": message, "ingestionTime": ingest,
                            "eventId": f"{ts:020d}{eid:020d}"})
                if len(out) >= limit:
                    stopped_at = (ts, eid)
                    break
            if len(rows) < chunk:
                break
            cursor = (rows[-1][1], rows[-1][4])
        result: dict = {"events": out}
        if stopped_at is not None:
            params["c_ts"], params["c_id"] = stopped_at
            if self.store.execute(f"SELECT 1 FROM {EVENTS_TABLE} WHERE {where} AND (ts, id) > ($c_ts, $c_id) LIMIT 1",
                                  params):
                result["nextToken"] = _token([stopped_at[0], stopped_at[1]])
        return result

    def _pattern(self, text: str | None):
        try:
            return filter_pattern.parse(text or "")
        except FilterPatternError as e:
            raise exc.InvalidParameterException(f"Invalid filter pattern: {e}") from None

    # ---- metric filters ----------------------------------------------------------------------------
    def put_metric_filter(self, region: str, group: str, name: str, pattern_text: str,
                          transformations: list[dict]) -> None:
        if not name or not isinstance(name, str) or len(name) > 512:
            raise exc.InvalidParameterException.constraint("filterName", name, "Member must have length between 1 and 512")
        self._pattern(pattern_text)
        if not isinstance(transformations, list) or len(transformations) != 1:
            raise exc.InvalidParameterException.constraint(
                "metricTransformations", transformations, "Member must have length less than or equal to 1")
        t = transformations[0]
        for key in ("metricName", "metricNamespace", "metricValue"):
            if not t.get(key):
                raise exc.InvalidParameterException(f"metricTransformations.{key} is required.")
        value = str(t["metricValue"])
        if not value.startswith("$"):
            try:
                float(value)
            except ValueError:
                raise exc.InvalidParameterException(
                    "Invalid metric value: use a number, $.jsonField or $delimitedField.") from None
        with self.store.lock:
            self._require_group(region, group)
            exists = self.store.execute("SELECT 1 FROM logs_metric_filters WHERE region = ? AND grp = ? AND name = ?",
                                        [region, group, name])
            if not exists:
                n = self.store.execute("SELECT count(*) FROM logs_metric_filters WHERE region = ? AND grp = ?",
                                       [region, group])[0][0]
                if n >= MAX_METRIC_FILTERS_PER_GROUP:
                    raise exc.LimitExceededException("Resource limit exceeded.")
            self.store.execute("DELETE FROM logs_metric_filters WHERE region = ? AND grp = ? AND name = ?",
                               [region, group, name])
            self.store.execute("INSERT INTO logs_metric_filters VALUES (?, ?, ?, ?, ?, ?)",
                               [region, group, name, pattern_text or "", json.dumps(transformations), self.now_ms()])

    def describe_metric_filters(self, region: str, group: str | None = None, prefix: str | None = None,
                                metric_name: str | None = None, namespace: str | None = None,
                                limit: int | None = None, token: str | None = None) -> tuple[list[dict], str | None]:
        limit = self._limit(limit, 50)
        if prefix and not group:
            raise exc.InvalidParameterException("logGroupName is required when filterNamePrefix is given.")
        if group:
            self._require_group(region, group)
        offset = int(_untoken(token)) if token else 0
        sql = "SELECT grp, name, pattern, transformations, created FROM logs_metric_filters WHERE region = ?"
        params: list = [region]
        if group:
            sql += " AND grp = ?"
            params.append(group)
        if prefix:
            sql += " AND starts_with(name, ?)"
            params.append(prefix)
        rows = self.store.execute(sql + " ORDER BY grp, name", params)
        out = []
        for grp, name, pattern, transformations, created in rows:
            ts = json.loads(transformations)
            if metric_name and not any(t["metricName"] == metric_name for t in ts):
                continue
            if namespace and not any(t["metricNamespace"] == namespace for t in ts):
                continue
            out.append({"filterName": name, "filterPattern": pattern, "metricTransformations": ts,
                        "creationTime": created, "logGroupName": grp})
        page = out[offset:offset + limit]
        return page, (_token(offset + limit) if len(out) > offset + limit else None)

    def delete_metric_filter(self, region: str, group: str, name: str) -> None:
        self._require_group(region, group)
        if not self.store.execute("SELECT 1 FROM logs_metric_filters WHERE region = ? AND grp = ? AND name = ?",
                                  [region, group, name]):
            raise exc.ResourceNotFoundException("The specified metric filter does not exist.")
        self.store.execute("DELETE FROM logs_metric_filters WHERE region = ? AND grp = ? AND name = ?",
                           [region, group, name])

    def test_metric_filter(self, pattern_text: str, messages: list[str]) -> list[dict]:
        if not isinstance(messages, list) or not 1 <= len(messages) <= 50:
            raise exc.InvalidParameterException.constraint(
                "logEventMessages", messages, "Member must have length between 1 and 50")
        pattern = self._pattern(pattern_text)
        matches = []
        for i, message in enumerate(messages, start=1):
            ok, fields = evaluate(pattern, message)
            if ok:
                values = {}
                for key, value in fields.items():
                    if key == "$json":
                        continue
                    values["$" + key] = str(value)
                matches.append({"eventNumber": i, "eventMessage": message, "extractedValues": values})
        return matches

    def _apply_metric_filters(self, region: str, group: str, timestamps: np.ndarray, messages: list[str]) -> None:
        if self.publish_metric is None:
            return
        filters = self.store.execute(
            "SELECT pattern, transformations FROM logs_metric_filters WHERE region = ? AND grp = ?", [region, group])
        for pattern_text, transformations in filters:
            pattern = filter_pattern.parse(pattern_text)
            for t in json.loads(transformations):
                self._publish(region, pattern, t, timestamps, messages)

    def _publish(self, region: str, pattern, t: dict, timestamps: np.ndarray, messages: list[str]) -> None:
        """One statistic set per (minute, dimension values), like CloudWatch Logs publishes them."""
        buckets: dict[tuple, list[float]] = {}
        default = t.get("defaultValue")
        dims = t.get("dimensions") or {}
        for ts, message in zip(timestamps.tolist(), messages):
            ok, fields = evaluate(pattern, message)
            if ok:
                value = metric_value(str(t["metricValue"]), fields)
                if value is None:
                    continue
                dim_values = tuple((k, dimension_value(v, fields)) for k, v in sorted(dims.items()))
                if any(v is None for _, v in dim_values):
                    continue
            elif default is not None and not dims:
                value, dim_values = float(default), ()
            else:
                continue
            bucket = buckets.setdefault((ts // 60_000 * 60_000, dim_values), [0, []])
            bucket[0] = max(bucket[0], ts)
            bucket[1].append(value)
        data = []
        for (_, dim_values), (last_ts, values) in buckets.items():
            # one statistic set per minute and batch, stamped with its last event's time (within that minute)
            datum = {"MetricName": t["metricName"],
                     "Timestamp": datetime.fromtimestamp(last_ts / 1000, tz=timezone.utc).replace(tzinfo=None),
                     "StatisticValues": {"SampleCount": float(len(values)), "Sum": float(sum(values)),
                                         "Minimum": float(min(values)), "Maximum": float(max(values))},
                     "Dimensions": [{"Name": k, "Value": v} for k, v in dim_values]}
            if t.get("unit"):
                datum["Unit"] = t["unit"]
            data.append(datum)
        if data:
            self.publish_metric(region, t["metricNamespace"], data)

    # ---- data protection ---------------------------------------------------------------------------
    def _load_data_protection(self) -> None:
        groups, account = {}, {}
        for region, grp, document in self.store.execute(
                "SELECT region, grp, document FROM logs_data_protection WHERE status = 'ACTIVATED'"):
            groups[(region, grp)] = data_protection.parse_policy(document)
        for region, document in self.store.execute(
                "SELECT region, document FROM logs_account_policies WHERE policy_type = 'DATA_PROTECTION_POLICY'"):
            account[region] = data_protection.parse_policy(document)
        with self._dp_lock:
            self._dp_groups, self._dp_account = groups, account

    def _policies_for(self, region: str, group: str) -> list:
        """The policies that apply to a group: its own and the account's (cumulative, as on AWS)."""
        if not self._dp_groups and not self._dp_account:
            return []
        with self._dp_lock:
            return [p for p in (self._dp_account.get(region), self._dp_groups.get((region, group))) if p is not None]

    def _destination_exists(self, region: str):
        def exists(kind: str, name: str) -> bool:
            if kind == "CloudWatchLogs":
                return bool(self.store.execute("SELECT 1 FROM logs_groups WHERE region = ? AND name = ?",
                                               [region, name]))
            if kind == "S3":
                from moto.s3.models import s3_backends

                return name in s3_backends[config.ACCOUNT_ID]["aws"].buckets
            from moto.firehose.models import firehose_backends

            return name in firehose_backends[config.ACCOUNT_ID][region].delivery_streams
        return exists

    def _validate_identifier(self, identifier: Any) -> str:
        if not isinstance(identifier, str) or not 1 <= len(identifier) <= 2048:
            raise exc.InvalidParameterException.constraint(
                "logGroupIdentifier", identifier, "Member must have length between 1 and 2048")
        import re

        if not re.fullmatch(r"[\w#+=/:,.@-]*", identifier):
            raise exc.ValidationException.constraint(
                "logGroupIdentifier", identifier, "Member must satisfy regular expression pattern: [\\w#+=/:,.@-]*")
        return _group_name_from_identifier(identifier)

    def put_data_protection_policy(self, region: str, identifier: Any, document: Any) -> dict:
        group = self._validate_identifier(identifier)
        self._require_group(region, group)
        policy = data_protection.parse_policy(document, self._destination_exists(region))
        now = self.now_ms()
        with self.store.transaction() as conn:
            conn.execute("DELETE FROM logs_data_protection WHERE region = ? AND grp = ?", [region, group])
            conn.execute("INSERT INTO logs_data_protection VALUES (?, ?, ?, ?, 'ACTIVATED')",
                         [region, group, document, now])
        with self._dp_lock:
            self._dp_groups[(region, group)] = policy
        return {"logGroupIdentifier": identifier, "policyDocument": document, "lastUpdatedTime": now}

    def get_data_protection_policy(self, region: str, identifier: Any) -> dict:
        group = self._validate_identifier(identifier)
        self._require_group(region, group)
        rows = self.store.execute("SELECT document, updated FROM logs_data_protection "
                                  "WHERE region = ? AND grp = ? AND status = 'ACTIVATED'", [region, group])
        if not rows:
            return {"logGroupIdentifier": identifier}
        return {"logGroupIdentifier": identifier, "policyDocument": rows[0][0], "lastUpdatedTime": rows[0][1]}

    def delete_data_protection_policy(self, region: str, identifier: Any) -> None:
        group = self._validate_identifier(identifier)
        self._require_group(region, group)
        with self.store.lock:
            if not self.store.execute("SELECT 1 FROM logs_data_protection WHERE region = ? AND grp = ? "
                                      "AND status = 'ACTIVATED'", [region, group]):
                raise exc.ResourceNotFoundException("The specified log group does not have a data protection policy.")
            # events stored meanwhile stay masked; DescribeLogGroups then says DELETED, as AWS does
            self.store.execute("UPDATE logs_data_protection SET document = NULL, status = 'DELETED', updated = ? "
                               "WHERE region = ? AND grp = ?", [self.now_ms(), region, group])
        with self._dp_lock:
            self._dp_groups.pop((region, group), None)

    def _account_policy(self, row: tuple) -> dict:
        policy_type, name, document, scope, updated = row
        return {"policyName": name, "policyDocument": document, "lastUpdatedTime": updated, "policyType": policy_type,
                "scope": scope, "accountId": config.ACCOUNT_ID}

    @staticmethod
    def _policy_type(policy_type: Any) -> str:
        types = ("DATA_PROTECTION_POLICY", "SUBSCRIPTION_FILTER_POLICY", "FIELD_INDEX_POLICY", "TRANSFORMER_POLICY",
                 "METRIC_EXTRACTION_POLICY")
        if policy_type not in types:
            raise exc.InvalidParameterException.constraint(
                "policyType", policy_type, f"Member must satisfy enum value set: [{', '.join(types)}]")
        if policy_type != "DATA_PROTECTION_POLICY":
            raise exc.InvalidParameterException(
                f"The local CloudWatch Logs implements account policies of type DATA_PROTECTION_POLICY only, "
                f"not {policy_type}.")
        return policy_type

    def put_account_policy(self, region: str, name: Any, document: Any, policy_type: Any, scope: Any = None,
                           selection_criteria: Any = None) -> dict:
        policy_type = self._policy_type(policy_type)
        if not isinstance(name, str) or not name:
            raise exc.InvalidParameterException.constraint("policyName", name,
                                                           "Member must have length greater than or equal to 1")
        if scope not in (None, "ALL"):
            raise exc.InvalidParameterException.constraint("scope", scope, "Member must satisfy enum value set: [ALL]")
        if selection_criteria is not None:
            raise exc.InvalidParameterException(
                "selectionCriteria is valid only for SUBSCRIPTION_FILTER_POLICY, FIELD_INDEX_POLICY and "
                "TRANSFORMER_POLICY.")
        policy = data_protection.parse_policy(document, self._destination_exists(region))
        now = self.now_ms()
        with self.store.transaction() as conn:
            other = conn.execute("SELECT name FROM logs_account_policies WHERE region = ? AND policy_type = ? "
                                 "AND name <> ?", [region, policy_type, name]).fetchall()
            if other:
                raise exc.LimitExceededException(
                    f"Each account can have only one account-level data protection policy; delete {other[0][0]} "
                    "first.")
            conn.execute("DELETE FROM logs_account_policies WHERE region = ? AND policy_type = ? AND name = ?",
                         [region, policy_type, name])
            conn.execute("INSERT INTO logs_account_policies VALUES (?, ?, ?, ?, 'ALL', ?)",
                         [region, policy_type, name, document, now])
        with self._dp_lock:
            self._dp_account[region] = policy
        return {"accountPolicy": self._account_policy((policy_type, name, document, "ALL", now))}

    def describe_account_policies(self, region: str, policy_type: Any, name: Any = None) -> list[dict]:
        policy_type = self._policy_type(policy_type)
        sql = ("SELECT policy_type, name, document, scope, updated FROM logs_account_policies "
               "WHERE region = ? AND policy_type = ?")
        params: list = [region, policy_type]
        if name:
            sql += " AND name = ?"
            params.append(name)
        return [self._account_policy(r) for r in self.store.execute(sql + " ORDER BY name", params)]

    def delete_account_policy(self, region: str, name: Any, policy_type: Any) -> None:
        policy_type = self._policy_type(policy_type)
        with self.store.lock:
            if not self.store.execute("SELECT 1 FROM logs_account_policies WHERE region = ? AND policy_type = ? "
                                      "AND name = ?", [region, policy_type, name]):
                raise exc.ResourceNotFoundException(f"Policy with name [{name}] does not exist")
            self.store.execute("DELETE FROM logs_account_policies WHERE region = ? AND policy_type = ? AND name = ?",
                               [region, policy_type, name])
        with self._dp_lock:
            self._dp_account.pop(region, None)

    def _report_findings(self, region: str, group: str, policies: list, scanned, timestamps: np.ndarray,
                         now: int) -> None:
        """One findings report per event with sensitive data, to each policy's destinations; LogEventsWithFindings."""
        reports = [data_protection.finding_report(_arn(region, group) + ":*", identifiers, now)
                   for _, identifiers in scanned.findings]
        for policy in policies:
            if policy.log_group_destination:
                try:
                    self.deliver(region, policy.log_group_destination, data_protection.FINDINGS_STREAM,
                                 [{"timestamp": now, "message": r} for r in reports])
                except exc.ResourceNotFoundException:
                    pass  # the destination group was deleted after the policy was set: AWS drops the findings too
            if policy.s3_destination or policy.firehose_destination:
                data_protection.deliver_elsewhere(region, group, policy, reports, now)
        if self.publish_metric is not None:
            minute = datetime.fromtimestamp(now / 1000, tz=timezone.utc).replace(tzinfo=None)
            self.publish_metric(region, "AWS/Logs", [{
                "MetricName": "LogEventsWithFindings", "Timestamp": minute, "Value": float(len(reports)),
                "Unit": "Count", "Dimensions": [{"Name": "LogGroupName", "Value": group}]}])

    # ---- Insights ----------------------------------------------------------------------------------
    def start_query(self, region: str, groups: list[str], start_s: Any, end_s: Any, query_string: str,
                    limit: int | None = None, authorize_unmask: Callable[[], None] | None = None,
                    parsed_query: Any = None, query_language: str = "CWLI") -> str:
        """Validate and compile now (MalformedQueryException at StartQuery, as AWS does); run in the background.

        A query that calls ``unmask()`` needs ``logs:Unmask``: ``authorize_unmask()`` raises when the caller lacks it.
        ``parsed_query``: the Insights AST of a query in another language (SQL, see ``logs/sql``).
        """
        if not isinstance(query_string, str) or not query_string.strip():
            raise exc.InvalidParameterException.constraint(
                "queryString", query_string, "Member must have length greater than or equal to 0")
        if len(query_string) > MAX_QUERY_CHARS:
            raise exc.InvalidParameterException.constraint(
                "queryString", query_string[:40] + "...", f"Member must have length less than or equal to {MAX_QUERY_CHARS}")
        if limit is not None:
            self._limit(limit, 10_000)
        if not isinstance(start_s, int) or not isinstance(end_s, int):
            raise exc.InvalidParameterException("startTime and endTime are required (seconds since the epoch).")
        if end_s < start_s:
            raise exc.InvalidParameterException("endTime must be greater than or equal to startTime.")
        if not groups:
            raise exc.InvalidParameterException(
                "Specify exactly one of logGroupName, logGroupNames or logGroupIdentifiers.")
        for g in groups:
            self._require_group(region, g)
        requested = list(groups)
        # MalformedQueryException with the position
        query = parsed_query if parsed_query is not None else insights.parse(query_string)
        # filterIndex: only the log groups indexed on its field are read (the filterIndex reference)
        index_fields = insights.index_fields(query)
        if index_fields and self.indexed_on is not None:
            groups = [g for g in groups if all(self.indexed_on(region, g, f) for f in index_fields)]
        scope = Scope(region=region, account=config.ACCOUNT_ID, groups=list(groups), start_ms=start_s * 1000,
                      end_ms=end_s * 1000 + 999)
        compiled = insights.to_sql(query, scope, limit)
        if compiled.unmasks and authorize_unmask is not None:
            authorize_unmask()
        with self._jobs_lock:
            active = sum(1 for job in self._jobs.values() if job["status"] in ("Scheduled", "Running"))
            if active >= MAX_CONCURRENT_QUERIES:
                raise exc.LimitExceededException(
                    f"Account maximum query concurrency limit of [{MAX_CONCURRENT_QUERIES}] reached.")
            query_id = str(uuid.uuid4())
            # a query lives here until it has finished and is stored (one INSERT per table then, not an INSERT
            # and two UPDATEs); readers look here first, then in the store
            self._jobs[query_id] = {
                "status": "Scheduled", "cursor": None, "region": region, "done": threading.Event(),
                "query_string": query_string, "requested": requested, "groups": list(groups),
                "language": query_language, "create_time": self.now_ms(), "results": [], "statistics": {}}
        self._executor().submit(self._run_query, query_id, compiled)
        return query_id

    def _executor(self):
        with self._jobs_lock:
            if self._pool is None:
                from concurrent.futures import ThreadPoolExecutor

                self._pool = ThreadPoolExecutor(max_workers=QUERY_WORKERS, thread_name_prefix="logs-insights")
            return self._pool

    def _run_query(self, query_id: str, compiled) -> None:
        job = self._jobs.get(query_id)
        if job is None:
            return     # forgotten by a reset before it started
        with self._jobs_lock:
            stopped = job["status"] != "Scheduled"   # StopQuery before a worker was free to start it
            if not stopped:
                cursor = job["cursor"] = self.store.cursor()
                job["status"] = "Running"
        if stopped:
            job["done"].set()
            self._store_query(query_id, job)
            return
        started = time.perf_counter()
        results: list = []
        statistics = {"recordsMatched": 0.0, "recordsScanned": 0.0, "bytesScanned": 0.0}
        try:
            rows = cursor.execute(compiled.sql, compiled.params).fetchall()
            if compiled.count_sql is None:
                scanned, scanned_bytes = cursor.execute(compiled.scan_sql, compiled.scan_params).fetchall()[0]
                matched = scanned
            else:   # both counts in one statement (each statement costs DuckDB about a millisecond)
                scanned, scanned_bytes, matched = cursor.execute(
                    f"SELECT * FROM ({compiled.scan_sql}) AS scanned, ({compiled.count_sql}) AS matched",
                    {**compiled.scan_params, **used_params(compiled.count_sql, compiled.params)}).fetchall()[0]
            for row in rows:
                fields = []
                for (name, kind), value in zip(compiled.columns, row):
                    text = format_value(value, kind)
                    if text is not None:
                        fields.append({"field": name, "value": text})
                results.append(fields)
            status = "Complete"
            statistics = {"recordsMatched": float(matched), "recordsScanned": float(scanned),
                          "bytesScanned": float(scanned_bytes)}
        except Exception as error:  # interrupted by StopQuery, or a runtime failure: never a crashed server
            status = "Cancelled" if job["status"] == "Cancelled" else "Failed"
            if status == "Failed":
                import logging

                logging.getLogger("lab_app.localcloud.logs").warning("query %s failed: %s", query_id, error)
            results = []
        finally:
            try:
                cursor.close()
            except Exception:
                pass
        statistics["_elapsed_ms"] = round((time.perf_counter() - started) * 1000, 2)
        with self._jobs_lock:
            if job["status"] == "Cancelled":  # a StopQuery that arrived meanwhile has the last word
                status = "Cancelled"
            job.update(cursor=None, status=status, results=results, statistics=statistics)
        job["done"].set()
        self._store_query(query_id, job)

    def _store_query(self, query_id: str, job: dict) -> None:
        """A finished query into the store, then out of memory (so memory holds only the queries running)."""
        if job.get("forgotten"):
            return
        try:
            # the groups row first: DescribeQueries joins it to the query row, which must never appear without it
            self.store.execute("INSERT INTO logs_query_groups VALUES (?, ?, ?, ?)",
                               [query_id, job["region"], json.dumps(job["groups"]), job["language"]])
            self.store.execute("INSERT INTO logs_queries VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                               [query_id, job["region"], job["query_string"], json.dumps(job["requested"]),
                                job["status"], job["create_time"], json.dumps(job["results"]),
                                json.dumps(job["statistics"])])
        finally:
            with self._jobs_lock:
                self._jobs.pop(query_id, None)

    def settle_queries(self, timeout: float) -> bool:
        """Wait until every query started so far has finished and is stored (before a reset wipes the store, so
        none is stored after it); False after ``timeout`` s."""
        deadline = time.monotonic() + timeout
        while self._jobs:
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.005)
        return True

    def _job(self, region: str, query_id: Any) -> dict | None:
        job = self._jobs.get(query_id) if isinstance(query_id, str) else None
        return job if job is not None and job["region"] == region else None

    def shutdown(self) -> None:
        """Stop running queries and the worker threads (the process is stopping)."""
        with self._jobs_lock:
            pool, self._pool = self._pool, None
            for job in self._jobs.values():
                if job["status"] in ("Scheduled", "Running"):
                    job["status"] = "Cancelled"
                    if job["cursor"] is not None:
                        job["cursor"].interrupt()
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)

    def get_log_record(self, region: str, pointer: str, unmask: bool = False) -> dict:
        """GetLogRecord: every field of the event an Insights ``@ptr`` points at (JSON keys flattened)."""
        try:
            kind, _, raw_id = base64.b64decode(pointer.encode(), validate=True).decode().partition(":")
            event_id = int(raw_id)
            if kind != "lc":
                raise ValueError
        except (ValueError, UnicodeDecodeError):
            raise exc.InvalidParameterException("The specified logRecordPointer is not valid.") from None
        text = "coalesce(unmasked, message)" if unmask else "message"
        rows = self.store.execute(f"SELECT grp, stream, ts, ingest, {text}, "
                                  f"coalesce(json_valid({text}), FALSE) AND starts_with(ltrim({text}), '{{') "
                                  f"FROM {EVENTS_TABLE} WHERE region = ? AND id = ?", [region, event_id])
        if not rows:
            raise exc.ResourceNotFoundException("The specified log record does not exist.")
        grp, stream, ts, ingest, message, is_json = rows[0]
        record = {"@timestamp": str(ts), "@ingestionTime": str(ingest), "@logStream": stream,
                  "@log": f"{config.ACCOUNT_ID}:{grp}", "@message": message}
        if is_json:
            def flatten(prefix: str, value: Any) -> None:
                if isinstance(value, dict):
                    for key, inner in value.items():
                        flatten(f"{prefix}.{key}" if prefix else str(key), inner)
                elif isinstance(value, list):
                    for i, inner in enumerate(value):
                        flatten(f"{prefix}.{i}", inner)
                elif value is not None:
                    record.setdefault(prefix, format_value(value, "bool" if isinstance(value, bool) else "any"))

            flatten("", json.loads(message))
        return record

    def get_query_results(self, region: str, query_id: str) -> dict:
        job = self._job(region, query_id)
        if job is not None:
            # a short wait saves the client a polling round trip for the (usual) quick query
            job["done"].wait(RESULTS_WAIT_S)
            with self._jobs_lock:
                status, results, statistics = job["status"], job["results"], job["statistics"]
            stats = {k: v for k, v in statistics.items() if not k.startswith("_")}
            return {"results": results, "status": status,
                    "statistics": stats or {"recordsMatched": 0.0, "recordsScanned": 0.0, "bytesScanned": 0.0}}
        rows = self.store.execute("SELECT status, results, statistics FROM logs_queries WHERE query_id = ? AND region = ?",
                                  [query_id, region])
        if not rows:
            raise exc.ResourceNotFoundException(f"Query does not exist: {query_id}")
        status, results, statistics = rows[0]
        stats = {k: v for k, v in json.loads(statistics).items() if not k.startswith("_")}
        stats = stats or {"recordsMatched": 0.0, "recordsScanned": 0.0, "bytesScanned": 0.0}
        return {"results": json.loads(results), "statistics": stats, "status": status}

    def stop_query(self, region: str, query_id: str) -> bool:
        with self._jobs_lock:
            job = self._job(region, query_id)
            if job is not None:
                if job["status"] not in ("Scheduled", "Running"):
                    return False
                job["status"] = "Cancelled"     # stored so when its worker finishes
                if job["cursor"] is not None:
                    job["cursor"].interrupt()
                return True
        if not self.store.execute("SELECT 1 FROM logs_queries WHERE query_id = ? AND region = ?", [query_id, region]):
            raise exc.ResourceNotFoundException(f"Query does not exist: {query_id}")
        return False

    def group_names(self, region: str) -> list[str]:
        """Every log group of the Region, by name (a SQL query FROM `filterIndex(...)` starts from them)."""
        return [g for (g,) in self.store.execute("SELECT name FROM logs_groups WHERE region = ? ORDER BY name",
                                                 [region])]

    def log_groups_for_query(self, region: str, query_id: str, limit: int | None = None,
                             token: str | None = None) -> dict:
        """ListLogGroupsForQuery: the ARNs of the log groups the query analyzed (maxResults 50..500; this stand-in's
        default page is 50)."""
        job = self._job(region, query_id)
        if job is not None:
            groups = job["groups"]
        else:
            rows = self.store.execute("SELECT groups FROM logs_query_groups WHERE query_id = ? AND region = ?",
                                      [query_id, region])
            if not rows:
                raise exc.ResourceNotFoundException(f"Query does not exist: {query_id}")
            groups = json.loads(rows[0][0])
        limit = limit or 50
        offset = int(_untoken(token)) if token else 0
        arns = [_arn(region, g) for g in groups]
        out: dict = {"logGroupIdentifiers": arns[offset:offset + limit]}
        if len(arns) > offset + limit:
            out["nextToken"] = _token(offset + limit)
        return out

    def describe_queries(self, region: str, group: str | None = None, status: str | None = None,
                         limit: int | None = None, token: str | None = None) -> tuple[list[dict], str | None]:
        limit = self._limit(limit, 1000)
        offset = int(_untoken(token)) if token else 0
        sql = ("SELECT q.query_id, q.query_string, q.status, q.create_time, q.groups, coalesce(g.language, 'CWLI') "
               "FROM logs_queries q LEFT JOIN logs_query_groups g ON g.query_id = q.query_id WHERE q.region = ?")
        params: list = [region]
        if status:
            sql += " AND q.status = ?"
            params.append(status)
        with self._jobs_lock:   # the queries not stored yet, read before the store: one finishing meanwhile is in both
            live = {qid: (qid, job["query_string"], job["status"], job["create_time"], job["requested"],
                          job["language"]) for qid, job in self._jobs.items()
                    if job["region"] == region and (not status or job["status"] == status)}
        stored = self.store.execute(sql, params)
        live.update((row[0], row[:4] + (json.loads(row[4]),) + row[5:]) for row in stored)
        rows = sorted(live.values(), key=lambda row: (-row[3], row[0]))
        out = []
        for qid, qs, st, created, names, language in rows:
            if group and group not in names:
                continue
            out.append({"queryId": qid, "queryString": qs, "status": st, "createTime": created,
                        "logGroupName": names[0] if names else None, "queryLanguage": language})
        page = out[offset:offset + limit]
        return page, (_token(offset + limit) if len(out) > offset + limit else None)
