"""The ``guardduty`` component: detectors and findings on the AWS port (REST-JSON, signing name ``guardduty``);
each new finding goes to the default EventBridge bus as a "GuardDuty Finding" event and, when Security Hub is
enabled, into Security Hub in ASFF."""
from __future__ import annotations

from typing import Any, Callable
from urllib.parse import parse_qsl

from lab_app.localcloud.aws import request
from lab_app.localcloud.aws.errors import AwsError, SerializationException
from lab_app.localcloud.aws.sigv4 import parse_scope
from lab_app.localcloud.component import Component, json_response
from lab_app.localcloud.guardduty.exceptions import GuardDutyError, invalid_input
from lab_app.localcloud.guardduty.models import GuardDutyBackend
from lab_app.localcloud.guardduty.responses import GuardDutyResponse
from lab_app.localcloud.guardduty.urls import route

SOURCE = "aws.guardduty"
DETAIL_TYPE = "GuardDuty Finding"


class GuardDuty(Component):
    name = "guardduty"

    def __init__(self, ctx):
        super().__init__(ctx)
        self.backend = GuardDutyBackend(self.store, clock=self.clock.now)
        self.backend.hooks.append(self._publish)
        self.backend.update_hooks.append(self._to_security_hub)
        self.responses = GuardDutyResponse(self.backend)
        self.published = 0

    def setup(self) -> None:
        self.backend.setup()

    def status(self) -> dict[str, Any]:
        return {"findings": self.store.count("guardduty_findings"), "events_published": self.published}

    def _publish(self, account: str, region: str, findings: list[dict]) -> None:
        try:
            events = self.ctx.component("events")
        except KeyError:  # no EventBridge in this local cloud
            events = None
        if events is not None:
            for finding in findings:
                events.emit(SOURCE, DETAIL_TYPE, finding, account, region)
                self.published += 1
        self._to_security_hub(account, region, findings)

    def _to_security_hub(self, account: str, region: str, findings: list[dict]) -> None:
        """GuardDuty's Security Hub integration: new and archived findings go there (when the hub is on)."""
        try:
            hub = self.ctx.component("securityhub")
        except KeyError:
            return
        hub.import_guardduty(account, region, findings)

    # the AWS port ----------------------------------------------------------------------------
    def matches(self, environ: dict) -> bool:
        scope = parse_scope(environ.get("HTTP_AUTHORIZATION", ""))
        if scope is None or scope.service != "guardduty":
            return False
        return route(environ.get("REQUEST_METHOD", "GET"), environ.get("PATH_INFO", "")) is not None

    def __call__(self, environ: dict, start_response: Callable):
        operation, path = route(environ.get("REQUEST_METHOD", "GET"), environ.get("PATH_INFO", ""))
        try:
            body = request.json_body(request.read_body(environ))
            query = dict(parse_qsl(environ.get("QUERY_STRING", "")))
            account, region = request.caller(environ)
            response = json_response(self.responses.dispatch(operation, account, region, path, query, body))
        except SerializationException:  # GuardDuty's model has BadRequestException for every bad request
            response = invalid_input("The request is rejected because the JSON could not be processed.").response()
        except AwsError as error:
            response = error.response(GuardDutyError.wire)
        return response(environ, start_response)
