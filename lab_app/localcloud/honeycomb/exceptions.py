"""Honeycomb's API errors: ``{"error": ...}`` with the status, the problem-detail body for invalid input."""
from __future__ import annotations

from werkzeug.wrappers import Response

from lab_app.localcloud.component import json_response


class HoneycombError(Exception):
    status = 400

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message

    def response(self) -> Response:
        return json_response({"error": self.message}, status=self.status)


class Unauthorized(HoneycombError):
    status = 401


class NotFound(HoneycombError):
    status = 404


class MethodNotAllowed(HoneycombError):
    status = 405


class QuerySpecError(HoneycombError, ValueError):
    """An invalid query specification (HTTP 400 with Honeycomb's validation-failed body)."""

    def response(self) -> Response:
        return json_response({"status": 400, "type": "https://api.honeycomb.io/problems/validation-failed",
                              "title": "The provided input is invalid.", "error": self.message}, status=400)
