"""EventBridge routing (lab_app.localcloud.events): what a rule target receives; end to end with alarms' state
change events in tests/test_cloudwatch.py."""
from __future__ import annotations

import json

import pytest

from lab_app.localcloud.events.transform import target_payload

EVENT = {"id": "e-1", "time": "2026-01-01T00:00:00Z", "detail-type": "CloudWatch Alarm State Change",
         "detail": {"alarmName": "high-errors", "state": {"value": "ALARM"}}}


@pytest.mark.parametrize("target,expected", [
    ({"Arn": "arn:aws:sqs:us-east-1:123456789012:q"}, json.dumps(EVENT)),
    ({"Arn": "x", "Input": '{"fixed": true}'}, '{"fixed": true}'),
    ({"Arn": "x", "InputPath": "$.detail.state"}, '{"value": "ALARM"}'),
    ({"Arn": "x", "InputTransformer": {"InputPathsMap": {"name": "$.detail.alarmName"},
                                       "InputTemplate": '"<name> fired"'}}, '"high-errors fired"'),
], ids=["whole-event", "Input", "InputPath", "InputTransformer"])
def test_target_payload(target, expected):
    assert target_payload(target, EVENT) == expected
