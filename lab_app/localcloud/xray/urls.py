"""The X-Ray REST paths (all POST) and the operation each one is (botocore's xray-2016-04-12 model)."""
from __future__ import annotations

url_paths = {
    "/TraceSegments": "PutTraceSegments",
    "/TraceSummaries": "GetTraceSummaries",
    "/Traces": "BatchGetTraces",
    "/ServiceGraph": "GetServiceGraph",
    "/TraceGraph": "GetTraceGraph",
    "/CreateGroup": "CreateGroup",
    "/GetGroup": "GetGroup",
    "/Groups": "GetGroups",
    "/UpdateGroup": "UpdateGroup",
    "/DeleteGroup": "DeleteGroup",
    "/CreateSamplingRule": "CreateSamplingRule",
    "/GetSamplingRules": "GetSamplingRules",
    "/UpdateSamplingRule": "UpdateSamplingRule",
    "/DeleteSamplingRule": "DeleteSamplingRule",
    "/SamplingTargets": "GetSamplingTargets",
    "/GetTraceSegmentDestination": "GetTraceSegmentDestination",
    "/UpdateTraceSegmentDestination": "UpdateTraceSegmentDestination",
    "/GetIndexingRules": "GetIndexingRules",
    "/UpdateIndexingRule": "UpdateIndexingRule",
    # --- issue 17: the other 19 operations of the model ---
    "/TelemetryRecords": "PutTelemetryRecords",
    "/TimeSeriesServiceStatistics": "GetTimeSeriesServiceStatistics",
    "/SamplingStatisticSummaries": "GetSamplingStatisticSummaries",
    "/TagResource": "TagResource",
    "/UntagResource": "UntagResource",
    "/ListTagsForResource": "ListTagsForResource",
    "/EncryptionConfig": "GetEncryptionConfig",
    "/PutEncryptionConfig": "PutEncryptionConfig",
    "/PutResourcePolicy": "PutResourcePolicy",
    "/ListResourcePolicies": "ListResourcePolicies",
    "/DeleteResourcePolicy": "DeleteResourcePolicy",
    "/StartTraceRetrieval": "StartTraceRetrieval",
    "/ListRetrievedTraces": "ListRetrievedTraces",
    "/GetRetrievedTracesGraph": "GetRetrievedTracesGraph",
    "/CancelTraceRetrieval": "CancelTraceRetrieval",
    "/InsightSummaries": "GetInsightSummaries",
    "/Insight": "GetInsight",
    "/InsightEvents": "GetInsightEvents",
    "/InsightImpactGraph": "GetInsightImpactGraph",
}

# The only two the X-Ray daemon's TCP side answers (the SDK's centralized sampling calls).
daemon_paths = {"/GetSamplingRules": "GetSamplingRules", "/SamplingTargets": "GetSamplingTargets"}

# X-Ray's OTLP traces endpoint (Transaction Search): OTLP/HTTP, not an operation of the model.
OTLP_TRACES_PATH = "/v1/traces"


def is_xray_path(path: str) -> bool:
    """A path X-Ray serves on the AWS port: its REST operations and its OTLP endpoint (routed by path, signed or
    not)."""
    return path in url_paths or path == OTLP_TRACES_PATH
