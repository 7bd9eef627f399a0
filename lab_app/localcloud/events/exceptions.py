"""EventBridge's error codes (JSON 1.1), so boto3 raises the ClientError codes AWS would."""
from __future__ import annotations

from lab_app.localcloud.aws.errors import JSON_11, AwsError


class EventsError(AwsError):
    wire = JSON_11


class InvalidEventPatternException(EventsError):
    code = "InvalidEventPatternException"


class ValidationException(EventsError):
    code = "ValidationException"
