"""The ``rollbar`` component: the Rollbar stand-in on the AWS port under ``/api/1/``."""
from __future__ import annotations

from typing import Any, Callable

from werkzeug.wrappers import Request

from lab_app.localcloud.component import Component
from lab_app.localcloud.rollbar import urls
from lab_app.localcloud.rollbar.exceptions import RollbarError
from lab_app.localcloud.rollbar.models import RollbarBackend
from lab_app.localcloud.rollbar.responses import RollbarResponses


class Rollbar(Component):
    name = "rollbar"

    def __init__(self, ctx):
        super().__init__(ctx)
        self.backend = RollbarBackend(self.store)
        self.responses = RollbarResponses(self.backend)

    def setup(self) -> None:
        self.backend.setup()

    def status(self) -> dict[str, Any]:
        return self.backend.status()

    def record(self, data: dict) -> str:
        """Store one occurrence (the ``data`` of an item payload); returns its uuid."""
        return self.backend.record(data)

    def matches(self, environ: dict) -> bool:
        return environ.get("PATH_INFO", "").startswith(urls.PREFIX)

    def __call__(self, environ: dict, start_response: Callable):
        request = Request(environ)
        try:
            response = self.responses.dispatch(request)
        except RollbarError as error:
            response = error.response()
        except Exception:
            self.log.exception("rollbar request failed: %s %s", request.method, request.path)
            response = RollbarError("internal error in the local Rollbar stand-in", status=500).response()
        return response(environ, start_response)
