"""CloudWatch Logs for the Cruddur services with watchtower: one structured access log line per request.

The seed attached ``watchtower.CloudWatchLogHandler(log_group='cruddur')`` to its module logger at DEBUG and
wrote every request with ``LOGGER.error(...)``. Access logs are not errors: logging them at ERROR drowns the
real errors and breaks every alert and filter on the level. A DEBUG logger that propagates also ships (and
bills) every debug line and prints each line again through the root logger. Here:

* a dedicated, non-propagating logger per service and format, at INFO, with its own watchtower handler;
* one JSON document per request (route template, method, path, status, latency_ms, user, request id, and the
  OpenTelemetry and X-Ray trace ids when those tracers are on): Logs Insights discovers every key;
* the same request as a plain-text line in a second stream, so ``parse`` has something to teach;
* :func:`flush` pushes what watchtower has queued (it sends every ``send_interval`` seconds otherwise);
* re-running :func:`instrument_app` (a notebook cell run twice) adds no second handler.

    from lab_app import services
    from lab_app.instrument import cloudwatch
    stack = services.start(instrument=[cloudwatch.instrument_app])
    ...
    cloudwatch.flush()
"""
from __future__ import annotations

import logging
import os
import threading
import time
from typing import Any

from flask import Flask, Response, g, request

LOG_GROUP = "cruddur"
SEND_INTERVAL_S = 2.0
_EXTENSION = "lab.cloudwatch"
_T0_KEY = "lab.cloudwatch.t0"

_handlers: dict[tuple[str, str], logging.Handler] = {}
_lock = threading.Lock()


def stream_names(service_name: str) -> dict[str, str]:
    """The log streams a service writes: ``json`` (structured) and ``text`` (plain lines)."""
    return {"json": f"{service_name}/access-json", "text": f"{service_name}/access-text"}


def _endpoint() -> str:
    """Where boto3 sends CloudWatch Logs calls now (the local cloud may have moved to other ports)."""
    return os.environ.get("AWS_ENDPOINT_URL_CLOUDWATCH_LOGS") or os.environ.get("AWS_ENDPOINT_URL") or "aws"


def _create_stream(client, log_group_name: str, stream: str) -> None:
    """Create the stream up front, idempotently.

    Left to itself, watchtower creates a stream when its first PutLogEvents answers
    ResourceNotFoundException, and while that CreateLogStream call runs its ``emit`` silently drops every
    record any thread logs (its guard against logging its own side effects). Under traffic that loses
    access lines; a stream that already exists never takes that path.
    """
    try:
        client.create_log_stream(logGroupName=log_group_name, logStreamName=stream)
    except client.exceptions.ResourceAlreadyExistsException:
        pass


def _handler(log_group_name: str, stream: str, send_interval: float) -> logging.Handler:
    import boto3
    import watchtower

    key = (log_group_name, stream)
    stale = None
    with _lock:
        handler = _handlers.get(key)
        if handler is not None and getattr(handler, "_lab_endpoint", None) != _endpoint():
            stale, handler = handler, None
            del _handlers[key]
        if handler is None:
            handler = watchtower.CloudWatchLogHandler(
                log_group_name=log_group_name, log_stream_name=stream, send_interval=send_interval,
                create_log_group=True, boto3_client=boto3.client("logs"))
            handler.setLevel(logging.INFO)
            handler._lab_endpoint = _endpoint()
            _create_stream(handler.cwl_client, log_group_name, stream)
            _handlers[key] = handler
    if stale is not None:  # flush what it still holds to the old endpoint and stop its threads, off this thread
        threading.Thread(target=stale.close, name="watchtower-close", daemon=True).start()
    return handler


def access_logger(service_name: str, kind: str, log_group_name: str = LOG_GROUP,
                  send_interval: float = SEND_INTERVAL_S) -> logging.Logger:
    """The logger for one service's access lines of one kind ("json" or "text"), with exactly one handler."""
    stream = stream_names(service_name)[kind]
    logger = logging.getLogger(f"cruddur.access.{service_name}.{kind}")
    logger.setLevel(logging.INFO)
    logger.propagate = False  # never the root logger: no botocore feedback loop, no notebook noise
    handler = _handler(log_group_name, stream, send_interval)
    for existing in list(logger.handlers):
        if existing is not handler and existing.__class__.__name__ == "CloudWatchLogHandler":
            logger.removeHandler(existing)
    if handler not in logger.handlers:
        logger.addHandler(handler)
    return logger


def _trace_ids(response: Response) -> dict[str, str]:
    from lab_app.instrument.trace_context import current_ids

    ids = current_ids()
    amzn = response.headers.get("X-Amzn-Trace-Id", "")
    if "xray_trace_id" not in ids and "Root=" in amzn:
        for part in amzn.split(";"):
            key, _, value = part.partition("=")
            if key.strip() == "Root":
                ids["xray_trace_id"] = value.strip()
    traceresponse = response.headers.get("traceresponse", "")
    if "otel_trace_id" not in ids and traceresponse.count("-") == 3:
        ids["otel_trace_id"] = traceresponse.split("-")[1]
    return ids


def access_record(service_name: str, response: Response, latency_ms: float) -> dict[str, Any]:
    """The structured access-log document for the request being finished."""
    rule = request.url_rule.rule if request.url_rule is not None else None
    record: dict[str, Any] = {
        "type": "access",
        "level": "INFO",
        "service": service_name,
        "method": request.method,
        "path": request.path,
        "route": rule or "(unmatched)",
        "status": response.status_code,
        "latency_ms": round(latency_ms, 3),
        "user": request.headers.get("X-Cruddur-User") or "anonymous",
        "remote_addr": request.remote_addr or "-",
    }
    request_id = g.get("request_id") or request.headers.get("X-Request-Id")
    if request_id:
        record["request_id"] = str(request_id)
    record.update(_trace_ids(response))
    return record


def text_line(record: dict[str, Any]) -> str:
    """``127.0.0.1 andrew "GET /api/activities/home" 200 12.345ms route=... request_id=... trace=...``"""
    trace = record.get("xray_trace_id") or record.get("otel_trace_id") or "-"
    return (f'{record["remote_addr"]} {record["user"]} "{record["method"]} {record["path"]}" {record["status"]} '
            f'{record["latency_ms"]:.3f}ms route={record["route"]} request_id={record.get("request_id", "-")} '
            f"trace={trace}")


def instrument_app(app: Flask, service_name: str, log_group_name: str = LOG_GROUP,
                   send_interval: float = SEND_INTERVAL_S) -> None:
    """Log every request of ``app`` to CloudWatch Logs (JSON + text streams). Idempotent per app."""
    json_log = access_logger(service_name, "json", log_group_name, send_interval)
    text_log = access_logger(service_name, "text", log_group_name, send_interval)
    state = app.extensions.get(_EXTENSION)
    if state is not None:  # already instrumented: point it at the current loggers only
        state.update(service=service_name, json_log=json_log, text_log=text_log)
        return
    state = app.extensions[_EXTENSION] = {"service": service_name, "json_log": json_log, "text_log": text_log}

    # Time from the moment the WSGI app is called, before any before_request hook (fault injection,
    # tracers) runs, so latency_ms is what the service really spent on the request.
    inner_wsgi = app.wsgi_app

    def _timed_wsgi(environ, start_response):
        environ[_T0_KEY] = time.perf_counter()
        return inner_wsgi(environ, start_response)

    app.wsgi_app = _timed_wsgi

    @app.after_request
    def _cloudwatch_access_log(response: Response) -> Response:
        t0 = request.environ.get(_T0_KEY)
        latency_ms = (time.perf_counter() - t0) * 1000 if t0 is not None else 0.0
        try:
            record = access_record(state["service"], response, latency_ms)
            state["json_log"].info(record)           # watchtower serialises dict messages as JSON
            state["text_log"].info(text_line(record))
        except Exception:  # logging must never break a request
            logging.getLogger("lab_app.instrument.cloudwatch").exception("access log failed")
        return response


def flush() -> None:
    """Send everything watchtower has queued now (call it before querying the logs)."""
    with _lock:
        handlers = list(_handlers.values())
    for handler in handlers:
        handler.flush()


def shutdown() -> None:
    """Flush and close every handler (a fresh :func:`instrument_app` creates new ones)."""
    with _lock:
        handlers = list(_handlers.items())
        _handlers.clear()
    for (_, _), handler in handlers:
        for name in list(logging.root.manager.loggerDict):
            logger = logging.getLogger(name)
            if handler in getattr(logger, "handlers", []):
                logger.removeHandler(handler)
        handler.close()
