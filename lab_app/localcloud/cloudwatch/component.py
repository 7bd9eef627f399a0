"""The ``alarms`` component: CloudWatch alarm evaluation for the local cloud (moto stores alarms but never
evaluates them). PutMetricAlarm, DescribeAlarms and the metric data stay in moto's ``cloudwatch`` backend;
this component reads them in-process and does what CloudWatch does with them.

Not evaluated: metric-math alarms (``Metrics=[...]``) and anomaly-detection comparison operators (they
stay INSUFFICIENT_DATA), and composite alarms (PutCompositeAlarm is left to moto). Only the JSON protocol
that boto3/awscli use is intercepted.
"""
from __future__ import annotations

from typing import Any, Callable

from werkzeug.wrappers import Response

from lab_app.localcloud.aws.errors import AwsError
from lab_app.localcloud.cloudwatch import models
from lab_app.localcloud.cloudwatch.evaluator import AlarmEvaluator
from lab_app.localcloud.cloudwatch.exceptions import CloudWatchError
from lab_app.localcloud.cloudwatch.history import AlarmHistory
from lab_app.localcloud.cloudwatch.responses import CloudWatchResponses
from lab_app.localcloud.cloudwatch.urls import operation_of
from lab_app.localcloud.component import Component


class CloudWatch(Component):
    name = "alarms"

    def __init__(self, ctx):
        super().__init__(ctx)
        self.history = AlarmHistory(self.store)
        self.evaluator = AlarmEvaluator(self.clock, self.history, self.log, ctx.flush_pending, self._route_event)
        self.responses = CloudWatchResponses(self.evaluator, self.history, lambda: self.ctx.moto, self.clock)

    # lifecycle -----------------------------------------------------------------------------
    def setup(self) -> None:
        self.clock.not_before(self.history.setup())

    def start(self) -> None:
        self.evaluator.start()

    def stop(self) -> None:
        self.evaluator.stop()

    def reset(self) -> None:
        with self.evaluator.lock:
            self.history.reset()

    def status(self) -> dict[str, Any]:
        return {"alarms": sum(1 for _ in models.alarms()), "evaluations": self.evaluator.evaluations,
                "transitions": self.evaluator.transitions, "history_items": self.history.count()}

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
