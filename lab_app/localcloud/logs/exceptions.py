"""CloudWatch Logs errors, rendered as ``{"__type": ..., "message": ...}`` so boto3 raises the real codes."""
from __future__ import annotations

from typing import Any

from lab_app.localcloud.aws.errors import JSON_11, AwsError


class LogsError(AwsError):
    code = "ServiceUnavailableException"
    wire = JSON_11


class ResourceNotFoundException(LogsError):
    code = "ResourceNotFoundException"


class ResourceAlreadyExistsException(LogsError):
    code = "ResourceAlreadyExistsException"


class InvalidParameterException(LogsError):
    code = "InvalidParameterException"

    @classmethod
    def constraint(cls, parameter: str, value: Any, constraint: str) -> "InvalidParameterException":
        return cls(f"1 validation error detected: Value '{value}' at '{parameter}' failed to satisfy "
                   f"constraint: {constraint}")


class LimitExceededException(LogsError):
    code = "LimitExceededException"


class DataAlreadyAcceptedException(LogsError):
    code = "DataAlreadyAcceptedException"


class InvalidOperationException(LogsError):
    code = "InvalidOperationException"


class UnrecognizedClientException(LogsError):
    code = "UnrecognizedClientException"


class MalformedQueryException(LogsError):
    """A query that does not parse or compile. Carries ``queryCompileError`` like AWS does."""

    code = "MalformedQueryException"

    def __init__(self, message: str, start: int = 0, end: int | None = None):
        end = start if end is None else end
        super().__init__(message, queryCompileError={
            "location": {"startCharOffset": start, "endCharOffset": end}, "message": message})
        self.start = start
        self.end = end


class UnknownOperationException(LogsError):
    code = "UnknownOperationException"


class ValidationException(LogsError):
    """What AWS answers for a member that breaks the model's pattern (e.g. a logGroupIdentifier ending in ``:*``)."""

    code = "ValidationException"

    @classmethod
    def constraint(cls, parameter: str, value: Any, constraint: str) -> "ValidationException":
        return cls(f"1 validation error detected: Value '{value}' at '{parameter}' failed to satisfy "
                   f"constraint: {constraint}")
