"""Run the notifications service in a process of its own, from a notebook (plumbing, not the lesson).

    from lab_app.services import downstream
    notifications = downstream.start(otel=True, xray=True)   # opentelemetry-instrument python -m ...notifications
    notifications.url, notifications.pid
    notifications.stop()

* ``start`` again (a re-run cell) stops the process this kernel started on that port first, then starts a
  fresh one on the same port; a port held by anything else raises :class:`PortInUseError`.
* The child gets this kernel's environment (so the local cloud's endpoints, or your real keys) plus the
  variables that instrument it the production way: ``OTEL_SERVICE_NAME=notifications`` for zero-code
  OpenTelemetry, ``AWS_XRAY_SDK_ENABLED`` for the X-Ray SDK, ``CRUDDUR_LOG_GROUP`` for CloudWatch Logs,
  ``CRUDDUR_FAULTS`` for injected faults. :attr:`DownstreamProcess.command` and
  :meth:`DownstreamProcess.environment` show exactly what it was started with (secrets masked).
* It stops when the kernel exits (``atexit`` here, and the child watches its parent in case the kernel is
  killed). SIGTERM makes it exit normally, so its span processor and log handler flush first.
"""
from __future__ import annotations

import atexit
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests

from lab_app import config
from lab_app.runner import PortInUseError, port_is_free
from lab_app.services.faults import Faults

SERVICE_NAME = "notifications"  # OTEL_SERVICE_NAME and the X-Ray segment name of the child
PORT_WAIT_S = 2.0  # how long a busy port may take to become free before start() gives up

__all__ = ["DownstreamProcess", "DownstreamError", "start", "stop", "current"]


class DownstreamError(RuntimeError):
    """The notifications process did not come up (its last output is in the message)."""


def _opentelemetry_instrument() -> str:
    path = Path(sys.executable).parent / "opentelemetry-instrument"
    if not path.exists():
        raise DownstreamError(f"{path} is missing: install the pinned requirements (opentelemetry-distro) "
                              f"with `make install`")
    return str(path)


class DownstreamProcess:
    def __init__(self, port: int, otel: bool = True, xray: bool = False, log_group: str | None = None,
                 faults: Faults | None = None, host: str = config.HOST, extra_env: dict[str, str] | None = None):
        self.host, self.port = host, port
        self.otel, self.xray, self.log_group = otel, xray, log_group
        self.faults = faults or Faults.none()
        self.extra_env = dict(extra_env or {})
        self._proc: subprocess.Popen | None = None
        self._log = None

    # --- what it runs -----------------------------------------------------------------------------------
    @property
    def command(self) -> list[str]:
        python = [sys.executable, "-m", "lab_app.services.notifications", "--host", self.host,
                  "--port", str(self.port), "--parent-pid", str(os.getpid())]
        return ([_opentelemetry_instrument()] if self.otel else []) + python

    def environment(self, masked: bool = True) -> dict[str, str]:
        """The variables that instrument the child (the rest of the kernel's environment is inherited)."""
        env = {
            "OTEL_SERVICE_NAME": SERVICE_NAME,
            "OTEL_TRACES_EXPORTER": "otlp" if self.otel else "none",
            "OTEL_METRICS_EXPORTER": "none",
            "OTEL_LOGS_EXPORTER": "none",
            "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
            "OTEL_EXPERIMENTAL_RESOURCE_DETECTORS": "otel,process",  # process.pid on every span
            "OTEL_BSP_SCHEDULE_DELAY": "500",
            "OTEL_PYTHON_FLASK_EXCLUDED_URLS": "health",
            "AWS_XRAY_SDK_ENABLED": "true" if self.xray else "false",
            "CRUDDUR_FAULTS": self.faults.to_json(),
        }
        if self.log_group:
            env["CRUDDUR_LOG_GROUP"] = self.log_group
        for key in ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_HEADERS", "AWS_XRAY_DAEMON_ADDRESS"):
            if os.environ.get(key):
                env[key] = os.environ[key]
        env.update(self.extra_env)
        if masked:
            return {k: (config.mask(v) if k in config.SECRET_NAMES else v) for k, v in env.items()}
        return env

    # --- lifecycle -----------------------------------------------------------------------------------------
    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def pid(self) -> int | None:
        return None if self._proc is None else self._proc.pid

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def start(self, timeout: float = 20.0) -> "DownstreamProcess":
        if self.running:
            return self
        # a kernel that was just restarted leaves its child behind for up to half a second (the child watches its
        # parent and exits): wait that out before calling the port taken
        deadline = time.monotonic() + PORT_WAIT_S
        while self.port and not port_is_free(self.port, self.host):
            if time.monotonic() > deadline:
                raise PortInUseError(self.port, self.host)
            time.sleep(0.1)
        env = {**os.environ, **self.environment(masked=False)}
        self._log = tempfile.TemporaryFile(mode="w+b")
        self._proc = subprocess.Popen(self.command, env=env, stdin=subprocess.DEVNULL, stdout=self._log,
                                      stderr=subprocess.STDOUT, cwd=str(config.REPO_ROOT))
        _RUNNING[(self.host, self.port)] = self
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                break
            if self.port == 0:  # port 0 (tests): the child prints the port it bound
                match = re.search(r"listening on http://[^:]+:(\d+)", self.output())
                if not match:
                    time.sleep(0.05)
                    continue
                self.port = int(match.group(1))
                _RUNNING[(self.host, self.port)] = _RUNNING.pop((self.host, 0), self)
            try:
                if requests.get(self.url + "/health", timeout=0.5).json().get("pid") == self._proc.pid:
                    return self
            except (requests.RequestException, ValueError):
                pass
            time.sleep(0.05)
        output = self.output()
        self.stop()
        raise DownstreamError(f"notifications did not answer on {self.url}/health within {timeout:.0f} s. "
                              f"Its output:\n{output[-3000:] or '(none)'}")

    def output(self) -> str:
        """What the process printed so far (stdout and stderr)."""
        if self._log is None:
            return ""
        self._log.flush()
        self._log.seek(0)
        return self._log.read().decode("utf-8", "replace")

    def stop(self, timeout: float = 10.0) -> None:
        proc, self._proc = self._proc, None
        _RUNNING.pop((self.host, self.port), None)
        if proc is not None and proc.poll() is None:
            proc.terminate()  # SIGTERM: the child exits normally and flushes spans and logs
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)
        deadline = time.monotonic() + 5
        while self.port and not port_is_free(self.port, self.host) and time.monotonic() < deadline:
            time.sleep(0.05)

    def restart(self) -> "DownstreamProcess":
        self.stop()
        return self.start()

    def __enter__(self) -> "DownstreamProcess":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def __repr__(self) -> str:
        parts = [name for name, on in (("OpenTelemetry", self.otel), ("X-Ray", self.xray),
                                       (f"CloudWatch Logs {self.log_group}", self.log_group)) if on]
        state = f"pid {self.pid}" if self.running else "stopped"
        return f"<{SERVICE_NAME} {self.url} {state}; instrumented with {', '.join(parts) or 'nothing'}>"


_RUNNING: dict[tuple[str, int], DownstreamProcess] = {}


def start(otel: bool = True, xray: bool = False, log_group: str | None = None, faults: Faults | None = None,
          port: int | None = None, extra_env: dict[str, str] | None = None) -> DownstreamProcess:
    """Start (or restart, on the same port) the notifications process; returns once it answers /health."""
    port = config.downstream_port() if port is None else port
    old = _RUNNING.get((config.HOST, port))
    if old is not None:
        old.stop()
    return DownstreamProcess(port, otel=otel, xray=xray, log_group=log_group, faults=faults,
                             extra_env=extra_env).start()


def stop() -> None:
    """Stop every notifications process this kernel started."""
    for process in list(_RUNNING.values()):
        process.stop()


def current() -> DownstreamProcess | None:
    return next(iter(_RUNNING.values()), None)


atexit.register(stop)
