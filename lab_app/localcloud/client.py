"""Driving the local cloud process from outside: start (in the background), attach, stop, status, env, reset.

Re-exported by :mod:`lab_app.localcloud`; the process itself is :mod:`lab_app.localcloud.server`.
"""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from lab_app import config
from lab_app.localcloud.guard import TOKEN_FILE, token_headers
from lab_app.localcloud.server import DB_FILE, IDENTITY, LOG_FILE, PID_FILE, code_version
from lab_app.runner import port_is_free


class LocalCloudError(RuntimeError):
    pass


@dataclass
class LocalCloudInfo:
    data_dir: Path
    aws_port: int
    otlp_port: int
    daemon_port: int
    pid: int | None
    attached: bool  # True when start() found a stack already running
    host: str = config.HOST

    @property
    def aws_url(self) -> str:
        return f"http://{self.host}:{self.aws_port}"

    @property
    def otlp_url(self) -> str:
        return f"http://{self.host}:{self.otlp_port}"

    def env(self) -> dict[str, str]:
        return {**config.local_env(self.aws_port, self.otlp_port, self.daemon_port, self.host),
                "LAB_DATA_DIR": str(self.data_dir)}


def _resolve(data_dir=None, aws_port=None, otlp_port=None, daemon_port=None) -> LocalCloudInfo:
    return LocalCloudInfo(
        data_dir=Path(data_dir or config.state_dir()).resolve(),
        aws_port=config.aws_port() if aws_port is None else int(aws_port),
        otlp_port=config.otlp_port() if otlp_port is None else int(otlp_port),
        daemon_port=config.daemon_port() if daemon_port is None else int(daemon_port),
        pid=None, attached=False,
    )


def control_headers(aws_port: int | None = None, host: str = config.HOST) -> dict[str, str]:
    """The header a control route needs: the secret the running stack wrote into its data directory.

    The data directory comes from the stack's health answer, so this works for a stack started with any
    ``--data-dir``; the file is readable only by the user who started it (see guard.py)."""
    answer = health(aws_port, host)
    return token_headers(answer["data_dir"]) if answer and answer.get("data_dir") else {}


def _get_json(url: str, timeout: float = 1.0, method: str = "GET", body: dict | None = None,
              data_dir: Path | str | None = None, headers: dict | None = None) -> dict | None:
    """None when nothing answers; a control route (``data_dir`` given) is sent with the stack's secret."""
    data = json.dumps(body).encode() if body is not None else None
    headers = {"Content-Type": "application/json", **(headers or {})}
    req = urllib.request.Request(url, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        if exc.code == 403 and data_dir is not None:
            raise LocalCloudError(f"the local cloud refused {url}: the secret in {Path(data_dir) / TOKEN_FILE} is "
                                  "not the running stack's (a file left by another stack? restart it: python -m "
                                  "lab_app.localcloud stop && python -m lab_app.localcloud start)") from None
        return None
    except (urllib.error.URLError, OSError, ValueError):
        return None


def health(aws_port: int | None = None, host: str = config.HOST, timeout: float = 1.0) -> dict | None:
    """The running stack's health answer, or None when nothing of ours answers on the AWS port."""
    port = config.aws_port() if aws_port is None else aws_port
    answer = _get_json(f"http://{host}:{port}/_localcloud/health", timeout=timeout)
    return answer if answer and answer.get("service") == IDENTITY else None


def _tcp_busy(port: int, host: str) -> bool:
    return not port_is_free(port, host)


def _udp_busy(port: int, host: str) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        try:
            sock.bind((host, port))
        except OSError:
            return True
    return False


def _adopt(info: LocalCloudInfo, answer: dict, pid: int | None = None) -> None:
    """Take the pid and the ports the running stack reports (the bound ones, when 0 was asked for)."""
    ports = answer.get("ports", {})
    info.otlp_port, info.daemon_port = ports.get("otlp", info.otlp_port), ports.get("daemon", info.daemon_port)
    info.pid = answer.get("pid", pid)


def _runs_older_code(info: LocalCloudInfo, answer: dict) -> bool:
    """True when the stack answering is ours (this data directory) but runs other source than this checkout.

    A stack of another checkout or data directory is attached to as before: it is not ours to restart."""
    data_dir = answer.get("data_dir") or (status(info.aws_port) or {}).get("data_dir")
    if not data_dir or Path(data_dir).resolve() != info.data_dir:
        return False
    return answer.get("code") != code_version()


def _apply_env(info: LocalCloudInfo) -> None:
    os.environ.update(info.env())


def start(data_dir=None, aws_port=None, otlp_port=None, daemon_port=None, timeout: float = 60.0,
          set_environ: bool = True) -> LocalCloudInfo:
    """Start the local cloud in the background (or attach to the one running) and wait until healthy.

    Sets this process's environment (endpoints, dummy credentials) unless ``set_environ=False``.
    """
    info = _resolve(data_dir, aws_port, otlp_port, daemon_port)
    running = health(info.aws_port, info.host)
    if running and _runs_older_code(info, running):
        print(f"The local cloud on port {info.aws_port} was started from other code than this checkout has now "
              "(the files changed since, e.g. a git pull): restarting it. Stored data is kept.")
        stop(info.data_dir, info.aws_port)
        running = health(info.aws_port, info.host)
    if running:
        _adopt(info, running)
        info.attached = True
        if set_environ:
            _apply_env(info)
        return info
    for label, port, busy in (("AWS gateway", info.aws_port, _tcp_busy), ("OTLP receiver", info.otlp_port, _tcp_busy),
                              ("X-Ray daemon (TCP)", info.daemon_port, _tcp_busy),
                              ("X-Ray daemon (UDP)", info.daemon_port, _udp_busy)):
        if busy(port, info.host):
            raise LocalCloudError(
                f"port {port} ({label}) on {info.host} is taken by another program, not the local cloud. "
                f"Stop it (`ss -lntup | grep {port}` shows who holds it) or choose other ports, e.g. "
                f"LAB_AWS_PORT / LAB_OTLP_PORT / LAB_XRAY_DAEMON_PORT or the --aws-port/--otlp-port/--daemon-port flags."
            )
    info.data_dir.mkdir(parents=True, exist_ok=True)
    log_path = info.data_dir / LOG_FILE
    cmd = [sys.executable, "-m", "lab_app.localcloud", "serve", "--data-dir", str(info.data_dir),
           "--aws-port", str(info.aws_port), "--otlp-port", str(info.otlp_port),
           "--daemon-port", str(info.daemon_port)]
    child_env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "AWS_XRAY"))}
    with open(log_path, "ab") as log_file:
        proc = subprocess.Popen(cmd, stdout=log_file, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                start_new_session=True, env=child_env, cwd=str(config.REPO_ROOT))
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        answer = health(info.aws_port, info.host, timeout=0.5)
        if answer:
            _adopt(info, answer, pid=proc.pid)
            if set_environ:
                _apply_env(info)
            return info
        if proc.poll() is not None:
            raise LocalCloudError(f"the local cloud exited at start (code {proc.returncode}). "
                                  f"Last lines of {log_path}:\n{_tail(log_path)}")
        time.sleep(0.1)
    proc.kill()
    raise LocalCloudError(f"the local cloud did not become healthy in {timeout:.0f} s; see {log_path}:\n{_tail(log_path)}")


def _tail(path: Path, lines: int = 20) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def stop(data_dir=None, aws_port=None, timeout: float = 20.0) -> bool:
    """Stop the stack (cleanly: the store is checkpointed). False when nothing was running."""
    info = _resolve(data_dir, aws_port)
    running = health(info.aws_port, info.host)
    pid = running.get("pid") if running else _read_pid(info.data_dir)
    if pid and not running and not _is_local_cloud(pid):
        pid = None          # a stale pid file (after kill -9): that number may now be someone else's process
    if not running and not pid:
        return False
    if pid:
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            return bool(running)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if _exited(pid):
                break
            time.sleep(0.05)
        else:
            os.kill(pid, signal.SIGKILL)
            _exited(pid)
    # wait until the port is released
    deadline = time.monotonic() + 5
    while health(info.aws_port, info.host, timeout=0.2) and time.monotonic() < deadline:
        time.sleep(0.05)
    return True


def _exited(pid: int) -> bool:
    """True once ``pid`` is gone. Reaps it when it is our own child (started by start() in this process),
    which would otherwise linger as a zombie that ``kill(pid, 0)`` still finds."""
    try:
        if os.waitpid(pid, os.WNOHANG)[0] == pid:
            return True
    except ChildProcessError:  # not our child: someone else reaps it
        pass
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def _is_local_cloud(pid: int) -> bool:
    """True when ``pid`` runs ``python -m lab_app.localcloud serve`` (read from /proc; elsewhere, ``ps``)."""
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except FileNotFoundError:
        if Path("/proc/self").exists():
            return False            # /proc works and the process is gone
        try:
            argv = subprocess.run(["ps", "-o", "command=", "-p", str(pid)], capture_output=True,
                                  timeout=5).stdout.split()
        except (OSError, subprocess.SubprocessError):
            return False
    except OSError:
        return False
    return IDENTITY.encode() in argv and b"serve" in argv


def _read_pid(data_dir: Path) -> int | None:
    try:
        pid = int((data_dir / PID_FILE).read_text().strip())
    except (OSError, ValueError):
        return None
    try:
        os.kill(pid, 0)
    except (ProcessLookupError, PermissionError):
        return None
    return pid


def _control_json(aws_port: int, route: str, timeout: float, method: str = "GET", body: dict | None = None):
    answer = health(aws_port)
    if not answer:
        return None
    data_dir = answer.get("data_dir")
    return _get_json(f"http://{config.HOST}:{aws_port}/_localcloud/{route}", timeout=timeout, method=method,
                     body=body, data_dir=data_dir, headers=token_headers(data_dir) if data_dir else {})


def status(aws_port=None) -> dict | None:
    """Each component and how much it stores, or None when the stack is not running."""
    port = config.aws_port() if aws_port is None else int(aws_port)
    return _control_json(port, "status", timeout=5)


def env(data_dir=None, aws_port=None, otlp_port=None, daemon_port=None) -> dict[str, str]:
    return _resolve(data_dir, aws_port, otlp_port, daemon_port).env()


def reset(data_dir=None, aws_port=None) -> str:
    """Wipe stored data: through the running stack, or by deleting the store file when it is stopped."""
    info = _resolve(data_dir, aws_port)
    if health(info.aws_port, info.host):
        _control_json(info.aws_port, "reset", method="POST", body={}, timeout=30)
        return "running stack reset"
    removed = [p for p in info.data_dir.glob(DB_FILE + "*") if p.is_file()]
    for path in removed:
        path.unlink()
    return f"removed {len(removed)} store file(s) from {info.data_dir}"


def advance_clock(seconds: float, aws_port=None) -> dict:
    """LOCAL ONLY: move the local cloud's evaluation clock forward (alarms, retention); AWS has no such thing."""
    port = config.aws_port() if aws_port is None else int(aws_port)
    answer = _control_json(port, "clock", method="POST", body={"advance_seconds": seconds}, timeout=30)
    if answer is None:
        raise LocalCloudError("the local cloud is not running: start it with lab_app.localcloud.start()")
    return answer
