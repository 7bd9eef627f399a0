"""CloudWatch's errors: JSON 1.0, query-compatible (botocore reads the code from ``x-amzn-query-error``)."""
from __future__ import annotations

from lab_app.localcloud.aws.errors import JSON_10_QUERY, AwsError


class CloudWatchError(AwsError):
    wire = JSON_10_QUERY


class ValidationError(CloudWatchError):
    code = "ValidationError"

    @classmethod
    def enum(cls, value, member: str, allowed) -> "ValidationError":
        return cls(f"1 validation error detected: Value '{value}' at '{member}' failed to satisfy constraint: "
                   f"Member must satisfy enum value set: [{', '.join(allowed)}]")


class InvalidNextToken(CloudWatchError):
    code = "InvalidNextToken"


class InvalidParameterValue(CloudWatchError):
    code = "InvalidParameterValue"


class MissingParameter(CloudWatchError):
    code = "MissingParameter"


class InvalidParameterCombination(CloudWatchError):
    code = "InvalidParameterCombination"


class ResourceNotFound(CloudWatchError):
    code = "ResourceNotFound"
    status = 404


class DashboardInvalidInputError(CloudWatchError):
    """PutDashboard's answer to a body CloudWatch rejects: the message and ``dashboardValidationMessages``."""

    code = "InvalidParameterInput"

    def __init__(self, message: str, messages: list[dict]):
        super().__init__(message, dashboardValidationMessages=messages)
