"""The runner: start/stop/restart on one port, busy-port errors, context manager."""
from __future__ import annotations

import socket

import pytest
import requests
from flask import Flask

from lab_app import runner
from lab_app.runner import PortInUseError, ServerThread


def make_app(text: str) -> Flask:
    app = Flask(f"app-{text}")
    app.get("/")(lambda: text)
    return app


def test_restart_three_times_on_the_same_port():
    server = ServerThread(make_app("one"), port=0).start()
    port = server.port
    try:
        for _ in range(3):
            assert requests.get(server.url, timeout=5).text == "one"
            server.restart()
            assert server.port == port
        assert requests.get(server.url, timeout=5).text == "one"
    finally:
        server.stop()
    assert not server.running
    with pytest.raises(requests.ConnectionError):
        requests.get(f"http://127.0.0.1:{port}", timeout=2)


def test_serve_replaces_this_kernels_server_on_the_same_port():
    port = runner.free_port()
    for text in ("first", "second", "third"):
        runner.serve(make_app(text), port)
        assert requests.get(f"http://127.0.0.1:{port}/", timeout=5).text == text
    runner.stop_all()
    assert runner.port_is_free(port)


def test_busy_port_names_the_port_and_what_to_do():
    with socket.socket() as blocker:
        blocker.bind(("127.0.0.1", 0))
        blocker.listen()
        port = blocker.getsockname()[1]
        with pytest.raises(PortInUseError) as info:
            ServerThread(make_app("x"), port=port).start()
    message = str(info.value)
    assert str(port) in message and "already in use" in message and "stop" in message.lower()


def test_context_manager_stops_the_server():
    with ServerThread(make_app("ctx"), port=0) as server:
        assert requests.get(server.url, timeout=5).text == "ctx"
        port = server.port
    assert runner.port_is_free(port)
