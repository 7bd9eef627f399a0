"""``X-Request-Id`` on every answer of a Cruddur service, errors and injected faults included.

The caller's id is kept when it sends one (the traffic generator does not; a proxy would), otherwise the service
makes one. Set in the first ``before_request`` hook and echoed by an ``after_request`` hook that also covers the
answers no ``before_request`` ran for (a 404 raised while routing, an error in an earlier hook): those get a new
id rather than an empty header, so an error report can always be matched with its request.
"""
from __future__ import annotations

import uuid

from flask import Flask, g, request

HEADER = "X-Request-Id"


def current() -> str:
    """This request's id (made on first use)."""
    if not g.get("request_id"):
        g.request_id = request.headers.get(HEADER, "").strip()[:200] or str(uuid.uuid4())
    return g.request_id


def _assign() -> None:
    current()       # a before_request hook must return None: anything else would be the answer


def install(app: Flask) -> None:
    app.before_request_funcs.setdefault(None, []).insert(0, _assign)

    @app.after_request
    def _echo_request_id(response):
        response.headers[HEADER] = current()
        return response
