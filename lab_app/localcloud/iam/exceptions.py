"""The errors an IAM check answers with, in the called service's own protocol and with the code AWS uses
there: ``AccessDeniedException`` (JSON services), ``AccessDenied`` (query, S3 and query-compatible JSON
services), ``UnauthorizedOperation`` (EC2); a bad key or session token: ``UnrecognizedClientException``
(JSON) or ``InvalidClientTokenId`` (XML protocols)."""
from __future__ import annotations

from lab_app.localcloud.aws.errors import AwsError, Wire

XML_PROTOCOLS = ("query", "ec2", "rest-xml")


def access_denied(wire: Wire, message: str) -> AwsError:
    if wire.protocol == "ec2":
        return AwsError(f"You are not authorized to perform this operation. {message}", code="UnauthorizedOperation",
                        status=403)
    if wire.protocol in XML_PROTOCOLS:
        return AwsError(message, code="AccessDenied", status=403)
    code = "AccessDenied" if wire.query_compatible else "AccessDeniedException"
    return AwsError(message, code=code, status=403 if wire.protocol == "rest-json" else 400, Message=message)


def invalid_token(wire: Wire) -> AwsError:
    message = "The security token included in the request is invalid."
    if wire.protocol in XML_PROTOCOLS:
        return AwsError(message, code="InvalidClientTokenId", status=403)
    return AwsError(message, code="UnrecognizedClientException", status=400)
