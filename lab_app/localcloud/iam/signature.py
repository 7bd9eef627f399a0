"""The signature check as a gateway middleware: a request signed with a key the local cloud knows must carry
the signature that key's secret gives, as on AWS.

Known keys: the local cloud's own documented key (``config.LOCAL_AWS_ACCESS_KEY_ID`` with its secret) and
every key moto holds (``iam.create_access_key``, ``sts.assume_role`` sessions). A wrong secret for one of them
is answered as AWS answers it, in the called service's protocol. Any other key id is accepted unverified, as
before, so that a learner's own dummy credentials keep working locally (the README says so). Unsigned requests,
S3's SigV2 and SigV4a go on unchanged; any other Authorization header that is not a complete SigV4 one gets
AWS's ``IncompleteSignatureException`` (``IncompleteSignature`` on the XML protocols) instead of reaching a
service that cannot parse it.
Not checked: the 15-minute clock skew AWS allows (the local cloud's clock can be moved on purpose), and
Signature Version 2 (what boto3 still uses for S3 presigned URLs in us-east-1 unless ``signature_version=
"s3v4"``), which moto serves as before.
"""
from __future__ import annotations

from werkzeug.wrappers import Response

from lab_app import config
from lab_app.localcloud.aws import identity, request
from lab_app.localcloud.aws.errors import REST_JSON, AwsError, Wire, wire_of_model
from lab_app.localcloud.aws.sigv4 import signature_matches, signed_parts
from lab_app.localcloud.component import Context
from lab_app.localcloud.xray.urls import is_xray_path

MESSAGE = ("The request signature we calculated does not match the signature you provided. Check your AWS "
           "Secret Access Key and signing method. Consult the service documentation for details.")


def signature_does_not_match(wire: Wire) -> AwsError:
    """``SignatureDoesNotMatch`` (403) for the XML protocols and query-compatible JSON services,
    ``InvalidSignatureException`` for JSON (400) and REST-JSON (403) services."""
    if wire.protocol in ("query", "ec2", "rest-xml") or wire.query_compatible:
        return AwsError(MESSAGE, code="SignatureDoesNotMatch", status=403)
    return AwsError(MESSAGE, code="InvalidSignatureException", status=403 if wire.protocol == "rest-json" else 400)


INCOMPLETE = "Authorization header requires 'Credential' parameter. Authorization header requires 'Signature' " \
             "parameter. Authorization header requires 'SignedHeaders' parameter. Authorization header requires " \
             "existence of either a 'X-Amz-Date' or a 'Date' header."
# Authorization schemes that are not SigV4 and that moto's services answer themselves (S3's SigV2, SigV4a)
OTHER_SCHEMES = ("AWS ", "AWS4-ECDSA-P256-SHA256")


def incomplete_signature(wire: Wire, header: str) -> AwsError:
    message = f"{INCOMPLETE} Authorization={header[:60]}"
    if wire.protocol in ("query", "ec2", "rest-xml") or wire.query_compatible:
        return AwsError(message, code="IncompleteSignature", status=403)
    return AwsError(message, code="IncompleteSignatureException", status=403 if wire.protocol == "rest-json" else 400)


class SignatureCheck:
    """``check(environ)``: the error for a wrong signature of a known key, None for every other request."""

    name = "sigv4"

    def __init__(self, ctx: Context):
        self.log = ctx.log.getChild(self.name)
        self.verified = 0
        self.refused = 0

    def secret_of(self, access_key_id: str) -> str | None:
        if access_key_id == config.LOCAL_AWS_ACCESS_KEY_ID:
            return config.LOCAL_AWS_SECRET_ACCESS_KEY
        try:
            found = identity.access_keys().get(access_key_id)
        except Exception:  # moto's IAM state unreadable: the key is unknown
            return None
        return getattr(found[1], "secret_access_key", None) if found else None

    def check(self, environ: dict) -> Response | None:
        signed = signed_parts(environ)
        if signed is None:
            header = environ.get("HTTP_AUTHORIZATION", "")
            if not header.strip() or header.startswith(OTHER_SCHEMES):
                return None
            return self._refuse(environ, incomplete_signature, header)
        secret = self.secret_of(signed.scope.access_key_id)
        if secret is None:
            return None
        body = request.read_body(environ)
        if signature_matches(environ, body, signed, secret):
            self.verified += 1
            return None
        self.log.info("signature mismatch for %s (%s)", signed.scope.access_key_id, signed.scope.service)
        return self._refuse(environ, lambda wire: signature_does_not_match(wire))

    def _refuse(self, environ: dict, error, *args) -> Response:
        self.refused += 1
        try:
            call = request.parse(environ, request.read_body(environ))
        except Exception:  # a request we cannot even parse: answer in JSON 1.1
            call = None
        if call is not None and call.service:
            wire = wire_of_model(request.service_model(call.service))
        elif is_xray_path(environ.get("PATH_INFO", "")):     # routed by path (REST-JSON), signed or not
            wire = REST_JSON
        else:
            wire = Wire()
        return error(wire, *args).response(wire)

    def status(self) -> dict:
        return {"verified": self.verified, "refused": self.refused}
