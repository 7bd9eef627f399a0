"""CloudWatch Logs subscription filters (PutSubscriptionFilter / DescribeSubscriptionFilters /
DeleteSubscriptionFilter) and their real-time delivery.

A filter sends the events of its log group that match its filter pattern (the metric-filter syntax,
``filter_pattern``) to a Kinesis data stream, a Firehose delivery stream, a Lambda function (all three kept by
moto) or a CloudWatch Logs destination (``destinations``; delivered to the destination's target). At most two
filters per log group (AWS's quota; a third is ``LimitExceededException``).

The payload is AWS's: gzip-compressed JSON ``{messageType: DATA_MESSAGE, owner, logGroup, logStream,
subscriptionFilters: [name], logEvents: [{id, timestamp, message}]}``, one record per (filter, log stream, batch);
Kinesis and Firehose get the gzip bytes as the record's data (a Kinesis partition key per log stream with
``ByLogStream``, a random one with ``Random``), Lambda gets ``{"awslogs": {"data": base64(gzip)}}``. On creation a
Kinesis or Firehose target first receives the ``CONTROL_MESSAGE`` AWS sends to check that it is reachable; when it
is not (no such stream, no role), PutSubscriptionFilter fails with AWS's ``InvalidParameterException``.

Ingest never waits for delivery: each stored batch is queued and a delivery thread matches and sends it;
failures (a target deleted later) are counted in ``status()`` and do not reach the writer.
"""
from __future__ import annotations

import base64
import gzip
import json
import logging
import threading
import time
import uuid
from dataclasses import dataclass
from typing import Any, Callable

from lab_app import config
from lab_app.localcloud.logs import exceptions as exc
from lab_app.localcloud.logs import filter_pattern
from lab_app.localcloud.logs.filter_pattern import FilterPatternError

MAX_FILTERS_PER_GROUP = 2          # "Each log group can have up to two subscription filters"
MAX_EVENTS_PER_RECORD = 10_000
MAX_RECORD_BYTES = 1_000_000       # a Kinesis record's data is at most 1 MiB (with the partition key)
MAX_PENDING_EVENTS = 100_000       # events queued for delivery; ingest waits (up to PENDING_WAIT_S) beyond it
PENDING_WAIT_S = 5.0
DESTINATION_TYPES = {"kinesis": "Kinesis", "firehose": "Firehose", "lambda": "Lambda"}
DDL = """CREATE TABLE IF NOT EXISTS logs_subscription_filters (
    region VARCHAR, grp VARCHAR, name VARCHAR, pattern VARCHAR, destination VARCHAR, role VARCHAR,
    distribution VARCHAR, apply_transformed BOOLEAN, field_selection VARCHAR, emit_system VARCHAR, created BIGINT,
    PRIMARY KEY (region, grp, name))"""
CONTROL_TEXT = "CWL CONTROL MESSAGE: Checking health of destination {kind}."


@dataclass(frozen=True)
class Filter:
    region: str
    group: str
    name: str
    pattern_text: str
    pattern: Any
    destination: str
    role: str | None
    distribution: str


def gzip_json(document: dict) -> bytes:
    return gzip.compress(json.dumps(document, separators=(",", ":")).encode(), mtime=0)


def event_id(timestamp: int, seq: int) -> str:
    """A 56-digit event id, like AWS's (timestamp then a sequence, so ids sort by time)."""
    return f"{int(timestamp):020d}{int(seq):036d}"


def control_message(now_ms: int, kind: str) -> dict:
    return {"messageType": "CONTROL_MESSAGE", "owner": "CloudwatchLogs", "logGroup": "", "logStream": "",
            "subscriptionFilters": [], "logEvents": [{"id": "", "timestamp": now_ms,
                                                      "message": CONTROL_TEXT.format(kind=kind)}]}


def _arn_parts(arn: str) -> tuple[str, str, str, str]:
    """(service, region, account, resource) of an ARN; InvalidParameterException when it is not one."""
    parts = arn.split(":", 5)
    if len(parts) < 6 or parts[0] != "arn" or not parts[2]:
        raise exc.InvalidParameterException(f"Invalid destinationArn: {arn}")
    return parts[2], parts[3], parts[4], parts[5]


def _role_exists(role_arn: str | None) -> bool:
    if not role_arn:
        return False
    from moto.iam.models import iam_backends

    parts = role_arn.split(":")
    if len(parts) < 6 or parts[2] != "iam" or not parts[5].startswith("role/"):
        return False
    try:
        iam_backends[parts[4]]["aws"].get_role_by_arn(role_arn)
    except Exception:
        return False
    return True


class Targets:
    """Sends one gzip payload to a Kinesis stream, Firehose delivery stream or Lambda function in moto."""

    @staticmethod
    def kind(arn: str) -> str:
        service, _, _, resource = _arn_parts(arn)
        if service == "kinesis" and resource.startswith("stream/"):
            return "kinesis"
        if service == "firehose" and resource.startswith("deliverystream/"):
            return "firehose"
        if service == "lambda" and resource.startswith("function:"):
            return "lambda"
        if service == "logs" and resource.startswith("destination:"):
            return "destination"
        raise exc.InvalidParameterException(f"Invalid destinationArn: {arn}. Supported destinations are Kinesis "
                                            "data streams, Firehose delivery streams, Lambda functions and "
                                            "CloudWatch Logs destinations.")

    @staticmethod
    def exists(arn: str) -> bool:
        service, region, account, resource = _arn_parts(arn)
        try:
            if service == "kinesis":
                from moto.kinesis.models import kinesis_backends

                stream = kinesis_backends[account][region].describe_stream(stream_arn=arn, stream_name=None)
                return stream.status == "ACTIVE"
            if service == "firehose":
                from moto.firehose.models import firehose_backends

                name = resource.split("/", 1)[1]
                return name in firehose_backends[account][region].delivery_streams
            if service == "lambda":
                from moto.awslambda.utils import get_backend

                get_backend(account, region).get_function(resource.split(":", 2)[1], None)
                return True
        except Exception:
            return False
        return False

    @staticmethod
    def send(arn: str, payload: bytes, partition_key: str) -> None:
        service, region, account, resource = _arn_parts(arn)
        if service == "kinesis":
            from moto.kinesis.models import kinesis_backends

            kinesis_backends[account][region].put_record(stream_arn=arn, stream_name=None,
                                                         partition_key=partition_key, explicit_hash_key=None,
                                                         data=base64.b64encode(payload).decode())
        elif service == "firehose":
            from moto.firehose.models import firehose_backends

            firehose_backends[account][region].put_record(resource.split("/", 1)[1], {"Data": payload})
        elif service == "lambda":
            from moto.awslambda.utils import get_backend

            event = json.dumps({"awslogs": {"data": base64.b64encode(payload).decode()}})
            get_backend(account, region).invoke(resource.split(":", 2)[1], None, event, {}, {})
        else:
            raise ValueError(f"not a subscription target: {arn}")


class Subscriptions:
    """The filters (DuckDB table ``logs_subscription_filters``, cached per log group) and the delivery thread."""

    def __init__(self, store, now_ms: Callable[[], int], require_group: Callable[[str, str], Any],
                 destination_target: Callable[[str], tuple[str, str | None]], log: logging.Logger,
                 publish_metric: Callable[[str, str, list[dict]], None] | None = None):
        self.store = store
        self.now_ms = now_ms
        self.require_group = require_group
        self.destination_target = destination_target   # destination ARN -> (target ARN, role ARN); raises when gone
        self.log = log
        self.publish_metric = publish_metric    # (region, namespace, metric data) -> CloudWatch
        self._cache: dict[tuple[str, str], list[Filter]] = {}
        self._cv = threading.Condition()
        self._pending: list[tuple] = []
        self._pending_events = 0
        self._busy = False
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.delivered_records = 0
        self.delivered_events = 0
        self.failures = 0
        self.dropped_events = 0    # queued past the bound while delivery was stuck: logged, counted, not delivered
        self.last_error: dict[str, str] = {}
        self.lambda_payloads: list[dict] = []     # what Lambda targets were invoked with (moto runs no code)

    # ---- lifecycle ---------------------------------------------------------------------------------
    def setup(self) -> None:
        self.store.ensure_table("logs_subscription_filters", DDL)
        self.reset()

    def reset(self) -> None:
        with self._cv:
            self._pending.clear()
            self._pending_events = 0
            self._cv.notify_all()
        self._cache = {}
        for row in self.store.execute("SELECT region, grp, name, pattern, destination, role, distribution "
                                      "FROM logs_subscription_filters ORDER BY region, grp, name"):
            region, group, name, pattern, destination, role, distribution = row
            self._cache.setdefault((region, group), []).append(
                Filter(region, group, name, pattern, filter_pattern.parse(pattern or ""), destination, role,
                       distribution))
        self.delivered_records = self.delivered_events = self.failures = self.dropped_events = 0
        self.last_error.clear()
        self.lambda_payloads.clear()

    def start(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name="logs-subscriptions", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self.drain(5)
        self._stop.set()
        with self._cv:
            self._cv.notify_all()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def status(self) -> dict:
        return {"subscription_filters": sum(len(v) for v in self._cache.values()),
                "subscription_records_delivered": self.delivered_records,
                "subscription_events_delivered": self.delivered_events,
                "subscription_delivery_failures": self.failures,
                **({"subscription_events_dropped": self.dropped_events} if self.dropped_events else {})}

    # ---- the API -----------------------------------------------------------------------------------
    def _load(self, region: str, group: str) -> list[Filter]:
        rows = self.store.execute("SELECT region, grp, name, pattern, destination, role, distribution "
                                  "FROM logs_subscription_filters WHERE region = ? AND grp = ? ORDER BY name",
                                  [region, group])
        filters = [Filter(r[0], r[1], r[2], r[3], filter_pattern.parse(r[3] or ""), r[4], r[5], r[6]) for r in rows]
        self._cache = {**self._cache, (region, group): filters}
        if not filters:
            self._cache.pop((region, group), None)
        return filters

    def put(self, region: str, body: dict) -> None:
        group, name = body["logGroupName"], body["filterName"]
        pattern_text = body.get("filterPattern") or ""
        destination = body["destinationArn"]
        role = body.get("roleArn")
        distribution = body.get("distribution") or "ByLogStream"
        try:
            filter_pattern.parse(pattern_text)
        except FilterPatternError as e:
            raise exc.InvalidParameterException(f"Invalid filter pattern: {e}") from None
        # system-field selection and transformed events are not modelled: refused rather than silently ignored
        for key in ("fieldSelectionCriteria", "emitSystemFields"):
            if body.get(key):
                raise exc.InvalidParameterException(f"The local cloud does not support {key} on subscription "
                                                    "filters: leave it out.")
        if body.get("applyOnTransformedLogs"):
            raise exc.InvalidParameterException("The local cloud's subscription filters apply to the ingested "
                                                "events only: leave out applyOnTransformedLogs.")
        kind = Targets.kind(destination)
        self.require_group(region, group)
        with self.store.lock:
            existing = {r[0] for r in self.store.execute(
                "SELECT name FROM logs_subscription_filters WHERE region = ? AND grp = ?", [region, group])}
            if name not in existing and len(existing) >= MAX_FILTERS_PER_GROUP:
                raise exc.LimitExceededException("Resource limit exceeded.")
        target, target_role = destination, role
        if kind == "destination":
            target, target_role = self.destination_target(destination)   # ResourceNotFoundException when missing
        target_kind = Targets.kind(target)
        self.check_target(target, target_role, require_role=kind != "destination", send_control=True,
                          kind=target_kind)
        with self.store.lock:
            created = self.store.execute("SELECT created FROM logs_subscription_filters WHERE region = ? AND grp = ? "
                                         "AND name = ?", [region, group, name])
            self.store.execute("INSERT OR REPLACE INTO logs_subscription_filters VALUES "
                               "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                               [region, group, name, pattern_text, destination, role, distribution, False, None,
                                None, created[0][0] if created else self.now_ms()])
            self._load(region, group)

    def check_target(self, target: str, role: str | None, require_role: bool = True, send_control: bool = False,
                     kind: str | None = None) -> None:
        """What AWS checks when it sends its test message: the target exists, the role can be assumed."""
        kind = kind or Targets.kind(target)
        label = {"kinesis": "Kinesis stream", "firehose": "Firehose stream", "lambda": "Lambda function"}[kind]
        if kind == "lambda":
            if not Targets.exists(target):
                raise exc.InvalidParameterException("Could not execute the lambda function. Make sure you have "
                                                    "given CloudWatch Logs permission to execute your function.")
            return
        if require_role and not _role_exists(role):
            raise exc.InvalidParameterException(f"Could not deliver test message to specified {label}. Check if "
                                                "the given roleArn exists and can be assumed by CloudWatch Logs.")
        if not Targets.exists(target):
            raise exc.InvalidParameterException(f"Could not deliver test message to specified {label}. Check if "
                                                f"the given {label.split()[0].lower()} stream is in ACTIVE state.")
        if not send_control:
            return
        try:
            Targets.send(target, gzip_json(control_message(self.now_ms(), label)), str(uuid.uuid4()))
        except Exception as e:
            raise exc.InvalidParameterException(f"Could not deliver test message to specified {label}: {e}") from None

    def describe(self, region: str, group: str, prefix: str | None, limit: int, offset: int) -> tuple[list, bool]:
        self.require_group(region, group)
        sql = ("SELECT name, grp, pattern, destination, role, distribution, apply_transformed, field_selection, "
               "emit_system, created FROM logs_subscription_filters WHERE region = ? AND grp = ?")
        params: list = [region, group]
        if prefix:
            sql += " AND starts_with(name, ?)"
            params.append(prefix)
        rows = self.store.execute(sql + " ORDER BY name LIMIT ? OFFSET ?", params + [limit + 1, offset])
        out = []
        for name, grp, pattern, destination, role, distribution, transformed, _, _, created in rows[:limit]:
            item = {"filterName": name, "logGroupName": grp, "filterPattern": pattern, "destinationArn": destination,
                    "distribution": distribution, "applyOnTransformedLogs": bool(transformed),
                    "creationTime": int(created)}
            if role:
                item["roleArn"] = role
            out.append(item)
        return out, len(rows) > limit

    def delete(self, region: str, group: str, name: str) -> None:
        self.require_group(region, group)
        with self.store.lock:
            if not self.store.execute("SELECT 1 FROM logs_subscription_filters WHERE region = ? AND grp = ? "
                                      "AND name = ?", [region, group, name]):
                raise exc.ResourceNotFoundException("The specified subscription filter does not exist.")
            self.store.execute("DELETE FROM logs_subscription_filters WHERE region = ? AND grp = ? AND name = ?",
                               [region, group, name])
            self._load(region, group)

    def forget_group(self, region: str, group: str) -> None:
        """The log group was deleted: its filters go with it."""
        with self.store.lock:
            self.store.execute("DELETE FROM logs_subscription_filters WHERE region = ? AND grp = ?", [region, group])
            self._load(region, group)

    def uses_destination(self, destination_arn: str) -> bool:
        return any(f.destination == destination_arn for fs in self._cache.values() for f in fs)

    # ---- delivery ----------------------------------------------------------------------------------
    def stored(self, region: str, group: str, stream: str, timestamps, ids, messages: list[str]) -> None:
        """Called after every stored batch (PutLogEvents and other stand-ins' deliveries): queue, never wait."""
        if (region, group) not in self._cache:
            return
        n = len(messages)
        with self._cv:
            # bounded: past MAX_PENDING_EVENTS the ingest waits for the deliverer (back-pressure, as a slow
            # destination would throttle), and drops the batch, logged and counted, if delivery is stuck
            deadline = None
            while self._pending_events and self._pending_events + n > MAX_PENDING_EVENTS:
                deadline = deadline or time.monotonic() + PENDING_WAIT_S
                left = deadline - time.monotonic()
                if left <= 0:
                    self.dropped_events += n
                    self.log.warning("subscription delivery is %d events behind: %d events of %s not delivered",
                                     self._pending_events, n, group)
                    return
                self._cv.wait(left)
            self._pending.append((region, group, stream, [int(t) for t in timestamps], [int(i) for i in ids],
                                  list(messages)))
            self._pending_events += n
            self._cv.notify_all()

    def _loop(self) -> None:
        while True:
            with self._cv:
                while not self._pending and not self._stop.is_set():
                    self._cv.wait(1.0)
                if not self._pending and self._stop.is_set():
                    return
                batch, self._pending, self._pending_events = self._pending, [], 0
                self._busy = True
                self._cv.notify_all()     # ingest held by the bound may queue again
            try:
                for item in batch:
                    self._deliver(*item)
            except Exception:
                self.log.exception("subscription delivery failed")
            finally:
                with self._cv:
                    self._busy = False
                    self._cv.notify_all()

    def _deliver(self, region: str, group: str, stream: str, timestamps: list[int], ids: list[int],
                 messages: list[str]) -> None:
        for f in self._cache.get((region, group), []):
            events = [{"id": event_id(ts, i), "timestamp": ts, "message": m}
                      for ts, i, m in zip(timestamps, ids, messages) if filter_pattern.matches(f.pattern, m)]
            for start in range(0, len(events), MAX_EVENTS_PER_RECORD):
                for chunk, payload in self._records(f, group, stream, events[start:start + MAX_EVENTS_PER_RECORD]):
                    self._send_record(region, f, group, stream, chunk, payload)

    def _records(self, f: Filter, group: str, stream: str, chunk: list[dict]):
        """(events, gzip payload) records of at most MAX_RECORD_BYTES each (halving a batch that is larger)."""
        document = {"messageType": "DATA_MESSAGE", "owner": config.ACCOUNT_ID, "logGroup": group,
                    "logStream": stream, "subscriptionFilters": [f.name], "logEvents": chunk}
        payload = gzip_json(document)
        if len(payload) <= MAX_RECORD_BYTES or len(chunk) == 1:
            yield chunk, payload
            return
        half = len(chunk) // 2
        yield from self._records(f, group, stream, chunk[:half])
        yield from self._records(f, group, stream, chunk[half:])

    def _send_record(self, region: str, f: Filter, group: str, stream: str, chunk: list[dict],
                     payload: bytes) -> None:
        target = f.destination
        kind = "destination"
        try:
            if Targets.kind(target) == "destination":
                target, _ = self.destination_target(target)
            kind = Targets.kind(target)
            key = stream if f.distribution == "ByLogStream" else uuid.uuid4().hex
            if kind == "lambda":
                self.lambda_payloads = (self.lambda_payloads + [json.loads(gzip.decompress(payload))])[-100:]
            Targets.send(target, payload, key)
            self.delivered_records += 1
            self.delivered_events += len(chunk)
            self._metrics(region, f, group, kind, [("ForwardedLogEvents", len(chunk), "None"),
                                                   ("ForwardedBytes", len(payload), "Bytes")])
        except Exception as e:  # AWS retries, then drops; we count and keep ingesting
            self.failures += 1
            self.last_error[f"{group}/{f.name}"] = f"{type(e).__name__}: {e}"
            self.log.warning("subscription filter %s on %s: delivery to %s failed: %s", f.name, group,
                             f.destination, e)
            self._metrics(region, f, group, kind, [("DeliveryErrors", len(chunk), "None")])

    def _metrics(self, region: str, f: Filter, group: str, kind: str, values: list[tuple[str, int, str]]) -> None:
        """AWS/Logs subscription metrics (dimensions LogGroupName, DestinationType, FilterName)."""
        if self.publish_metric is None:
            return
        from datetime import datetime, timezone

        when = datetime.fromtimestamp(self.now_ms() / 1000, tz=timezone.utc).replace(tzinfo=None)
        dimensions = [{"Name": "LogGroupName", "Value": group},
                      {"Name": "DestinationType", "Value": DESTINATION_TYPES.get(kind, kind)},
                      {"Name": "FilterName", "Value": f.name}]
        try:
            self.publish_metric(region, "AWS/Logs", [{"MetricName": name, "Timestamp": when, "Value": float(value),
                                                      "Unit": unit, "Dimensions": dimensions}
                                                     for name, value, unit in values])
        except Exception:
            self.log.exception("subscription metrics failed")

    def drain(self, timeout: float = 10.0) -> bool:
        deadline = time.monotonic() + timeout
        with self._cv:
            while self._pending or self._busy:
                remaining = deadline - time.monotonic()
                if remaining <= 0 or self._thread is None:
                    return not (self._pending or self._busy)
                self._cv.wait(remaining)
        return True
