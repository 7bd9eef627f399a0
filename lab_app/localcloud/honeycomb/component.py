"""The ``honeycomb`` component: its own port (``ctx.ports["otlp"]``, default 4318) answering like Honeycomb's
ingest and API hosts (:mod:`.responses`), spans and queries in the store (:mod:`.models`).

Local-only helper: ``/_localcloud/honeycomb/spans?start=&end=&dataset=&limit=`` (on the AWS port) returns the
stored spans of a time range; :func:`lab_app.query.spans.local_spans` turns it into a DataFrame.
``/_localcloud/honeycomb/metrics?start=&end=&dataset=&metric=&limit=`` does the same for metric points
(:mod:`.metrics`; :func:`lab_app.query.metrics.local_points`).
"""
from __future__ import annotations

from typing import Any, Callable

from werkzeug.wrappers import Request

from lab_app.localcloud.component import Component, json_response
from lab_app.localcloud.honeycomb.models import HoneycombBackend
from lab_app.localcloud.honeycomb.responses import HoneycombResponse
from lab_app.runner import ServerThread


class Honeycomb(Component):
    name = "honeycomb"

    def __init__(self, ctx):
        super().__init__(ctx)
        self.backend = HoneycombBackend(self.store, log=self.log)
        self.responses = HoneycombResponse(self.backend)
        self.metrics = self.responses.metrics          # OTLP metrics (:mod:`.metrics`)
        self._server: ServerThread | None = None

    # lifecycle -----------------------------------------------------------------------------------
    def setup(self) -> None:
        self.backend.setup()
        self.metrics.setup()

    def start(self) -> None:
        self._server = ServerThread(self.wsgi, port=self.ctx.ports["otlp"], host=self.ctx.host, name="otlp")
        self._server.start()
        self.ctx.ports["otlp"] = self._server.port

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None
        self.backend.close()          # every acknowledged span inserted before the store closes
        self.metrics.close()          # and every acknowledged metric point

    def flush_pending(self, timeout: float) -> bool:
        return self.backend.writer.flush(timeout) and self.metrics.writer.flush(timeout)

    def reset(self) -> None:
        self.backend.reset()
        self.metrics.reset()

    @property
    def spans_received(self) -> int:
        return self.backend.spans_received

    def status(self) -> dict[str, Any]:
        return {**self.backend.status(), **self.metrics.status(), "plan": self.responses.plan, "port": self.ctx.ports["otlp"]}

    # local-only control routes --------------------------------------------------------------------
    def control(self, action: str, payload: dict) -> dict | None:
        if action == "spans":
            return self.backend.spans_between(payload.get("start"), payload.get("end"), payload.get("dataset"),
                                              int(payload.get("limit") or 100_000))
        if action == "metrics":
            return self.metrics.points_between(payload.get("start"), payload.get("end"), payload.get("dataset"),
                                               payload.get("metric"), int(payload.get("limit") or 100_000))
        return None

    # the Honeycomb port's WSGI app -----------------------------------------------------------------
    def wsgi(self, environ: dict, start_response: Callable):
        request = Request(environ)
        try:
            response = self.responses.dispatch(request)
        except Exception:  # never let a bug take the receiver down
            self.log.exception("OTLP port request failed: %s %s", request.method, request.path)
            response = json_response({"error": "internal error in the local Honeycomb stand-in"}, status=500)
        return response(environ, start_response)
