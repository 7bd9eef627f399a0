"""X-Ray's error shapes: rest-json bodies botocore turns into the ClientError codes AWS would raise."""
from __future__ import annotations

from lab_app.localcloud.aws.errors import REST_JSON, AwsError


class XRayError(AwsError):
    code = "InvalidRequestException"
    wire = REST_JSON  # X-Ray is rest-json


class InvalidRequestException(XRayError):
    code = "InvalidRequestException"


class RuleLimitExceededException(XRayError):
    code = "RuleLimitExceededException"


class ThrottledException(XRayError):
    code = "ThrottledException"
    status = 429


class ResourceNotFoundException(XRayError):
    code = "ResourceNotFoundException"
    status = 404


class SerializationException(XRayError):
    """Body that is not JSON at all (what API Gateway-fronted AWS services answer)."""
    code = "SerializationException"


# --- issue 17: tags, resource policies (the model's own error shapes, all HTTP 400) ----------------------------
class TooManyTagsException(XRayError):
    code = "TooManyTagsException"


class InvalidPolicyRevisionIdException(XRayError):
    code = "InvalidPolicyRevisionIdException"


class MalformedPolicyDocumentException(XRayError):
    code = "MalformedPolicyDocumentException"


class PolicyCountLimitExceededException(XRayError):
    code = "PolicyCountLimitExceededException"


class PolicySizeLimitExceededException(XRayError):
    code = "PolicySizeLimitExceededException"
