"""Request interception: the CloudWatch operations moto gets wrong or lacks.

* PutMetricAlarm: validated as CloudWatch does (moto skips it), passed to moto, then the new alarm starts in
  ``INSUFFICIENT_DATA`` (moto says ``OK``); an updated alarm keeps its state; history records the change.
* SetAlarmState: passed to moto, then the change goes through the evaluator's transition (history,
  actions, the EventBridge event) on the local cloud's clock.
* DeleteAlarms: passed to moto (its parameters are recorded by CloudTrail like any call).
* DescribeAlarmHistory: answered from :class:`~lab_app.localcloud.cloudwatch.history.AlarmHistory`.
"""
from __future__ import annotations

import json
from typing import Any

from werkzeug.wrappers import Response

from lab_app.localcloud.aws import request
from lab_app.localcloud.cloudwatch import models
from lab_app.localcloud.cloudwatch.evaluator import AlarmEvaluator
from lab_app.localcloud.cloudwatch.exceptions import ValidationError
from lab_app.localcloud.cloudwatch.history import AlarmHistory
from lab_app.localcloud.cloudwatch.models import naive_utc
from lab_app.localcloud.cloudwatch.rules import validate_put_metric_alarm
from lab_app.localcloud.component import json_response

JSON_10 = "application/x-amz-json-1.0"


def call_wsgi(app, environ: dict) -> tuple[int, list, list[bytes]]:
    """Run a WSGI app to completion: (status, headers, body chunks)."""
    captured: dict[str, Any] = {}

    def start_response(status, headers, exc_info=None):
        captured["status"] = int(status.split()[0])
        captured["headers"] = headers

    chunks = list(app(environ, start_response))
    return captured.get("status", 500), captured.get("headers", []), chunks


class CloudWatchResponses:
    def __init__(self, evaluator: AlarmEvaluator, history: AlarmHistory, moto, clock):
        self.evaluator = evaluator
        self.history = history
        self.moto = moto      # () -> moto's WSGI app
        self.clock = clock

    def dispatch(self, operation: str, environ: dict) -> Response | tuple[int, list, list[bytes]]:
        """Our answer (a Response) or moto's (status, headers, chunks). Raises AwsError."""
        params = request.json_body(request.read_body(environ))
        account_id, region = request.caller(environ)
        if operation == "DescribeAlarmHistory":
            return json_response(self.history.describe(account_id, region, params), content_type=JSON_10)
        if operation == "PutMetricAlarm":
            problem = validate_put_metric_alarm(params)
            if problem:
                raise ValidationError(problem)
        backend = models.backend(account_id, region)
        before = backend.alarms.get(params.get("AlarmName")) if backend is not None else None
        old = (before.state_value, before.state_reason, before.state_reason_data, before.state_updated_timestamp) \
            if before is not None else None
        status, headers, chunks = call_wsgi(self.moto(), environ)
        if status < 300:
            backend = models.backend(account_id, region)
            now = self.clock.now()
            if operation == "PutMetricAlarm":
                self._after_put(account_id, region, backend, params, old, now)
            elif operation == "SetAlarmState" and old is not None:
                self._after_set_state(account_id, region, backend, params, old, now)
        return status, headers, chunks

    def _after_put(self, account_id, region, backend, params, old, now: float) -> None:
        alarm = backend.alarms.get(params.get("AlarmName"))
        if alarm is None:
            return
        with self.evaluator.lock:
            alarm.configuration_updated_timestamp = naive_utc(now)
            if old is None:
                alarm.state_value = "INSUFFICIENT_DATA"
                alarm.state_reason = "Unchecked: Initial alarm creation"
                alarm.state_reason_data = "{}"
                alarm.state_updated_timestamp = naive_utc(now)
                summary = f'Alarm "{alarm.name}" created'
            else:  # AWS keeps the state of an updated alarm
                alarm.state_value, alarm.state_reason, alarm.state_reason_data, alarm.state_updated_timestamp = old
                summary = f'Alarm "{alarm.name}" updated'
            config = {k: v for k, v in params.items() if k not in ("Tags",)}
            self.history.record(account_id, region, alarm.name, now, "ConfigurationUpdate", summary,
                                json.dumps({"version": "1.0", "type": "Create" if old is None else "Update",
                                            "createdAlarm" if old is None else "updatedAlarm": config}, default=str))

    def _after_set_state(self, account_id, region, backend, params, old, now: float) -> None:
        alarm = backend.alarms.get(params.get("AlarmName"))
        if alarm is None:
            return
        new_state, reason, data = alarm.state_value, alarm.state_reason, alarm.state_reason_data
        # moto already switched the state (and used the wall clock); restore, then transition properly
        alarm.state_value, alarm.state_reason, alarm.state_reason_data, alarm.state_updated_timestamp = old
        if new_state != old[0]:
            self.evaluator.transition(account_id, region, alarm, new_state, reason, data or "{}", now)
