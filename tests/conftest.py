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
