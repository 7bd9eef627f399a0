"""Rollbar for the Cruddur services, the Flask 3 way, with delivery a notebook can count on.

The seed used ``@app.before_first_request`` to call ``rollbar.init``; Flask 2.3 removed that hook
(Flask 3 raises AttributeError). Here :func:`init` runs once, before the app serves, and
:func:`instrument_app` connects Flask's ``got_request_exception`` signal for each app, which is what
``rollbar.contrib.flask`` does, so every unhandled exception becomes a Rollbar occurrence with the request.

Delivery: the SDK's default ``thread`` handler sends in a background thread, so a cell that reads
items right after the error could race it. We default to ``handler="blocking"`` (the report is
sent before the request finishes); :func:`flush` also joins the ``thread`` handler's threads
(``rollbar.wait()``) for code that chose it. Call ``flush()`` before reading items.

Configuration from the environment (set by ``lab_app.notebook.setup()`` in local mode):
``ROLLBAR_ACCESS_TOKEN`` (post_server_item token), ``ROLLBAR_ENDPOINT`` (ends with ``/api/1/``),
``ROLLBAR_ENVIRONMENT`` (default ``development``).

    from lab_app import services
    from lab_app.instrument import rollbar as rollbar_instr
    stack = services.start(instrument=[rollbar_instr.instrument_app])
"""
from __future__ import annotations

import os
import sys
from typing import Any

import rollbar
from flask import Flask, got_request_exception, request

from lab_app import config

DEFAULT_ENDPOINT = "https://api.rollbar.com/api/1/"
_EXTENSION = "lab.rollbar"


class RollbarSetupError(RuntimeError):
    pass


def settings_from_env() -> dict[str, str]:
    token = os.environ.get("ROLLBAR_ACCESS_TOKEN")
    if not token:
        raise RollbarSetupError("ROLLBAR_ACCESS_TOKEN is not set: run lab_app.notebook.setup() (local mode sets it) "
                                "or export your project's post_server_item token")
    endpoint = os.environ.get("ROLLBAR_ENDPOINT") or DEFAULT_ENDPOINT
    if not endpoint.endswith("/"):
        endpoint += "/"  # the SDK appends "item/" to it
    return {"access_token": token, "endpoint": endpoint,
            "environment": os.environ.get("ROLLBAR_ENVIRONMENT") or "development"}


def init(environment: str | None = None, handler: str = "blocking", **overrides: Any) -> dict[str, Any]:
    """Initialise the SDK once per process; later calls update token/endpoint/environment/handler in place.

    (``rollbar.init`` a second time is ignored apart from merged keyword settings, so re-running a cell
    with a new endpoint would silently keep the old one; we write the settings ourselves.)
    """
    wanted = settings_from_env()
    if environment:
        wanted["environment"] = environment
    wanted["handler"] = handler
    wanted.update(overrides)
    if not rollbar._initialized:
        rollbar.init(wanted["access_token"], wanted["environment"], endpoint=wanted["endpoint"], handler=handler,
                     root=str(config.REPO_ROOT), allow_logging_basic_config=False,
                     **{k: v for k, v in wanted.items() if k not in ("access_token", "environment", "endpoint", "handler")})
    for key, value in wanted.items():
        rollbar.SETTINGS[key] = value
    return {k: (config.mask(v) if k == "access_token" else v) for k, v in rollbar.SETTINGS.items()
            if k in ("access_token", "endpoint", "environment", "handler", "root")}


def _report_exception(sender: Flask, exception: BaseException, **_: Any) -> None:
    service = sender.extensions.get(_EXTENSION, {}).get("service", sender.name)
    rollbar.report_exc_info(sys.exc_info() if sys.exc_info()[1] is exception else
                            (type(exception), exception, exception.__traceback__),
                            request, payload_data={"custom": {"service": service}})


def instrument_app(app: Flask, service_name: str) -> None:
    """An instrumenter for ``lab_app.services.start(instrument=[...])``: unhandled exceptions go to Rollbar."""
    init()
    if _EXTENSION in app.extensions:  # idempotent per app
        return
    app.extensions[_EXTENSION] = {"service": service_name}
    got_request_exception.connect(_report_exception, app, weak=False)


def report_handled(exc: BaseException, level: str = "error", **custom: Any) -> None:
    """Report an exception the code caught and handled (Rollbar's "handled error")."""
    rollbar.report_exc_info((type(exc), exc, exc.__traceback__), level=level,
                            payload_data={"custom": custom} if custom else None)


def flush(timeout: float = 10.0) -> None:
    """Wait until every report has been sent (no-op for ``blocking``; joins the ``thread`` handler's threads)."""
    rollbar.wait()
