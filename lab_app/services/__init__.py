"""The Cruddur services: backend-flask (in a thread of this kernel) and notifications (its own process).

The way every notebook runs them, the way production does (one process per service):

    notifications = services.downstream.start(otel=True, faults=Faults.lesson())  # another process
    app = services.create_backend_app(notifications.url, faults=Faults.lesson())
    # ... instrument `app` with the SDKs' own calls (the lesson) ...
    backend = services.serve_backend(app)       # a werkzeug server in a daemon thread; re-run = restart
    traffic.generate(backend.url, n=100)
"""
from __future__ import annotations

from flask import Flask

from lab_app import config
from lab_app.runner import ServerThread, serve
from lab_app.services import downstream
from lab_app.services.backend import SERVICE_NAME as BACKEND
from lab_app.services.backend import HomeActivities, SearchActivities, UserActivities, create_backend_app
from lab_app.services.downstream import SERVICE_NAME as DOWNSTREAM
from lab_app.services.faults import Fault, Faults, InjectedException

__all__ = ["Fault", "Faults", "InjectedException", "BACKEND", "DOWNSTREAM", "create_backend_app", "downstream",
           "serve_backend", "HomeActivities", "UserActivities", "SearchActivities"]


def serve_backend(app: Flask, port: int | None = None) -> ServerThread:
    """Serve backend-flask on its port (LAB_BACKEND_PORT, default 4567); a re-run restarts it there."""
    return serve(app, config.backend_port() if port is None else port, name=BACKEND)
