"""GuardDuty's errors (rest-json): ``BadRequestException`` (400) whose body names the cause in ``__type``
(``InvalidInputException``) and ``message``, as GuardDuty answers; botocore takes the code from the
``x-amzn-ErrorType`` header and the modeled ``Message`` / ``Type`` members from the body."""
from __future__ import annotations

from lab_app.localcloud.aws.errors import REST_JSON, AwsError


class GuardDutyError(AwsError):
    wire = REST_JSON


class BadRequestException(GuardDutyError):
    code = "BadRequestException"
    status = 400

    def __init__(self, message: str, kind: str = "InvalidInputException"):
        super().__init__(message, type=kind)
        self.kind = kind

    def response(self, wire=None, request_id=None):
        answer = super().response(wire, request_id)
        import json

        answer.set_data(json.dumps({"message": self.message, "__type": self.kind, "type": self.kind}))
        return answer


def invalid_input(message: str) -> BadRequestException:
    return BadRequestException(message, "InvalidInputException")


NOT_OWNED = "The request is rejected because the input detectorId is not owned by the current account."
INVALID_VALUE = "The request is rejected because an invalid or out-of-range value is specified as an input parameter."
