"""CloudTrail for the local cloud: every AWS API call on the gateway becomes a CloudTrail event.

moto stores trails (CreateTrail, StartLogging, ...) but records nothing. This component watches the
gateway (``cloud.observers``) and, for each SigV4-signed API call, writes a CloudTrail record
(eventVersion 1.08: eventTime, eventSource, eventName, awsRegion, sourceIPAddress, userAgent,
userIdentity from the access key, requestParameters with secrets hidden, errorCode/errorMessage
when the call failed, requestID, eventID, readOnly, eventType, managementEvent, recipientAccountId).

* Event history: every management event is kept (like AWS's 90-day event history, with or without
  a trail) and ``LookupEvents`` (the one CloudTrail operation served here) answers from it.
* Trails: when a trail created through the CloudTrail API (served by moto) has a
  ``CloudWatchLogsLogGroupArn`` and is logging, the record is delivered to that log group through
  the logs component (stream ``<account>_CloudTrail_<region>``), where metric filters turn it into
  metrics. A delivery thread sends batches within a quarter of a second (AWS takes up to a few
  minutes); the alarm evaluator drains it before each pass, and ``/_localcloud/cloudtrail/flush``
  (LOCAL ONLY) does the same on demand. Delivery is in-process, so it is never itself an API call
  that could be recorded.

Not recorded, as on AWS by default: data-plane calls (PutLogEvents, PutTraceSegments, PutMetricData,
S3 object reads/writes, ...), requests that are not SigV4-signed (the Rollbar stand-in) and the
local-only ``/_localcloud`` control routes.
"""
from __future__ import annotations

import base64
import json
import re
import threading
import time
import uuid
from datetime import datetime, timezone
from typing import Any, Callable

from werkzeug.wrappers import Response

from lab_app.localcloud import apicall
from lab_app.localcloud.component import Component, aws_json_error

LOOKUP_TARGET = "com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101.LookupEvents"
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
BATCH_WINDOW_S = 0.25   # how long the delivery thread gathers records before one delivery
LOOKUP_KEYS = ("EventId", "EventName", "ReadOnly", "Username", "ResourceType", "ResourceName", "EventSource",
               "AccessKeyId")


def _iso_seconds(epoch: float) -> str:
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


class CloudTrail(Component):
    name = "cloudtrail"

    def __init__(self, cloud):
        super().__init__(cloud)
        from lab_app.instrument.redact import Redactor

        self.redactor = Redactor()
        self._buffer: list[tuple] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.recorded = 0
        self.delivered = 0
        self.delivery_errors: dict[str, str] = {}
        # log events waiting for the delivery thread: (trail name, group, stream, region, event)
        self._pending: list[tuple[str, str, str, str, dict]] = []
        self._pending_cv = threading.Condition()
        self._in_flight = 0
        self._urgent = False
        self._deliverer: threading.Thread | None = None

    # lifecycle ---------------------------------------------------------------------------------
    def setup(self) -> None:
        self.store.ensure_table("cloudtrail_events", EVENTS_DDL)
        from lab_app.localcloud.alarms import keep_clock_monotonic

        keep_clock_monotonic(self.cloud.clock, self.store.execute("SELECT max(event_time) FROM cloudtrail_events")[0][0])

    def start(self) -> None:
        if self.observe not in self.cloud.observers:
            self.cloud.observers.append(self.observe)
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="cloudtrail-flush", daemon=True)
        self._thread.start()
        self._deliverer = threading.Thread(target=self._deliver_loop, name="cloudtrail-deliver", daemon=True)
        self._deliverer.start()

    def stop(self) -> None:
        if self.observe in self.cloud.observers:
            self.cloud.observers.remove(self.observe)
        self.drain(timeout=10)
        self._stop.set()
        with self._pending_cv:
            self._pending_cv.notify_all()
        for thread in (self._thread, self._deliverer):
            if thread is not None:
                thread.join(timeout=5)
        self._thread = self._deliverer = None
        self.flush()

    def reset(self) -> None:
        with self._lock:
            self._buffer.clear()
        self.delivery_errors.clear()

    def control(self, action: str, payload: dict) -> dict | None:
        if action == "flush":  # LOCAL ONLY: finish pending deliveries now (AWS delivers within minutes)
            return {"drained": self.drain(), "recorded": self.flush()}
        return None

    def status(self) -> dict[str, Any]:
        self.flush()
        return {"events": self.store.count("cloudtrail_events"), "delivered": self.delivered,
                "delivery_errors": dict(self.delivery_errors)}

    def _run(self) -> None:
        while not self._stop.wait(1.0):
            try:
                self.flush()
            except Exception:
                self.log.exception("cloudtrail flush failed")

    def flush(self) -> int:
        with self._lock:
            rows, self._buffer = self._buffer, []
        if rows:
            self.store.executemany("INSERT INTO cloudtrail_events VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
        return len(rows)

    # recording ---------------------------------------------------------------------------------
    def observe(self, environ: dict, status: int, headers: list, body: bytes) -> None:
        call = apicall.parse(environ)
        if call is None or not call.operation:
            return
        if call.operation in DATA_EVENTS.get(call.signing_name, ()):
            return
        record = self.build_record(call, environ, status, headers, body)
        self.record(record, call)

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

    def build_record(self, call: apicall.ApiCall, environ: dict, status: int, headers: list, body: bytes) -> dict:
        now = self.cloud.clock.now()
        account_id, identity = apicall.identify(call.access_key_id)
        region = "us-east-1" if call.signing_name in GLOBAL_SERVICES else call.region
        header = {k.lower(): v for k, v in headers}
        request_id = header.get("x-amzn-requestid") or header.get("x-amz-request-id") or str(uuid.uuid4())
        params = self.hide(apicall.camel_params(call.params)) if call.params else None
        record: dict[str, Any] = {
            "eventVersion": EVENT_VERSION,
            "userIdentity": identity,
            "eventTime": _iso_seconds(now),
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
        record["_epoch"] = now
        return record

    def record(self, record: dict, call: apicall.ApiCall | None = None) -> None:
        epoch = record.pop("_epoch")
        identity = record["userIdentity"]
        username = identity.get("userName") or ("root" if identity.get("type") == "Root" else
                                                identity.get("arn", "").rsplit("/", 1)[-1])
        resources = []
        params = record.get("requestParameters") or {}
        for key, rtype in RESOURCE_PARAMS:
            value = params.get(key) if isinstance(params, dict) else None
            for item in (value if isinstance(value, list) else [value]):
                if isinstance(item, str) and item and item != HIDDEN:
                    resources.append({"ResourceType": rtype, "ResourceName": item})
        text = json.dumps(record, separators=(",", ":"))
        row = (record["eventID"], record["recipientAccountId"], record["awsRegion"], epoch, record["eventName"],
               record["eventSource"], bool(record["readOnly"]), identity.get("accessKeyId"), username,
               json.dumps(resources), text)
        with self._lock:
            self._buffer.append(row)
            self.recorded += 1
        self.deliver(record, text, epoch)

    # delivery to CloudWatch Logs -----------------------------------------------------------------
    def logging_trails(self, account_id: str, event_region: str) -> list[Any]:
        from moto.cloudtrail.models import cloudtrail_backends

        trails = []
        account = cloudtrail_backends.get(account_id) if hasattr(cloudtrail_backends, "get") else None
        if account is None:
            return trails
        for region, backend in list(account.items()):
            for trail in list(backend.trails.values()):
                if not trail.status.is_logging or not trail.cw_log_group_arn:
                    continue
                if not (trail.is_multi_region or region == event_region):
                    continue
                trails.append(trail)
        return trails

    @staticmethod
    def _selected(trail, record: dict) -> bool:
        selectors = getattr(trail, "event_selectors", None) or []
        if not selectors:
            return True
        for selector in selectors:
            if selector.get("IncludeManagementEvents", True) is False:
                continue
            rw = selector.get("ReadWriteType", "All")
            if rw == "All" or (rw == "ReadOnly") == bool(record["readOnly"]):
                return True
        return False

    def deliver(self, record: dict, text: str, epoch: float) -> None:
        """Queue the record for every logging trail that selects it; the delivery thread sends batches.

        The API call does not wait for CloudWatch Logs (one PutLogEvents-sized batch costs the logs
        stand-in about as much as one event). :meth:`drain` waits for the queue to empty; the alarm
        evaluator drains before each pass, so metrics are complete when alarms look at them.
        """
        trails = self.logging_trails(record["recipientAccountId"], record["awsRegion"])
        queued = []
        for trail in trails:
            if not self._selected(trail, record):
                continue
            arn = trail.cw_log_group_arn.split(":")
            if len(arn) < 7 or arn[2] != "logs":
                self.delivery_errors[trail.trail_name] = f"not a log group ARN: {trail.cw_log_group_arn}"
                continue
            stream = f"{record['recipientAccountId']}_CloudTrail_{record['awsRegion']}"
            queued.append((trail.trail_name, arn[6], stream, arn[3],
                           {"timestamp": int(epoch * 1000), "message": text}))
        if queued:
            with self._pending_cv:
                self._pending.extend(queued)
                self._pending_cv.notify_all()

    def _deliver_loop(self) -> None:
        while True:
            with self._pending_cv:
                while not self._pending and not self._stop.is_set():
                    self._pending_cv.wait(1.0)
                if not self._pending and self._stop.is_set():
                    return
                # gather a batch for a moment (a burst of calls -> one delivery), unless someone drains
                deadline = time.monotonic() + BATCH_WINDOW_S
                while not self._urgent and not self._stop.is_set() and time.monotonic() < deadline:
                    self._pending_cv.wait(deadline - time.monotonic())
                self._urgent = False
                batch, self._pending = self._pending, []
                self._in_flight = len(batch)
            try:
                self._send(batch)
            except Exception:
                self.log.exception("CloudTrail delivery failed")
            finally:
                with self._pending_cv:
                    self._in_flight = 0
                    self._pending_cv.notify_all()

    def _send(self, batch: list[tuple[str, str, str, str, dict]]) -> None:
        try:
            logs = self.cloud.component("logs")
        except KeyError:
            self.delivery_errors["*"] = "no logs component in this local cloud"
            return
        groups: dict[tuple[str, str, str, str], list[dict]] = {}
        for trail_name, group, stream, region, event in batch:
            groups.setdefault((trail_name, group, stream, region), []).append(event)
        for (trail_name, group, stream, region), events in groups.items():
            try:
                self.delivered += logs.deliver(group, stream, events, region=region)
                self.delivery_errors.pop(trail_name, None)
            except Exception as exc:  # e.g. the log group was deleted: AWS reports a delivery error too
                self.delivery_errors[trail_name] = f"{type(exc).__name__}: {exc}"

    def drain(self, timeout: float = 10.0) -> bool:
        """Wait until every queued record is in its log group (True) or ``timeout`` s passed (False)."""
        deadline = time.monotonic() + timeout
        with self._pending_cv:
            self._urgent = True
            self._pending_cv.notify_all()
            while self._pending or self._in_flight:
                if self._deliverer is None or not self._deliverer.is_alive():
                    batch, self._pending = self._pending, []
                    self._send(batch)
                    continue
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._pending_cv.wait(min(left, 0.5))
        return True

    # LookupEvents ----------------------------------------------------------------------------------
    def matches(self, environ: dict) -> bool:
        return environ.get("HTTP_X_AMZ_TARGET") == LOOKUP_TARGET

    def __call__(self, environ: dict, start_response: Callable):
        length = int(environ.get("CONTENT_LENGTH") or 0)
        raw = environ["wsgi.input"].read(length) if length else b""
        try:
            params = json.loads(raw) if raw else {}
            if not isinstance(params, dict):
                raise ValueError
        except ValueError:
            return aws_json_error("SerializationException", "Malformed request body")(environ, start_response)
        account_id, region = apicall.caller(environ)
        return self.lookup_events(account_id, region, params)(environ, start_response)

    def lookup_events(self, account_id: str, region: str, params: dict) -> Response:
        self.flush()
        attributes = params.get("LookupAttributes") or []
        if len(attributes) > 1:
            return aws_json_error("InvalidLookupAttributesException",
                                  "You cannot specify more than one lookup attribute.")
        where, args = ["account_id = ?", "region = ?"], [account_id, region]
        resource_filter: tuple[str, str] | None = None
        for attribute in attributes:
            key, value = attribute.get("AttributeKey"), attribute.get("AttributeValue")
            if key not in LOOKUP_KEYS:
                return aws_json_error("InvalidLookupAttributesException",
                                      f"Lookup attribute key {key!r} is not valid: use one of {', '.join(LOOKUP_KEYS)}.")
            if not isinstance(value, str) or not value:
                return aws_json_error("InvalidLookupAttributesException", "The attribute value must not be empty.")
            column = {"EventId": "event_id", "EventName": "event_name", "Username": "username",
                      "EventSource": "event_source", "AccessKeyId": "access_key_id"}.get(key)
            if column:
                where.append(f"{column} = ?")
                args.append(value)
            elif key == "ReadOnly":
                where.append("read_only = ?")
                args.append(value.lower() == "true")
            else:  # ResourceType / ResourceName: matched in Python against the stored resource list
                resource_filter = (key, value)
        max_results = params.get("MaxResults", 50)
        if not isinstance(max_results, int) or not 1 <= max_results <= 50:
            return aws_json_error("InvalidMaxResultsException", "MaxResults must be between 1 and 50.")
        start, end = params.get("StartTime"), params.get("EndTime")
        if start is not None and end is not None and float(start) > float(end):
            return aws_json_error("InvalidTimeRangeException", "StartTime must be before EndTime.")
        if start is not None:
            where.append("event_time >= ?")
            args.append(float(start))
        if end is not None:
            where.append("event_time <= ?")
            args.append(float(end))
        if params.get("EventCategory") not in (None, "insight"):
            return aws_json_error("InvalidEventCategoryException", "EventCategory must be insight.")
        if params.get("EventCategory") == "insight":
            return Response(json.dumps({"Events": []}), content_type="application/x-amz-json-1.1")
        if params.get("NextToken"):  # a cursor (time, id) of the last event returned: stable while events arrive
            try:
                cursor = json.loads(base64.b64decode(params["NextToken"]))
                where.append("(event_time < ? OR (event_time = ? AND event_id > ?))")
                args.extend([float(cursor["t"]), float(cursor["t"]), str(cursor["id"])])
            except Exception:
                return aws_json_error("InvalidNextTokenException", "Invalid NextToken.")
        sql = (f"SELECT event_id, event_name, read_only, access_key_id, event_time, event_source, username, resources, "
               f"record FROM cloudtrail_events WHERE {' AND '.join(where)} ORDER BY event_time DESC, event_id")
        if resource_filter is None:
            rows = self.store.execute(sql + " LIMIT ?", [*args, max_results + 1])
        else:
            key, value = resource_filter
            rows = [r for r in self.store.execute(sql, args)
                    if any(res.get(key) == value for res in json.loads(r[7]))][:max_results + 1]
        events = [{"EventId": r[0], "EventName": r[1], "ReadOnly": "true" if r[2] else "false",
                   "AccessKeyId": r[3], "EventTime": r[4], "EventSource": r[5], "Username": r[6],
                   "Resources": json.loads(r[7]), "CloudTrailEvent": r[8]} for r in rows[:max_results]]
        body: dict[str, Any] = {"Events": events}
        if len(rows) > max_results:
            last = rows[max_results - 1]
            body["NextToken"] = base64.b64encode(json.dumps({"t": last[4], "id": last[0]}).encode()).decode()
        return Response(json.dumps(body), content_type="application/x-amz-json-1.1")
