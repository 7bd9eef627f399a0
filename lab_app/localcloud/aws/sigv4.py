"""The SigV4 credential scope of a request: ``<key>/<yyyymmdd>/<region>/<service>/aws4_request``.

Read from the ``Authorization`` header (``AWS4-HMAC-SHA256 Credential=...``) or, for a presigned URL,
from the ``X-Amz-Credential`` query parameter.

:func:`signature_matches` recomputes a request's signature the way AWS does (Signature Version 4: the
canonical request, the string to sign, the derived signing key) for a secret the local cloud knows; the
gateway's signature check (``iam/signature.py``) uses it for its own key and IAM users' keys.
"""
from __future__ import annotations

import hashlib
import hmac
import re
from typing import NamedTuple
from urllib.parse import parse_qsl, quote, unquote

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


# --- verifying a signature ------------------------------------------------------------------------------
_SIGNED_HEADERS_RE = re.compile(r"SignedHeaders=([^,\s]+)")
_SIGNATURE_RE = re.compile(r"Signature=([0-9a-fA-F]+)")
ALGORITHM = "AWS4-HMAC-SHA256"


class SignedRequest(NamedTuple):
    scope: CredentialScope
    signed_headers: list[str]
    signature: str
    amz_date: str
    presigned: bool


def signed_parts(environ: dict) -> SignedRequest | None:
    """What a SigV4 request carries (header or presigned URL), or None when it is not SigV4-signed or is
    missing a part (a malformed Authorization header is not ours to judge: the service answers it)."""
    auth = environ.get("HTTP_AUTHORIZATION", "")
    if auth.startswith(ALGORITHM):
        scope = parse_scope(auth)
        headers, signature = _SIGNED_HEADERS_RE.search(auth), _SIGNATURE_RE.search(auth)
        date = environ.get("HTTP_X_AMZ_DATE", "")
        if scope is None or headers is None or signature is None or not date:
            return None
        return SignedRequest(scope, headers.group(1).lower().split(";"), signature.group(1).lower(), date, False)
    query = dict(parse_qsl(environ.get("QUERY_STRING", ""), keep_blank_values=True))
    if query.get("X-Amz-Algorithm") == ALGORITHM and "X-Amz-Signature" in query:
        scope = credential_scope(environ)
        if scope is None or not query.get("X-Amz-Date") or not query.get("X-Amz-SignedHeaders"):
            return None
        return SignedRequest(scope, query["X-Amz-SignedHeaders"].lower().split(";"),
                             query["X-Amz-Signature"].lower(), query["X-Amz-Date"], True)
    return None


def _uri_encode(text: str, safe: str = "-_.~") -> str:
    return quote(text, safe=safe)


def _raw_path_and_query(environ: dict) -> tuple[str, str]:
    """The path and query as sent on the wire (werkzeug's RAW_URI), not the decoded PATH_INFO."""
    raw = environ.get("RAW_URI") or environ.get("REQUEST_URI")
    if raw:
        path, _, query = raw.partition("?")
        if "://" in path:                      # an absolute-form request target
            path = "/" + path.split("://", 1)[1].partition("/")[2]
        return path or "/", query
    path = quote(environ.get("PATH_INFO", "/").encode("latin-1").decode("utf-8", "replace"), safe="/~")
    return path, environ.get("QUERY_STRING", "")


def canonical_uri(raw_path: str, service: str) -> str:
    """S3 signs the path as sent; every other service removes dot segments and repeated slashes (RFC 3986
    5.2.4, botocore's ``normalize_url_path``) and URI-encodes the already encoded path once more."""
    if service == "s3":
        return raw_path or "/"
    from botocore.utils import normalize_url_path

    return quote(normalize_url_path(raw_path), safe="/~")


def canonical_query(query: str, presigned: bool) -> str:
    pairs = []
    for part in query.split("&") if query else []:
        key, _, value = part.partition("=")
        key, value = _uri_encode(unquote(key)), _uri_encode(unquote(value))
        if presigned and key == "X-Amz-Signature":
            continue
        pairs.append((key, value))
    return "&".join(f"{k}={v}" for k, v in sorted(pairs))


def _header(environ: dict, name: str) -> str:
    if name == "content-type":
        value = environ.get("CONTENT_TYPE", "")
    elif name == "content-length":
        value = environ.get("CONTENT_LENGTH", "")
    else:
        value = environ.get("HTTP_" + name.upper().replace("-", "_"), "")
    return " ".join(value.split())


def _signing_key(secret: str, scope: CredentialScope) -> bytes:
    key = ("AWS4" + secret).encode()
    for part in (scope.date, scope.region, scope.service, "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return key


def expected_signature(environ: dict, body: bytes, signed: SignedRequest, secret: str) -> str:
    raw_path, query = _raw_path_and_query(environ)
    if signed.presigned:
        payload_hash = environ.get("HTTP_X_AMZ_CONTENT_SHA256") or "UNSIGNED-PAYLOAD"
    else:
        payload_hash = environ.get("HTTP_X_AMZ_CONTENT_SHA256") or hashlib.sha256(body).hexdigest()
    canonical = "\n".join([
        environ.get("REQUEST_METHOD", "GET").upper(),
        canonical_uri(raw_path, signed.scope.service),
        canonical_query(query, signed.presigned),
        "".join(f"{name}:{_header(environ, name)}\n" for name in signed.signed_headers),
        ";".join(signed.signed_headers),
        payload_hash,
    ])
    scope_text = f"{signed.scope.date}/{signed.scope.region}/{signed.scope.service}/aws4_request"
    to_sign = "\n".join([ALGORITHM, signed.amz_date, scope_text, hashlib.sha256(canonical.encode()).hexdigest()])
    return hmac.new(_signing_key(secret, signed.scope), to_sign.encode(), hashlib.sha256).hexdigest()


def signature_matches(environ: dict, body: bytes, signed: SignedRequest, secret: str) -> bool:
    return hmac.compare_digest(expected_signature(environ, body, signed, secret), signed.signature)
