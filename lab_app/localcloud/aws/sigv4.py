"""The SigV4 credential scope of a request: ``<key>/<yyyymmdd>/<region>/<service>/aws4_request``.

Read from the ``Authorization`` header (``AWS4-HMAC-SHA256 Credential=...``) or, for a presigned URL,
from the ``X-Amz-Credential`` query parameter. Signatures are not verified: the local cloud trusts
the scope the way it trusts the dummy credentials.
"""
from __future__ import annotations

import re
from typing import NamedTuple
from urllib.parse import parse_qsl

from lab_app import config

_CREDENTIAL_RE = re.compile(r"Credential=([^/,\s]+)/(\d{8})/([^/,\s]+)/([^/,\s]+)/aws4_request")


class CredentialScope(NamedTuple):
    access_key_id: str
    date: str        # yyyymmdd
    region: str
    service: str     # the signing name: "xray", "logs", "monitoring", "s3", ...


def parse_scope(text: str) -> CredentialScope | None:
    """The scope in an ``Authorization`` header value, or None when it carries no SigV4 credential."""
    match = _CREDENTIAL_RE.search(text or "")
    return CredentialScope(*match.groups()) if match else None


def credential_scope(environ: dict) -> CredentialScope | None:
    """The scope of a WSGI request (header first, then a presigned URL's query), or None when unsigned."""
    scope = parse_scope(environ.get("HTTP_AUTHORIZATION", ""))
    if scope is not None:
        return scope
    cred = dict(parse_qsl(environ.get("QUERY_STRING", ""))).get("X-Amz-Credential", "")
    parts = cred.split("/")
    if len(parts) == 5 and parts[4] == "aws4_request":
        return CredentialScope(parts[0], parts[1], parts[2], parts[3])
    return None


def region_of(environ: dict, service: str | None = None) -> str:
    """The region a request is signed for (``config.REGION`` when unsigned or signed for another service)."""
    scope = credential_scope(environ)
    if scope is None or (service is not None and scope.service != service):
        return config.REGION
    return scope.region
