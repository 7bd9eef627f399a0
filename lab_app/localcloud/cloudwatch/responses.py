"""Request interception: the CloudWatch operations moto gets wrong or lacks.

* PutMetricAlarm: validated as CloudWatch does (moto skips it), passed to moto, then the new alarm starts in
  ``INSUFFICIENT_DATA`` (moto says ``OK``); an updated alarm keeps its state; history records the change.
* PutCompositeAlarm: the AlarmRule is parsed (:mod:`~lab_app.localcloud.cloudwatch.alarm_rule`), then as
  PutMetricAlarm (moto stores it; it starts in ``INSUFFICIENT_DATA``); the evaluator follows its children.
* SetAlarmState: passed to moto, then the change goes through the evaluator's transition (history,
  actions, the EventBridge event) on the local cloud's clock.
* DescribeAlarms: passed to moto, then only the alarm types asked for are kept (``AlarmTypes``; without it,
  metric alarms only, as CloudWatch answers; moto returns both kinds).
* DeleteAlarms: passed to moto (its parameters are recorded by CloudTrail like any call).
* DescribeAlarmHistory: answered from :class:`~lab_app.localcloud.cloudwatch.history.AlarmHistory`.
* PutMetricData, GetMetricStatistics, GetMetricData (metric math), ListMetrics: answered from the metric
  store (:mod:`~lab_app.localcloud.cloudwatch.metrics`, :mod:`~lab_app.localcloud.cloudwatch.metric_data`),
  which the alarm evaluator, metric filters and embedded-metric-format log events share.
* PutDashboard, GetDashboard, ListDashboards, DeleteDashboards: :mod:`~lab_app.localcloud.cloudwatch.dashboards`.
* PutMetricAlarm with ``Metrics=[...]`` (metric math): the queries are validated as GetMetricData's and
  kept on the alarm for the evaluator.
"""
from __future__ import annotations

import gzip
import json
from typing import Any

from werkzeug.wrappers import Response

from lab_app.localcloud.aws import request, validate
from lab_app.localcloud.aws.errors import SerializationException
from lab_app.localcloud.cloudwatch import alarm_rule, models
from lab_app.localcloud.cloudwatch.dashboards import Dashboards
from lab_app.localcloud.cloudwatch.evaluator import AlarmEvaluator
from lab_app.localcloud.cloudwatch.exceptions import ValidationError
from lab_app.localcloud.cloudwatch.history import AlarmHistory
from lab_app.localcloud.cloudwatch.metric_data import get_metric_data, parse_queries
from lab_app.localcloud.cloudwatch.metrics import MetricStore
from lab_app.localcloud.cloudwatch.models import naive_utc
from lab_app.localcloud.cloudwatch.rules import validate_put_metric_alarm
from lab_app.localcloud.component import json_response

JSON_10 = "application/x-amz-json-1.0"
ALARM_TYPES = ("CompositeAlarm", "MetricAlarm")


def call_wsgi(app, environ: dict) -> tuple[int, list, list[bytes]]:
    """Run a WSGI app to completion: (status, headers, body chunks)."""
    captured: dict[str, Any] = {}

    def start_response(status, headers, exc_info=None):
        captured["status"] = int(status.split()[0])
        captured["headers"] = headers

    chunks = list(app(environ, start_response))
    return captured.get("status", 500), captured.get("headers", []), chunks


def body_of(environ: dict) -> bytes:
    """The request body; botocore gzips PutMetricData bodies of 10 KiB or more (``requestcompression``)."""
    raw = request.read_body(environ)
    if "gzip" in environ.get("HTTP_CONTENT_ENCODING", "").lower():
        try:
            return gzip.decompress(raw)
        except (OSError, EOFError):
            raise SerializationException("The request body is not valid gzip.") from None
    return raw


class CloudWatchResponses:
    def __init__(self, evaluator: AlarmEvaluator, history: AlarmHistory, moto, clock, metrics: MetricStore,
                 dashboards: Dashboards):
        self.evaluator = evaluator
        self.metrics = metrics
        self.dashboards = dashboards
        self.history = history
        self.moto = moto      # () -> moto's WSGI app
        self.clock = clock

    def dispatch(self, operation: str, environ: dict) -> Response | tuple[int, list, list[bytes]]:
        """Our answer (a Response) or moto's (status, headers, chunks). Raises AwsError."""
        params = request.json_body(body_of(environ))
        validate.check_types("cloudwatch", operation, params)
        account_id, region = request.caller(environ)
        if operation == "DescribeAlarmHistory":
            return json_response(self.history.describe(account_id, region, params), content_type=JSON_10)
        ours = self._ours(operation, account_id, region, params)
        if ours is not None:
            return json_response(ours, content_type=JSON_10)
        queries = None
        if operation == "DescribeAlarms":
            types = params.get("AlarmTypes") or ["MetricAlarm"]
            for value in types:
                if value not in ALARM_TYPES:
                    raise ValidationError.enum(value, "alarmTypes.member", ALARM_TYPES)
            return self._describe_alarms(environ, types)
        if operation == "PutCompositeAlarm":
            if not isinstance(params.get("AlarmName"), str) or not params["AlarmName"]:
                raise ValidationError("1 validation error detected: Value null at 'alarmName' failed to satisfy "
                                      "constraint: Member must not be null")
            try:
                alarm_rule.parse(params.get("AlarmRule"))
            except alarm_rule.AlarmRuleError as error:
                raise ValidationError(str(error)) from None
        if operation == "PutMetricAlarm":
            problem = validate_put_metric_alarm(params)
            if problem:
                raise ValidationError(problem)
            if params.get("Metrics"):
                clash = [k for k in ("MetricName", "Namespace", "Statistic", "ExtendedStatistic", "Dimensions",
                                     "Period", "Unit") if params.get(k) is not None]
                if clash:
                    raise ValidationError(f"The parameters Metrics and {clash[0]} are mutually exclusive; "
                                          "specify the metrics only in the Metrics list.")
                queries = parse_queries(params["Metrics"], "Metrics", alarm=True)
        backend = models.backend(account_id, region)
        before = backend.alarms.get(params.get("AlarmName")) if backend is not None else None
        old = (before.state_value, before.state_reason, before.state_reason_data, before.state_updated_timestamp) \
            if before is not None else None
        if operation == "PutCompositeAlarm":      # moto's backend stores composite alarms; its API lacks the call
            status, headers, chunks = self._put_composite(account_id, region, params)
        else:
            status, headers, chunks = call_wsgi(self.moto(), environ)
        if status < 300:
            backend = models.backend(account_id, region)
            now = self.clock.now()
            if operation == "PutCompositeAlarm":
                self._after_put(account_id, region, backend, params, old, now, alarm_type="CompositeAlarm")
                self.evaluator.evaluate_composites(now)
            if operation == "PutMetricAlarm":
                self._after_put(account_id, region, backend, params, old, now)
                alarm = backend.alarms.get(params.get("AlarmName"))
                if alarm is not None:
                    alarm.lab_queries = queries
                    alarm.lab_metrics = params.get("Metrics") if queries else None
            elif operation == "SetAlarmState" and old is not None:
                self._after_set_state(account_id, region, backend, params, old, now)
        return status, headers, chunks

    def _describe_alarms(self, environ: dict, types: list[str]) -> tuple[int, list, list[bytes]]:
        status, headers, chunks = call_wsgi(self.moto(), environ)
        if status >= 300:
            return status, headers, chunks
        body = json.loads(b"".join(chunks) or b"{}")
        body["MetricAlarms"] = body.get("MetricAlarms", []) if "MetricAlarm" in types else []
        body["CompositeAlarms"] = body.get("CompositeAlarms", []) if "CompositeAlarm" in types else []
        data = json.dumps(body).encode()
        headers = [(k, v) for k, v in headers if k.lower() != "content-length"] + [("Content-Length", str(len(data)))]
        return status, headers, [data]

    @staticmethod
    def _put_composite(account_id: str, region: str, params: dict) -> tuple[int, list, list[bytes]]:
        from moto.cloudwatch.models import cloudwatch_backends

        cloudwatch_backends[account_id][region].put_metric_alarm(
            name=params["AlarmName"], namespace=None, metric_name=None, comparison_operator=None,
            evaluation_periods=None, period=None, threshold=None, statistic=None,
            description=params.get("AlarmDescription"), dimensions=[], alarm_actions=params.get("AlarmActions", []),
            ok_actions=params.get("OKActions", []), insufficient_data_actions=params.get("InsufficientDataActions", []),
            actions_enabled=params.get("ActionsEnabled", True), rule=params["AlarmRule"], tags=params.get("Tags", []))
        return 200, [("Content-Type", JSON_10)], [b"{}"]

    def _ours(self, operation: str, account_id: str, region: str, params: dict) -> dict | None:
        if operation == "PutMetricData":
            self.metrics.put_metric_data(account_id, region, params)
            return {}
        if operation == "GetMetricStatistics":
            return self.metrics.get_metric_statistics(account_id, region, params)
        if operation == "GetMetricData":
            return get_metric_data(self.metrics, account_id, region, params)
        if operation == "ListMetrics":
            return self.metrics.list_metrics(account_id, region, params)
        if operation == "PutDashboard":
            return self.dashboards.put(account_id, params)
        if operation == "GetDashboard":
            return self.dashboards.get(account_id, params)
        if operation == "ListDashboards":
            return self.dashboards.list(account_id, params)
        if operation == "DeleteDashboards":
            return self.dashboards.delete(account_id, params)
        return None

    def _after_put(self, account_id, region, backend, params, old, now: float, alarm_type: str = "MetricAlarm") -> None:
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
                                            "createdAlarm" if old is None else "updatedAlarm": config}, default=str),
                                alarm_type=alarm_type)

    def _after_set_state(self, account_id, region, backend, params, old, now: float) -> None:
        alarm = backend.alarms.get(params.get("AlarmName"))
        if alarm is None:
            return
        new_state, reason, data = alarm.state_value, alarm.state_reason, alarm.state_reason_data
        # moto already switched the state (and used the wall clock); restore, then transition properly
        alarm.state_value, alarm.state_reason, alarm.state_reason_data, alarm.state_updated_timestamp = old
        if new_state != old[0]:
            self.evaluator.transition(account_id, region, alarm, new_state, reason, data or "{}", now)
            self.evaluator.evaluate_composites(now)
