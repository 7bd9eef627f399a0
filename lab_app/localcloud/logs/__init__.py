"""CloudWatch Logs + Logs Insights stand-in (moto-style: urls / responses / models / exceptions).

The ``Logs`` component answers JSON 1.1 requests whose ``X-Amz-Target`` starts with ``Logs_20140328.``
on the AWS port. Other stand-ins deliver events with :meth:`Logs.deliver`.
"""
from __future__ import annotations

import re
from typing import Any, Callable

from werkzeug.wrappers import Request

from lab_app.localcloud.component import Component, json_response
from lab_app.localcloud.logs import exceptions as exc
from lab_app.localcloud.logs.models import ACCOUNT_ID, LogsBackend
from lab_app.localcloud.logs.responses import LogsResponses, parse_body
from lab_app.localcloud.logs.urls import TARGET_PREFIX, operation_of

_REGION = re.compile(r"Credential=[^/]+/\d{8}/([a-z0-9-]+)/")


def region_of(environ: dict) -> str:
    m = _REGION.search(environ.get("HTTP_AUTHORIZATION", ""))
    return m.group(1) if m else "us-east-1"


def publish_to_moto_cloudwatch(region: str, namespace: str, metric_data: list[dict]) -> None:
    """Metric-filter values land in moto's CloudWatch backend (same process), so get_metric_statistics sees them."""
    from moto.cloudwatch.models import cloudwatch_backends

    cloudwatch_backends[ACCOUNT_ID][region].put_metric_data(namespace, metric_data)


class Logs(Component):
    name = "logs"

    def __init__(self, cloud):
        super().__init__(cloud)
        self.backend = LogsBackend(self.store, cloud.clock, publish_to_moto_cloudwatch)
        self.responses = LogsResponses(self.backend)

    def setup(self) -> None:
        self.backend.setup()

    def stop(self) -> None:
        self.backend.shutdown()

    def reset(self) -> None:
        self.backend.reset()

    def status(self) -> dict[str, Any]:
        return self.backend.status()

    def matches(self, environ: dict) -> bool:
        return environ.get("HTTP_X_AMZ_TARGET", "").startswith(TARGET_PREFIX)

    def __call__(self, environ: dict, start_response: Callable):
        operation = operation_of(environ) or ""
        try:
            handler = self.responses.handler(operation)
            if handler is None:
                raise exc.UnknownOperationException(f"Operation {operation} is not supported by the local cloud.")
            request = Request(environ)
            body = parse_body(request.get_data())
            result = handler(region_of(environ), body)
            response = json_response(result, content_type="application/x-amz-json-1.1")
        except exc.LogsError as error:
            response = error.response()
        except Exception as error:  # never a bare 500 without an AWS-shaped body
            self.log.exception("%s failed", operation)
            response = exc.LogsError(f"Internal error in the local CloudWatch Logs: {error}").response()
            response.status_code = 500
        return response(environ, start_response)

    # ---- for other stand-ins ----------------------------------------------------------------------
    def deliver(self, log_group_name: str, log_stream_name: str, events: list[dict],
                region: str = "us-east-1") -> int:
        """Store events (dicts with ``timestamp`` in ms and ``message``) in an existing log group.

        Creates the stream when missing, applies the group's metric filters, returns how many were stored.
        Raises ``ResourceNotFoundException`` when the group does not exist.
        """
        return self.backend.deliver(region, log_group_name, log_stream_name, events)

    def control(self, action: str, payload: dict) -> dict | None:
        if action == "status":
            return self.status()
        return None
