"""The Cruddur services: backend-flask (in a thread of this kernel) and notifications (its own process).

The way notebooks 02-05 run them, the way production does (one process per service):

    notifications = services.downstream.start(otel=True, faults=Faults.lesson())  # another process
    app = services.create_backend_app(notifications.url, faults=Faults.lesson())
    # ... instrument `app` with the SDKs' own calls (the lesson) ...
    backend = services.serve_backend(app)       # a werkzeug server in a daemon thread; re-run = restart
    traffic.generate(backend.url, n=100)

``start()`` (both services in threads of this kernel, instrumented by ``lab_app.instrument`` helpers) is
what notebooks 06-08 still use.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Iterable

from flask import Flask

from lab_app import config
from lab_app.runner import ServerThread, serve
from lab_app.services import downstream
from lab_app.services.backend import SERVICE_NAME as BACKEND
from lab_app.services.backend import HomeActivities, SearchActivities, UserActivities, create_backend_app
from lab_app.services.downstream import SERVICE_NAME as DOWNSTREAM
from lab_app.services.faults import Fault, Faults, InjectedException

__all__ = ["start", "stop", "Stack", "Fault", "Faults", "InjectedException", "BACKEND", "DOWNSTREAM",
           "create_backend_app", "current", "downstream", "serve_backend", "HomeActivities",
           "UserActivities", "SearchActivities"]


def serve_backend(app: Flask, port: int | None = None) -> ServerThread:
    """Serve backend-flask on its port (LAB_BACKEND_PORT, default 4567); a re-run restarts it there."""
    return serve(app, config.backend_port() if port is None else port, name=BACKEND)

Instrumenter = Callable[[Flask, str], None]


@dataclass
class Stack:
    backend: ServerThread
    downstream: ServerThread
    apps: dict[str, Flask]
    faults: Faults
    instrumenters: list[Instrumenter] = field(default_factory=list)

    @property
    def backend_url(self) -> str:
        return self.backend.url

    @property
    def downstream_url(self) -> str:
        return self.downstream.url

    @property
    def running(self) -> bool:
        return self.backend.running and self.downstream.running

    def stop(self) -> None:
        self.backend.stop()
        self.downstream.stop()

    def __enter__(self) -> "Stack":
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def __repr__(self) -> str:
        names = [getattr(i, "__module__", "?") + "." + getattr(i, "__name__", "?") for i in self.instrumenters]
        return (f"<Cruddur {BACKEND} {self.backend_url} -> {DOWNSTREAM} {self.downstream_url}; "
                f"faults: {len(self.faults.rules)} rule(s); instrumented by {names or 'nothing'}>")


_current: Stack | None = None


def start(instrument: Iterable[Instrumenter] = (), faults: Faults | None = None, backend_port: int | None = None,
          downstream_port: int | None = None) -> Stack:
    """Create both apps (instrumenters applied before the first request) and serve them."""
    global _current
    stop()
    faults = faults or Faults.none()
    backend_port = config.backend_port() if backend_port is None else backend_port
    downstream_port = config.downstream_port() if downstream_port is None else downstream_port
    from lab_app.services.notifications import create_notifications_app

    instrumenters = list(instrument)
    downstream_app = create_notifications_app(faults)
    for instrumenter in instrumenters:
        instrumenter(downstream_app, DOWNSTREAM)
    downstream_server = serve(downstream_app, downstream_port, name=DOWNSTREAM)
    try:
        backend_app = create_backend_app(downstream_server.url, faults)
        for instrumenter in instrumenters:
            instrumenter(backend_app, BACKEND)
        backend = serve(backend_app, backend_port, name=BACKEND)
    except BaseException:
        downstream_server.stop()
        raise
    _current = Stack(backend, downstream_server, {BACKEND: backend_app, DOWNSTREAM: downstream_app}, faults, instrumenters)
    return _current


def stop() -> None:
    global _current
    if _current is not None:
        _current.stop()
        _current = None


def current() -> Stack | None:
    return _current
