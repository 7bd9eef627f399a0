"""Send OpenTelemetry spans to X-Ray's OTLP endpoint: the one piece the OTLP exporter cannot do itself, SigV4.

X-Ray accepts OTLP/HTTP at ``https://xray.<region>.amazonaws.com/v1/traces`` (locally the AWS port's
``/v1/traces``), but only signed with AWS Signature Version 4 for service ``xray``. The OTLP exporter takes
a ``requests.Session``; :func:`signed_session` returns one whose auth signs every request with botocore's
signer and your usual credential chain (ADOT's ``aws-opentelemetry-distro`` does the same in production).
Notebook 06 adds the exporter in a cell:

    provider.add_span_processor(BatchSpanProcessor(
        OTLPSpanExporter(endpoint=otel_xray.endpoint(), session=otel_xray.signed_session())))

The endpoint needs CloudWatch Transaction Search enabled (trace segment destination ``CloudWatchLogs``), on a
real account and in the local cloud alike, which starts as a new account does: notebook 06 enables it with
``PutResourcePolicy`` and ``UpdateTraceSegmentDestination``. Trace ids need nothing special:
W3C ids are accepted and shown as ``1-<first 8 hex>-<last 24 hex>``.
"""
from __future__ import annotations

import os
from urllib.parse import urlsplit

import requests

from lab_app import config

SERVICE = "xray"
OTLP_PATH = "/v1/traces"


def region() -> str:
    return os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or config.REGION


def endpoint(region_name: str | None = None) -> str:
    """X-Ray's OTLP traces URL: the local cloud's AWS port in local mode, the regional endpoint otherwise."""
    base = os.environ.get("AWS_ENDPOINT_URL_XRAY") or os.environ.get("AWS_ENDPOINT_URL")
    if base:
        return base.rstrip("/") + OTLP_PATH
    return f"https://xray.{region_name or region()}.amazonaws.com{OTLP_PATH}"


def _foreign_header_names() -> set[str]:
    """Headers configured for another OTLP backend (e.g. ``x-honeycomb-team``): never sent to AWS."""
    names = set()
    for var in ("OTEL_EXPORTER_OTLP_HEADERS", "OTEL_EXPORTER_OTLP_TRACES_HEADERS"):
        for item in (os.environ.get(var) or "").split(","):
            if "=" in item:
                names.add(item.split("=", 1)[0].strip().lower())
    return names


class SigV4Auth(requests.auth.AuthBase):
    """A ``requests`` auth that signs each request with AWS Signature Version 4 (botocore's signer).

    Credentials come from botocore's usual chain (environment, profile, SSO, instance role) and are read
    again for every request, so refreshed temporary credentials are picked up.
    """

    def __init__(self, service: str = SERVICE, region_name: str | None = None, credentials=None):
        self.service = service
        self.region = region_name or region()
        self._credentials = credentials

    def _frozen_credentials(self):
        creds = self._credentials
        if creds is None:
            import botocore.session

            creds = botocore.session.get_session().get_credentials()
        if creds is None:
            raise RuntimeError("no AWS credentials found: export AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, set "
                               "AWS_PROFILE, or run in local mode (LAB_MODE=local)")
        return creds.get_frozen_credentials() if hasattr(creds, "get_frozen_credentials") else creds

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        from botocore.auth import SigV4Auth as BotocoreSigV4
        from botocore.awsrequest import AWSRequest

        for name in _foreign_header_names():
            if name in request.headers:
                del request.headers[name]
        body = request.body or b""
        if isinstance(body, str):
            body = body.encode()
        signed_headers = {k: v for k, v in request.headers.items()
                          if k.lower() in ("content-type", "content-encoding")}
        aws_request = AWSRequest(method=request.method, url=request.url, data=body, headers=signed_headers)
        BotocoreSigV4(self._frozen_credentials(), self.service, self.region).add_auth(aws_request)
        for key in ("Authorization", "X-Amz-Date", "X-Amz-Security-Token"):
            if key in aws_request.headers:
                request.headers[key] = aws_request.headers[key]
        # the Host header botocore signed is the URL's netloc; requests sends exactly that.
        request.headers.setdefault("Host", urlsplit(request.url).netloc)
        return request


def signed_session(region_name: str | None = None, credentials=None) -> requests.Session:
    session = requests.Session()
    session.auth = SigV4Auth(SERVICE, region_name, credentials)
    return session


def exporter(endpoint_url: str | None = None, region_name: str | None = None, credentials=None):
    """An ``OTLPSpanExporter`` for X-Ray's OTLP endpoint, gzip-compressed and SigV4-signed."""
    from opentelemetry.exporter.otlp.proto.http import Compression
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    return OTLPSpanExporter(endpoint=endpoint_url or endpoint(region_name), compression=Compression.Gzip,
                            session=signed_session(region_name, credentials), timeout=10)
