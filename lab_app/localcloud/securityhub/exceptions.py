"""Security Hub's errors (rest-json): ``{"Code": ..., "Message": ...}`` bodies with ``x-amzn-ErrorType``."""
from __future__ import annotations

import json

from lab_app.localcloud.aws.errors import REST_JSON, AwsError


class SecurityHubError(AwsError):
    wire = REST_JSON

    def response(self, wire=None, request_id=None):
        answer = super().response(wire, request_id)
        answer.set_data(json.dumps({"Code": self.code, "Message": self.message}))
        return answer


class InvalidInputException(SecurityHubError):
    code = "InvalidInputException"
    status = 400


class InvalidAccessException(SecurityHubError):
    code = "InvalidAccessException"
    status = 401


class ResourceConflictException(SecurityHubError):
    code = "ResourceConflictException"
    status = 409


class ResourceNotFoundException(SecurityHubError):
    code = "ResourceNotFoundException"
    status = 404


def not_subscribed(account: str) -> InvalidAccessException:
    return InvalidAccessException(f"Account {account} is not subscribed to AWS Security Hub")
