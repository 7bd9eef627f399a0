"""CloudTrail records and the event history they are kept in.

A record is eventVersion 1.08: eventTime, eventSource, eventName, awsRegion, sourceIPAddress, userAgent,
userIdentity from the access key, requestParameters with secrets hidden, errorCode/errorMessage when
the call failed, requestID, eventID, readOnly, eventType, managementEvent, recipientAccountId.
Every management event is kept (like AWS's 90-day event history, with or without a trail);
``LookupEvents`` answers from it.

Not recorded, as on AWS by default: data-plane calls (:data:`DATA_EVENTS`), requests that are not
SigV4-signed (the Rollbar stand-in) and the local-only ``/_localcloud`` control routes.
"""
from __future__ import annotations

import json
import re
import threading
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from lab_app import config
from lab_app.localcloud.aws import paging
from lab_app.localcloud.aws.identity import identify
from lab_app.localcloud.aws.request import ApiCall, camel_params
from lab_app.localcloud.store import Store

EVENT_VERSION = "1.08"
HIDDEN = "HIDDEN_DUE_TO_SECURITY_REASONS"
GLOBAL_SERVICES = {"iam", "sts", "cloudfront", "route53", "organizations"}

# Data events: not recorded by a trail's default (management events) selectors.
DATA_EVENTS = {
    "logs": {"PutLogEvents", "GetLogEvents", "FilterLogEvents", "GetLogRecord", "GetQueryResults", "StartLiveTail"},
    "xray": {"PutTraceSegments", "PutTelemetryRecords", "GetSamplingTargets"},
    "monitoring": {"PutMetricData", "GetMetricData", "GetMetricStatistics"},
    "s3": {"GetObject", "PutObject", "DeleteObject", "HeadObject", "CopyObject", "UploadPart", "DeleteObjects",
           "CreateMultipartUpload", "CompleteMultipartUpload", "GetObjectAttributes"},
    "sqs": {"SendMessage", "ReceiveMessage", "DeleteMessage", "SendMessageBatch", "DeleteMessageBatch"},
    "sns": {"Publish", "PublishBatch"},
    "events": {"PutEvents"},
}

# Request parameters that name the resource an event is about (LookupEvents ResourceType/ResourceName).
RESOURCE_PARAMS = [
    ("logGroupName", "AWS::Logs::LogGroup"), ("alarmName", "AWS::CloudWatch::Alarm"),
    ("alarmNames", "AWS::CloudWatch::Alarm"), ("groupId", "AWS::EC2::SecurityGroup"),
    ("groupName", "AWS::EC2::SecurityGroup"), ("bucket", "AWS::S3::Bucket"), ("bucketName", "AWS::S3::Bucket"),
    ("userName", "AWS::IAM::User"), ("roleName", "AWS::IAM::Role"), ("policyArn", "AWS::IAM::Policy"),
    ("topicArn", "AWS::SNS::Topic"), ("queueUrl", "AWS::SQS::Queue"), ("filterName", "AWS::Logs::MetricFilter"),
    ("ruleName", "AWS::Events::Rule"),
]

EVENTS_TABLE = "cloudtrail_events"
EVENTS_DDL = """
CREATE TABLE IF NOT EXISTS cloudtrail_events (
    event_id VARCHAR,
    account_id VARCHAR,
    region VARCHAR,
    event_time DOUBLE,
    event_name VARCHAR,
    event_source VARCHAR,
    read_only BOOLEAN,
    access_key_id VARCHAR,
    username VARCHAR,
    resources VARCHAR,
    record VARCHAR
)"""
EVENTS_COLUMNS = ["event_id", "account_id", "region", "event_time", "event_name", "event_source", "read_only",
                  "access_key_id", "username", "resources", "record"]
# LookupEvents attribute key -> the column it filters (ResourceType/ResourceName match the resource list).
LOOKUP_COLUMNS = {"EventId": "event_id", "EventName": "event_name", "Username": "username",
                  "EventSource": "event_source", "AccessKeyId": "access_key_id", "ReadOnly": "read_only"}
LOOKUP_KEYS = ("EventId", "EventName", "ReadOnly", "Username", "ResourceType", "ResourceName", "EventSource",
               "AccessKeyId")
# Newest first; events of the same second by id. The NextToken is the last event's (time, id).
PAGES = paging.Keyset("event_time", "event_id", descending=True, tie_descending=False, tie_key="id")


def iso_seconds(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_error(status: int, headers: list[tuple[str, str]], body: bytes) -> tuple[str | None, str | None]:
    """(errorCode, errorMessage) from a failed AWS response in any protocol (JSON, query/EC2/S3 XML)."""
    if status < 400:
        return None, None
    header = {k.lower(): v for k, v in headers}
    code = None
    if header.get("x-amzn-query-error"):
        code = header["x-amzn-query-error"].split(";")[0]
    message = None
    text = body.decode("utf-8", "replace") if body else ""
    try:
        doc = json.loads(text)
    except ValueError:
        doc = None
    if isinstance(doc, dict):
        raw = doc.get("__type") or doc.get("code") or doc.get("Code") or header.get("x-amzn-errortype")
        if raw and not code:
            code = str(raw).split("#")[-1].split(":")[0]
        message = doc.get("message") or doc.get("Message") or doc.get("errorMessage")
    else:
        m = re.search(r"<Code>([^<]+)</Code>", text)
        if m and not code:
            code = m.group(1)
        m = re.search(r"<Message>([^<]*)</Message>", text)
        if m:
            message = m.group(1)
    if not code and header.get("x-amzn-errortype"):
        code = header["x-amzn-errortype"].split(":")[0]
    return code or f"HTTP{status}", message


class RecordBuilder:
    """One API call and its answer -> a CloudTrail record, secrets hidden."""

    def __init__(self) -> None:
        from lab_app.instrument.redact import Redactor

        self.redactor = Redactor()

    def hide(self, value: Any, key: str | None = None) -> Any:
        """requestParameters as CloudTrail shows them: sensitive fields hidden, secret-looking values redacted."""
        if key is not None and self.redactor.is_secret_field(key):
            return HIDDEN
        if isinstance(value, dict):
            return {k: self.hide(v, k) for k, v in value.items()}
        if isinstance(value, list):
            return [self.hide(v) for v in value]
        if isinstance(value, str):
            return self.redactor.text(value)
        return value

    def build(self, call: ApiCall, environ: dict, status: int, headers: list, body: bytes, now: float) -> dict:
        account_id, identity = identify(call.access_key_id)
        region = config.REGION if call.signing_name in GLOBAL_SERVICES else call.region
        header = {k.lower(): v for k, v in headers}
        request_id = header.get("x-amzn-requestid") or header.get("x-amz-request-id") or str(uuid.uuid4())
        params = self.hide(camel_params(call.params)) if call.params else None
        record: dict[str, Any] = {
            "eventVersion": EVENT_VERSION,
            "userIdentity": identity,
            "eventTime": iso_seconds(now),
            "eventSource": call.event_source,
            "eventName": call.operation,
            "awsRegion": region,
            "sourceIPAddress": environ.get("REMOTE_ADDR", "127.0.0.1"),
            "userAgent": environ.get("HTTP_USER_AGENT", ""),
        }
        code, message = parse_error(status, headers, body)
        if code:
            record["errorCode"] = code
            if message:
                record["errorMessage"] = self.redactor.text(message)
        record.update({
            "requestParameters": params,
            "responseElements": None,
            "requestID": request_id,
            "eventID": str(uuid.uuid4()),
            "readOnly": call.read_only,
            "eventType": "AwsApiCall",
            "managementEvent": True,
            "recipientAccountId": account_id,
            "eventCategory": "Management",
        })
        return record


def resources_of(record: dict) -> list[dict]:
    """The resources a record names (LookupEvents ``Resources``), from its request parameters."""
    resources = []
    params = record.get("requestParameters") or {}
    for key, rtype in RESOURCE_PARAMS:
        value = params.get(key) if isinstance(params, dict) else None
        for item in (value if isinstance(value, list) else [value]):
            if isinstance(item, str) and item and item != HIDDEN:
                resources.append({"ResourceType": rtype, "ResourceName": item})
    return resources


@dataclass
class Lookup:
    """A validated LookupEvents request."""

    max_results: int = 50
    attribute: tuple[str, str] | None = None     # (AttributeKey, AttributeValue)
    start: float | None = None
    end: float | None = None
    insight: bool = False                         # EventCategory=insight: the local cloud has no Insights events
    next_token: str | None = None


FRAME_ROWS = 8      # more buffered records than this go in as columns (their fixed cost is ~4 ms)


class EventHistory:
    """The stored events: rows buffered in memory, flushed to the store every second and before each lookup."""

    def __init__(self, store: Store):
        self.store = store
        self._buffer: list[tuple] = []
        self._lock = threading.Lock()
        self.recorded = 0

    def setup(self) -> float | None:
        """Create the table; returns the newest stored event time (for the clock)."""
        self.store.ensure_table(EVENTS_TABLE, EVENTS_DDL)
        return self.store.execute(f"SELECT max(event_time) FROM {EVENTS_TABLE}")[0][0]

    def add(self, record: dict, epoch: float) -> str:
        """Keep one record; returns its JSON text (what a trail delivers)."""
        identity = record["userIdentity"]
        username = identity.get("userName") or ("root" if identity.get("type") == "Root" else
                                                identity.get("arn", "").rsplit("/", 1)[-1])
        text = json.dumps(record, separators=(",", ":"))
        row = (record["eventID"], record["recipientAccountId"], record["awsRegion"], epoch, record["eventName"],
               record["eventSource"], bool(record["readOnly"]), identity.get("accessKeyId"), username,
               json.dumps(resources_of(record)), text)
        with self._lock:
            self._buffer.append(row)
            self.recorded += 1
        return text

    def flush(self) -> int:
        with self._lock:
            rows, self._buffer = self._buffer, []
        if len(rows) > FRAME_ROWS:
            # columns DuckDB scans in one statement: the store lock every request waits on is held ~4 ms for 30
            # records and ~7 ms for 300 (a DataFrame: ~8 ms; multi-row VALUES: 7 ms for 30, 50 ms for 300)
            import numpy as np

            columns = list(zip(*rows))
            self.store.insert_frame(EVENTS_TABLE, {
                name: np.array(values, dtype=object if name not in ("event_time", "read_only") else None)
                for name, values in zip(EVENTS_COLUMNS, columns)}, EVENTS_COLUMNS)
        elif rows:  # a few records (a lookup flushes what the last second buffered): multi-row VALUES, ~2 ms
            self.store.executemany(f"INSERT INTO {EVENTS_TABLE} ({', '.join(EVENTS_COLUMNS)}) VALUES "
                                   f"({', '.join('?' * len(EVENTS_COLUMNS))})", rows)
        return len(rows)

    def reset(self) -> None:
        with self._lock:
            self._buffer.clear()

    def count(self) -> int:
        return self.store.count(EVENTS_TABLE)

    def lookup(self, account_id: str, region: str, query: Lookup) -> list[tuple]:
        """Up to ``max_results + 1`` rows (one more tells there is a next page), newest first.
        Raises :class:`~lab_app.localcloud.aws.paging.InvalidToken`."""
        self.flush()
        where, args = ["account_id = ?", "region = ?"], [account_id, region]
        resource_filter = None
        if query.attribute is not None:
            key, value = query.attribute
            if key in LOOKUP_COLUMNS:
                where.append(f"{LOOKUP_COLUMNS[key]} = ?")
                args.append(value.lower() == "true" if key == "ReadOnly" else value)
            else:  # ResourceType / ResourceName: matched in Python against the stored resource list
                resource_filter = query.attribute
        if query.start is not None:
            where.append("event_time >= ?")
            args.append(query.start)
        if query.end is not None:
            where.append("event_time <= ?")
            args.append(query.end)
        if query.next_token:
            condition, values = PAGES.after(query.next_token)
            where.append(condition)
            args.extend(values)
        sql = (f"SELECT event_id, event_name, read_only, access_key_id, event_time, event_source, username, "
               f"resources, record FROM {EVENTS_TABLE} WHERE {' AND '.join(where)} ORDER BY {PAGES.order_by()}")
        if resource_filter is None:
            return self.store.execute(sql + " LIMIT ?", [*args, query.max_results + 1])
        key, value = resource_filter
        return [r for r in self.store.execute(sql, args)
                if any(res.get(key) == value for res in json.loads(r[7]))][:query.max_results + 1]
