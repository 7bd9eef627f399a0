"""AWS X-Ray SDK set-up for the Cruddur services (the seed's recorder + middleware, made re-runnable).

    from lab_app.instrument import xray
    xray.configure(sampling=False)                   # trace every request (or sampling=True: centralized rules)
    stack = services.start(instrument=[xray.instrument_app])

* One recorder per process (the SDK's global ``xray_recorder``, which ``patch(("requests",))`` uses for the
  downstream call), but each Flask app gets :class:`ServiceMiddleware`, whose segments carry that app's
  service name (``backend-flask``, ``notifications``) instead of the recorder's single ``service``.
* ``requests`` is patched: the backend's call to the notifications service becomes a ``remote`` subsegment
  and carries ``X-Amzn-Trace-Id`` (Root, Parent, Sampled), so the downstream segment joins the same trace.
* ``lab_app.services.tracing.activity_span`` opens a subsegment: every attribute becomes an annotation
  (indexed: usable in filter expressions) and all of them are also kept as metadata (not indexed).
* Segments go to the daemon at ``AWS_XRAY_DAEMON_ADDRESS`` (the local cloud's daemon in local mode, the
  real daemon or ``python -m lab_app.localcloud.xray.daemon --forward`` in cloud mode).
"""
from __future__ import annotations

import logging
import os
import re
import threading
import time
from contextlib import contextmanager
from typing import Any, Iterator

import flask.templating
from aws_xray_sdk.core import patch, xray_recorder
from aws_xray_sdk.core.models import http
from aws_xray_sdk.ext.flask.middleware import XRayMiddleware
from aws_xray_sdk.ext.util import calculate_sampling_decision, construct_xray_header
from flask import Flask, request

from lab_app.services import tracing

log = logging.getLogger(__name__)

OPENER_KEY = "xray"
METADATA_NAMESPACE = "cruddur"
_lock = threading.Lock()
_state: dict[str, Any] = {"configured": False, "sampling": False}


def annotation_key(name: str) -> str:
    """X-Ray annotation keys allow letters, digits and underscores only: ``app.user`` -> ``app_user``."""
    return re.sub(r"[^A-Za-z0-9_]", "_", name)[:500]


def configure(sampling: bool = False, daemon_address: str | None = None) -> None:
    """Configure the global recorder (idempotent; call again to switch sampling on or off).

    ``sampling=True`` uses the centralized rules the SDK polls from the daemon's TCP side
    (GetSamplingRules / SamplingTargets); ``sampling=False`` records every request.
    """
    kwargs: dict[str, Any] = {"sampling": sampling, "context_missing": "IGNORE_ERROR", "plugins": (),
                              "service": "backend-flask", "streaming_threshold": 30}
    # Always pass an address: the SDK's emitter read the environment when it was imported, which may have
    # been before lab_app.notebook.setup() pointed AWS_XRAY_DAEMON_ADDRESS at the local cloud.
    kwargs["daemon_address"] = daemon_address or os.environ.get("AWS_XRAY_DAEMON_ADDRESS") or "127.0.0.1:2000"
    with _lock:
        xray_recorder.configure(**kwargs)
        if not _state.get("patched"):
            patch(("requests",))
            _state["patched"] = True
        _state.update(configured=True, sampling=sampling)
        tracing.register_opener(OPENER_KEY, _activity_opener)


def sampling_enabled() -> bool:
    return bool(_state.get("sampling"))


class ServiceMiddleware(XRayMiddleware):
    """``XRayMiddleware`` whose segments are named after this app's service, not the recorder's."""

    def __init__(self, app: Flask, recorder, service_name: str):
        self.service_name = service_name
        render = flask.templating._render
        super().__init__(app, recorder)
        # The SDK wraps Flask's template rendering again for every middleware (and names the subsegment
        # wrongly on Flask 3); a JSON API renders no templates, so keep Flask's own function.
        flask.templating._render = render
        # Trace the whole request: run before the app's own before_request hooks (the fault injector among
        # them), or a request a hook aborts or fails would never get a segment.
        hooks = app.before_request_funcs.setdefault(None, [])
        hooks.remove(self._before_request)
        hooks.insert(0, self._before_request)

    def _before_request(self):  # the SDK's version, with the segment name fixed to this service
        headers = request.headers
        xray_header = construct_xray_header(headers)
        req = request._get_current_object()
        sampling_req = {"host": req.host, "method": req.method, "path": req.path, "service": self.service_name}
        decision = calculate_sampling_decision(trace_header=xray_header, recorder=self._recorder,
                                               sampling_req=sampling_req)
        segment = self._recorder.begin_segment(name=self.service_name, traceid=xray_header.root,
                                               parent_id=xray_header.parent, sampling=decision)
        segment.save_origin_trace_header(xray_header)
        segment.put_http_meta(http.URL, req.base_url)
        segment.put_http_meta(http.METHOD, req.method)
        segment.put_http_meta(http.USER_AGENT, headers.get("User-Agent"))
        client_ip = headers.get("X-Forwarded-For")
        if client_ip:
            segment.put_http_meta(http.CLIENT_IP, client_ip)
            segment.put_http_meta(http.X_FORWARDED_FOR, True)
        else:
            segment.put_http_meta(http.CLIENT_IP, req.remote_addr)


def instrument_app(app: Flask, service_name: str) -> None:
    """Instrumenter for ``lab_app.services.start(instrument=[...])``: X-Ray middleware on ``app``."""
    if not _state["configured"]:
        configure(sampling=_state["sampling"])
    if app.extensions.get("lab_xray"):
        return
    app.extensions["lab_xray"] = ServiceMiddleware(app, xray_recorder, service_name)


class _XRayActivity:
    """What the activity opener yields: later ``set_attribute`` calls become annotations too."""

    def __init__(self, subsegment):
        self.subsegment = subsegment

    def set_attribute(self, key: str, value: Any) -> None:
        _annotate(self.subsegment, key, value)


def _annotate(subsegment, key: str, value: Any) -> None:
    if subsegment is None:
        return
    if isinstance(value, (str, int, float, bool)):
        subsegment.put_annotation(annotation_key(key), value)
    subsegment.put_metadata(key, value, METADATA_NAMESPACE)


def _in_traced_request() -> bool:
    entities = getattr(xray_recorder.context._local, "entities", None)
    return bool(entities)


@contextmanager
def _activity_opener(name: str, attributes: dict[str, Any]) -> Iterator[_XRayActivity | None]:
    if not _in_traced_request():
        yield None
        return
    with xray_recorder.in_subsegment(name) as subsegment:
        for key, value in attributes.items():
            _annotate(subsegment, key, value)
        yield _XRayActivity(subsegment)


def disable() -> None:
    """Stop opening X-Ray subsegments for activity spans (apps started later are not instrumented)."""
    tracing.unregister_opener(OPENER_KEY)
    _state["configured"] = False


# --- centralized sampling helpers (for the sampling experiment) -------------------------------------------------
def _sampler():
    return xray_recorder.sampler


def sync_sampling_rules(rule_name: str, timeout: float = 30.0, warmup: callable = None,
                        wait_for_quota: bool = True) -> dict:
    """Make the SDK fetch the current rules and its reservoir quota for ``rule_name`` now.

    The SDK polls rules every ~5 minutes and targets every ~10 s; a notebook should not wait that long by
    accident. ``warmup()`` sends one request that matches the rule (targets are only requested for rules that
    matched). Returns the rule as the SDK sees it (rate, quota, TTL).
    """
    sampler = _sampler()
    sampler.start()
    sampler._rule_poller.wake_up()
    deadline = time.monotonic() + timeout
    rule = None
    while time.monotonic() < deadline:
        rule = next((r for r in sampler._cache.rules if r.name == rule_name), None)
        if rule is not None:
            break
        time.sleep(0.2)
    if rule is None:
        raise TimeoutError(f"the X-Ray SDK did not receive sampling rule {rule_name!r} within {timeout:.0f} s: "
                           f"is the daemon at AWS_XRAY_DAEMON_ADDRESS running?")
    if not wait_for_quota:
        return {"rule": rule.name, "fixed_rate": rule.rate, "reservoir_quota": rule.reservoir.quota,
                "quota_ttl": rule.reservoir.TTL}
    while time.monotonic() < deadline:
        if rule.reservoir.quota is not None and (rule.reservoir.TTL or 0) > time.time():
            return {"rule": rule.name, "fixed_rate": rule.rate, "reservoir_quota": rule.reservoir.quota,
                    "quota_ttl": rule.reservoir.TTL}
        if warmup is not None and not rule.ever_matched():
            warmup()
        time.sleep(0.2)
    raise TimeoutError(f"no reservoir quota for {rule_name!r} within {timeout:.0f} s (the SDK asks every ~10 s)")
