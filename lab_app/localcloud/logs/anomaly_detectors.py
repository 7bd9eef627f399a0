"""Log anomaly detectors: Create/Get/List/Update/DeleteLogAnomalyDetector, ListAnomalies, UpdateAnomaly.

AWS trains a machine-learning model per detector; the local cloud has none, so its detectors never find an
anomaly: ListAnomalies answers what AWS answers when nothing was detected (``{"anomalies": []}``), and
UpdateAnomaly of an anomaly or pattern id answers ``ResourceNotFoundException`` because no such anomaly exists.
The detectors themselves are real resources with AWS's rules (the API reference):

* ``logGroupArnList``: "You can specify only one log group ARN"; the group must exist. ``filterPattern`` is a
  filter pattern (checked like PutMetricFilter's). ARN ``arn:aws:logs:<region>:<account>:anomaly-detector:<id>``.
* A new detector is ``INITIALIZING`` (AWS's state before the model has trained; the local cloud never trains, so
  it stays there); ``enabled: false`` pauses it (``PAUSED``) and ``enabled: true`` starts it again.
* UpdateAnomaly needs exactly one of ``anomalyId`` and ``patternId``; ``suppressionType: LIMITED`` needs a
  ``suppressionPeriod``.
"""
from __future__ import annotations

import json
import uuid
from typing import Any

from lab_app import config
from lab_app.localcloud.aws import paging
from lab_app.localcloud.logs import exceptions as exc
from lab_app.localcloud.logs import filter_pattern
from lab_app.localcloud.logs.filter_pattern import FilterPatternError

MAX_LIST = 50
DDL = """CREATE TABLE IF NOT EXISTS logs_anomaly_detectors (
    region VARCHAR, arn VARCHAR, name VARCHAR, groups VARCHAR, frequency VARCHAR, pattern VARCHAR, kms VARCHAR,
    visibility BIGINT, status VARCHAR, created BIGINT, modified BIGINT, tags VARCHAR, PRIMARY KEY (region, arn))"""
COLUMNS = "arn, name, groups, frequency, pattern, kms, visibility, status, created, modified"


def _offset(token: Any) -> int:
    if not token:
        return 0
    try:
        return int(paging.decode(token)["offset"])
    except (paging.InvalidToken, KeyError, TypeError, ValueError):
        raise exc.InvalidParameterException("The specified nextToken is invalid.") from None


class AnomalyDetectors:
    def __init__(self, store, backend):
        self.store = store
        self.backend = backend

    def setup(self) -> None:
        self.store.ensure_table("logs_anomaly_detectors", DDL)

    @staticmethod
    def _out(row: tuple, with_arn: bool = True) -> dict:
        arn, name, groups, frequency, pattern, kms, visibility, status, created, modified = row
        out: dict = {"anomalyDetectorArn": arn} if with_arn else {}
        out["logGroupArnList"] = json.loads(groups)
        if name is not None:
            out["detectorName"] = name
        if frequency is not None:
            out["evaluationFrequency"] = frequency
        if pattern is not None:
            out["filterPattern"] = pattern
        if kms is not None:
            out["kmsKeyId"] = kms
        if visibility is not None:
            out["anomalyVisibilityTime"] = int(visibility)
        out.update(anomalyDetectorStatus=status, creationTimeStamp=int(created), lastModifiedTimeStamp=int(modified))
        return out

    def _pattern(self, text: Any) -> None:
        if text:
            try:
                filter_pattern.parse(text)
            except FilterPatternError as e:
                raise exc.InvalidParameterException(f"Invalid filter pattern: {e}") from None

    def _group_of(self, region: str, arn: str) -> str:
        group = self.backend._validate_identifier(arn)
        self.backend._require_group(region, group)
        return group

    def create(self, region: str, body: dict) -> dict:
        arns = body.get("logGroupArnList") or []
        if len(arns) != 1:
            raise exc.InvalidParameterException("logGroupArnList must contain exactly one log group ARN: you can "
                                                "specify only one log group ARN.")
        group = self._group_of(region, arns[0])
        self._pattern(body.get("filterPattern"))
        arn = f"arn:aws:logs:{region}:{config.ACCOUNT_ID}:anomaly-detector:{uuid.uuid4()}"
        now = self.backend.now_ms()
        self.store.execute("INSERT INTO logs_anomaly_detectors VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'INITIALIZING', ?, ?, ?)",
                           [region, arn, body.get("detectorName"), json.dumps([self.backend_arn(region, group)]),
                            body.get("evaluationFrequency"), body.get("filterPattern"), body.get("kmsKeyId"),
                            body.get("anomalyVisibilityTime"), now, now, json.dumps(body.get("tags") or {})])
        return {"anomalyDetectorArn": arn}

    @staticmethod
    def backend_arn(region: str, group: str) -> str:
        return f"arn:aws:logs:{region}:{config.ACCOUNT_ID}:log-group:{group}"

    def _row(self, region: str, arn: str) -> tuple:
        rows = self.store.execute(f"SELECT {COLUMNS} FROM logs_anomaly_detectors WHERE region = ? AND arn = ?",
                                  [region, arn])
        if not rows:
            raise exc.ResourceNotFoundException(f"Anomaly detector {arn} does not exist.")
        return rows[0]

    def get(self, region: str, arn: str) -> dict:
        return self._out(self._row(region, arn), with_arn=False)

    def list(self, region: str, body: dict) -> dict:
        limit = body.get("limit") or MAX_LIST
        offset = _offset(body.get("nextToken"))
        rows = self.store.execute(f"SELECT {COLUMNS} FROM logs_anomaly_detectors WHERE region = ? ORDER BY created, arn",
                                  [region])
        if body.get("filterLogGroupArn"):
            wanted = self.backend_arn(region, self.backend._validate_identifier(body["filterLogGroupArn"]))
            rows = [r for r in rows if wanted in json.loads(r[2])]
        out: dict = {"anomalyDetectors": [self._out(r) for r in rows[offset:offset + limit]]}
        if len(rows) > offset + limit:
            out["nextToken"] = paging.encode({"offset": offset + limit})
        return out

    def update(self, region: str, body: dict) -> None:
        arn = body["anomalyDetectorArn"]
        row = self._row(region, arn)
        self._pattern(body.get("filterPattern"))
        status = "PAUSED" if body.get("enabled") is False else ("INITIALIZING" if row[7] == "PAUSED" else row[7])
        self.store.execute(
            "UPDATE logs_anomaly_detectors SET frequency = coalesce(?, frequency), pattern = coalesce(?, pattern), "
            "visibility = coalesce(?, visibility), status = ?, modified = ? WHERE region = ? AND arn = ?",
            [body.get("evaluationFrequency"), body.get("filterPattern"), body.get("anomalyVisibilityTime"), status,
             self.backend.now_ms(), region, arn])

    def delete(self, region: str, arn: str) -> None:
        self._row(region, arn)
        self.store.execute("DELETE FROM logs_anomaly_detectors WHERE region = ? AND arn = ?", [region, arn])

    def list_anomalies(self, region: str, body: dict) -> dict:
        """Nothing is ever detected here (no model): AWS's answer for a detector without anomalies."""
        if body.get("anomalyDetectorArn"):
            self._row(region, body["anomalyDetectorArn"])
        _offset(body.get("nextToken"))
        return {"anomalies": []}

    def update_anomaly(self, region: str, body: dict) -> None:
        """Suppressing or baselining needs an anomaly or pattern that was detected: here none ever is."""
        self._row(region, body["anomalyDetectorArn"])
        if bool(body.get("anomalyId")) == bool(body.get("patternId")):
            raise exc.InvalidParameterException("Specify either anomalyId or patternId, but not both.")
        if body.get("suppressionType") == "LIMITED" and not body.get("suppressionPeriod"):
            raise exc.InvalidParameterException("suppressionType LIMITED needs a suppressionPeriod.")
        which = f"anomaly {body['anomalyId']}" if body.get("anomalyId") else f"pattern {body['patternId']}"
        raise exc.ResourceNotFoundException(f"The {which} does not exist for anomaly detector "
                                            f"{body['anomalyDetectorArn']}.")
