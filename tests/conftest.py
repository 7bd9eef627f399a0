"""Shared fixtures: an in-process local cloud on free ports with its own data directory."""
from __future__ import annotations

import os

import pytest

from lab_app import config
from lab_app.localcloud.server import LocalCloud
from lab_app.runner import free_port


def free_udp_tcp_port() -> int:
    """A port free for both TCP and UDP (the X-Ray daemon listens on both)."""
    import socket

    for _ in range(50):
        port = free_port()
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
            try:
                udp.bind((config.HOST, port))
            except OSError:
                continue
        return port
    raise RuntimeError("no free port")


@pytest.fixture
def cloud(tmp_path, monkeypatch):
    """A running LocalCloud (all components), its environment applied to this process."""
    lc = LocalCloud(tmp_path / "lab", aws_port=0, otlp_port=0, daemon_port=0).start()
    for key, value in lc.env().items():
        monkeypatch.setenv(key, value)
    yield lc
    lc.stop()


@pytest.fixture(scope="module")
def module_cloud(tmp_path_factory):
    """One LocalCloud shared by a module's tests (environment applied for the module)."""
    lc = LocalCloud(tmp_path_factory.mktemp("lab"), aws_port=0, otlp_port=0,
                    daemon_port=0).start()
    saved = dict(os.environ)
    os.environ.update(lc.env())
    yield lc
    lc.stop()
    os.environ.clear()
    os.environ.update(saved)


class Cruddur:
    """Both services as the notebooks run them: notifications in its own process, backend-flask in a thread."""

    def __init__(self, faults=None, otel: bool = False, xray: bool = False):
        from lab_app.runner import ServerThread
        from lab_app.services import create_backend_app
        from lab_app.services.downstream import DownstreamProcess

        self.downstream = DownstreamProcess(0, otel=otel, xray=xray, faults=faults).start()
        try:
            self.app = create_backend_app(self.downstream.url, faults=faults)
            self.backend = ServerThread(self.app, port=0, name="backend-flask").start()
        except BaseException:
            self.downstream.stop()
            raise

    @property
    def backend_url(self) -> str:
        return self.backend.url

    @property
    def downstream_url(self) -> str:
        return self.downstream.url

    def stop(self) -> None:
        self.backend.stop()
        self.downstream.stop()

    def __enter__(self) -> "Cruddur":
        return self

    def __exit__(self, *exc) -> None:
        self.stop()
