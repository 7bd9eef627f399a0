"""The ``logs`` component: CloudWatch Logs JSON 1.1 requests (``X-Amz-Target: Logs_20140328.*``) on the AWS
port; other stand-ins deliver events with :meth:`Logs.deliver`. Metric-filter values and embedded-metric-format
events go to CloudWatch's metric store (the ``alarms`` component) as they are ingested."""
from __future__ import annotations

from typing import Any, Callable

from werkzeug.wrappers import Response

from lab_app import config
from lab_app.localcloud.aws import request, validate
from lab_app.localcloud.aws.errors import AwsError
from lab_app.localcloud.aws.sigv4 import region_of
from lab_app.localcloud.component import Component, json_response
from lab_app.localcloud.logs import exceptions as exc
from lab_app.localcloud.logs.anomaly_detectors import AnomalyDetectors
from lab_app.localcloud.logs.deliveries import Deliveries
from lab_app.localcloud.logs.destinations import Destinations
from lab_app.localcloud.logs.exports import ExportTasks
from lab_app.localcloud.logs.fields import Fields
from lab_app.localcloud.logs.group_settings import GroupSettings
from lab_app.localcloud.logs.index_policies import IndexPolicies
from lab_app.localcloud.logs.insights.to_sql import EVENTS_TABLE
from lab_app.localcloud.logs.live_tail import LiveTail
from lab_app.localcloud.logs.models import LogsBackend
from lab_app.localcloud.logs.query_definitions import QueryDefinitions
from lab_app.localcloud.logs.resource_policies import ResourcePolicies
from lab_app.localcloud.logs.responses import CALLER, LogsResponses
from lab_app.localcloud.logs.subscriptions import Subscriptions
from lab_app.localcloud.logs.transformers import Transformers
from lab_app.localcloud.logs.urls import TARGET_PREFIX, operation_of


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
        self.backend = LogsBackend(self.store, self.clock, self._publish_metrics, self._ingested)
        self.resource_policies = ResourcePolicies(self.store, self.backend.now_ms)
        self.responses = LogsResponses(self.backend, self.resource_policies)
        # subscriptions, destinations, export tasks, group settings, live tail (issue 17, i17-logsa)
        require = self.backend._require_group
        self.destinations = Destinations(self.store, self.backend.now_ms, lambda target, role: None)
        self.subscriptions = Subscriptions(self.store, self.backend.now_ms, require, self.destinations.target_of,
                                           self.log.getChild("subscriptions"), self._publish_metrics)
        self.destinations.check_target = self.subscriptions.check_target
        self.exports = ExportTasks(self.store, self.backend.now_ms, require, EVENTS_TABLE, config.ACCOUNT_ID,
                                   self.log.getChild("exports"))
        self.group_settings = GroupSettings(self.store, require, self.backend._group_changed)
        self.live_tail = LiveTail(self.store, self.backend.now_ms, require, EVENTS_TABLE)
        self.backend.on_stored += [self.subscriptions.stored, self.live_tail.stored]
        self.responses.subscriptions, self.responses.destinations = self.subscriptions, self.destinations
        self.responses.exports, self.responses.group_settings = self.exports, self.group_settings
        self.responses.live_tail = self.live_tail
        self.responses.deliveries = self.deliveries = Deliveries(self.store, self.backend.now_ms)
        # Insights discovery and saved queries: query_definitions, fields, index_policies (filterIndex reads them)
        self.query_definitions = QueryDefinitions(self.store, self.backend.now_ms)
        self.index_policies = IndexPolicies(self.store, self.backend)
        self.responses.query_definitions = self.query_definitions
        self.responses.fields = Fields(self.store, self.backend)
        self.responses.index_policies = self.index_policies
        self.backend.indexed_on = self.index_policies.indexed_on
        self.anomaly_detectors = AnomalyDetectors(self.store, self.backend)
        self.responses.anomaly_detectors = self.anomaly_detectors
        self.transformers = Transformers(self.store, self.backend)
        self.responses.transformers = self.transformers
        self.backend.transform = self.transformers.apply

    def setup(self) -> None:
        self.backend.setup()
        self.resource_policies.setup()
        for part in (self.destinations, self.subscriptions, self.exports, self.group_settings, self.deliveries):
            part.setup()
        self.query_definitions.setup()   # Insights discovery and saved queries
        self.index_policies.setup()
        self.anomaly_detectors.setup()
        self.transformers.setup()

    def start(self) -> None:
        self.subscriptions.start()
        self.exports.start()

    def flush_pending(self, timeout: float) -> bool:
        return self.backend.settle_queries(timeout) & self.subscriptions.drain(timeout)

    # ---- to CloudWatch (the ``alarms`` component keeps the metric store) ---------------------------
    def _cloudwatch(self):
        try:
            return self.ctx.component("alarms")
        except KeyError:  # a local cloud without CloudWatch: metrics go nowhere
            return None

    def _publish_metrics(self, region: str, namespace: str, metric_data: list[dict]) -> None:
        """Metric-filter values become CloudWatch datapoints (GetMetricStatistics and alarms see them)."""
        cloudwatch = self._cloudwatch()
        if cloudwatch is not None:
            cloudwatch.put_metric_data(config.ACCOUNT_ID, region, namespace, metric_data)

    def _ingested(self, region: str, messages: list[str]) -> None:
        """Every stored event goes past CloudWatch's embedded-metric-format extraction."""
        cloudwatch = self._cloudwatch()
        if cloudwatch is not None:
            cloudwatch.ingest_log_events(config.ACCOUNT_ID, region, messages)

    def stop(self) -> None:
        self.live_tail.stop()
        self.subscriptions.stop()
        self.exports.stop()
        self.backend.shutdown()

    def reset(self) -> None:
        self.backend.reset()
        self.subscriptions.reset()

    def status(self) -> dict[str, Any]:
        return {**self.backend.status(), **self.subscriptions.status(), **self.live_tail.status()}

    def matches(self, environ: dict) -> bool:
        return environ.get("HTTP_X_AMZ_TARGET", "").startswith(TARGET_PREFIX)

    def __call__(self, environ: dict, start_response: Callable):
        operation = operation_of(environ) or ""
        try:
            handler = self.responses.handler(operation)
            if handler is None:
                raise exc.UnknownOperationException(f"Operation {operation} is not supported by the local cloud.")
            body = request.json_body(request.read_body(environ))
            model = validate.operation("logs", operation)
            if model is not None:
                # the newer APIs (deliveries) list ValidationException, not InvalidParameterException, in the model
                errors = {e.name for e in model.error_shapes}
                newer = "ValidationException" in errors and "InvalidParameterException" not in errors
                validate.check(model, body, exc.ValidationException if newer else exc.model_violation)
            token = CALLER.set(_caller(environ))
            try:
                result = handler(region_of(environ), body)
            finally:
                CALLER.reset(token)
            response = result if isinstance(result, Response) else \
                json_response(result, content_type="application/x-amz-json-1.1")
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

    def ensure_group(self, log_group_name: str, region: str = config.REGION) -> bool:
        """Create a log group a service owns (X-Ray's ``aws/spans``) unless it exists; True when created."""
        try:
            self.backend.create_log_group(region, log_group_name)
        except exc.ResourceAlreadyExistsException:
            return False
        return True

    def control(self, action: str, payload: dict) -> dict | None:
        if action == "status":
            return self.status()
        if action == "subscriptions":   # LOCAL ONLY: deliveries, failures, what Lambda targets were invoked with
            self.subscriptions.drain()
            return {**self.subscriptions.status(), "errors": dict(self.subscriptions.last_error),
                    "lambda_payloads": list(self.subscriptions.lambda_payloads)}
        return None
