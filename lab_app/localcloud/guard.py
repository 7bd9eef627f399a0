"""What keeps a web page the learner opens from driving the local cloud.

Two rules, applied on every port the local cloud listens on (the AWS gateway, the OTLP receiver, the X-Ray
daemon's TCP side):

* **Loopback Host.** A request whose ``Host`` header names anything but ``127.0.0.1``, ``localhost`` or ``[::1]``
  is refused with 403. That stops DNS rebinding: a page on ``evil.example`` whose name is made to resolve to
  127.0.0.1 is same-origin for the browser, but its requests still say ``Host: evil.example:4566``. The real
  clients (boto3, the awscli, the SDKs, the OTLP exporters) send the endpoint's own host. When the stack is
  bound to a non-loopback address on purpose (``host=`` other than loopback), the learner chose to expose it
  and names other than loopback are accepted there.
* **A per-stack secret for the control routes.** Every ``/_localcloud/`` route except ``health`` (reset,
  shutdown, the clock, status, the per-component helpers) needs the header ``X-Localcloud-Token`` with the
  secret the process writes to ``<data dir>/control-token`` (mode 0600) when it starts. A browser cannot send a
  custom header cross-site without a CORS preflight, which the local cloud never approves, so a cross-site
  ``text/plain`` POST no longer resets or stops anything. The CLI and ``lab_app`` read the file.
  moto's own routes under ``/moto-api/`` get the same rule, with one exception kept for moto-style test
  harnesses, which call ``POST /moto-api/reset`` with no headers at all: a request that carries neither
  ``Origin`` nor any ``Sec-Fetch-*`` header did not come from a browser (browsers add them to every cross-site
  request, and to every POST), so it is let through without the token.
"""
from __future__ import annotations

import ipaddress
import json
import os
import secrets
from pathlib import Path
from typing import Callable

TOKEN_HEADER = "X-Localcloud-Token"
TOKEN_FILE = "control-token"
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
OPEN_CONTROL_ROUTES = frozenset({"/_localcloud/health"})


def is_loopback(host: str) -> bool:
    """A loopback name or address (127.0.0.0/8, ::1); ``127.0.0.1.evil.example`` is a DNS name, not loopback."""
    host = host.strip("[]").lower()
    if host in LOOPBACK_HOSTS:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def host_name(header: str) -> str:
    """``127.0.0.1:4566`` -> ``127.0.0.1``; ``[::1]:4566`` -> ``::1``; no port -> the header itself."""
    header = header.strip().lower()
    if header.startswith("["):
        return header[1:header.find("]")] if "]" in header else header
    return header.rsplit(":", 1)[0] if header.count(":") == 1 else header


def create_token(data_dir: Path) -> str:
    """A new secret for this stack, written where only this user can read it."""
    token = secrets.token_hex(24)
    path = Path(data_dir) / TOKEN_FILE
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(token)
    os.replace(tmp, path)
    return token


def read_token(data_dir: Path | str) -> str | None:
    try:
        return (Path(data_dir) / TOKEN_FILE).read_text().strip() or None
    except OSError:
        return None


def token_headers(data_dir: Path | str) -> dict[str, str]:
    """The header the CLI and ``lab_app`` send on control routes (empty when the stack never wrote one)."""
    token = read_token(data_dir)
    return {TOKEN_HEADER: token} if token else {}


def _refuse(start_response: Callable, message: str) -> list[bytes]:
    body = json.dumps({"__type": "AccessDeniedException", "message": message}).encode()
    start_response("403 Forbidden", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
    return [body]


def _from_a_browser(environ: dict) -> bool:
    return "HTTP_ORIGIN" in environ or any(key.startswith("HTTP_SEC_FETCH_") for key in environ)


class Guard:
    """WSGI middleware: the two rules above in front of ``app``."""

    def __init__(self, app: Callable, bound_host: str, token: Callable[[], str | None] | None = None):
        self.app = app
        self.check_host = is_loopback(bound_host)
        self.token = token          # None: this port has no control routes

    def __call__(self, environ: dict, start_response: Callable):
        host = environ.get("HTTP_HOST")
        if self.check_host and host is not None and not is_loopback(host_name(host)):
            return _refuse(start_response, f"Host {host!r} is not a loopback name: the local cloud answers only "
                                           "requests addressed to 127.0.0.1, localhost or [::1]")
        if self.token is not None:
            path = environ.get("PATH_INFO", "")
            control = path.startswith("/_localcloud/") and path not in OPEN_CONTROL_ROUTES
            moto = path.startswith("/moto-api/") and _from_a_browser(environ)
            sent = environ.get("HTTP_X_LOCALCLOUD_TOKEN", "").encode("latin-1", "replace")
            if (control or moto) and not secrets.compare_digest(sent, (self.token() or "\0").encode()):
                return _refuse(start_response, f"{path} needs the header {TOKEN_HEADER} with the secret in "
                                               f"<data dir>/{TOKEN_FILE} (the CLI and lab_app send it)")
        return self.app(environ, start_response)
