"""The IAM check as a gateway middleware: it answers a denied call itself and lets every other request through.

Which requests are checked: those signed with an access key that belongs to an IAM user created in
moto (``iam.create_user`` + ``iam.create_access_key``) or to a role session from ``sts.assume_role``.
Every other key, including the local dummy key the workbook uses by default, acts as the account
root, which IAM policies do not restrict on AWS either. So nothing changes for the rest of the
workbook, and a notebook can create a read-only user and watch its calls being denied. Allowed calls
go on to the stand-in that claims them, or to moto.
"""
from __future__ import annotations

from werkzeug.wrappers import Response

from lab_app.localcloud.aws import identity, request
from lab_app.localcloud.aws.errors import AwsError, wire_of_model
from lab_app.localcloud.aws.sigv4 import credential_scope
from lab_app.localcloud.component import Context
from lab_app.localcloud.iam.exceptions import access_denied, invalid_token
from lab_app.localcloud.iam.models import evaluate, identity_policies

ALWAYS_ALLOWED = ("sts:getcalleridentity",)   # on AWS too, whatever the policies say


class IamPolicyCheck:
    """``check(environ)``: a response for a call IAM refuses, None for a request that goes on."""

    name = "iam"

    def __init__(self, ctx: Context):
        self.log = ctx.log.getChild(self.name)
        self.denied = 0

    def check(self, environ: dict) -> Response | None:
        scope = credential_scope(environ)
        if scope is None:
            return None
        try:
            keys = identity.access_keys()
        except Exception:  # moto's IAM state unreadable: behave as root
            return None
        if scope.access_key_id not in keys:
            return None
        call = request.parse(environ, request.read_body(environ))
        if call is None or not call.operation:
            return None
        account_id, _key = keys[call.access_key_id]
        wire = wire_of_model(request.service_model(call.service))
        found = identity_policies(account_id, call.access_key_id, environ.get("HTTP_X_AMZ_SECURITY_TOKEN"))
        if found is None:
            return invalid_token(wire).response(wire)
        arn, documents = found
        if call.iam_action.lower() in ALWAYS_ALLOWED:
            return None
        decision = evaluate(documents, call.iam_action)
        if decision == "allow":
            return None
        why = ("with an explicit deny in an identity-based policy" if decision == "explicit-deny"
               else f"because no identity-based policy allows the {call.iam_action} action")
        self.denied += 1
        return access_denied(wire, f"User: {arn} is not authorized to perform: {call.iam_action} {why}").response(wire)

    def status(self) -> dict:
        return {"denied": self.denied}


def denial(environ: dict, action: str, resource: str | None = None) -> AwsError | None:
    """The error for a caller whose identity policies do not allow ``action`` (None when they do).

    For permissions a stand-in checks inside an operation, such as ``logs:Unmask`` (GetLogEvents with
    ``unmask``, Insights ``unmask(@message)``), with the same identities and evaluation as the gateway check:
    the account root and unknown keys are allowed.
    """
    scope = credential_scope(environ)
    if scope is None:
        return None
    try:
        keys = identity.access_keys()
    except Exception:
        return None
    if scope.access_key_id not in keys:
        return None
    account_id, _key = keys[scope.access_key_id]
    found = identity_policies(account_id, scope.access_key_id, environ.get("HTTP_X_AMZ_SECURITY_TOKEN"))
    service = action.split(":", 1)[0]
    wire = wire_of_model(request.service_model(service))
    if found is None:
        return invalid_token(wire)
    arn, documents = found
    decision = evaluate(documents, action)
    if decision == "allow":
        return None
    on = f" on resource: {resource}" if resource else ""
    why = ("with an explicit deny in an identity-based policy" if decision == "explicit-deny"
           else f"because no identity-based policy allows the {action} action")
    return access_denied(wire, f"User: {arn} is not authorized to perform: {action}{on} {why}")
