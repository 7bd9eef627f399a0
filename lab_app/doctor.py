"""The doctor for "no data": every pillar checked end to end, in the current mode.

    python -m lab_app.doctor            # or: make doctor
    from lab_app import doctor; report = doctor.run(); report      # in a notebook (report.frame() for pandas)

For Honeycomb, X-Ray, CloudWatch Logs and Rollbar, in this order and each step only when the one before passed:

1. **config**: the variables the SDKs read are there and well formed (names the missing variable and where to
   get it; recognises the usual mistakes: ``x-honeycomb-api-key=`` or ``X-Honeycomb-Team:`` instead of
   ``x-honeycomb-team=<key>``, ``/v1/traces`` in ``OTEL_EXPORTER_OTLP_ENDPOINT``, no region for boto3,
   ``AWS_ENDPOINT_URL_LOGS`` instead of ``AWS_ENDPOINT_URL_CLOUDWATCH_LOGS``, ...);
2. **reachable**: something answers at the endpoint (for X-Ray: the daemon's TCP sampling side, then the API);
3. **key**: the key or credentials are accepted and can do what the workbook needs;
4. **probe**: one real round trip through the real clients, sent and read back: a span through the OTLP
   exporter (read back from the local span store, or with Honeycomb's Query Data API when the key may query),
   a segment through the X-Ray SDK's UDP emitter (BatchGetTraces), a log event with PutLogEvents into the log
   group ``cruddur-doctor`` (GetLogEvents), a Rollbar item POSTed to ``/api/1/item/`` (the read API).

The probes are named so they cannot be mistaken for the app's data (service ``doctor``, log group
``cruddur-doctor`` with 1-day retention, Rollbar environment ``doctor``) and nothing the learner made is changed.
In local mode the doctor first asks whether the local cloud runs (``python -m lab_app.localcloud start`` if not)
and checks the environment the notebooks get from ``setup()``: the learner's variables with the local cloud's
endpoints and keys laid over them. Secrets are masked in everything it prints.
"""
from __future__ import annotations

import argparse
import contextlib
import html
import json
import logging
import os
import socket
import sys
import time
import uuid
from dataclasses import asdict, dataclass
from typing import Callable, Iterator
from urllib.parse import urlsplit

import pandas as pd
import requests

from lab_app import config

PILLARS = ("Honeycomb", "X-Ray", "CloudWatch Logs", "Rollbar")
STEPS = ("config", "reachable", "key", "probe")
SERVICE = "doctor"                   # service.name of the probe span, name of the probe segment
LOG_GROUP = "cruddur-doctor"
LOG_STREAM = "doctor"
ROLLBAR_ENVIRONMENT = "doctor"
ROLLBAR_TITLE = "lab_app.doctor probe"
START_LOCAL_CLOUD = "python -m lab_app.localcloud start"
RESTART_LOCAL_CLOUD = "python -m lab_app.localcloud stop && python -m lab_app.localcloud start"
HEADER_FIX = "header must be x-honeycomb-team=<key>"
HONEYCOMB_KEYS = "Honeycomb > Environment settings > API Keys"
ROLLBAR_TOKENS = "Rollbar > your project > Settings > Project Access Tokens"
DEFAULT_OTLP_ENDPOINT = "http://localhost:4318"   # what the OTLP exporter uses when nothing is set
DEFAULT_ROLLBAR_ENDPOINT = "https://api.rollbar.com/api/1/"
DAEMON_FIX = ("start an X-Ray daemon listening on {address} (UDP + TCP): `python -m lab_app.localcloud.xray.daemon "
              "--forward --region {region}` (no Docker needed), the amazon/aws-xray-daemon container, or the xray "
              "binary (`xray -o -n {region}`); or point AWS_XRAY_DAEMON_ADDRESS at the one you run")
CONNECT_TIMEOUT_S = 3.0
# How long a probe waits to read its own data back: the local cloud stores it in milliseconds; the real services
# index it within seconds (X-Ray and Rollbar can take longer).
READ_BACK_S = {"local": 5.0, "cloud": 30.0}


@dataclass(frozen=True)
class Check:
    """One line of the report. ``skipped``: not run because an earlier step of the pillar failed."""

    pillar: str
    check: str
    ok: bool
    detail: str = ""
    fix: str = ""
    skipped: bool = False

    @property
    def status(self) -> str:
        return "ok" if self.ok else ("skip" if self.skipped else "FAIL")


class Report(list):
    """The checks in order (a list of :class:`Check`), with the mode and how long the run took."""

    def __init__(self, checks=(), mode: str = "local", seconds: float = 0.0):
        super().__init__(checks)
        self.mode = mode
        self.seconds = seconds

    @property
    def ok(self) -> bool:
        return all(check.ok for check in self)

    @property
    def failed(self) -> list[Check]:
        return [check for check in self if check.status == "FAIL"]

    def frame(self) -> pd.DataFrame:
        """One row per check: pillar, check, status, ok, detail, fix."""
        rows = [{"pillar": c.pillar, "check": c.check, "status": c.status, "ok": c.ok, "detail": c.detail,
                 "fix": c.fix} for c in self]
        frame = pd.DataFrame(rows, columns=["pillar", "check", "status", "ok", "detail", "fix"])
        return frame.astype({"pillar": "string", "check": "string", "status": "string", "ok": "bool",
                             "detail": "string", "fix": "string"})

    def lines(self) -> list[str]:
        """One aligned line per check; a failure is followed by its fix."""
        width_pillar = max((len(c.pillar) for c in self), default=0)
        width_check = max((len(c.check) for c in self), default=0)
        out = []
        for c in self:
            out.append(f"{c.status:<4}  {c.pillar:<{width_pillar}}  {c.check:<{width_check}}  {c.detail}".rstrip())
            if c.fix:
                out.append(f"{'':<4}  {'':<{width_pillar}}  {'':<{width_check}}  fix: {c.fix}")
        return out

    def summary(self) -> str:
        failed = len(self.failed)
        verdict = "all ok" if self.ok else f"{failed} failed: fix the first FAIL first, then run the doctor again"
        return f"{len(self)} checks in {self.mode} mode, {verdict} ({self.seconds:.1f} s)"

    def __str__(self) -> str:
        return "\n".join(self.lines() + [self.summary()])

    __repr__ = __str__   # the aligned lines, in a terminal or a plain-text front end too

    def _repr_html_(self) -> str:
        colour = {"ok": "#1a7f37", "FAIL": "#cf222e", "skip": "#6e7781"}
        rows = "".join(
            f"<tr><td style='color:{colour[c.status]}'><b>{c.status}</b></td><td>{html.escape(c.pillar)}</td>"
            f"<td>{html.escape(c.check)}</td><td style='text-align:left'>{html.escape(c.detail)}"
            + (f"<br><b>fix:</b> {html.escape(c.fix)}" if c.fix else "") + "</td></tr>"
            for c in self)
        return (f"<table><tr><th></th><th>pillar</th><th>check</th><th style='text-align:left'>detail</th></tr>{rows}"
                f"</table><p>{html.escape(self.summary())}</p>")


class Failed(Exception):
    """A step that failed: what was seen (``detail``) and what to do (``fix``)."""

    def __init__(self, detail: str, fix: str):
        super().__init__(detail)
        self.detail = detail
        self.fix = fix


# --- shared helpers ---------------------------------------------------------------------------------
def _host_port(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    return parts.hostname or "", parts.port or (443 if parts.scheme == "https" else 80)


def _reach(url: str, variable: str, fix: str) -> str:
    """A TCP connection to the URL's host and port (DNS first, so a typo in the host name is told apart)."""
    host, port = _host_port(url)
    try:
        socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror:
        raise Failed(f"{host} (from {variable}) does not resolve", f"check the host name in {variable}, and that "
                     "this machine is online") from None
    try:
        with socket.create_connection((host, port), timeout=CONNECT_TIMEOUT_S):
            pass
    except OSError as exc:
        raise Failed(f"nothing answers on {host}:{port} ({exc.strerror or exc})", fix) from None
    return f"{host}:{port}"


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def _error_text(response: requests.Response) -> str:
    """The error message in a JSON body, a google.rpc.Status (OTLP) body, or the text."""
    try:
        body = response.json()
        if isinstance(body, dict):
            return str(body.get("error") or body.get("message") or body)[:200]
    except ValueError:
        pass
    if "protobuf" in (response.headers.get("Content-Type") or ""):
        from google.rpc import status_pb2

        try:
            return status_pb2.Status.FromString(response.content).message[:200]
        except Exception:  # not a Status: fall through to the raw text
            pass
    return response.text[:200] or response.reason


def _wait_for(read: Callable[[], object], seconds: float, interval: float = 0.05,
              longest: float = 1.0) -> tuple[object, float]:
    """Call ``read`` until it returns something truthy or ``seconds`` pass; (the answer, seconds waited).

    The pause between calls grows from ``interval`` by half each time, up to ``longest``.
    """
    started = time.monotonic()
    while True:
        answer = read()
        waited = time.monotonic() - started
        if answer or waited >= seconds:
            return answer, waited
        time.sleep(min(interval, seconds - waited))
        interval = min(interval * 1.5, max(longest, interval))


def _endpoint_variable(service_variable: str) -> str:
    """Which variable gave an AWS client its endpoint (for messages): the service's, the global one, or the region."""
    for name in (service_variable, "AWS_ENDPOINT_URL"):
        if os.environ.get(name):
            return name
    return "AWS_DEFAULT_REGION"


def _article(word: str) -> str:
    return ("an " if word[:1].lower() in "aeiou" else "a ") + word


@contextlib.contextmanager
def _environment(overlay: dict[str, str]) -> Iterator[None]:
    """``os.environ`` with ``overlay`` applied for the duration (what ``setup()`` gives a notebook)."""
    saved = {key: os.environ.get(key) for key in overlay}
    os.environ.update(overlay)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


@contextlib.contextmanager
def _quiet(names=("opentelemetry", "aws_xray_sdk", "botocore", "urllib3")) -> Iterator[None]:
    """The SDKs log their own failed exports; the doctor reports them itself, once, with the fix."""
    loggers = [logging.getLogger(name) for name in names]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        for logger, level in zip(loggers, levels):
            logger.setLevel(level)


class _Context:
    """What the pillars of one run share: the mode, and the AWS configuration (resolved once)."""

    def __init__(self, mode: str):
        self.mode = mode
        self.local = mode == "local"
        self.read_back_s = READ_BACK_S[mode]
        self._aws = None

    def aws(self) -> dict:
        """Region and credentials as boto3 resolves them, or Failed naming the variable that is missing."""
        if self._aws is None:
            try:
                self._aws = {"ok": self._resolve_aws()}
            except Failed as failed:
                self._aws = {"failed": failed}
        if "failed" in self._aws:
            raise self._aws["failed"]
        return self._aws["ok"]

    def _resolve_aws(self) -> dict:
        import boto3
        from botocore.exceptions import BotoCoreError, PartialCredentialsError, ProfileNotFound

        profile = os.environ.get("AWS_PROFILE")
        try:
            session = boto3.session.Session()
            region = session.region_name
            credentials = session.get_credentials()
        except ProfileNotFound:
            raise Failed(f"AWS_PROFILE={profile} is not a profile in ~/.aws/config",
                         f"create it (`aws configure --profile {profile}` or `aws configure sso`) or unset "
                         "AWS_PROFILE") from None
        except PartialCredentialsError as exc:
            raise Failed(str(exc), "set both AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (IAM > Users > Security "
                                   "credentials > Create access key), or unset both and use AWS_PROFILE") from None
        except BotoCoreError as exc:
            raise Failed(f"boto3 cannot read the AWS configuration: {exc}", "fix ~/.aws/config or the AWS_* "
                         "variables it names") from None
        if not region:
            if os.environ.get("AWS_REGION"):
                raise Failed(f"AWS_REGION={os.environ['AWS_REGION']} is set, but boto3 reads AWS_DEFAULT_REGION "
                             "(or region in ~/.aws/config), which is not set",
                             f"export AWS_DEFAULT_REGION={os.environ['AWS_REGION']}")
            raise Failed("no AWS region: AWS_DEFAULT_REGION is not set and no profile gives one "
                         f"(AWS_PROFILE={profile or '(not set)'})",
                         "export AWS_DEFAULT_REGION=us-east-1 (the region you use in the AWS console; "
                         "`aws configure` writes it to ~/.aws/config)")
        if credentials is None:
            raise Failed("no AWS credentials: AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY are not set and no profile "
                         "or role gives any",
                         "export AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (IAM > Users > Security credentials > "
                         "Create access key), or set AWS_PROFILE after `aws configure` / `aws sso login`")
        frozen = credentials.get_frozen_credentials()
        if credentials.method == "env" and frozen.access_key.startswith("ASIA") and not frozen.token:
            raise Failed(f"AWS_ACCESS_KEY_ID={config.mask(frozen.access_key)} is a temporary key (ASIA...) but "
                         "AWS_SESSION_TOKEN is not set",
                         "export AWS_SESSION_TOKEN from the same place as the key (aws sso, sts), or use AWS_PROFILE")
        return {"session": session, "region": region, "method": credentials.method,
                "access_key": config.mask(frozen.access_key)}


def _aws_error(exc, service: str, needs: str) -> Failed:
    """A ClientError from a credential check as the fix a learner needs."""
    code = exc.response.get("Error", {}).get("Code", "")
    message = exc.response.get("Error", {}).get("Message", "")
    detail = f"{service} refused the credentials: {code}: {message}"[:300]
    if code in ("UnrecognizedClientException", "InvalidClientTokenId"):
        fix = ("AWS does not know AWS_ACCESS_KEY_ID: create a new access key (IAM > Users > Security credentials) "
               "or check AWS_PROFILE")
    elif code in ("InvalidSignatureException", "SignatureDoesNotMatch"):
        fix = "AWS_SECRET_ACCESS_KEY does not belong to AWS_ACCESS_KEY_ID: copy both from the same access key"
    elif code in ("ExpiredTokenException", "ExpiredToken", "RequestExpired"):
        fix = "the temporary credentials expired: `aws sso login` again, or refresh AWS_SESSION_TOKEN"
    elif "AccessDenied" in code:
        fix = f"the identity may not call {service}: attach {needs} to it (IAM > Users or Roles > Permissions)"
    else:
        fix = f"see the {service} error above"
    return Failed(detail, fix)


# --- the pillars ------------------------------------------------------------------------------------
class _Pillar:
    """One pillar: its ``config``, ``reachable``, ``key`` and ``probe`` methods run in that order (STEPS)."""

    name = ""

    def __init__(self, ctx: _Context):
        self.ctx = ctx

    def run(self) -> list[Check]:
        checks: list[Check] = []
        failed_step = None
        for step in STEPS:
            if failed_step:
                checks.append(Check(self.name, step, False, f"skipped: {failed_step} failed", skipped=True))
                continue
            try:
                detail = getattr(self, step)()
            except Failed as failed:
                checks.append(Check(self.name, step, False, failed.detail, failed.fix))
                failed_step = step
            except Exception as exc:  # a client raised something the doctor does not know yet: still say it
                checks.append(Check(self.name, step, False, f"{type(exc).__name__}: {exc}"[:300],
                                    "read the error above; the doctor does not recognise it"))
                failed_step = step
            else:
                checks.append(Check(self.name, step, True, detail))
        return checks


class Honeycomb(_Pillar):
    """OpenTelemetry's OTLP/HTTP exporter to Honeycomb (locally: the Honeycomb stand-in)."""

    name = "Honeycomb"

    def config(self) -> str:
        if os.environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
            raise Failed("OTEL_SDK_DISABLED=true: the SDK makes no spans at all", "unset OTEL_SDK_DISABLED")
        self.url, self.endpoint_variable = self._traces_url()
        self.key_value, self.headers_variable = self._team_key()
        return f"spans go to {self.url} with x-honeycomb-team={config.mask(self.key_value)} ({self.headers_variable})"

    def _traces_url(self) -> tuple[str, str]:
        """The URL the exporter POSTs to, computed the way the SDK does, or the mistake in it."""
        traces = os.environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "").strip()
        base = os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT", "").strip()
        if traces:
            variable, url = "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", traces
            if not urlsplit(traces).path.rstrip("/").endswith("/v1/traces"):
                raise Failed(f"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT={traces} is used as-is, so spans are POSTed there, "
                             "not to .../v1/traces",
                             "end it with /v1/traces, or unset it and give the base URL in OTEL_EXPORTER_OTLP_ENDPOINT")
        elif base:
            variable = "OTEL_EXPORTER_OTLP_ENDPOINT"
            url = f"{base.removesuffix('/')}/v1/traces"    # what the SDK does with the base URL
            if urlsplit(base).path.rstrip("/").endswith("/v1/traces"):
                raise Failed(f"OTEL_EXPORTER_OTLP_ENDPOINT={base} already ends with /v1/traces, so spans are POSTed "
                             f"to {url}",
                             f"the SDK appends /v1/traces: drop it (OTEL_EXPORTER_OTLP_ENDPOINT="
                             f"{base.rstrip('/').removesuffix('/v1/traces')})")
        else:
            variable, url = "OTEL_EXPORTER_OTLP_ENDPOINT", f"{DEFAULT_OTLP_ENDPOINT}/v1/traces"
            if not self.ctx.local:
                raise Failed(f"OTEL_EXPORTER_OTLP_ENDPOINT is not set, so the SDK sends spans to {url}",
                             "export OTEL_EXPORTER_OTLP_ENDPOINT=https://api.honeycomb.io "
                             "(EU teams: https://api.eu1.honeycomb.io)")
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise Failed(f"{variable}={url if variable.endswith('TRACES_ENDPOINT') else base} is not an http(s) URL",
                         f"write the whole URL in {variable}, e.g. https://api.honeycomb.io")
        if parts.port == 4317:
            raise Failed(f"{variable} uses port 4317, which is OTLP/gRPC; the workbook's exporter speaks OTLP/HTTP",
                         "use port 4318 (a collector's OTLP/HTTP port) or https://api.honeycomb.io")
        return url, variable

    def _team_key(self) -> tuple[str, str]:
        """The x-honeycomb-team value the exporter will send, parsed as the SDK parses it, or the mistake."""
        from opentelemetry.util.re import parse_env_headers

        traces_headers = os.environ.get("OTEL_EXPORTER_OTLP_TRACES_HEADERS", "")
        variable = "OTEL_EXPORTER_OTLP_TRACES_HEADERS" if traces_headers else "OTEL_EXPORTER_OTLP_HEADERS"
        raw = traces_headers or os.environ.get("OTEL_EXPORTER_OTLP_HEADERS", "")
        if not raw.strip():
            if os.environ.get("HONEYCOMB_API_KEY"):
                raise Failed("OTEL_EXPORTER_OTLP_HEADERS is not set (the exporter does not read HONEYCOMB_API_KEY), "
                             "so spans carry no key and Honeycomb refuses them",
                             "export OTEL_EXPORTER_OTLP_HEADERS=x-honeycomb-team=<your ingest key> "
                             f"({HONEYCOMB_KEYS})")
            raise Failed("OTEL_EXPORTER_OTLP_HEADERS is not set, so spans carry no key and Honeycomb refuses them",
                         f"export OTEL_EXPORTER_OTLP_HEADERS=x-honeycomb-team=<your ingest key> ({HONEYCOMB_KEYS})")
        with _quiet(("opentelemetry.util.re",)):
            headers = parse_env_headers(raw, liberal=True)
        key = headers.get("x-honeycomb-team", "")
        if key:
            return key, variable
        fix = f"{HEADER_FIX}: export {variable}=x-honeycomb-team=<your ingest key> ({HONEYCOMB_KEYS})"
        general = parse_env_headers(os.environ.get("OTEL_EXPORTER_OTLP_HEADERS", ""), liberal=True)
        if traces_headers and general.get("x-honeycomb-team"):
            raise Failed("OTEL_EXPORTER_OTLP_TRACES_HEADERS replaces OTEL_EXPORTER_OTLP_HEADERS (they are not merged) "
                         f"and has no x-honeycomb-team (names: {', '.join(sorted(headers)) or 'none'})",
                         f"{HEADER_FIX}: add it to OTEL_EXPORTER_OTLP_TRACES_HEADERS, or unset that variable")
        if "x-honeycomb-team" in headers:
            raise Failed(f"{variable} has x-honeycomb-team with no key after the =", fix)
        if ":" in raw and not headers:
            raise Failed(f"{variable} is written with a colon (name: value), the HTTP form; the SDK reads "
                         "name=value pairs, so it sends no x-honeycomb-team header", fix)
        raise Failed(f"{variable} names {', '.join(sorted(headers)) or 'no header it can parse'}, "
                     "not x-honeycomb-team, so Honeycomb sees no key", fix)

    def reachable(self) -> str:
        where = _reach(self.url, self.endpoint_variable,
                       RESTART_LOCAL_CLOUD if self.ctx.local else
                       f"check {self.endpoint_variable} (https://api.honeycomb.io) and your network or proxy")
        return f"{where} accepts connections"

    def key(self) -> str:
        self.api = _origin(self.url)
        auth = self._auth(self.api, self.key_value, f"x-honeycomb-team in {self.headers_variable}")
        access = auth.get("api_key_access") or {}
        if not access.get("events"):
            raise Failed(f"the key is {_article(auth.get('type', '?'))} key that may not send events",
                         f"use an ingest key ({HONEYCOMB_KEYS} > Ingest), or give this key 'Send Events'")
        self.team = (auth.get("team") or {}).get("slug") or ""
        self.environment = (auth.get("environment") or {}).get("slug") or ""
        detail = (f"{_article(auth.get('type', '?'))} key of team {self.team or '?'}, environment "
                  f"{self.environment or '(Classic: no environments)'}, may send events")
        # Reading back needs a key that may run queries: HONEYCOMB_API_KEY (a configuration key), else this one.
        from lab_app.query import spans

        self.query_key, self.query_api, self.can_query = self.key_value, self.api, bool(access.get("queries"))
        api_key = os.environ.get("HONEYCOMB_API_KEY", "")
        if api_key and (api_key, spans._endpoint(None)) != (self.key_value, self.api):
            query_api = spans._endpoint(None)
            query_auth = self._auth(query_api, api_key, "HONEYCOMB_API_KEY")
            self.query_key, self.query_api = api_key, query_api
            self.can_query = bool((query_auth.get("api_key_access") or {}).get("queries"))
            detail += f"; HONEYCOMB_API_KEY is {_article(query_auth.get('type', '?'))} key"
        return detail + ("; the key for reading may run queries" if self.can_query else
                         "; no key here may run queries (the probe cannot be read back through the API)")

    def _auth(self, api: str, key: str, where: str) -> dict:
        try:
            response = requests.get(f"{api}/1/auth", headers={"X-Honeycomb-Team": key}, timeout=10)
        except requests.RequestException as exc:
            raise Failed(f"GET {api}/1/auth failed: {exc}"[:300], f"check the endpoint in {self.endpoint_variable}") from None
        if response.status_code == 401:
            if self.ctx.local:
                fix = ("in local mode the local cloud's key is set for you: unset OTEL_EXPORTER_OTLP_TRACES_HEADERS "
                       "if you set it, and run the notebook's setup() cell")
            else:
                fix = (f"copy a key from {HONEYCOMB_KEYS} into {where}; a key works only in its own region "
                       "(api.honeycomb.io is US, api.eu1.honeycomb.io is EU)")
            raise Failed(f"{api} does not accept the key {config.mask(key)} from {where} (401 "
                         f"{_error_text(response)})", fix)
        try:
            auth = response.json()
        except ValueError:
            auth = None
        if response.status_code != 200 or not isinstance(auth, dict):
            raise Failed(f"GET {api}/1/auth answered {response.status_code}: {api} is not Honeycomb's API",
                         f"point {self.endpoint_variable} at https://api.honeycomb.io (or run in local mode)")
        return auth

    def probe(self) -> str:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import SimpleSpanProcessor

        responses: list[requests.Response] = []
        session = requests.Session()
        session.hooks["response"].append(lambda response, *args, **kwargs: responses.append(response))
        token = uuid.uuid4().hex
        started = time.time()
        # A provider of its own (never the global one a notebook set), with the exporter reading the environment
        # exactly as the app's does; a fixed resource, so the probe lands in the dataset "doctor".
        provider = TracerProvider(resource=Resource({"service.name": SERVICE}))
        provider.add_span_processor(SimpleSpanProcessor(OTLPSpanExporter(timeout=5, session=session)))
        span = provider.get_tracer("lab_app.doctor").start_span("doctor probe", attributes={"doctor.probe": token})
        span.end()
        provider.shutdown()
        trace_id = format(span.get_span_context().trace_id, "032x")
        if not responses:
            raise Failed(f"the exporter could not POST to {self.url}", f"check {self.endpoint_variable}")
        answer = responses[-1]
        if answer.status_code >= 300:
            raise Failed(f"POST {self.url} answered {answer.status_code}: {_error_text(answer)}",
                         "a 401 is the key (see the key check), a 404 the path (it must end with /v1/traces)")
        sent = f"span {trace_id} accepted by {self.url} (HTTP {answer.status_code})"
        if self.ctx.local:
            from lab_app.query import spans

            def read():
                frame = spans.local_spans(start=started - 60, dataset=SERVICE)
                return bool((frame["trace_id"] == trace_id).any())

            found, waited = _wait_for(read, self.ctx.read_back_s)
            if not found:
                raise Failed(f"{sent} but not in the local span store after {waited:.0f} s",
                             f"see the local cloud log ({config.state_dir() / 'localcloud.log'})")
            return f"{sent} and read back from the local Honeycomb store"
        return self._read_back_cloud(trace_id, sent)

    def _read_back_cloud(self, trace_id: str, sent: str) -> str:
        from lab_app.query import spans

        ui = urlsplit(self.api).netloc.replace("api.", "ui.", 1)
        where = (f"https://{ui}/{self.team}/environments/{self.environment}/datasets/{SERVICE}/trace?trace_id="
                 f"{trace_id}" if self.environment else f"https://{ui}/{self.team}/datasets/{SERVICE}/trace?trace_id="
                 f"{trace_id}")
        if not self.can_query:
            return (f"{sent}; not read back: set HONEYCOMB_API_KEY to a configuration key with 'Run Queries' "
                    f"(the Query Data API needs a plan with it), or look at {where}")

        def read():
            try:
                frame = spans.query(SERVICE, filters=[{"column": "trace.trace_id", "op": "=", "value": trace_id}],
                                    time_range=600, api_key=self.query_key, endpoint=self.query_api)
            except spans.HoneycombQueryError as exc:
                if exc.status == 404:     # the dataset is made by the first span: not visible yet
                    return None
                return exc
            return int(frame["COUNT"].sum()) if "COUNT" in frame else None

        # Honeycomb runs at most 10 query results a minute: a few spaced tries, not a tight loop
        found, waited = _wait_for(read, self.ctx.read_back_s, interval=3.0, longest=6.0)
        if isinstance(found, Exception):
            return f"{sent}; not read back: the Query Data API answered {found}; look at {where}"
        if not found:
            raise Failed(f"{sent} but the Query Data API finds no span of trace {trace_id} after {waited:.0f} s",
                         f"look at {where}: the key may belong to another environment than the query key")
        return f"{sent} and read back with the Query Data API"


class XRay(_Pillar):
    """The X-Ray SDK's UDP emitter to the daemon, and the X-Ray API through boto3."""

    name = "X-Ray"

    def config(self) -> str:
        from aws_xray_sdk.core.daemon_config import DaemonConfig
        from aws_xray_sdk.core.exceptions.exceptions import InvalidDaemonAddressException

        if os.environ.get("AWS_XRAY_SDK_ENABLED", "true").strip().lower() == "false":
            raise Failed("AWS_XRAY_SDK_ENABLED=false: the X-Ray SDK records and sends nothing",
                         "unset AWS_XRAY_SDK_ENABLED")
        address = os.environ.get("AWS_XRAY_DAEMON_ADDRESS", "")
        try:
            daemon = DaemonConfig()
        except InvalidDaemonAddressException:
            raise Failed(f"AWS_XRAY_DAEMON_ADDRESS={address} is not an address the SDK can use",
                         "write host:port without http:// (127.0.0.1:2000), or 'tcp:host:port udp:host:port'") from None
        aws = self.ctx.aws()
        self.region = aws["region"]
        self.client = aws["session"].client("xray")
        self.udp, self.tcp = (daemon.udp_ip, daemon.udp_port), (daemon.tcp_ip, daemon.tcp_port)
        return (f"region {self.region}, credentials from {aws['method']} ({aws['access_key']}), daemon "
                f"{self.udp[0]}:{self.udp[1]} (AWS_XRAY_DAEMON_ADDRESS{'' if address else ' not set: the default'}), "
                f"API {self.client.meta.endpoint_url}")

    def reachable(self) -> str:
        tcp = f"{self.tcp[0]}:{self.tcp[1]}"
        fix = RESTART_LOCAL_CLOUD if self.ctx.local else DAEMON_FIX.format(address=tcp, region=self.region)
        try:
            response = requests.post(f"http://{tcp}/GetSamplingRules", data=b"{}", timeout=CONNECT_TIMEOUT_S,
                                     headers={"Content-Type": "application/json"})
        except requests.RequestException:
            raise Failed(f"nothing answers on {tcp} (TCP): the X-Ray daemon is not running, so segments sent to "
                         f"{self.udp[0]}:{self.udp[1]} (UDP) vanish without an error", fix) from None
        try:
            rules = response.json().get("SamplingRuleRecords")
        except (ValueError, AttributeError):
            rules = None
        if response.status_code != 200 or rules is None:
            raise Failed(f"{tcp} answered GetSamplingRules with {response.status_code}: "
                         f"{_error_text(response)} (not an X-Ray daemon, or it cannot reach X-Ray)", fix)
        api = _reach(self.client.meta.endpoint_url, _endpoint_variable("AWS_ENDPOINT_URL_XRAY"),
                     RESTART_LOCAL_CLOUD if self.ctx.local else "check AWS_DEFAULT_REGION and your network")
        return f"the daemon answers GetSamplingRules on {tcp} ({len(rules)} rule{'s' if len(rules) != 1 else ''}); the API answers on {api}"

    def key(self) -> str:
        from botocore.exceptions import ClientError

        try:
            self.client.batch_get_traces(TraceIds=[_xray_trace_id()])
        except ClientError as exc:
            raise _aws_error(exc, "X-Ray", "AWSXrayReadOnlyAccess (and AWSXRayDaemonWriteAccess for the daemon)") from None
        return "X-Ray accepts the credentials (BatchGetTraces)"

    def probe(self) -> str:
        from aws_xray_sdk.core.emitters.udp_emitter import UDPEmitter
        from aws_xray_sdk.core.models.segment import Segment

        segment = Segment(SERVICE)
        segment.put_annotation("doctor_probe", uuid.uuid4().hex)
        segment.close()
        UDPEmitter().send_entity(segment)     # the SDK's own emitter: AWS_XRAY_DAEMON_ADDRESS, one datagram

        def read():
            traces = self.client.batch_get_traces(TraceIds=[segment.trace_id]).get("Traces", [])
            return any(json.loads(s["Document"]).get("id") == segment.id
                       for trace in traces for s in trace.get("Segments", []))

        found, waited = _wait_for(read, self.ctx.read_back_s, interval=0.05 if self.ctx.local else 1.0,
                                  longest=1.0 if self.ctx.local else 3.0)
        sent = f"segment {segment.id} of trace {segment.trace_id} sent over UDP to {self.udp[0]}:{self.udp[1]}"
        if not found:
            fix = (f"see the local cloud log ({config.state_dir() / 'localcloud.log'})" if self.ctx.local else
                   "the daemon received it but X-Ray has not: read the daemon's log (its own credentials and "
                   f"region, -n {self.region}, must be this account's)")
            raise Failed(f"{sent}, but BatchGetTraces does not return it after {waited:.0f} s", fix)
        return f"{sent} and read back with BatchGetTraces ({waited:.1f} s)"


def _xray_trace_id() -> str:
    return f"1-{int(time.time()):08x}-{uuid.uuid4().hex[:24]}"


class CloudWatchLogs(_Pillar):
    """PutLogEvents through boto3 (what watchtower calls), read back with GetLogEvents."""

    name = "CloudWatch Logs"

    def config(self) -> str:
        aws = self.ctx.aws()
        self.client = aws["session"].client("logs")
        endpoint = self.client.meta.endpoint_url
        ignored = os.environ.get("AWS_ENDPOINT_URL_LOGS", "").strip()
        if ignored and ignored.rstrip("/") != endpoint.rstrip("/"):   # the same endpoint by another way: harmless
            raise Failed(f"AWS_ENDPOINT_URL_LOGS={ignored} is set, but the logs client goes to {endpoint}",
                         "botocore reads AWS_ENDPOINT_URL_CLOUDWATCH_LOGS (the service id is \"CloudWatch Logs\"): "
                         "rename AWS_ENDPOINT_URL_LOGS to AWS_ENDPOINT_URL_CLOUDWATCH_LOGS")
        return f"region {aws['region']}, credentials from {aws['method']} ({aws['access_key']}), API {endpoint}"

    def reachable(self) -> str:
        where = _reach(self.client.meta.endpoint_url, _endpoint_variable("AWS_ENDPOINT_URL_CLOUDWATCH_LOGS"),
                       RESTART_LOCAL_CLOUD if self.ctx.local else "check AWS_DEFAULT_REGION and your network")
        return f"the API answers on {where}"

    def key(self) -> str:
        from botocore.exceptions import ClientError

        try:
            self.client.describe_log_groups(logGroupNamePrefix=LOG_GROUP, limit=1)
        except ClientError as exc:
            raise _aws_error(exc, "CloudWatch Logs", "CloudWatchLogsFullAccess (or logs:CreateLogGroup, "
                             "CreateLogStream, PutLogEvents, GetLogEvents, PutRetentionPolicy)") from None
        return "CloudWatch Logs accepts the credentials (DescribeLogGroups)"

    def probe(self) -> str:
        logs = self.client
        try:
            logs.create_log_group(logGroupName=LOG_GROUP)
            logs.put_retention_policy(logGroupName=LOG_GROUP, retentionInDays=1)   # the probes clean themselves
        except logs.exceptions.ResourceAlreadyExistsException:
            pass
        try:
            logs.create_log_stream(logGroupName=LOG_GROUP, logStreamName=LOG_STREAM)
        except logs.exceptions.ResourceAlreadyExistsException:
            pass
        token = uuid.uuid4().hex
        now_ms = int(time.time() * 1000)
        answer = logs.put_log_events(logGroupName=LOG_GROUP, logStreamName=LOG_STREAM, logEvents=[
            {"timestamp": now_ms, "message": json.dumps({"doctor": "probe", "token": token})}])
        if answer.get("rejectedLogEventsInfo"):
            raise Failed(f"PutLogEvents rejected the event: {answer['rejectedLogEventsInfo']}",
                         "check this machine's clock (events more than 2 h in the future or 14 days old are refused)")

        def read():
            events = logs.get_log_events(logGroupName=LOG_GROUP, logStreamName=LOG_STREAM, startTime=now_ms - 1,
                                         startFromHead=True)["events"]
            return any(token in event["message"] for event in events)

        found, waited = _wait_for(read, self.ctx.read_back_s, interval=0.05 if self.ctx.local else 1.0,
                                  longest=1.0 if self.ctx.local else 3.0)
        sent = f"event put into {LOG_GROUP}/{LOG_STREAM}"
        if not found:
            raise Failed(f"{sent}, but GetLogEvents does not return it after {waited:.0f} s",
                         "the endpoint accepts writes it does not keep: check AWS_ENDPOINT_URL_CLOUDWATCH_LOGS")
        return f"{sent} and read back with GetLogEvents ({waited:.1f} s)"


class Rollbar(_Pillar):
    """An item POSTed to /api/1/item/ the way pyrollbar does, read back through the read API."""

    name = "Rollbar"

    def config(self) -> str:
        self.token = os.environ.get("ROLLBAR_ACCESS_TOKEN", "")
        if not self.token:
            raise Failed("ROLLBAR_ACCESS_TOKEN is not set",
                         f"export ROLLBAR_ACCESS_TOKEN=<the post_server_item token> ({ROLLBAR_TOKENS})")
        self.endpoint = os.environ.get("ROLLBAR_ENDPOINT") or DEFAULT_ROLLBAR_ENDPOINT
        if self.endpoint.rstrip("/").endswith("/item"):
            raise Failed(f"ROLLBAR_ENDPOINT={self.endpoint} ends with item/: pyrollbar appends item/ itself",
                         "drop item/: ROLLBAR_ENDPOINT=https://api.rollbar.com/api/1/")
        if not self.endpoint.endswith("/"):
            raise Failed(f"ROLLBAR_ENDPOINT={self.endpoint} does not end with /, so pyrollbar posts to "
                         f"{self.endpoint}item/", f"end it with /: ROLLBAR_ENDPOINT={self.endpoint}/")
        from lab_app.query import rollbar as rb

        self.api = rb._endpoint(None)
        # local mode runs with config.local_env(), which always sets the local cloud's own read token
        self.read_variable = "ROLLBAR_READ_TOKEN" if os.environ.get("ROLLBAR_READ_TOKEN") else ""
        self.read_token = os.environ.get(self.read_variable, "") if self.read_variable else ""
        reading = (f"read with {self.read_variable} at {self.api}" if self.read_token else
                   "no ROLLBAR_READ_TOKEN (the post_server_item token cannot read)")
        return f"items go to {self.endpoint}item/ with {config.mask(self.token)}; {reading}"

    def reachable(self) -> str:
        fix = RESTART_LOCAL_CLOUD if self.ctx.local else "check ROLLBAR_ENDPOINT and your network"
        where = [_reach(self.endpoint, "ROLLBAR_ENDPOINT", fix)]
        if self.read_token and _host_port(self.api) != _host_port(self.endpoint):
            where.append(_reach(self.api, "ROLLBAR_API_ENDPOINT", fix))
        return " and ".join(where) + (" accept connections" if len(where) > 1 else " accepts connections")

    def key(self) -> str:
        if not self.read_token:
            return ("ROLLBAR_ACCESS_TOKEN is checked by the probe's POST; export ROLLBAR_READ_TOKEN=<a token with "
                    f"the read scope> ({ROLLBAR_TOKENS}) to have the probe read back")
        from lab_app.query import rollbar as rb

        try:
            rb.get("items", {"environment": ROLLBAR_ENVIRONMENT, "page": 1}, token=self.read_token)
        except rb.RollbarAPIError as exc:
            if self.ctx.local:      # the local cloud refused its own read token: it runs other code than this
                fix = RESTART_LOCAL_CLOUD
            else:
                fix = f"{self.read_variable} must be a project token with the read scope ({ROLLBAR_TOKENS})"
            raise Failed(f"{self.api} refuses {self.read_variable} ({config.mask(self.read_token)}) for reading: "
                         f"{exc}", fix) from None
        return f"{self.read_variable} may read items"

    def probe(self) -> str:
        occurrence = str(uuid.uuid4())
        payload = {"access_token": self.token, "data": {
            "environment": ROLLBAR_ENVIRONMENT, "level": "info", "title": ROLLBAR_TITLE, "fingerprint": ROLLBAR_TITLE,
            "body": {"message": {"body": ROLLBAR_TITLE}}, "uuid": occurrence, "timestamp": int(time.time()),
            "language": "python", "platform": sys.platform, "server": {"host": socket.gethostname()},
            "notifier": {"name": "lab_app.doctor", "version": "1"}}}
        try:
            answer = requests.post(f"{self.endpoint}item/", json=payload, timeout=10,
                                   headers={"X-Rollbar-Access-Token": self.token})
        except requests.RequestException as exc:
            raise Failed(f"POST {self.endpoint}item/ failed: {exc}"[:300], "check ROLLBAR_ENDPOINT") from None
        if answer.status_code == 401:
            raise Failed(f"Rollbar refuses ROLLBAR_ACCESS_TOKEN ({config.mask(self.token)}): {_error_text(answer)}",
                         f"copy the post_server_item token ({ROLLBAR_TOKENS}) into ROLLBAR_ACCESS_TOKEN")
        if answer.status_code == 403:
            raise Failed(f"ROLLBAR_ACCESS_TOKEN may not post server items: {_error_text(answer)}",
                         f"use the post_server_item token, not post_client_item or read ({ROLLBAR_TOKENS})")
        if answer.status_code == 429:
            raise Failed("Rollbar rate-limits this project (429)", "wait a minute, or raise the project's rate limit")
        if answer.status_code != 200:
            raise Failed(f"POST {self.endpoint}item/ answered {answer.status_code}: {_error_text(answer)}",
                         "check ROLLBAR_ENDPOINT (https://api.rollbar.com/api/1/)")
        sent = f"item accepted (occurrence {occurrence}, environment {ROLLBAR_ENVIRONMENT})"
        if not self.read_token:
            return (f"{sent}; not read back: export ROLLBAR_READ_TOKEN=<a token with the read scope> to have it "
                    "read back, or find it in Rollbar > Items (environment doctor)")
        from lab_app.query import rollbar as rb

        def read():
            listing = rb.items(environment=ROLLBAR_ENVIRONMENT, token=self.read_token, max_pages=1)
            for item_id in listing.loc[listing["title"] == ROLLBAR_TITLE, "id"]:
                if occurrence in set(rb.occurrences(item_id, token=self.read_token, max_pages=1)["uuid"]):
                    return True
            return False

        found, waited = _wait_for(read, self.ctx.read_back_s, interval=0.05 if self.ctx.local else 2.0,
                                  longest=1.0 if self.ctx.local else 5.0)
        if not found:
            raise Failed(f"{sent}, but the read API does not list it after {waited:.0f} s",
                         f"are {self.read_variable} and ROLLBAR_ACCESS_TOKEN tokens of the same project?")
        return f"{sent} and read back through the read API ({waited:.1f} s)"


PILLAR_CLASSES: dict[str, type[_Pillar]] = {"Honeycomb": Honeycomb, "X-Ray": XRay, "CloudWatch Logs": CloudWatchLogs,
                                            "Rollbar": Rollbar}


# --- the run ----------------------------------------------------------------------------------------
def _mode(mode: str | None) -> str:
    if mode is None:
        return config.mode()
    value = mode.strip().lower()
    if value in ("aws", "cloud"):
        return "cloud"
    if value == "local":
        return "local"
    raise ValueError(f"mode={mode!r} is not understood: use local or aws")


def run(mode: str | None = None, pillars=None) -> Report:
    """Check every pillar (or those named in ``pillars``) end to end; the checks in order, as a :class:`Report`."""
    import lab_app.localcloud as localcloud

    started = time.perf_counter()
    config.load_dotenv_file()
    try:
        mode = _mode(mode)
    except ValueError as exc:
        return Report([Check("mode", "LAB_MODE", False, str(exc), "use LAB_MODE=local (the default) or "
                             "LAB_MODE=aws")], mode="?", seconds=time.perf_counter() - started)
    wanted = list(pillars or PILLARS)
    unknown = [name for name in wanted if name not in PILLAR_CLASSES]
    if unknown:
        raise ValueError(f"unknown pillar(s) {unknown}: choose from {list(PILLAR_CLASSES)}")
    checks: list[Check] = []
    overlay: dict[str, str] = {}
    if mode == "local":
        aws_port = config.aws_port()
        answer = localcloud.health(aws_port, timeout=2.0)
        if answer is None:
            checks.append(Check("local cloud", "running", False, f"nothing of ours answers on {config.HOST}:{aws_port}",
                                f"{START_LOCAL_CLOUD} (or run a notebook's setup() cell), then run the doctor again"))
            checks += [Check(name, step, False, "skipped: the local cloud is not running", skipped=True)
                       for name in wanted for step in STEPS]
            return Report(checks, mode=mode, seconds=time.perf_counter() - started)
        ports = answer.get("ports", {})
        overlay = config.local_env(aws_port, ports.get("otlp", config.otlp_port()),
                                   ports.get("daemon", config.daemon_port()))
        checks.append(Check("local cloud", "running", True,
                            f"pid {answer.get('pid')}: AWS {config.HOST}:{aws_port}, OTLP :{overlay['LAB_OTLP_PORT']}, "
                            f"X-Ray daemon :{overlay['LAB_XRAY_DAEMON_PORT']}"))
    else:
        checks.append(Check("mode", "cloud", True, "LAB_MODE=aws: the real Honeycomb, AWS and Rollbar"))
    with _environment(overlay), _quiet():
        ctx = _Context(mode)
        for name in wanted:
            checks += PILLAR_CLASSES[name](ctx).run()
    return Report(checks, mode=mode, seconds=time.perf_counter() - started)


def frame(report: Report | None = None) -> pd.DataFrame:
    """The report (a new run when none is given) as a DataFrame, one row per check."""
    return (report if report is not None else run()).frame()


def as_dicts(report: Report) -> list[dict]:
    return [asdict(check) | {"status": check.status} for check in report]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lab_app.doctor",
                                     description="Check each pillar end to end: config, reachable, key, probe.")
    parser.add_argument("--mode", choices=["local", "aws", "cloud"], default=None,
                        help="default: LAB_MODE (local unless it says aws)")
    parser.add_argument("--pillar", action="append", choices=list(PILLAR_CLASSES), default=None,
                        help="check only this pillar (repeatable)")
    parser.add_argument("--json", action="store_true", help="print the checks as JSON")
    args = parser.parse_args(argv)
    report = run(args.mode, args.pillar)
    if args.json:
        print(json.dumps({"mode": report.mode, "seconds": round(report.seconds, 3), "ok": report.ok,
                          "checks": as_dicts(report)}, indent=2))
    else:
        print(report)
    return 0 if report.ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
