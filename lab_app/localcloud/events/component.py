"""The ``events`` component: EventBridge routing for every event in the local cloud (alarms, GuardDuty, Security
Hub, PutEvents) and the operations that need our pattern matcher (PutEvents, TestEventPattern, PutRule's
validation); moto serves the rest of the EventBridge API (rules, targets, buses)."""
from __future__ import annotations

from typing import Any, Callable

from lab_app.localcloud.aws import request, validate
from lab_app.localcloud.aws.errors import AwsError
from lab_app.localcloud.component import Component, json_response
from lab_app.localcloud.events import responses
from lab_app.localcloud.events.exceptions import EventsError
from lab_app.localcloud.events.models import EventRouter, make_event
from lab_app.localcloud.events.urls import operation_of

JSON_11 = "application/x-amz-json-1.1"


class EventBridge(Component):
    name = "events"

    def __init__(self, ctx):
        super().__init__(ctx)
        self.router = EventRouter(self._to_logs, lambda: int(self.clock.now() * 1000), self.log)

    def _to_logs(self, group: str, stream: str, events: list[dict], region: str) -> int:
        return self.ctx.component("logs").deliver(group, stream, events, region=region)

    def route_event(self, account_id: str, region: str, event: dict) -> int:
        return self.router.route_event(account_id, region, event)

    def emit(self, source: str, detail_type: str, detail: dict, account_id: str, region: str,
             resources: list[str] | None = None) -> dict:
        """Put an AWS service's event on the default bus (what GuardDuty and Security Hub call)."""
        event = make_event(source, detail_type, detail, account_id, region, self.clock.now(), resources)
        self.router.route_event(account_id, region, event)
        return event

    def status(self) -> dict[str, Any]:
        return {"delivered": self.router.delivered, "failed": self.router.failed}

    # the AWS port ----------------------------------------------------------------------------
    def matches(self, environ: dict) -> bool:
        return operation_of(environ) is not None

    def __call__(self, environ: dict, start_response: Callable):
        operation = operation_of(environ)
        try:
            params = request.json_body(request.read_body(environ))
            validate.check_types("events", operation, params)
            if operation == "PutRule":
                responses.check_put_rule(params)
                return self.ctx.moto(environ, start_response)
            if operation == "TestEventPattern":
                body = responses.test_event_pattern(params)
            else:
                account_id, region = request.caller(environ)
                body = responses.put_events(self.router, account_id, region, self.clock.now(), params)
            response = json_response(body, content_type=JSON_11)
        except AwsError as error:
            response = error.response(EventsError.wire)
        return response(environ, start_response)
