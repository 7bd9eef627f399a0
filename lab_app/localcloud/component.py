"""What every stand-in (X-Ray, CloudWatch Logs, Honeycomb, Rollbar, ...) looks like to the process.

A component is created with the running :class:`~lab_app.localcloud.server.LocalCloud`, declares its
tables in :meth:`setup`, claims requests on the AWS port with :meth:`matches` (by path or
``X-Amz-Target``, never by reading the body) and serves them as a WSGI app. Components that listen
on ports of their own (the OTLP receiver, the X-Ray daemon) open them in :meth:`start`.
"""
from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING, Any, Callable

from werkzeug.wrappers import Response

if TYPE_CHECKING:  # pragma: no cover
    from lab_app.localcloud.server import LocalCloud


class Clock:
    """The local cloud's notion of now. Local-only: ``advance()`` lets alarm evaluation skip ahead."""

    def __init__(self) -> None:
        self.offset = 0.0

    def now(self) -> float:
        return time.time() + self.offset

    def advance(self, seconds: float) -> float:
        if seconds < 0:
            raise ValueError("the clock only moves forward")
        self.offset += seconds
        return self.now()


class Component:
    name = "component"

    def __init__(self, cloud: "LocalCloud"):
        self.cloud = cloud
        self.store = cloud.store
        self.log = cloud.log.getChild(self.name)

    # lifecycle -------------------------------------------------------------------------------
    def setup(self) -> None:
        """Create tables (``self.store.ensure_table``) and load state. Called once, before start()."""

    def start(self) -> None:
        """Open extra listeners or background threads."""

    def stop(self) -> None:
        """Close what start() opened."""

    def reset(self) -> None:
        """Forget in-memory state (the store's tables are emptied by the process)."""

    def status(self) -> dict[str, Any]:
        """Counts for ``python -m lab_app.localcloud status``."""
        return {}

    # the AWS port ------------------------------------------------------------------------------
    def matches(self, environ: dict) -> bool:
        """True when a request on the AWS port is this component's (path or X-Amz-Target only)."""
        return False

    def __call__(self, environ: dict, start_response: Callable) -> Any:  # a WSGI app
        return Response("not found", status=404)(environ, start_response)

    # control routes under /_localcloud/<name>/... (local-only helpers) -------------------------
    def control(self, action: str, payload: dict) -> dict | None:
        return None


def json_response(body: Any, status: int = 200, headers: dict | None = None,
                  content_type: str = "application/json") -> Response:
    return Response(json.dumps(body, default=str), status=status, headers=headers, content_type=content_type)


def aws_json_error(code: str, message: str, status: int = 400, amz_json: bool = True,
                   extra: dict | None = None) -> Response:
    """The error body botocore turns into ``ClientError`` with ``Error.Code == code`` (``extra``: more fields)."""
    body = {"__type": code, "message": message, **(extra or {})}
    headers = {"x-amzn-ErrorType": code}
    ctype = "application/x-amz-json-1.1" if amz_json else "application/json"
    return json_response(body, status=status, headers=headers, content_type=ctype)


class AwsError(Exception):
    """An AWS API error a stand-in raises; ``response()`` renders it the way the real service does."""

    code = "InternalFailure"
    status = 400
    amz_json = True  # application/x-amz-json-1.1 (JSON-RPC services); False: rest-json

    def __init__(self, message: str, **extra: Any):
        super().__init__(message)
        self.message = message
        self.extra = extra

    def response(self) -> Response:
        return aws_json_error(self.code, self.message, self.status, self.amz_json, self.extra)
