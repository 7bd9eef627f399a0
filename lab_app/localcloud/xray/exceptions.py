"""X-Ray's error shapes: rest-json bodies botocore turns into the ClientError codes AWS would raise."""
from __future__ import annotations

from lab_app.localcloud.component import aws_json_error


class XRayError(Exception):
    code = "InvalidRequestException"
    status = 400

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message

    def response(self):
        return aws_json_error(self.code, self.message, self.status, amz_json=False)


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
