"""The ``securityhub`` component: the hub, findings in ASFF (GuardDuty's imported as they are created), and a
"Security Hub Findings - Imported" event on the default EventBridge bus for every import and update."""
from __future__ import annotations

from typing import Any, Callable
from urllib.parse import parse_qsl

from lab_app.localcloud.aws import request
from lab_app.localcloud.aws.errors import AwsError
from lab_app.localcloud.aws.sigv4 import parse_scope
from lab_app.localcloud.component import Component, json_response
from lab_app.localcloud.securityhub.exceptions import SecurityHubError
from lab_app.localcloud.securityhub.models import SecurityHubBackend
from lab_app.localcloud.securityhub.responses import SecurityHubResponse
from lab_app.localcloud.securityhub.urls import operation_of

SOURCE = "aws.securityhub"
DETAIL_TYPE = "Security Hub Findings - Imported"


class SecurityHub(Component):
    name = "securityhub"

    def __init__(self, ctx):
        super().__init__(ctx)
        self.backend = SecurityHubBackend(self.store, clock=self.clock.now)
        self.backend.hooks.append(self._publish)
        self.responses = SecurityHubResponse(self.backend)
        self.published = 0

    def setup(self) -> None:
        self.backend.setup()

    def status(self) -> dict[str, Any]:
        return {"findings": self.store.count("securityhub_findings"), "events_published": self.published}

    def import_guardduty(self, account: str, region: str, findings: list[dict]) -> bool:
        """GuardDuty's integration: new or updated GuardDuty findings (wire format) arrive in ASFF when the hub is
        on (one batch per GuardDuty call)."""
        return self.backend.import_guardduty(account, region, findings)

    def _publish(self, account: str, region: str, finding: dict) -> None:
        try:
            events = self.ctx.component("events")
        except KeyError:
            return
        events.emit(SOURCE, DETAIL_TYPE, {"findings": [finding]}, account, region, resources=[finding["Id"]])
        self.published += 1

    # the AWS port ----------------------------------------------------------------------------
    def matches(self, environ: dict) -> bool:
        scope = parse_scope(environ.get("HTTP_AUTHORIZATION", ""))
        if scope is None or scope.service != "securityhub":
            return False
        return operation_of(environ.get("REQUEST_METHOD", "GET"), environ.get("PATH_INFO", "")) is not None

    def __call__(self, environ: dict, start_response: Callable):
        operation = operation_of(environ.get("REQUEST_METHOD", "GET"), environ.get("PATH_INFO", ""))
        try:
            body = request.json_body(request.read_body(environ))
            query = dict(parse_qsl(environ.get("QUERY_STRING", "")))
            account, region = request.caller(environ)
            response = json_response(self.responses.dispatch(operation, account, region, query, body))
        except AwsError as error:
            response = error.response(SecurityHubError.wire)
        return response(environ, start_response)
