"""What one AWS API request on the gateway is: service, operation, caller, region, parameters.

Shared by the CloudTrail recorder and the IAM policy check. The operation comes from ``X-Amz-Target``
(JSON protocols), the ``Action`` parameter (query and EC2 protocols) or, for REST protocols, from
matching the method and path against the service's botocore model (``requestUri`` templates). The
caller comes from the SigV4 credential scope's access key (see :mod:`~lab_app.localcloud.aws.identity`).

Also the body helpers every stand-in uses: :func:`read_body` (read once, leave it readable for the next
handler) and :func:`json_body` (the one JSON body reader).
"""
from __future__ import annotations

import io
import json
import re
import threading
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any
from urllib.parse import parse_qsl

from lab_app import config
from lab_app.localcloud import strict_json
from lab_app.localcloud.aws.errors import SerializationException
from lab_app.localcloud.aws.sigv4 import credential_scope

BODY_KEY = "lab.request_body"   # where the gateway keeps the buffered body in the WSGI environ

# Signing names whose botocore service name differs (the signing name is the eventSource prefix).
SIGNING_TO_SERVICE = {
    "monitoring": "cloudwatch",
    "email": "ses",
    "states": "stepfunctions",
    "execute-api": "apigateway",
    "elasticloadbalancing": "elbv2",
    "elasticmapreduce": "emr",
    "es": "opensearch",
}
# IAM action prefixes that differ from the signing name.
SIGNING_TO_IAM_PREFIX = {"monitoring": "cloudwatch", "email": "ses", "states": "states"}

READ_ONLY_PREFIXES = ("Get", "Describe", "List", "Lookup", "Head", "BatchGet", "Search", "Filter", "Test",
                      "Select", "Scan", "Query", "View")


# --- the body ----------------------------------------------------------------------------------------
def read_body(environ: dict) -> bytes:
    """The request body, read once: kept in the environ and put back so the next handler reads it too."""
    if BODY_KEY in environ:
        return environ[BODY_KEY]
    length = int(environ.get("CONTENT_LENGTH") or 0)
    body = environ["wsgi.input"].read(length) if length else b""
    environ["wsgi.input"] = io.BytesIO(body)
    environ[BODY_KEY] = body
    return body


def json_body(raw: bytes) -> dict:
    """The JSON object of a JSON-protocol request (``{}`` when empty); ``SerializationException`` otherwise,
    as AWS answers a body it cannot read as the operation's input structure."""
    if not raw or not raw.strip():
        return {}
    try:
        body = strict_json.loads(raw)
    except ValueError:  # not JSON, not UTF-8, too deep, NaN, a lone surrogate (strict_json says which)
        raise SerializationException("Start of structure or map found where not expected.") from None
    if not isinstance(body, dict):
        raise SerializationException("Start of structure or map found where not expected.")
    return body


# --- the call --------------------------------------------------------------------------------------
@dataclass
class ApiCall:
    signing_name: str
    service: str
    region: str
    access_key_id: str
    operation: str | None
    protocol: str | None
    params: dict[str, Any] = field(default_factory=dict)
    session_token: str | None = None

    @property
    def event_source(self) -> str:
        return f"{self.signing_name}.amazonaws.com"

    @property
    def iam_action(self) -> str:
        return f"{SIGNING_TO_IAM_PREFIX.get(self.signing_name, self.signing_name)}:{self.operation or '*'}"

    @property
    def read_only(self) -> bool:
        return bool(self.operation) and self.operation.startswith(READ_ONLY_PREFIXES)


def caller(environ: dict) -> tuple[str, str]:
    """(account id, region) of a signed request; unsigned ones get ``config.ACCOUNT_ID`` in ``config.REGION``."""
    from lab_app.localcloud.aws.identity import identify

    scope = credential_scope(environ)
    if scope is None:
        return config.ACCOUNT_ID, config.REGION
    return identify(scope.access_key_id)[0], scope.region


_model_lock = threading.Lock()


@lru_cache(maxsize=64)
def service_model(service: str):
    """botocore's model for a service (cached), or None when botocore does not know it."""
    import botocore.session

    with _model_lock:
        try:
            return botocore.session.get_session().get_service_model(service)
        except Exception:
            return None


@lru_cache(maxsize=64)
def _rest_routes(service: str) -> list[tuple[int, str, re.Pattern, tuple[str, ...], str]]:
    """(specificity, method, path regex, required query keys, operation) for a REST service."""
    model = service_model(service)
    routes = []
    if model is None:
        return routes
    for name in model.operation_names:
        http = model.operation_model(name).http
        uri = http.get("requestUri", "/")
        path, _, query = uri.partition("?")
        required = tuple(k for k, _ in parse_qsl(query, keep_blank_values=True)) if query else ()
        pattern, literal = "", 0
        for piece in re.split(r"(\{[^}]+\})", path):
            if piece.startswith("{"):
                label = piece[1:-1]
                pattern += ".+" if label.endswith("+") else "[^/]+"
            else:
                pattern += re.escape(piece)
                literal += len(piece)
        routes.append((literal + 100 * len(required), http.get("method", "GET"), re.compile(pattern + "/?"),
                       required, name))
    routes.sort(key=lambda r: -r[0])
    return routes


def _lower_first(key: str) -> str:
    return key[:1].lower() + key[1:] if key else key


def camel_params(value: Any) -> Any:
    """Request parameters the way CloudTrail writes them: lowerCamelCase keys, nested."""
    if isinstance(value, dict):
        return {_lower_first(str(k)): camel_params(v) for k, v in value.items()}
    if isinstance(value, list):
        return [camel_params(v) for v in value]
    return value


def _nest_query(pairs: list[tuple[str, str]]) -> dict[str, Any]:
    """``IpPermissions.1.IpProtocol=tcp`` style parameters -> nested dicts and lists."""
    root: dict[str, Any] = {}
    for key, value in pairs:
        parts = key.split(".")
        node: Any = root
        for i, part in enumerate(parts):
            last = i == len(parts) - 1
            if isinstance(node, dict):
                if last:
                    node[part] = value
                else:
                    node = node.setdefault(part, {})
        # lists are dicts keyed "1", "2", ... ; converted below
    return _listify(root)


def _listify(node: Any) -> Any:
    if isinstance(node, dict):
        converted = {k: _listify(v) for k, v in node.items()}
        if converted and all(k.isdigit() for k in converted):
            return [converted[k] for k in sorted(converted, key=int)]
        if set(converted) == {"member"} and isinstance(converted["member"], list):
            return converted["member"]
        return converted
    return node


def _loads_object(body: bytes) -> dict:
    try:
        loaded = json.loads(body) if body else {}
    except (ValueError, RecursionError):    # not JSON, not UTF-8, or nested deeper than the parser goes
        return {}
    return loaded if isinstance(loaded, dict) else {}


def parse(environ: dict, body: bytes | None = None) -> ApiCall | None:
    """The API call a request makes, or None when it is not a SigV4-signed AWS request."""
    scope = credential_scope(environ)
    if scope is None:
        return None
    signing = scope.service
    service = SIGNING_TO_SERVICE.get(signing, signing)
    model = service_model(service)
    protocol = model.protocol if model is not None else None
    if body is None:
        body = environ.get(BODY_KEY, b"") or b""
    call = ApiCall(signing_name=signing, service=service, region=scope.region, access_key_id=scope.access_key_id,
                   operation=None, protocol=protocol, session_token=environ.get("HTTP_X_AMZ_SECURITY_TOKEN"))
    target = environ.get("HTTP_X_AMZ_TARGET")
    content_type = environ.get("CONTENT_TYPE", "")
    path = environ.get("PATH_INFO", "/")
    query = parse_qsl(environ.get("QUERY_STRING", ""), keep_blank_values=True)
    if target:
        call.operation = target.rsplit(".", 1)[-1]
        call.params = _loads_object(body)
        return call
    if path.startswith("/service/") and "/operation/" in path:  # smithy RPC v2 (CBOR): name in the path
        call.operation = path.rsplit("/", 1)[-1]
        return call
    form: list[tuple[str, str]] = []
    if "x-www-form-urlencoded" in content_type and body:
        form = parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True)
    action_pairs = [v for k, v in form + query if k == "Action"]
    if action_pairs and protocol in (None, "query", "ec2"):
        call.operation = action_pairs[0]
        call.params = _nest_query([(k, v) for k, v in form + query if k not in ("Action", "Version")
                                   and not k.startswith("X-Amz-")])
        return call
    call.operation = _rest_operation(service, environ.get("REQUEST_METHOD", "GET"), path, query)
    params: dict[str, Any] = {k: v for k, v in query if not k.startswith("X-Amz-")}
    if body and ("json" in content_type or protocol == "rest-json"):
        params.update(_loads_object(body))
    call.params = params
    return call


def _rest_operation(service: str, method: str, path: str, query: list[tuple[str, str]]) -> str | None:
    keys = {k for k, _ in query}
    for _score, route_method, pattern, required, name in _rest_routes(service):
        if route_method == method and pattern.fullmatch(path) and all(r in keys for r in required):
            return name
    return None
