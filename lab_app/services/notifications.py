"""notifications: the downstream service backend-flask calls over HTTP (what makes tracing distributed).

It is "another team's service", so it runs in a process of its own and is instrumented the way
production services are, from its environment, with no code of the notebook's involved:

* OpenTelemetry zero-code: started as ``opentelemetry-instrument python -m lab_app.services.notifications``
  with ``OTEL_SERVICE_NAME=notifications``; the distro builds the SDK from the ``OTEL_*`` variables and
  instruments Flask. The lookup below adds one manual span through the OpenTelemetry API (a no-op when
  the process runs without the SDK).
* The X-Ray SDK: ``XRayMiddleware`` unless ``AWS_XRAY_SDK_ENABLED=false``, segments sent to
  ``AWS_XRAY_DAEMON_ADDRESS`` (both variables the SDK's own).
* CloudWatch Logs when asked: ``CRUDDUR_LOG_GROUP`` set -> one JSON access line per request via watchtower.
* Injected faults from ``CRUDDUR_FAULTS`` (see :mod:`lab_app.services.faults`).

:mod:`lab_app.services.downstream` starts and stops it from a notebook.
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
import threading
import time

from flask import Blueprint, Flask, current_app, g, jsonify, request
from opentelemetry import trace

from lab_app.config import SEED_DATA_DIR
from lab_app.services import request_id
from lab_app.services.faults import Faults

SERVICE_NAME = "notifications"
FLAKY_LOOKUP = f"{SERVICE_NAME}:GET /api/notifications/@<handle>"
PAGE_SIZE = 20  # notifications per answer: the store keeps growing with every post, a page does not
api = Blueprint("notifications", __name__)
tracer = trace.get_tracer("cruddur.notifications")


class NotificationStore:
    def __init__(self):
        with open(SEED_DATA_DIR / "notifications.json", encoding="utf-8") as fh:
            self.items = json.load(fh)["notifications"]
        with open(SEED_DATA_DIR / "users.json", encoding="utf-8") as fh:
            self.handles = [u["handle"] for u in json.load(fh)["users"]]
        self.lock = threading.Lock()

    def for_user(self, handle: str, limit: int = PAGE_SIZE) -> list[dict] | None:
        """The user's newest ``limit`` notifications, newest first (one page, as a feed API answers)."""
        if handle not in self.handles:
            return None
        with self.lock:
            mine = [n for n in self.items if n["recipient"] == handle]
        return mine[::-1][:limit]

    def fanout(self, activity_uuid: str, author: str, kind: str) -> int:
        """Notify every other user (everyone follows everyone in the mock)."""
        recipients = [h for h in self.handles if h != author]
        with self.lock:
            self.items.extend({"recipient": r, "activity_uuid": activity_uuid, "kind": kind} for r in recipients)
        return len(recipients)


def _store() -> NotificationStore:
    return current_app.extensions["notifications"]["store"]


@api.get("/health")
def health():
    return jsonify({"ok": True, "service": SERVICE_NAME, "pid": os.getpid()})


@api.get("/api/notifications/@<handle>")
def for_user(handle: str):
    # the flaky dependency: this handler fails now and then (CRUDDUR_FAULTS), as an overloaded service does
    current_app.extensions["notifications"]["faults"].inject(FLAKY_LOOKUP)
    with tracer.start_as_current_span("notifications-lookup", attributes={"app.user": handle}) as span:
        notes = _store().for_user(handle)
        if notes is None:
            return jsonify({"errors": ["handle_not_found"]}), 404
        span.set_attribute("app.result_length", len(notes))
    return jsonify({"handle": handle, "notifications": notes})


@api.post("/api/notifications/fanout")
def fanout():
    payload = request.get_json(silent=True) or {}
    missing = [k for k in ("activity_uuid", "handle") if not payload.get(k)]
    if missing:
        return jsonify({"errors": [f"{k}_blank" for k in missing]}), 422
    delivered = _store().fanout(payload["activity_uuid"], payload["handle"], payload.get("kind", "post"))
    return jsonify({"delivered": delivered})


def create_notifications_app(faults: Faults | None = None, quiet: bool = True) -> Flask:
    app = Flask(SERVICE_NAME)
    app.logger.disabled = quiet
    app.extensions["notifications"] = {"store": NotificationStore(), "faults": faults or Faults.none()}
    app.register_blueprint(api)
    request_id.install(app)
    return app


def _xray(app: Flask) -> None:
    """The X-Ray SDK as this service ships it, unless ``AWS_XRAY_SDK_ENABLED=false`` (the SDK's own switch: then
    the SDK would only be a no-op, so it is not even imported, which saves the process half a second)."""
    if os.environ.get("AWS_XRAY_SDK_ENABLED", "true").strip().lower() == "false":
        return
    from aws_xray_sdk.core import xray_recorder
    from aws_xray_sdk.ext.flask.middleware import XRayMiddleware

    # sampling=False: record what the caller's X-Amzn-Trace-Id does not decide (it follows Sampled=0/1)
    xray_recorder.configure(service=SERVICE_NAME, sampling=False, context_missing="IGNORE_ERROR")
    XRayMiddleware(app, xray_recorder)


def _access_log(app: Flask, log_group_name: str) -> None:
    """One JSON line per request to CloudWatch Logs (stream ``notifications/access-json``)."""
    import boto3
    import watchtower

    stream = f"{SERVICE_NAME}/access-json"
    logs = boto3.client("logs")
    handler = watchtower.CloudWatchLogHandler(log_group_name=log_group_name, log_stream_name=stream,
                                              boto3_client=logs, send_interval=1)
    try:  # create the stream first: watchtower drops records while it creates one itself
        logs.create_log_stream(logGroupName=log_group_name, logStreamName=stream)
    except logs.exceptions.ResourceAlreadyExistsException:
        pass
    logger = logging.getLogger("cruddur.notifications.access")
    logger.setLevel(logging.INFO)
    logger.propagate = False
    logger.addHandler(handler)

    @app.before_request
    def _start_timer():
        g.t0 = time.perf_counter()

    @app.after_request
    def _log_request(response):
        span = trace.get_current_span().get_span_context()
        record = {"type": "access", "level": "INFO", "service": SERVICE_NAME, "method": request.method,
                  "path": request.path, "route": request.url_rule.rule if request.url_rule else "(unmatched)",
                  "status": response.status_code,
                  "latency_ms": round((time.perf_counter() - g.get("t0", time.perf_counter())) * 1000, 3)}
        if span.is_valid:
            record["otel_trace_id"] = format(span.trace_id, "032x")
        amzn = request.headers.get("X-Amzn-Trace-Id", "")
        root = next((p.split("=", 1)[1] for p in amzn.split(";") if p.strip().startswith("Root=")), None)
        if root:
            record["xray_trace_id"] = root
        logger.info(record)
        return response


def _exit_with_parent(parent_pid: int) -> None:
    """Stop when the notebook kernel that started us is gone (even after kill -9)."""
    def watch():
        while True:
            time.sleep(0.5)
            if os.getppid() != parent_pid:
                os.kill(os.getpid(), signal.SIGTERM)
                return

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Run the notifications service")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "4568")))
    parser.add_argument("--parent-pid", type=int, default=None)
    args = parser.parse_args(argv)
    # SIGTERM -> a normal exit, so the OpenTelemetry SDK and watchtower flush what they hold (atexit)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    if args.parent_pid:
        _exit_with_parent(args.parent_pid)

    app = create_notifications_app(Faults.from_json(os.environ.get("CRUDDUR_FAULTS")))
    _xray(app)
    if os.environ.get("CRUDDUR_LOG_GROUP"):
        _access_log(app, os.environ["CRUDDUR_LOG_GROUP"])

    from werkzeug.serving import WSGIRequestHandler, make_server

    class QuietHandler(WSGIRequestHandler):
        def log_request(self, *args, **kwargs):
            pass

    server = make_server(args.host, args.port, app, threaded=True, request_handler=QuietHandler)
    print(f"notifications listening on http://{args.host}:{server.server_port} (pid {os.getpid()})", flush=True)
    try:
        server.serve_forever(poll_interval=0.2)
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
