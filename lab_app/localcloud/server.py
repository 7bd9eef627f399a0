"""The local cloud process: the AWS gateway, the stand-ins' listeners, lifecycle.

``LocalCloud`` runs everything in threads of one process. ``python -m lab_app.localcloud serve``
runs it in the foreground; ``start`` (see ``lab_app.localcloud``) runs that in the background.
"""
from __future__ import annotations

import functools
import hashlib
import json
import logging
import os
import threading
import time
from pathlib import Path
from typing import Any, Callable

from werkzeug.wrappers import Request, Response

from lab_app import config
from lab_app.localcloud.aws.request import read_body
from lab_app.localcloud.cloudtrail import CloudTrail
from lab_app.localcloud.cloudwatch import CloudWatch
from lab_app.localcloud.component import Clock, Component, Context, json_response
from lab_app.localcloud.events import EventBridge
from lab_app.localcloud.guard import Guard, create_token
from lab_app.localcloud.guardduty import GuardDuty
from lab_app.localcloud.honeycomb import Honeycomb
from lab_app.localcloud.iam import IamPolicyCheck, SignatureCheck
from lab_app.localcloud.logs import Logs
from lab_app.localcloud.rollbar import Rollbar
from lab_app.localcloud.securityhub import SecurityHub
from lab_app.localcloud.store import Store
from lab_app.localcloud.xray import XRay
from lab_app.localcloud.xray.otlp import XRayOTLP
from lab_app.runner import ServerThread

IDENTITY = "lab_app.localcloud"
DB_FILE = "localcloud.duckdb"
LOG_FILE = "localcloud.log"
PID_FILE = "localcloud.pid"



@functools.cache
def code_version() -> str:
    """A digest of the local cloud's source (lab_app/localcloud/ and the two modules it imports, by content).

    ``health`` answers it, and ``start()`` compares it with its own: a stack started before a ``git pull``
    runs the old code, so it is restarted rather than attached to (its stored data is kept)."""
    here = Path(__file__).resolve().parent
    root = here.parent
    digest = hashlib.blake2b(digest_size=8)
    for path in sorted([*here.rglob("*"), root / "config.py", root / "runner.py"]):
        if path.suffix in (".py", ".lark") and "__pycache__" not in path.parts:
            digest.update(str(path.relative_to(root)).encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()


# Every stand-in, in the order the gateway asks them whether a request is theirs; each issue that adds a
# stand-in adds its line here.
COMPONENTS: list[type[Component]] = [
    Honeycomb,
    Rollbar,
    CloudWatch,
    EventBridge,
    CloudTrail,
    GuardDuty,
    SecurityHub,
    XRay,
    XRayOTLP,
    Logs,
]
# What the gateway runs before routing, in order: each may answer a request itself (a wrong signature, a call
# IAM denies).
MIDDLEWARE = [SignatureCheck, IamPolicyCheck]


def _moto_dispatcher():
    """moto's own dispatcher (one Flask app per AWS service, chosen by the request's host and signature), which
    remembers the backend it found for each host: moto answers that by listing its package directory, a stat of
    every entry, on every request (about 1 ms each)."""
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

    class Dispatcher(DomainDispatcherApplication):
        MAX_HOSTS = 1024      # hosts come from requests: bounded

        def __init__(self):
            super().__init__(create_backend_app)
            self._backends: dict[Any, Any] = {}

        def get_backend_for_host(self, host):
            try:
                return self._backends[host]
            except KeyError:
                backend = super().get_backend_for_host(host)
                if len(self._backends) < self.MAX_HOSTS:
                    self._backends[host] = backend
                return backend

    return Dispatcher()


class Gateway:
    """WSGI app on the AWS port: the middleware, then our stand-ins, then moto for every other AWS service.

    Observers (the CloudTrail recorder) see every AWS request with its answer, the middleware's too.
    """

    def __init__(self, cloud: "LocalCloud"):
        self.cloud = cloud
        self._moto = None
        self._moto_lock = threading.Lock()

    @property
    def moto(self):
        if self._moto is None:
            with self._moto_lock:
                if self._moto is None:
                    self._moto = _moto_dispatcher()
        return self._moto

    def __call__(self, environ: dict, start_response: Callable):
        path = environ.get("PATH_INFO", "")
        if path.startswith("/_localcloud/"):
            return self.cloud.control_app(environ, start_response)
        if path == "/moto-api/reset" and environ.get("REQUEST_METHOD") == "POST":
            # moto's documented reset (moto-style test harnesses call it between tests) wipes our stand-ins too;
            # moto then answers it and resets its own backends
            self.cloud.reset()
        observers = self.cloud.observers
        if observers or self.cloud.middleware:
            # Buffer the body so the middleware and observers can read the request parameters too.
            read_body(environ)
        app = self.route(environ)
        if not observers:
            return app(environ, start_response)
        captured: dict[str, Any] = {}

        def capture(status, headers, exc_info=None):
            captured["status"] = int(status.split()[0])
            captured["headers"] = headers
            return start_response(status, headers, exc_info)

        result = app(environ, capture)
        # an event stream (Logs StartLiveTail, issue 17) is passed on as it comes; observers see it without a body
        if any(k.lower() == "content-type" and v.startswith("application/vnd.amazon.eventstream")
               for k, v in captured.get("headers", [])):
            self._notify(observers, environ, captured, b"")
            return result
        response_body = b"".join(result)
        self._notify(observers, environ, captured, response_body)
        return [response_body]

    def _notify(self, observers, environ: dict, captured: dict, response_body: bytes) -> None:
        for observer in observers:
            try:
                observer(environ, captured.get("status", 500), captured.get("headers", []), response_body)
            except Exception:  # an observer must never break the request
                self.cloud.log.exception("gateway observer failed")

    def route(self, environ: dict):
        for check in self.cloud.middleware:
            answer = check.check(environ)
            if answer is not None:
                return answer
        for component in self.cloud.components:
            if component.matches(environ):
                return component
        return self.moto_app

    def moto_app(self, environ: dict, start_response: Callable):
        """moto, with its unhandled exceptions (werkzeug's HTML 500 page) and its HTML 404 page for a path no
        route of its own matches turned into AWS-shaped answers: a request no service claims, or an operation
        moto does not route, is an ``UnknownOperationException`` (404); one moto's handler cannot read (a missing
        member, a body of the wrong shape) is a 400 in the called service's protocol. The stand-ins that hand
        requests on to moto get this app too (``Context.moto``)."""
        captured: dict[str, Any] = {}

        def capture(status, headers, exc_info=None):
            captured["status"], captured["headers"] = status, headers
            return lambda data: None

        try:
            body = b"".join(self.moto(environ, capture))
        except Exception as exc:  # anything moto raises becomes an AWS error, never a 500 page
            self.cloud.log.warning("moto could not process %s %s: %r", environ.get("REQUEST_METHOD"),
                                   environ.get("PATH_INFO"), exc)
            return moto_failure(environ, exc)(environ, start_response)
        if captured["status"].startswith("404") and body.lstrip().lower().startswith(b"<!doctype html"):
            return moto_failure(environ, None)(environ, start_response)
        start_response(captured["status"], captured["headers"])
        return [body]


def moto_failure(environ: dict, exc: Exception | None) -> Response:
    """The AWS-shaped answer for a request moto failed on (``exc``) or has no route for (``exc`` None)."""
    from lab_app.localcloud.aws import request as aws_request
    from lab_app.localcloud.aws.errors import AwsError, Wire, wire_of_model

    try:
        call = aws_request.parse(environ, aws_request.read_body(environ))
    except Exception:  # a request we cannot parse: no service
        call = None
    if call is None or not call.service or not call.operation:
        return AwsError(f"No AWS operation of the local cloud answers {environ.get('REQUEST_METHOD')} "
                        f"{environ.get('PATH_INFO')}", code="UnknownOperationException", status=404).response(Wire())
    wire = wire_of_model(aws_request.service_model(call.service))
    if exc is None:
        return AwsError(f"The local cloud does not implement {call.service} {call.operation} (moto has no route "
                        "for it).", code="UnknownOperationException", status=404).response(wire)
    code = "ValidationError" if wire.protocol in ("query", "ec2", "rest-xml") else "ValidationException"
    return AwsError(f"The local cloud (moto) could not process this {call.operation} request: "
                    f"{type(exc).__name__}: {exc}"[:1000], code=code, status=400).response(wire)


class LocalCloud:
    def __init__(self, data_dir: str | Path | None = None, aws_port: int | None = None,
                 otlp_port: int | None = None, daemon_port: int | None = None, host: str = config.HOST,
                 components: list[type[Component]] | None = None, middleware: list[type] | None = None):
        self.data_dir = Path(data_dir or config.state_dir()).resolve()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.host = host
        self.ports = {
            "aws": config.aws_port() if aws_port is None else aws_port,
            "otlp": config.otlp_port() if otlp_port is None else otlp_port,
            "daemon": config.daemon_port() if daemon_port is None else daemon_port,
        }
        self.log = logging.getLogger(IDENTITY)
        self.clock = Clock()
        self.started_at = time.time()
        self.observers: list[Callable] = []
        self.store = Store(self.data_dir / DB_FILE)
        self.gateway = Gateway(self)
        self.components: list[Component] = []
        self.context = Context(store=self.store, clock=self.clock, log=self.log, host=self.host, ports=self.ports,
                               observers=self.observers, _moto=lambda: self.gateway.moto_app,
                               _components=lambda: self.components)
        self.middleware = [cls(self.context) for cls in (MIDDLEWARE if middleware is None else middleware)]
        self.components = [cls(self.context) for cls in (COMPONENTS if components is None else components)]
        self._aws_server: ServerThread | None = None
        self.control_token: str | None = None
        self._stopped = threading.Event()

    def component(self, name: str) -> Component:
        return self.context.component(name)

    @property
    def aws_url(self) -> str:
        return f"http://{self.host}:{self.ports['aws']}"

    def env(self) -> dict[str, str]:
        return {**config.local_env(self.ports["aws"], self.ports["otlp"], self.ports["daemon"], self.host),
                "LAB_DATA_DIR": str(self.data_dir)}

    # --- lifecycle -------------------------------------------------------------------------------
    def start(self) -> "LocalCloud":
        # moto's core before any request thread exists: the stand-ins import moto's service models lazily, from
        # request threads, and two threads importing moto's circular core at once can see it half initialised
        # ("cannot import name 'BackendDict' from partially initialized module"). Imported once per process.
        import moto.core.models  # noqa: F401

        code_version()      # the code this process runs, fixed before anyone edits or pulls the files

        for comp in self.components:
            comp.setup()
        self.control_token = create_token(self.data_dir)     # see guard.py: what the control routes require
        self._aws_server = ServerThread(Guard(self.gateway, self.host, token=lambda: self.control_token),
                                        port=self.ports["aws"], host=self.host, name="aws-gateway")
        self._aws_server.start()
        self.ports["aws"] = self._aws_server.port
        started: list[Component] = []
        try:
            for comp in self.components:
                comp.start()
                started.append(comp)
        except BaseException:
            for comp in reversed(started):
                comp.stop()
            self._aws_server.stop()
            raise
        self.log.info("local cloud up: %s", json.dumps(self.ports))
        return self

    def stop(self) -> None:
        for comp in reversed(self.components):
            try:
                comp.stop()
            except Exception:
                self.log.exception("stopping %s failed", comp.name)
        if self._aws_server is not None:
            self._aws_server.stop()
            self._aws_server = None
        self.store.close()
        self._stopped.set()

    def wait(self) -> None:
        self._stopped.wait()

    def reset(self) -> None:
        self.context.flush_pending(timeout=10)      # what writers still hold lands before the wipe, not after it
        self.store.reset()
        for comp in self.components:
            comp.reset()
        from moto.core.model_instances import reset_model_data

        reset_model_data()
        self.log.info("all stored data wiped")

    def problems(self) -> list[str]:
        return [problem for comp in self.components for problem in comp.problems()]

    def status(self) -> dict[str, Any]:
        return {
            "problems": self.problems(),
            "service": IDENTITY,
            "pid": os.getpid(),
            "code": code_version(),
            "uptime_s": round(time.time() - self.started_at, 1),
            "data_dir": str(self.data_dir),
            "ports": dict(self.ports),
            "components": {**{check.name: check.status() for check in self.middleware},
                           **{comp.name: comp.status() for comp in self.components}},
        }

    # --- /_localcloud/ control routes (health, status, reset, per-component actions) ---------------
    def control_app(self, environ: dict, start_response: Callable):
        request = Request(environ)
        parts = request.path.strip("/").split("/")[1:]
        try:
            response = self._control(request, parts)
        except (KeyError, ValueError) as exc:
            response = json_response({"error": str(exc)}, status=400)
        return response(environ, start_response)

    def _control(self, request: Request, parts: list[str]) -> Response:
        if parts == ["health"]:
            problems = self.problems()
            return json_response({"service": IDENTITY, "ok": not problems, "problems": problems, "pid": os.getpid(),
                                  "ports": self.ports, "code": code_version(), "data_dir": str(self.data_dir)})
        if parts == ["status"]:
            return json_response(self.status())
        if parts == ["reset"] and request.method == "POST":
            self.reset()
            return json_response({"reset": True})
        if parts == ["shutdown"] and request.method == "POST":
            threading.Thread(target=self.stop, daemon=True).start()
            return json_response({"stopping": True})
        if parts == ["clock"]:
            if request.method == "POST":
                payload = request.get_json(silent=True) or {}
                self.clock.advance(float(payload.get("advance_seconds", 0)))
                for comp in self.components:
                    comp.control("clock", {"now": self.clock.now()})
            return json_response({"now": self.clock.now(), "offset_s": self.clock.offset})
        if len(parts) >= 2:
            comp = self.component(parts[0])
            payload = request.get_json(silent=True) or {}
            payload.update(request.args.to_dict())
            result = comp.control("/".join(parts[1:]), payload)
            if result is not None:
                return json_response(result)
        return json_response({"error": f"unknown control route {request.path}"}, status=404)
