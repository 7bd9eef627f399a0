"""The ``logs`` component: CloudWatch Logs JSON 1.1 requests (``X-Amz-Target: Logs_20140328.*``) on the AWS
port; other stand-ins deliver events with :meth:`Logs.deliver`."""
from __future__ import annotations

from typing import Any, Callable

from lab_app import config
from lab_app.localcloud.aws import request
from lab_app.localcloud.aws.errors import AwsError
from lab_app.localcloud.aws.sigv4 import region_of
from lab_app.localcloud.component import Component, json_response
from lab_app.localcloud.logs import exceptions as exc
from lab_app.localcloud.logs.models import LogsBackend
from lab_app.localcloud.logs.responses import CALLER, LogsResponses
from lab_app.localcloud.logs.urls import TARGET_PREFIX, operation_of


def publish_to_moto_cloudwatch(region: str, namespace: str, metric_data: list[dict]) -> None:
    """Metric-filter values land in moto's CloudWatch backend (same process), so get_metric_statistics sees them."""
    from moto.cloudwatch.models import cloudwatch_backends

    cloudwatch_backends[config.ACCOUNT_ID][region].put_metric_data(namespace, metric_data)


def _caller(environ: dict) -> Callable[[str, str], None]:
    """Checks a permission of this request's caller inside an operation (logs:Unmask), with the IAM check's rules."""
    def check(action: str, resource: str) -> None:
        from lab_app.localcloud.iam import denial

        error = denial(environ, action, resource)
        if error is not None:
            raise error
    return check


class Logs(Component):
    name = "logs"

    def __init__(self, ctx):
        super().__init__(ctx)
        self.backend = LogsBackend(self.store, self.clock, publish_to_moto_cloudwatch)
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
            token = CALLER.set(_caller(environ))
            try:
                result = handler(region_of(environ), request.json_body(request.read_body(environ)))
            finally:
                CALLER.reset(token)
            response = json_response(result, content_type="application/x-amz-json-1.1")
        except AwsError as error:
            response = error.response(exc.LogsError.wire)
        except Exception as error:  # never a bare 500 without an AWS-shaped body
            self.log.exception("%s failed", operation)
            response = exc.LogsError(f"Internal error in the local CloudWatch Logs: {error}", status=500).response()
        return response(environ, start_response)

    # ---- for other stand-ins ----------------------------------------------------------------------
    def deliver(self, log_group_name: str, log_stream_name: str, events: list[dict],
                region: str = config.REGION) -> int:
        """Store events (dicts with ``timestamp`` in ms and ``message``) in an existing log group.

        Creates the stream when missing, applies the group's metric filters, returns how many were stored.
        Raises ``ResourceNotFoundException`` when the group does not exist.
        """
        return self.backend.deliver(region, log_group_name, log_stream_name, events)

    def control(self, action: str, payload: dict) -> dict | None:
        if action == "status":
            return self.status()
        return None
