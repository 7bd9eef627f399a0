"""Rollbar's API errors: ``{"err": 1, "message": ...}`` with the HTTP status Rollbar uses."""
from __future__ import annotations

from werkzeug.wrappers import Response

from lab_app.localcloud.component import json_response


class RollbarError(Exception):
    status = 400

    def __init__(self, message: str, status: int | None = None):
        super().__init__(message)
        self.message = message
        if status is not None:
            self.status = status

    def response(self) -> Response:
        return json_response({"err": 1, "message": self.message}, status=self.status)


class NotFound(RollbarError):
    status = 404


class Unauthorized(RollbarError):
    status = 401


class PayloadError(ValueError):
    """An item whose ``data`` Rollbar cannot group (answered with 422)."""
