"""CloudTrail's error codes (JSON 1.1), so boto3 raises the ClientError codes AWS would."""
from __future__ import annotations

from lab_app.localcloud.aws.errors import JSON_11, AwsError


class CloudTrailError(AwsError):
    wire = JSON_11


class InvalidLookupAttributesException(CloudTrailError):
    code = "InvalidLookupAttributesException"


class InvalidMaxResultsException(CloudTrailError):
    code = "InvalidMaxResultsException"


class InvalidTimeRangeException(CloudTrailError):
    code = "InvalidTimeRangeException"


class InvalidEventCategoryException(CloudTrailError):
    code = "InvalidEventCategoryException"


class InvalidNextTokenException(CloudTrailError):
    code = "InvalidNextTokenException"
