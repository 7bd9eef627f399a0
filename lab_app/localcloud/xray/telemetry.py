"""PutTelemetryRecords: the X-Ray daemon's own health reports (segments received, sent, spilled over, rejected,
backend connection errors), sent about once a minute.

The daemon sends ``{"TelemetryRecords": [{"Timestamp", "SegmentsReceivedCount", "SegmentsSentCount",
"SegmentsSpilloverCount", "SegmentsRejectedCount", "BackendConnectionErrors": {...}}], "EC2InstanceId",
"Hostname", "ResourceARN"}``; X-Ray answers an empty object. Members are checked against botocore's model (types,
lengths, ``Timestamp`` required) before this runs; the local cloud additionally refuses negative counts. The
records are kept (one row each) so a test or a learner can read back what the daemon reported
(:meth:`TelemetryRecords.records`); AWS shows them nowhere in its API either.
"""
from __future__ import annotations

import json
from datetime import datetime
from typing import Any, Callable

from lab_app.localcloud.xray.exceptions import InvalidRequestException

COUNTS = ("SegmentsReceivedCount", "SegmentsSentCount", "SegmentsSpilloverCount", "SegmentsRejectedCount")
ERROR_COUNTS = ("TimeoutCount", "ConnectionRefusedCount", "HTTPCode4XXCount", "HTTPCode5XXCount",
                "UnknownHostCount", "OtherCount")
DDL = """CREATE TABLE IF NOT EXISTS xray_telemetry_records (
    received_at DOUBLE, ts DOUBLE, ec2_instance_id VARCHAR, hostname VARCHAR, resource_arn VARCHAR, record VARCHAR)"""


def epoch(value: Any, what: str) -> float:
    """A model timestamp (epoch seconds, or ISO 8601 text as some clients send) as epoch seconds."""
    if isinstance(value, bool) or value is None:
        raise InvalidRequestException(f"{what} must be a timestamp")
    if isinstance(value, (int, float)):
        return float(value)
    try:
        return datetime.fromisoformat(str(value).replace("Z", "+00:00")).timestamp()
    except ValueError:
        raise InvalidRequestException(f"{what} must be a timestamp (epoch seconds or ISO 8601)") from None


class TelemetryRecords:
    def __init__(self, store, clock: Callable[[], float]):
        self.store = store
        self.now = clock

    def setup(self) -> None:
        self.store.ensure_table("xray_telemetry_records", DDL)

    def put(self, records: Any, ec2_instance_id: Any = None, hostname: Any = None, resource_arn: Any = None) -> dict:
        if not isinstance(records, list):
            raise InvalidRequestException("TelemetryRecords is required")
        rows = []
        received = self.now()
        for i, record in enumerate(records):
            if not isinstance(record, dict):
                raise InvalidRequestException(f"TelemetryRecords[{i}] must be an object")
            ts = epoch(record.get("Timestamp"), f"TelemetryRecords[{i}].Timestamp")
            errors = record.get("BackendConnectionErrors") or {}
            for key, value in [*((k, record.get(k)) for k in COUNTS), *((k, errors.get(k)) for k in ERROR_COUNTS)]:
                if value is not None and value < 0:
                    raise InvalidRequestException(f"TelemetryRecords[{i}].{key} must not be negative")
            rows.append([received, ts, ec2_instance_id, hostname, resource_arn,
                         json.dumps({**record, "Timestamp": ts}, sort_keys=True)])
        self.store.executemany("INSERT INTO xray_telemetry_records VALUES (?, ?, ?, ?, ?, ?)", rows)
        return {}

    def records(self) -> list[dict]:
        """Every stored record with the reporting daemon's EC2InstanceId, Hostname and ResourceARN, oldest first."""
        out = []
        for ec2, host, arn, text in self.store.execute(
                "SELECT ec2_instance_id, hostname, resource_arn, record FROM xray_telemetry_records "
                "ORDER BY received_at, ts"):
            out.append({**json.loads(text), "EC2InstanceId": ec2, "Hostname": host, "ResourceARN": arn})
        return out
