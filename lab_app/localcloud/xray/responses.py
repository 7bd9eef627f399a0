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
from lab_app.localcloud.xray.tags import validate_tags


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
        tags = validate_tags(body.get("Tags"))   # issue 17: checked before the group exists, stored with it
        group = backend.create_group(_required(body, "GroupName", str), body.get("FilterExpression"),
                                     body.get("InsightsConfiguration"))
        backend.tags.replace(group["GroupARN"], tags)
        return {"Group": group}

    def GetGroup(self, backend: XRayBackend, body: dict) -> dict:
        return {"Group": backend.get_group(body.get("GroupName"), body.get("GroupARN"))}

    def GetGroups(self, backend: XRayBackend, body: dict) -> dict:
        return backend.get_groups(body.get("NextToken"))

    def UpdateGroup(self, backend: XRayBackend, body: dict) -> dict:
        return {"Group": backend.update_group(body.get("GroupName"), body.get("GroupARN"),
                                              body.get("FilterExpression"), body.get("InsightsConfiguration"))}

    def DeleteGroup(self, backend: XRayBackend, body: dict) -> dict:
        arn = backend.get_group(body.get("GroupName"), body.get("GroupARN"))["GroupARN"]   # issue 17: its tags go too
        backend.delete_group(body.get("GroupName"), body.get("GroupARN"))
        backend.tags.forget(arn)
        return {}

    # --- sampling -----------------------------------------------------------------------------------------
    def CreateSamplingRule(self, backend: XRayBackend, body: dict) -> dict:
        tags = validate_tags(body.get("Tags"))   # issue 17
        record = backend.create_sampling_rule(_required(body, "SamplingRule", dict))
        backend.tags.replace(record["SamplingRule"]["RuleARN"], tags)
        return {"SamplingRuleRecord": record}

    def GetSamplingRules(self, backend: XRayBackend, body: dict) -> dict:
        return backend.get_sampling_rules()

    def UpdateSamplingRule(self, backend: XRayBackend, body: dict) -> dict:
        return {"SamplingRuleRecord": backend.update_sampling_rule(_required(body, "SamplingRuleUpdate", dict))}

    def DeleteSamplingRule(self, backend: XRayBackend, body: dict) -> dict:
        record = backend.delete_sampling_rule(body.get("RuleName"), body.get("RuleARN"))
        backend.tags.forget(record["SamplingRule"]["RuleARN"])   # issue 17
        return {"SamplingRuleRecord": record}

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
        documents = _required(body, "SamplingStatisticsDocuments", list)
        answer = backend.get_sampling_targets(documents)
        backend.sampling_statistics.record(documents)   # issue 17: for GetSamplingStatisticSummaries
        return answer

    # --- issue 17: the other 19 operations (logic in tags, encryption, resource_policies, telemetry, -------
    # --- sampling_statistics, statistics, retrieval, insights) --------------------------------------------
    def PutTelemetryRecords(self, backend: XRayBackend, body: dict) -> dict:
        return backend.telemetry.put(_required(body, "TelemetryRecords", list), body.get("EC2InstanceId"),
                                     body.get("Hostname"), body.get("ResourceARN"))

    def GetTimeSeriesServiceStatistics(self, backend: XRayBackend, body: dict) -> dict:
        return backend.time_series.get(_timestamp(body, "StartTime"), _timestamp(body, "EndTime"),
                                       body.get("GroupName"), body.get("GroupARN"),
                                       body.get("EntitySelectorExpression"), body.get("Period"),
                                       body.get("ForecastStatistics"), body.get("NextToken"))

    def GetSamplingStatisticSummaries(self, backend: XRayBackend, body: dict) -> dict:
        return backend.sampling_statistics.summaries(body.get("NextToken"))

    def TagResource(self, backend: XRayBackend, body: dict) -> dict:
        backend.tags.tag(body.get("ResourceARN"), _required(body, "Tags", list))
        return {}

    def UntagResource(self, backend: XRayBackend, body: dict) -> dict:
        backend.tags.untag(body.get("ResourceARN"), _required(body, "TagKeys", list))
        return {}

    def ListTagsForResource(self, backend: XRayBackend, body: dict) -> dict:
        return backend.tags.list(body.get("ResourceARN"), body.get("NextToken"))

    def GetEncryptionConfig(self, backend: XRayBackend, body: dict) -> dict:
        return backend.encryption.get()

    def PutEncryptionConfig(self, backend: XRayBackend, body: dict) -> dict:
        return backend.encryption.put(body.get("Type"), body.get("KeyId"))

    def PutResourcePolicy(self, backend: XRayBackend, body: dict) -> dict:
        return backend.resource_policies.put(body.get("PolicyName"), body.get("PolicyDocument"),
                                             body.get("PolicyRevisionId"), body.get("BypassPolicyLockoutCheck"))

    def ListResourcePolicies(self, backend: XRayBackend, body: dict) -> dict:
        return backend.resource_policies.list(body.get("NextToken"))

    def DeleteResourcePolicy(self, backend: XRayBackend, body: dict) -> dict:
        return backend.resource_policies.delete(body.get("PolicyName"), body.get("PolicyRevisionId"))

    def StartTraceRetrieval(self, backend: XRayBackend, body: dict) -> dict:
        return backend.retrieval.start(_required(body, "TraceIds", list), _timestamp(body, "StartTime"),
                                       _timestamp(body, "EndTime"))

    def ListRetrievedTraces(self, backend: XRayBackend, body: dict) -> dict:
        return backend.retrieval.list(body.get("RetrievalToken"), body.get("TraceFormat"), body.get("NextToken"))

    def GetRetrievedTracesGraph(self, backend: XRayBackend, body: dict) -> dict:
        return backend.retrieval.graph(body.get("RetrievalToken"), body.get("NextToken"))

    def CancelTraceRetrieval(self, backend: XRayBackend, body: dict) -> dict:
        return backend.retrieval.cancel(body.get("RetrievalToken"))

    def GetInsightSummaries(self, backend: XRayBackend, body: dict) -> dict:
        return backend.insights.summaries(_timestamp(body, "StartTime"), _timestamp(body, "EndTime"),
                                          body.get("GroupName"), body.get("GroupARN"), body.get("States"),
                                          body.get("MaxResults"), body.get("NextToken"))

    def GetInsight(self, backend: XRayBackend, body: dict) -> dict:
        return backend.insights.get(body.get("InsightId"))

    def GetInsightEvents(self, backend: XRayBackend, body: dict) -> dict:
        return backend.insights.events(body.get("InsightId"), body.get("MaxResults"), body.get("NextToken"))

    def GetInsightImpactGraph(self, backend: XRayBackend, body: dict) -> dict:
        return backend.insights.impact_graph(body.get("InsightId"), _timestamp(body, "StartTime"),
                                             _timestamp(body, "EndTime"), body.get("NextToken"))
