"""Log anomaly detectors with boto3 against the local cloud: the detectors are real resources; nothing is ever
detected (no model), so ListAnomalies is empty and UpdateAnomaly finds no anomaly."""
from __future__ import annotations

import re

import boto3
import pytest
from botocore.config import Config

GROUP_ARN = "arn:aws:logs:us-east-1:123456789012:log-group:"


@pytest.fixture
def logs(cloud):
    client = boto3.client("logs")
    client.create_log_group(logGroupName="watched")
    client.create_log_group(logGroupName="other")
    return client


@pytest.fixture
def raw(logs):
    return boto3.client("logs", config=Config(parameter_validation=False))


def test_lifecycle(logs):
    arn = logs.create_log_anomaly_detector(logGroupArnList=[GROUP_ARN + "watched"], detectorName="d1",
                                           evaluationFrequency="FIVE_MIN", filterPattern="ERROR",
                                           anomalyVisibilityTime=14, tags={"team": "cruddur"})["anomalyDetectorArn"]
    assert re.fullmatch(r"arn:aws:logs:us-east-1:123456789012:anomaly-detector:[0-9a-f-]{36}", arn)
    got = logs.get_log_anomaly_detector(anomalyDetectorArn=arn)
    assert {k: got[k] for k in ("detectorName", "logGroupArnList", "evaluationFrequency", "filterPattern",
                                "anomalyVisibilityTime", "anomalyDetectorStatus")} == {
        "detectorName": "d1", "logGroupArnList": [GROUP_ARN + "watched"], "evaluationFrequency": "FIVE_MIN",
        "filterPattern": "ERROR", "anomalyVisibilityTime": 14, "anomalyDetectorStatus": "INITIALIZING"}
    assert got["creationTimeStamp"] == got["lastModifiedTimeStamp"] > 0
    second = logs.create_log_anomaly_detector(logGroupArnList=[GROUP_ARN + "other"])["anomalyDetectorArn"]
    listed = logs.list_log_anomaly_detectors()["anomalyDetectors"]
    assert [d["anomalyDetectorArn"] for d in listed] == [arn, second]
    only = logs.list_log_anomaly_detectors(filterLogGroupArn=GROUP_ARN + "other")["anomalyDetectors"]
    assert [d["anomalyDetectorArn"] for d in only] == [second]
    page = logs.list_log_anomaly_detectors(limit=1)
    rest = logs.list_log_anomaly_detectors(limit=1, nextToken=page["nextToken"])
    assert [d["anomalyDetectorArn"] for d in page["anomalyDetectors"] + rest["anomalyDetectors"]] == [arn, second]
    logs.update_log_anomaly_detector(anomalyDetectorArn=arn, enabled=False, evaluationFrequency="ONE_HOUR")
    got = logs.get_log_anomaly_detector(anomalyDetectorArn=arn)
    assert (got["anomalyDetectorStatus"], got["evaluationFrequency"], got["filterPattern"]) == ("PAUSED", "ONE_HOUR",
                                                                                               "ERROR")
    logs.update_log_anomaly_detector(anomalyDetectorArn=arn, enabled=True)
    assert logs.get_log_anomaly_detector(anomalyDetectorArn=arn)["anomalyDetectorStatus"] == "INITIALIZING"
    logs.delete_log_anomaly_detector(anomalyDetectorArn=arn)
    with pytest.raises(logs.exceptions.ResourceNotFoundException):
        logs.get_log_anomaly_detector(anomalyDetectorArn=arn)
    with pytest.raises(logs.exceptions.ResourceNotFoundException):
        logs.delete_log_anomaly_detector(anomalyDetectorArn=arn)


def test_nothing_is_detected(logs):
    arn = logs.create_log_anomaly_detector(logGroupArnList=[GROUP_ARN + "watched"])["anomalyDetectorArn"]
    assert logs.list_anomalies()["anomalies"] == []
    assert logs.list_anomalies(anomalyDetectorArn=arn, suppressionState="SUPPRESSED")["anomalies"] == []
    with pytest.raises(logs.exceptions.ResourceNotFoundException):
        logs.update_anomaly(anomalyDetectorArn=arn, anomalyId="0" * 36, suppressionType="INFINITE")
    with pytest.raises(logs.exceptions.ResourceNotFoundException):
        logs.update_anomaly(anomalyDetectorArn=arn, patternId="0" * 32, baseline=True)
    with pytest.raises(logs.exceptions.InvalidParameterException):
        logs.update_anomaly(anomalyDetectorArn=arn, anomalyId="0" * 36, patternId="0" * 32)
    with pytest.raises(logs.exceptions.InvalidParameterException):
        logs.update_anomaly(anomalyDetectorArn=arn, patternId="0" * 32, suppressionType="LIMITED")


BAD = [
    ("two groups", {"logGroupArnList": [GROUP_ARN + "watched", GROUP_ARN + "other"]}, "InvalidParameterException"),
    ("no group", {"logGroupArnList": []}, "InvalidParameterException"),
    ("unknown group", {"logGroupArnList": [GROUP_ARN + "missing"]}, "ResourceNotFoundException"),
    ("bad frequency", {"logGroupArnList": [GROUP_ARN + "watched"], "evaluationFrequency": "TWO_MIN"},
     "InvalidParameterException"),
    ("visibility 6 days", {"logGroupArnList": [GROUP_ARN + "watched"], "anomalyVisibilityTime": 6},
     "InvalidParameterException"),
    ("bad filter pattern", {"logGroupArnList": [GROUP_ARN + "watched"], "filterPattern": '{ $.a = "x" '},
     "InvalidParameterException"),
    ("bad kms key", {"logGroupArnList": [GROUP_ARN + "watched"], "kmsKeyId": "alias/mine"},
     "InvalidParameterException"),
]


@pytest.mark.parametrize("case,kwargs,code", BAD, ids=[b[0] for b in BAD])
def test_create_bad_input(logs, raw, case, kwargs, code):
    with pytest.raises(raw.exceptions.ClientError) as info:
        raw.create_log_anomaly_detector(**kwargs)
    assert info.value.response["Error"]["Code"] == code
    assert logs.list_log_anomaly_detectors()["anomalyDetectors"] == []


def test_other_bad_input(logs, raw):
    missing = "arn:aws:logs:us-east-1:123456789012:anomaly-detector:00000000-0000-0000-0000-000000000000"
    for call in (lambda: raw.list_anomalies(anomalyDetectorArn=missing),
                 lambda: raw.update_log_anomaly_detector(anomalyDetectorArn=missing, enabled=True),
                 lambda: raw.update_anomaly(anomalyDetectorArn=missing, patternId="0" * 32)):
        with pytest.raises(raw.exceptions.ResourceNotFoundException):
            call()
    for call in (lambda: raw.list_log_anomaly_detectors(limit=51),
                 lambda: raw.list_anomalies(limit=0),
                 lambda: raw.update_log_anomaly_detector(anomalyDetectorArn=missing),        # enabled is required
                 lambda: raw.list_log_anomaly_detectors(nextToken="bogus")):
        with pytest.raises(raw.exceptions.InvalidParameterException):
            call()
