"""Serve a WSGI app in a daemon thread: start, stop and restart on the same port in one kernel.

    with ServerThread(app, port=5000) as server:
        requests.get(server.url + "/health")

or keep one around across notebook cells with :func:`serve` (re-running the cell restarts it).
"""
from __future__ import annotations

import errno
import logging
import socket
import threading
from typing import Callable

from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from lab_app.config import HOST

log = logging.getLogger(__name__)


class PortInUseError(RuntimeError):
    """The port is taken by another process (or another server in this kernel)."""

    def __init__(self, port: int, host: str = HOST):
        self.port = port
        super().__init__(
            f"port {port} on {host} is already in use. Stop whatever is listening there "
            f"(`lsof -i :{port}` or `ss -ltnp | grep {port}` shows it; in a notebook, stop the old server with "
            f"lab_app.runner.stop_all()), or choose another port."
        )


class _QuietHandler(WSGIRequestHandler):
    """No access log lines in the notebook; the services log what they mean to."""

    def log_request(self, *args, **kwargs):
        pass


class ServerThread:
    """A werkzeug server for one WSGI app, running in a daemon thread."""

    def __init__(self, app: Callable, port: int = 0, host: str = HOST, name: str | None = None):
        self.app = app
        self.host = host
        self.requested_port = port
        self.name = name or getattr(app, "name", None) or "wsgi"
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        if self._server is None:
            return self.requested_port
        return self._server.server_port

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> "ServerThread":
        if self.running:
            return self
        try:
            self._server = make_server(self.host, self.requested_port, self.app, threaded=True,
                                       request_handler=_QuietHandler)
        except OSError as exc:
            if exc.errno in (errno.EADDRINUSE, errno.EACCES) or "in use" in str(exc).lower():
                raise PortInUseError(self.requested_port, self.host) from None
            raise
        except SystemExit:  # werkzeug exits on a busy port in some versions
            raise PortInUseError(self.requested_port, self.host) from None
        self._server.daemon_threads = True
        # Keep the port so a restart binds the same one even when 0 was asked for.
        self.requested_port = self._server.server_port
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.1},
                                        name=f"server-{self.name}-{self.port}", daemon=True)
        self._thread.start()
        _REGISTRY[(self.host, self.port)] = self
        return self

    def stop(self) -> None:
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        _REGISTRY.pop((self.host, self.port), None)
        self._server = None
        self._thread = None

    def restart(self) -> "ServerThread":
        self.stop()
        return self.start()

    def __enter__(self) -> "ServerThread":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        return f"<ServerThread {self.name} {self.url} {state}>"


_REGISTRY: dict[tuple[str, int], ServerThread] = {}


def serve(app: Callable, port: int, host: str = HOST, name: str | None = None) -> ServerThread:
    """Start ``app`` on ``port``, first stopping a server this kernel already runs there.

    That makes a notebook cell re-runnable: the second run replaces the first server instead of
    failing with "address in use". A port held by another process still raises PortInUseError.
    """
    old = _REGISTRY.get((host, port))
    if old is not None:
        old.stop()
    return ServerThread(app, port=port, host=host, name=name).start()


def stop_all() -> None:
    for server in list(_REGISTRY.values()):
        server.stop()


def running_servers() -> list[ServerThread]:
    return list(_REGISTRY.values())


def port_is_free(port: int, host: str = HOST) -> bool:
    """True when a server could listen on ``port`` now (connections lingering in TIME_WAIT don't count)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as werkzeug's servers bind
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def free_port(host: str = HOST) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]
