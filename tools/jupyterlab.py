"""The JupyterLab that `make lab` starts, seen from outside: is it running, wait for it, the address to open.

    python tools/jupyterlab.py running 8888            # exit 0 when a JupyterLab answers on 127.0.0.1:8888
    python tools/jupyterlab.py start 8888 --log build/jupyterlab.log -- make lab   # in the background, once
    python tools/jupyterlab.py url 8888                # the address to open, token included

Used by `make lab-background` and `make lab-url` (the start step of .devcontainer/devcontainer.json,
.ona/automations.yaml and .gitpod.yml). The running servers are the ones Jupyter lists itself (its runtime
directory's jpserver-*.json files, as `jupyter server list` reads them). In a codespace the address is the
forwarded one, https://<codespace>-<port>.<forwarding domain>, which the browser can reach; elsewhere
http://127.0.0.1:<port>.
"""
from __future__ import annotations

import argparse
import fcntl
import os
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlencode

import requests
from jupyter_server.serverapp import list_running_servers

HOST = "127.0.0.1"


def server_on(port: int) -> dict | None:
    """The running Jupyter server listening on ``port`` that answers its API, or None."""
    for info in list_running_servers():
        if int(info.get("port", -1)) != port:
            continue
        try:
            answer = requests.get(f"http://{HOST}:{port}{info.get('base_url', '/')}api", timeout=2)
        except requests.RequestException:
            continue
        if answer.ok and "version" in answer.json():
            return info
    return None


def public_base(port: int, environ=os.environ) -> str:
    """Where a browser reaches the port: the codespace's forwarded address, a Gitpod workspace's, or 127.0.0.1."""
    if environ.get("LAB_PUBLIC_HOST"):
        return f"https://{environ['LAB_PUBLIC_HOST']}"
    name, domain = environ.get("CODESPACE_NAME"), environ.get("GITHUB_CODESPACES_PORT_FORWARDING_DOMAIN")
    if name and domain:
        return f"https://{name}-{port}.{domain}"
    if environ.get("GITPOD_WORKSPACE_URL", "").startswith("https://"):
        return f"https://{port}-{environ['GITPOD_WORKSPACE_URL'][len('https://'):].rstrip('/')}"
    return f"http://{HOST}:{port}"


def url(info: dict, environ=os.environ) -> str:
    base = public_base(int(info["port"]), environ) + info.get("base_url", "/").rstrip("/")
    token = info.get("token")
    return f"{base}/lab" + (f"?{urlencode({'token': token})}" if token else "")


def wait(port: int, process: subprocess.Popen, log: Path, timeout: float = 180) -> dict:
    """Block until JupyterLab answers on ``port``; exit with the log's last lines if ``process`` ended first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        info = server_on(port)
        if info:
            return info
        if process.poll() is not None:
            break
        time.sleep(0.5)
    tail = "\n".join(log.read_text(errors="replace").splitlines()[-12:]) if log.exists() else ""
    why = f"stopped (exit {process.returncode})" if process.returncode is not None else \
        f"did not answer within {timeout:.0f} s"
    raise SystemExit(f"JupyterLab on port {port} {why}. Last lines of {log}:\n{tail}\n"
                     f"Is port {port} taken by another program? Stop it, or run make lab-background LAB_PORT=<another>.")


def start(port: int, command: list[str], log: Path, timeout: float = 180) -> tuple[dict, bool]:
    """Run ``command`` (``make lab``) detached from this process, unless a JupyterLab already answers on ``port``.

    Two start steps at once (a devcontainer's postStartCommand and an Ona service) start one JupyterLab: the check
    and the start happen under a lock. Returns the server's info and whether this call started it.
    """
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log.with_name(log.name + ".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        info = server_on(port)
        if info:
            return info, False
        with open(log, "wb") as out:
            child = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                     start_new_session=True)  # survives the start step's shell (nohup + setsid)
        return wait(port, child, log, timeout), True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    for name in ("running", "start", "url"):
        command = sub.add_parser(name)
        command.add_argument("port", type=int)
        if name == "start":
            command.add_argument("--log", type=Path, required=True)
            command.add_argument("--timeout", type=float, default=180)
            command.add_argument("argv", nargs="+", help="what starts JupyterLab in the foreground (make lab)")
    args = parser.parse_args(argv)
    if args.command == "running":
        return 0 if server_on(args.port) else 1
    if args.command == "start":
        info, started = start(args.port, args.argv, args.log, args.timeout)
        print(f"JupyterLab {'started' if started else 'is already running'} on port {args.port} "
              f"(log: {args.log})")
        print(f"JupyterLab: {url(info)}")
        return 0
    info = server_on(args.port)
    if not info:
        print(f"no JupyterLab is running on port {args.port}: start it with make lab (or make lab-background)",
              file=sys.stderr)
        return 1
    print(f"JupyterLab: {url(info)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
