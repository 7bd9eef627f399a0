"""The ``xray`` component: X-Ray's REST API on the AWS port and the daemon on the daemon port."""
from __future__ import annotations

from typing import Any, Callable

from werkzeug.wrappers import Response

from lab_app.localcloud.aws.errors import AwsError
from lab_app.localcloud.aws.sigv4 import parse_scope
from lab_app.localcloud.component import Component
from lab_app.localcloud.xray.daemon import XRayDaemon
from lab_app.localcloud.xray.models import XRayBackend
from lab_app.localcloud.xray.responses import XRayResponse
from lab_app.localcloud.xray.transaction_search import SPANS_LOG_GROUP, XRAY_PRINCIPAL
from lab_app.localcloud.xray.urls import daemon_paths, url_paths


class XRay(Component):
    name = "xray"

    def __init__(self, ctx):
        super().__init__(ctx)
        self.backend = XRayBackend(self.store, clock=self.clock.now)
        self.responses = XRayResponse(lambda region: self.backend)
        self.daemon: XRayDaemon | None = None

    # lifecycle ---------------------------------------------------------------------------------------
    def setup(self) -> None:
        self.backend.setup()
        search = self.backend.transaction_search
        search.may_write_spans = self._may_write_spans
        search.on_active = self._create_spans_group
        self.backend.retrieval.read_spans = self._read_spans   # issue 17: trace retrieval reads aws/spans

    @property
    def transaction_search(self):
        """The destination and indexing rules (what the OTLP endpoint asks before it takes spans)."""
        return self.backend.transaction_search

    # Transaction Search needs the CloudWatch Logs stand-in: its resource policies and the aws/spans group
    def _logs(self):
        try:
            return self.ctx.component("logs")
        except KeyError:
            return None

    def _may_write_spans(self, region: str) -> bool:
        logs = self._logs()
        return logs is not None and logs.resource_policies.allows(region, XRAY_PRINCIPAL, "logs:PutLogEvents",
                                                                  SPANS_LOG_GROUP)

    def _create_spans_group(self, region: str) -> None:
        logs = self._logs()
        if logs is not None:
            logs.ensure_group(SPANS_LOG_GROUP, region)

    def _read_spans(self, region: str, start_ms: int, end_ms: int) -> list[str]:
        """The span documents in ``aws/spans`` that started between the two times (ms, inclusive)."""
        logs = self._logs()
        if logs is None:
            return []
        messages, token = [], None
        while True:
            try:
                page = logs.backend.filter_log_events(region, SPANS_LOG_GROUP, start=start_ms, end=end_ms,
                                                      token=token, limit=10_000)
            except AwsError:   # no aws/spans group yet: no spans
                return messages
            messages += [event["message"] for event in page["events"]]
            token = page.get("nextToken")
            if not token or not page["events"]:
                return messages

    def start(self) -> None:
        self.daemon = XRayDaemon(self.ctx.host, self.ctx.ports["daemon"], ingest=self.ingest_documents,
                                 sampling_app=self._daemon_app).start()
        self.ctx.ports["daemon"] = self.daemon.port

    def stop(self) -> None:
        if self.daemon is not None:
            self.daemon.stop()
            self.daemon = None

    def reset(self) -> None:
        self.backend.reset()

    def status(self) -> dict[str, Any]:
        out = self.backend.status()
        if self.daemon is not None:
            out["daemon"] = self.daemon.status()
            out["malformed_datagrams"] = self.daemon.counters["malformed"]
        return out

    def problems(self) -> list[str]:
        return self.daemon.problems() if self.daemon is not None else []

    # the public ingest entry point (UDP, PutTraceSegments, the OTLP -> X-Ray converter) ----------------------
    def ingest_documents(self, docs: list[dict]) -> list[dict]:
        """Store segment/subsegment documents (dicts); returns unprocessed entries {Id, ErrorCode, Message}."""
        return self.backend.ingest_documents(docs)

    # the AWS port ----------------------------------------------------------------------------------------
    def matches(self, environ: dict) -> bool:
        if environ.get("PATH_INFO") not in url_paths or environ.get("REQUEST_METHOD") != "POST":
            return False
        # by path first: the daemon's unsigned sampling calls, curl, and a malformed Authorization header too
        # (which the signature check answers); only a request signed for another service is not ours
        scope = parse_scope(environ.get("HTTP_AUTHORIZATION", ""))
        return scope is None or scope.service == "xray"

    def __call__(self, environ: dict, start_response: Callable):
        return self.responses.dispatch(environ, url_paths[environ["PATH_INFO"]])(environ, start_response)

    def _daemon_app(self, environ: dict, start_response: Callable):
        operation = daemon_paths.get(environ.get("PATH_INFO", ""))
        if operation is None:
            return Response("not found", status=404)(environ, start_response)
        return self.responses.dispatch(environ, operation)(environ, start_response)

    # local-only control routes -------------------------------------------------------------------------
    def control(self, action: str, payload: dict) -> dict | None:
        if action == "flush":
            return {"flushed": True, **self.status()}
        return None
