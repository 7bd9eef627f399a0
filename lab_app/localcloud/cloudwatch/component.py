"""The ``alarms`` component: CloudWatch metrics, metric math, dashboards and alarm evaluation for the local
cloud. moto stores alarms (PutMetricAlarm, DescribeAlarms) but never evaluates them; this component
evaluates them in-process, single-metric and metric-math alike. Metric data live in our own DuckDB store
(:mod:`~lab_app.localcloud.cloudwatch.metrics`: PutMetricData, GetMetricStatistics, GetMetricData, ListMetrics),
which metric filters and embedded-metric-format log events (:meth:`CloudWatch.ingest_log_events`) feed.

Composite alarms (PutCompositeAlarm, :mod:`~lab_app.localcloud.cloudwatch.alarm_rule`) follow their children.
Not evaluated: anomaly-detection comparison operators (they stay INSUFFICIENT_DATA). Only the JSON protocol that
boto3/awscli use is intercepted.
"""
from __future__ import annotations

from typing import Any, Callable

from werkzeug.wrappers import Response

from lab_app.localcloud.aws.errors import AwsError
from lab_app.localcloud.cloudwatch import emf, models
from lab_app.localcloud.cloudwatch.dashboards import Dashboards
from lab_app.localcloud.cloudwatch.evaluator import AlarmEvaluator
from lab_app.localcloud.cloudwatch.exceptions import CloudWatchError
from lab_app.localcloud.cloudwatch.history import AlarmHistory
from lab_app.localcloud.cloudwatch.metrics import MetricStore
from lab_app.localcloud.cloudwatch.responses import CloudWatchResponses
from lab_app.localcloud.cloudwatch.urls import operation_of
from lab_app.localcloud.component import Component


class CloudWatch(Component):
    name = "alarms"

    def __init__(self, ctx):
        super().__init__(ctx)
        self.history = AlarmHistory(self.store)
        self.metrics = MetricStore(self.store, self.clock)
        self.dashboards = Dashboards(self.store, self.clock)
        self.evaluator = AlarmEvaluator(self.clock, self.history, self.log, ctx.flush_pending, self._route_event,
                                        self.metrics)
        self.responses = CloudWatchResponses(self.evaluator, self.history, lambda: self.ctx.moto, self.clock,
                                             self.metrics, self.dashboards)
        self.emf_events = 0

    # lifecycle -----------------------------------------------------------------------------
    def setup(self) -> None:
        self.clock.not_before(self.history.setup())
        self.metrics.setup()   # (datapoints may be stamped ahead of the clock: they do not move it)
        self.dashboards.setup()

    def start(self) -> None:
        self.evaluator.start()

    def stop(self) -> None:
        self.evaluator.stop()

    def reset(self) -> None:
        with self.evaluator.lock:
            self.history.reset()
            self.emf_events = 0

    def status(self) -> dict[str, Any]:
        return {"alarms": sum(1 for _ in models.alarms()), "evaluations": self.evaluator.evaluations,
                "transitions": self.evaluator.transitions, "history_items": self.history.count(),
                "datapoints": self.metrics.count(), "emf_events": self.emf_events,
                "dashboards": self.dashboards.count()}

    # metric data from other stand-ins ----------------------------------------------------------
    def put_metric_data(self, account_id: str, region: str, namespace: str, data: list[dict]) -> int:
        """Store datapoints another stand-in produced (metric filters); no PutMetricData validation."""
        return self.metrics.put(account_id, region, namespace, data)

    def ingest_log_events(self, account_id: str, region: str, messages: list[str]) -> int:
        """CloudWatch Logs ingested these events: the embedded-metric-format ones become metrics (the rest,
        and invalid EMF, stay plain log events). Returns how many events carried valid EMF."""
        found = 0
        by_namespace: dict[str, list[dict]] = {}
        for message in messages:
            directives = emf.extract(message)
            if not directives:
                continue
            found += 1
            for namespace, data in directives:
                by_namespace.setdefault(namespace, []).extend(data)
        for namespace, data in by_namespace.items():   # one INSERT per namespace and batch
            if data:
                self.metrics.put(account_id, region, namespace, data)
        self.emf_events += found
        return found

    def control(self, action: str, payload: dict) -> dict | None:
        if action in ("clock", "evaluate"):  # the clock moved (or asked): evaluate every boundary crossed
            return {"evaluated_ticks": self.evaluator.catch_up()}
        return None

    def _route_event(self, account_id: str, region: str, event: dict) -> int:
        try:
            events = self.ctx.component("events")
        except KeyError:  # a local cloud without EventBridge routing: the event goes nowhere
            return 0
        return events.route_event(account_id, region, event)

    # the AWS port ----------------------------------------------------------------------------
    def matches(self, environ: dict) -> bool:
        return operation_of(environ) is not None

    def __call__(self, environ: dict, start_response: Callable):
        try:
            answer = self.responses.dispatch(operation_of(environ), environ)
        except AwsError as error:
            answer = error.response(CloudWatchError.wire)
        if isinstance(answer, Response):
            return answer(environ, start_response)
        status, headers, chunks = answer
        start_response(f"{status} {'OK' if status < 300 else 'Error'}", headers)
        return chunks
