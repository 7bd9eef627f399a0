"""What one signed AWS API request on the gateway is: service, operation, caller, region, parameters.

Shared by the CloudTrail recorder (``trail.py``) and the IAM policy check (``iam_auth.py``). The
operation comes from ``X-Amz-Target`` (JSON protocols), the ``Action`` parameter (query and EC2
protocols) or, for REST protocols, from matching the method and path against the service's
botocore model (``requestUri`` templates). The caller comes from the SigV4 ``Authorization``
header's access key, looked up in moto's IAM and STS state: an IAM user's key, an assumed role's
temporary key, or, for any other key (the local dummy key included), the account root.
"""
from __future__ import annotations

import json
import re
import threading
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any
from urllib.parse import parse_qsl

# SigV4 credential scope: <key>/<yyyymmdd>/<region>/<signing name>/aws4_request
_CREDENTIAL_RE = re.compile(r"Credential=([^/,\s]+)/(\d{8})/([^/,\s]+)/([^/,\s]+)/aws4_request")

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

DEFAULT_ACCOUNT_ID = "123456789012"


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


def credential_scope(environ: dict) -> tuple[str, str, str] | None:
    """(access key id, region, signing name) from the Authorization header or a presigned URL."""
    match = _CREDENTIAL_RE.search(environ.get("HTTP_AUTHORIZATION", ""))
    if match is None:
        query = dict(parse_qsl(environ.get("QUERY_STRING", "")))
        cred = query.get("X-Amz-Credential", "")
        parts = cred.split("/")
        if len(parts) == 5 and parts[4] == "aws4_request":
            return parts[0], parts[2], parts[3]
        return None
    key, _date, region, signing = match.groups()
    return key, region, signing


def caller(environ: dict) -> tuple[str, str]:
    """(account id, region) of a signed request; unsigned ones get the default account in us-east-1."""
    scope = credential_scope(environ)
    if scope is None:
        return DEFAULT_ACCOUNT_ID, "us-east-1"
    return identify(scope[0])[0], scope[1]


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


def parse(environ: dict, body: bytes | None = None) -> ApiCall | None:
    """The API call a request makes, or None when it is not a SigV4-signed AWS request."""
    scope = credential_scope(environ)
    if scope is None:
        return None
    key, region, signing = scope
    service = SIGNING_TO_SERVICE.get(signing, signing)
    model = service_model(service)
    protocol = model.protocol if model is not None else None
    if body is None:
        body = environ.get("lab.request_body", b"") or b""
    call = ApiCall(signing_name=signing, service=service, region=region, access_key_id=key, operation=None,
                   protocol=protocol, session_token=environ.get("HTTP_X_AMZ_SECURITY_TOKEN"))
    target = environ.get("HTTP_X_AMZ_TARGET")
    content_type = environ.get("CONTENT_TYPE", "")
    path = environ.get("PATH_INFO", "/")
    query = parse_qsl(environ.get("QUERY_STRING", ""), keep_blank_values=True)
    if target:
        call.operation = target.rsplit(".", 1)[-1]
        try:
            loaded = json.loads(body) if body else {}
            call.params = loaded if isinstance(loaded, dict) else {}
        except ValueError:
            call.params = {}
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
    method = environ.get("REQUEST_METHOD", "GET")
    for _score, route_method, pattern, required, name in _rest_routes(service):
        if route_method != method or not pattern.fullmatch(path):
            continue
        keys = {k for k, _ in query}
        if any(r not in keys for r in required):
            continue
        call.operation = name
        break
    params: dict[str, Any] = {k: v for k, v in query if not k.startswith("X-Amz-")}
    if body and ("json" in content_type or protocol == "rest-json"):
        try:
            loaded = json.loads(body)
            if isinstance(loaded, dict):
                params.update(loaded)
        except ValueError:
            pass
    call.params = params
    return call


# --- who is calling ------------------------------------------------------------------------------
def identify(access_key_id: str) -> tuple[str, dict[str, Any]]:
    """(account id, CloudTrail ``userIdentity``) for an access key, from moto's IAM and STS state."""
    from moto.iam.models import iam_backends

    for account_id, account in list(iam_backends.items()):
        backend = account.get("aws") if hasattr(account, "get") else None
        if backend is None:
            continue
        access_key = backend.access_keys.get(access_key_id)
        if access_key is None:
            user = backend.get_user_from_access_key_id(access_key_id)
            if user is None:
                continue
            return account_id, _user_identity(account_id, user, access_key_id)
        if getattr(access_key, "role_arn", None):
            return account_id, _role_identity(account_id, access_key.role_arn, access_key_id)
        user = backend.get_user_from_access_key_id(access_key_id)
        if user is not None:
            return account_id, _user_identity(account_id, user, access_key_id)
    return DEFAULT_ACCOUNT_ID, {
        "type": "Root",
        "principalId": DEFAULT_ACCOUNT_ID,
        "arn": f"arn:aws:iam::{DEFAULT_ACCOUNT_ID}:root",
        "accountId": DEFAULT_ACCOUNT_ID,
        "accessKeyId": access_key_id,
    }


def _user_identity(account_id: str, user, access_key_id: str) -> dict[str, Any]:
    return {
        "type": "IAMUser",
        "principalId": user.id,
        "arn": user.arn,
        "accountId": account_id,
        "accessKeyId": access_key_id,
        "userName": user.name,
    }


def _role_identity(account_id: str, role_arn: str, access_key_id: str) -> dict[str, Any]:
    from moto.sts.models import sts_backends

    session_name, created = "session", None
    try:
        for assumed in sts_backends[account_id]["aws"].assumed_roles:
            if assumed.access_key_id == access_key_id:
                session_name = assumed.session_name
                created = getattr(assumed.access_key, "create_date", None)
                break
    except Exception:  # STS state missing: still describe the role
        pass
    role_name = role_arn.split("/")[-1]
    role_id = "AROA" + role_name.upper()[:17]
    try:
        from moto.iam.models import iam_backends

        role_id = iam_backends[account_id]["aws"].get_role_by_arn(role_arn).id
    except Exception:
        pass
    return {
        "type": "AssumedRole",
        "principalId": f"{role_id}:{session_name}",
        "arn": f"arn:aws:sts::{account_id}:assumed-role/{role_name}/{session_name}",
        "accountId": account_id,
        "accessKeyId": access_key_id,
        "sessionContext": {
            "sessionIssuer": {"type": "Role", "principalId": role_id, "arn": role_arn, "accountId": account_id,
                              "userName": role_name},
            "attributes": {"creationDate": created.strftime("%Y-%m-%dT%H:%M:%SZ") if created else None,
                           "mfaAuthenticated": "false"},
        },
    }
