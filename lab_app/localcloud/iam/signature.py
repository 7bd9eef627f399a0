"""The signature check as a gateway middleware: a request signed with a key the local cloud knows must carry
the signature that key's secret gives, as on AWS.

Known keys: the local cloud's own documented key (``config.LOCAL_AWS_ACCESS_KEY_ID`` with its secret) and
every key moto holds (``iam.create_access_key``, ``sts.assume_role`` sessions). A wrong secret for one of them
is answered as AWS answers it, in the called service's protocol. Any other key id is accepted unverified, as
before, so that a learner's own dummy credentials keep working locally (the README says so). Unsigned requests
and requests whose Authorization header is not SigV4 go on unchanged: the service itself answers those.
Not checked: the 15-minute clock skew AWS allows (the local cloud's clock can be moved on purpose), and
Signature Version 2 (what boto3 still uses for S3 presigned URLs in us-east-1 unless ``signature_version=
"s3v4"``), which moto serves as before.
"""
from __future__ import annotations

from werkzeug.wrappers import Response

from lab_app import config
from lab_app.localcloud.aws import identity, request
from lab_app.localcloud.aws.errors import AwsError, Wire, wire_of_model
from lab_app.localcloud.aws.sigv4 import signature_matches, signed_parts
from lab_app.localcloud.component import Context

MESSAGE = ("The request signature we calculated does not match the signature you provided. Check your AWS "
           "Secret Access Key and signing method. Consult the service documentation for details.")


def signature_does_not_match(wire: Wire) -> AwsError:
    """``SignatureDoesNotMatch`` (403) for the XML protocols and query-compatible JSON services,
    ``InvalidSignatureException`` for JSON (400) and REST-JSON (403) services."""
    if wire.protocol in ("query", "ec2", "rest-xml") or wire.query_compatible:
        return AwsError(MESSAGE, code="SignatureDoesNotMatch", status=403)
    return AwsError(MESSAGE, code="InvalidSignatureException", status=403 if wire.protocol == "rest-json" else 400)


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
            return None
        secret = self.secret_of(signed.scope.access_key_id)
        if secret is None:
            return None
        body = request.read_body(environ)
        if signature_matches(environ, body, signed, secret):
            self.verified += 1
            return None
        self.refused += 1
        call = request.parse(environ, body)
        wire = wire_of_model(request.service_model(call.service)) if call is not None else Wire()
        self.log.info("signature mismatch for %s (%s)", signed.scope.access_key_id, signed.scope.service)
        return signature_does_not_match(wire).response(wire)

    def status(self) -> dict:
        return {"verified": self.verified, "refused": self.refused}
