"""IAM permissions for IAM identities on the local cloud, so a low-privilege user really gets AccessDenied.

Which requests are checked: those signed with an access key that belongs to an IAM user created in
moto (``iam.create_user`` + ``iam.create_access_key``) or to a role session from ``sts.assume_role``.
Every other key, including the local dummy key the workbook uses by default, acts as the account
root, which IAM policies do not restrict on AWS either. So nothing changes for the rest of the
workbook, and a notebook can create a read-only user and watch its calls being denied.

How the check works: the identity's policies (inline and attached, user groups included; for a role
session the role's) are read from moto's IAM state; an explicit ``Deny`` matching the action wins,
otherwise an ``Allow`` matching the action is needed (AWS's evaluation order). Actions match with
IAM wildcards, case-insensitively; ``NotAction`` is honoured. Simplifications, stated plainly:
resource ARNs and conditions in statements are not evaluated (a statement applies to every
resource), and signatures are not verified. A denied call is answered in the service's own
protocol with the code AWS uses (``AccessDeniedException`` for JSON services, ``AccessDenied`` for
query/S3, ``UnauthorizedOperation`` for EC2), so boto3 raises the same ``ClientError`` as on AWS.
Allowed calls go on to the next stand-in or to moto.
"""
from __future__ import annotations

import io
import json
import re
import uuid
from typing import Any, Callable
from xml.sax.saxutils import escape

from werkzeug.wrappers import Response

from lab_app.localcloud import apicall
from lab_app.localcloud.component import Component


def _keys_index() -> dict[str, tuple[str, Any]]:
    """access key id -> (account, moto AccessKey) for every IAM user key and role session key."""
    from moto.iam.models import iam_backends

    index = {}
    for account_id, account in list(iam_backends.items()):
        backend = dict.get(account, "aws")
        if backend is None:
            continue
        for key_id, key in list(backend.access_keys.items()):
            index[key_id] = (account_id, key)
    return index


def _action_matches(pattern: str, action: str) -> bool:
    regex = "^" + re.escape(pattern).replace(r"\*", ".*").replace(r"\?", ".") + "$"
    return re.match(regex, action, flags=re.IGNORECASE) is not None


def _as_list(value: Any) -> list:
    return value if isinstance(value, list) else [value]


def evaluate(policies: list[dict], action: str) -> str:
    """``"allow"``, ``"explicit-deny"`` or ``"implicit-deny"`` for an action under identity policies."""
    allowed = False
    for document in policies:
        for statement in _as_list(document.get("Statement", [])):
            if not isinstance(statement, dict):
                continue
            if "NotAction" in statement:
                concerned = not any(_action_matches(p, action) for p in _as_list(statement["NotAction"]))
            else:
                concerned = any(_action_matches(p, action) for p in _as_list(statement.get("Action", [])))
            if not concerned:
                continue
            if statement.get("Effect") == "Deny":
                return "explicit-deny"
            if statement.get("Effect") == "Allow":
                allowed = True
    return "allow" if allowed else "implicit-deny"


class IamAuth(Component):
    name = "iam_auth"

    def matches(self, environ: dict) -> bool:
        scope = apicall.credential_scope(environ)
        if scope is None:
            return False
        try:
            return scope[0] in _keys_index()
        except Exception:
            return False

    def _policies(self, account_id: str, key_id: str, environ: dict) -> tuple[str, list[dict]] | None:
        from moto.iam.access_control import CreateAccessKeyFailure, IAMPolicy, create_access_key

        headers = {}
        if environ.get("HTTP_X_AMZ_SECURITY_TOKEN"):
            headers["X-Amz-Security-Token"] = environ["HTTP_X_AMZ_SECURITY_TOKEN"]
        try:
            key = create_access_key(account_id=account_id, partition="aws", access_key_id=key_id, headers=headers)
        except CreateAccessKeyFailure:
            return None
        documents = []
        for policy in key.collect_policies():
            try:
                documents.append(IAMPolicy(policy)._policy_json)
            except Exception:  # an unreadable policy grants nothing
                continue
        return key.arn, documents

    def __call__(self, environ: dict, start_response: Callable):
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        environ["wsgi.input"] = io.BytesIO(body)
        call = apicall.parse(environ, body)
        if call is None or not call.operation:
            return self._next(environ)(environ, start_response)
        account_id, _key = _keys_index()[call.access_key_id]
        found = self._policies(account_id, call.access_key_id, environ)
        if found is None:
            return self._invalid_token(call)(environ, start_response)
        arn, documents = found
        if call.iam_action.lower() == "sts:getcalleridentity":  # always allowed on AWS
            return self._next(environ)(environ, start_response)
        decision = evaluate(documents, call.iam_action)
        if decision == "allow":
            return self._next(environ)(environ, start_response)
        why = ("with an explicit deny in an identity-based policy" if decision == "explicit-deny"
               else f"because no identity-based policy allows the {call.iam_action} action")
        message = f"User: {arn} is not authorized to perform: {call.iam_action} {why}"
        return self.denied(call, message)(environ, start_response)

    def _next(self, environ: dict):
        after = False
        for component in self.cloud.components:
            if component is self:
                after = True
                continue
            if after and component.matches(environ):
                return component
        return self.cloud.gateway.moto

    @staticmethod
    def denied(call: apicall.ApiCall, message: str) -> Response:
        request_id = str(uuid.uuid4())
        model = apicall.service_model(call.service)
        metadata = model.metadata if model is not None else {}
        protocol = call.protocol or "json"
        if protocol == "ec2":
            text = (f"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Response><Errors><Error><Code>UnauthorizedOperation"
                    f"</Code><Message>You are not authorized to perform this operation. {escape(message)}</Message>"
                    f"</Error></Errors><RequestID>{request_id}</RequestID></Response>")
            return Response(text, status=403, content_type="text/xml")
        if protocol == "query":
            text = (f"<ErrorResponse><Error><Type>Sender</Type><Code>AccessDenied</Code><Message>{escape(message)}"
                    f"</Message></Error><RequestId>{request_id}</RequestId></ErrorResponse>")
            return Response(text, status=403, content_type="text/xml", headers={"x-amzn-RequestId": request_id})
        if protocol == "rest-xml":
            text = (f"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>AccessDenied</Code><Message>"
                    f"{escape(message)}</Message><RequestId>{request_id}</RequestId></Error>")
            return Response(text, status=403, content_type="application/xml")
        headers = {"x-amzn-RequestId": request_id, "x-amzn-ErrorType": "AccessDeniedException"}
        code = "AccessDeniedException"
        if metadata.get("awsQueryCompatible") is not None:
            code = "AccessDenied"
            headers["x-amzn-query-error"] = "AccessDenied;Sender"
            headers["x-amzn-ErrorType"] = code
        status = 403 if protocol == "rest-json" else 400
        content_type = "application/json" if protocol == "rest-json" else \
            f"application/x-amz-json-{metadata.get('jsonVersion', '1.1')}"
        return Response(json.dumps({"__type": code, "message": message, "Message": message}), status=status,
                        content_type=content_type, headers=headers)

    @staticmethod
    def _invalid_token(call: apicall.ApiCall) -> Response:
        message = "The security token included in the request is invalid."
        if call.protocol in ("query", "ec2", "rest-xml"):
            text = (f"<ErrorResponse><Error><Type>Sender</Type><Code>InvalidClientTokenId</Code><Message>{message}"
                    f"</Message></Error><RequestId>{uuid.uuid4()}</RequestId></ErrorResponse>")
            return Response(text, status=403, content_type="text/xml")
        return Response(json.dumps({"__type": "UnrecognizedClientException", "message": message}), status=400,
                        content_type="application/x-amz-json-1.1")
