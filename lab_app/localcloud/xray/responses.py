"""Parse X-Ray REST-JSON requests and serialise the answers; all logic lives in models.XRayBackend."""
from __future__ import annotations

from datetime import datetime
from typing import Any, Callable

from werkzeug.wrappers import Request, Response

from lab_app.localcloud.aws import validate
from lab_app.localcloud.aws.errors import AwsError
from lab_app.localcloud.aws.request import json_body
from lab_app.localcloud.aws.sigv4 import region_of
from lab_app.localcloud.component import json_response
from lab_app.localcloud.xray.exceptions import InvalidRequestException, XRayError
from lab_app.localcloud.xray.models import XRayBackend


def _timestamp(body: dict, key: str, required: bool = True) -> float | None:
    value = body.get(key)
    if value is None:
        if required:
            raise InvalidRequestException(f"{key} is required")
        return None
    if isinstance(value, bool):
        raise InvalidRequestException(f"{key} must be a timestamp")
    if isinstance(value, (int, float)):
        return float(value)
    try:
        return datetime.fromisoformat(str(value).replace("Z", "+00:00")).timestamp()
    except ValueError:
        raise InvalidRequestException(f"{key} must be a timestamp (epoch seconds or ISO 8601)") from None


def _required(body: dict, key: str, kind: type) -> Any:
    if key not in body:
        raise InvalidRequestException(f"1 validation error detected: Value null at '{key}' failed to satisfy constraint: Member must not be null")
    if not isinstance(body[key], kind):
        raise InvalidRequestException(f"{key} has the wrong type")
    return body[key]


def _optional(body: dict, key: str, kind: type | tuple) -> Any:
    value = body.get(key)
    if value is not None and (not isinstance(value, kind) or isinstance(value, bool) and kind is not bool):
        raise InvalidRequestException(f"{key} has the wrong type")
    return value


STRING_FIELDS = ("GroupName", "GroupARN", "FilterExpression", "RuleName", "RuleARN", "NextToken", "TimeRangeType")


class XRayResponse:
    def __init__(self, backend_for: Callable[[str], XRayBackend]):
        self.backend_for = backend_for

    def dispatch(self, environ: dict, operation: str) -> Response:
        try:
            body = json_body(Request(environ).get_data())
            model = validate.operation("xray", operation)
            if model is not None:       # botocore's model first, as AWS's front end does (aws/validate.py)
                validate.check(model, body, InvalidRequestException, type_error=InvalidRequestException)
            for key in STRING_FIELDS:
                _optional(body, key, str)
            _optional(body, "InsightsConfiguration", dict)
            _optional(body, "SamplingStrategy", dict)
            backend = self.backend_for(region_of(environ, "xray"))
            result = getattr(self, operation)(backend, body)
            return json_response(result if result is not None else {})
        except AwsError as exc:
            return exc.response(XRayError.wire)

    # --- traces ---------------------------------------------------------------------------------------
    def PutTraceSegments(self, backend: XRayBackend, body: dict) -> dict:
        docs = _required(body, "TraceSegmentDocuments", list)
        return {"UnprocessedTraceSegments": backend.put_trace_segments(docs)}

    def GetTraceSummaries(self, backend: XRayBackend, body: dict) -> dict:
        strategy = body.get("SamplingStrategy") or {}
        rate = None
        if body.get("Sampling") and strategy.get("Name") == "FixedRate":
            rate = float(strategy.get("Value", 1.0))
            if not 0 <= rate <= 1:
                raise InvalidRequestException("SamplingStrategy Value must be between 0 and 1")
        expression = body.get("FilterExpression")
        if expression is not None and not isinstance(expression, str):
            raise InvalidRequestException("FilterExpression must be a string")
        return backend.get_trace_summaries(_timestamp(body, "StartTime"), _timestamp(body, "EndTime"),
                                           body.get("TimeRangeType") or "TraceId", expression,
                                           body.get("NextToken"), rate)

    def BatchGetTraces(self, backend: XRayBackend, body: dict) -> dict:
        return backend.batch_get_traces(_required(body, "TraceIds", list))

    def GetServiceGraph(self, backend: XRayBackend, body: dict) -> dict:
        return backend.get_service_graph(_timestamp(body, "StartTime"), _timestamp(body, "EndTime"),
                                         body.get("GroupName"), body.get("GroupARN"))

    def GetTraceGraph(self, backend: XRayBackend, body: dict) -> dict:
        return backend.get_trace_graph(_required(body, "TraceIds", list))

    # --- groups -----------------------------------------------------------------------------------------
    def CreateGroup(self, backend: XRayBackend, body: dict) -> dict:
        return {"Group": backend.create_group(_required(body, "GroupName", str), body.get("FilterExpression"),
                                              body.get("InsightsConfiguration"))}

    def GetGroup(self, backend: XRayBackend, body: dict) -> dict:
        return {"Group": backend.get_group(body.get("GroupName"), body.get("GroupARN"))}

    def GetGroups(self, backend: XRayBackend, body: dict) -> dict:
        return backend.get_groups(body.get("NextToken"))

    def UpdateGroup(self, backend: XRayBackend, body: dict) -> dict:
        return {"Group": backend.update_group(body.get("GroupName"), body.get("GroupARN"),
                                              body.get("FilterExpression"), body.get("InsightsConfiguration"))}

    def DeleteGroup(self, backend: XRayBackend, body: dict) -> dict:
        backend.delete_group(body.get("GroupName"), body.get("GroupARN"))
        return {}

    # --- sampling -----------------------------------------------------------------------------------------
    def CreateSamplingRule(self, backend: XRayBackend, body: dict) -> dict:
        return {"SamplingRuleRecord": backend.create_sampling_rule(_required(body, "SamplingRule", dict))}

    def GetSamplingRules(self, backend: XRayBackend, body: dict) -> dict:
        return backend.get_sampling_rules()

    def UpdateSamplingRule(self, backend: XRayBackend, body: dict) -> dict:
        return {"SamplingRuleRecord": backend.update_sampling_rule(_required(body, "SamplingRuleUpdate", dict))}

    def DeleteSamplingRule(self, backend: XRayBackend, body: dict) -> dict:
        return {"SamplingRuleRecord": backend.delete_sampling_rule(body.get("RuleName"), body.get("RuleARN"))}

    # --- Transaction Search ------------------------------------------------------------------------------
    def GetTraceSegmentDestination(self, backend: XRayBackend, body: dict) -> dict:
        return backend.transaction_search.destination()

    def UpdateTraceSegmentDestination(self, backend: XRayBackend, body: dict) -> dict:
        return backend.transaction_search.update_destination(body.get("Destination"))

    def GetIndexingRules(self, backend: XRayBackend, body: dict) -> dict:
        return backend.transaction_search.get_indexing_rules(body.get("NextToken"))

    def UpdateIndexingRule(self, backend: XRayBackend, body: dict) -> dict:
        return backend.transaction_search.update_indexing_rule(body.get("Name"), body.get("Rule"))

    def GetSamplingTargets(self, backend: XRayBackend, body: dict) -> dict:
        return backend.get_sampling_targets(_required(body, "SamplingStatisticsDocuments", list))
