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


class ProblemError(HoneycombError):
    """An error Honeycomb's v1 API answers in RFC 7807 problem-detail form (docs.honeycomb.io/api/errors)."""
    problem = "forbidden"
    title = "You do not have access to this resource."

    def response(self) -> Response:
        return json_response({"status": self.status, "type": f"https://api.honeycomb.io/problems/{self.problem}",
                              "title": self.title, "error": self.message, "detail": self.message},
                             status=self.status)


class Forbidden(ProblemError):
    """The key is valid but lacks the permission, or the team's plan lacks the feature (HTTP 403)."""
    status = 403


class RateLimited(ProblemError):
    """HTTP 429, without a Retry-After header (the Query Data API's 10 query results a minute)."""
    status = 429
    problem = "rate-limited"
    title = "You have exceeded your rate limit."


class QuerySpecError(HoneycombError, ValueError):
    """An invalid query specification (HTTP 400 with Honeycomb's validation-failed body)."""

    def response(self) -> Response:
        return json_response({"status": 400, "type": "https://api.honeycomb.io/problems/validation-failed",
                              "title": "The provided input is invalid.", "error": self.message}, status=400)
