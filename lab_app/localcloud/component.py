"""What every stand-in (X-Ray, CloudWatch Logs, Honeycomb, Rollbar, ...) looks like to the process.

A component is created with a :class:`Context`, the small part of the process it may use: the store,
the clock, a logger, the host and ports, moto's WSGI app, the gateway's observers and the other
components by name. It declares its tables in :meth:`Component.setup`, claims requests on the AWS port
with :meth:`Component.matches` (by path or ``X-Amz-Target``, never by reading the body) and serves them
as a WSGI app. Components that listen on ports of their own (the OTLP receiver, the X-Ray daemon) open
them in :meth:`Component.start`.
"""
from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable

from werkzeug.wrappers import Response

if TYPE_CHECKING:  # pragma: no cover
    from lab_app.localcloud.store import Store


class Clock:
    """The local cloud's notion of now. Local-only: ``advance()`` lets alarm evaluation skip ahead."""

    def __init__(self) -> None:
        self.offset = 0.0

    def now(self) -> float:
        return time.time() + self.offset

    def advance(self, seconds: float) -> float:
        if seconds < 0:
            raise ValueError("the clock only moves forward")
        self.offset += seconds
        return self.now()

    def not_before(self, latest_seen: float | None) -> None:
        """After a restart the local-only offset is gone: never let the clock run behind what is stored."""
        if latest_seen is not None and float(latest_seen) > self.now():
            self.advance(float(latest_seen) - self.now() + 0.001)


@dataclass
class Context:
    """The part of the process a component may use (given by :class:`~lab_app.localcloud.server.LocalCloud`)."""

    store: "Store"
    clock: Clock
    log: logging.Logger
    host: str
    ports: dict[str, int]                    # the listeners' ports; a component that binds port 0 writes the real one
    observers: list[Callable]                # called with (environ, status, headers, body) after each AWS request
    _moto: Callable[[], Any]
    _components: Callable[[], list["Component"]]

    @property
    def moto(self) -> Any:
        """moto's WSGI app (every AWS service we do not implement), created on first use, behind the gateway's
        guard: what moto raises or cannot route comes back as an AWS-shaped error, never a 500 page."""
        return self._moto()

    def component(self, name: str) -> "Component":
        for comp in self._components():
            if comp.name == name:
                return comp
        raise KeyError(f"no component named {name!r}; have {[c.name for c in self._components()]}")

    def flush_pending(self, timeout: float = 10.0) -> bool:
        """Let every component finish work it has queued (deliveries still on their way). False on a timeout."""
        return all([comp.flush_pending(timeout) for comp in self._components()])


class Component:
    name = "component"

    def __init__(self, ctx: Context):
        self.ctx = ctx
        self.store = ctx.store
        self.clock = ctx.clock
        self.log = ctx.log.getChild(self.name)

    # lifecycle -------------------------------------------------------------------------------
    def setup(self) -> None:
        """Create tables (``self.store.ensure_table``) and load state. Called once, before start()."""

    def start(self) -> None:
        """Open extra listeners or background threads."""

    def stop(self) -> None:
        """Close what start() opened."""

    def reset(self) -> None:
        """Forget in-memory state (the store's tables are emptied by the process)."""

    def status(self) -> dict[str, Any]:
        """Counts for ``python -m lab_app.localcloud status``."""
        return {}

    def problems(self) -> list[str]:
        """What is broken right now (a worker thread that died, ...); health is ok only when no component has any."""
        return []

    def flush_pending(self, timeout: float) -> bool:
        """Finish queued work now (see :meth:`Context.flush_pending`); True when nothing is left."""
        return True

    # the AWS port ------------------------------------------------------------------------------
    def matches(self, environ: dict) -> bool:
        """True when a request on the AWS port is this component's (path or X-Amz-Target only)."""
        return False

    def __call__(self, environ: dict, start_response: Callable) -> Any:  # a WSGI app
        return Response("not found", status=404)(environ, start_response)

    # control routes under /_localcloud/<name>/... (local-only helpers) -------------------------
    def control(self, action: str, payload: dict) -> dict | None:
        return None


def json_response(body: Any, status: int = 200, headers: dict | None = None,
                  content_type: str = "application/json") -> Response:
    return Response(json.dumps(body, default=str), status=status, headers=headers, content_type=content_type)
