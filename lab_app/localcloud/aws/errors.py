"""One error family for every AWS stand-in: raise :class:`AwsError` anywhere, render it in the wire protocol
of the service that was called, so botocore raises the ``ClientError`` code AWS would.

The shapes, by botocore protocol (what its parsers read):

* ``json`` (JSON 1.0 / 1.1 RPC; CloudWatch Logs, CloudTrail, CloudWatch): ``{"__type": code, "message": ...}``,
  ``Content-Type: application/x-amz-json-1.x``; a query-compatible service (CloudWatch, SQS) also sends
  ``x-amzn-query-error: <code>;Sender``, which botocore prefers to ``__type``.
* ``rest-json`` (X-Ray): the same body as ``application/json`` with ``x-amzn-ErrorType``.
* ``query`` (IAM, STS, SNS): ``<ErrorResponse><Error><Type>Sender</Type><Code>...``.
* ``ec2``: ``<Response><Errors><Error><Code>...``.
* ``rest-xml`` (S3): ``<Error><Code>...``.
"""
from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from typing import Any
from xml.sax.saxutils import escape

from werkzeug.wrappers import Response


@dataclass(frozen=True)
class Wire:
    """How a service's errors travel: botocore's protocol name, the JSON version, query compatibility."""

    protocol: str = "json"           # json, rest-json, query, ec2, rest-xml
    json_version: str = "1.1"
    query_compatible: bool = False


JSON_11 = Wire("json", "1.1")
JSON_10_QUERY = Wire("json", "1.0", query_compatible=True)   # CloudWatch since botocore 1.38
REST_JSON = Wire("rest-json")
QUERY = Wire("query")
EC2 = Wire("ec2")
REST_XML = Wire("rest-xml")


def wire_of_model(model) -> Wire:
    """The wire of a botocore service model (JSON 1.1 when botocore does not know the service)."""
    if model is None:
        return JSON_11
    metadata = model.metadata
    return Wire(model.protocol, metadata.get("jsonVersion", "1.1"), metadata.get("awsQueryCompatible") is not None)


class AwsError(Exception):
    """An AWS API error. Subclasses set ``code``, ``status`` and the default ``wire`` of their service."""

    code = "InternalFailure"
    status = 400
    wire: Wire = JSON_11

    def __init__(self, message: str, *, code: str | None = None, status: int | None = None, **extra: Any):
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        if status is not None:
            self.status = status
        self.extra = extra   # more fields of a JSON error body (e.g. queryCompileError)

    def response(self, wire: Wire | None = None, request_id: str | None = None) -> Response:
        """The HTTP answer: in ``wire`` (default: the class's) with a request id as AWS sends one."""
        wire = wire or self.wire
        request_id = request_id or str(uuid.uuid4())
        message = escape(self.message)
        if wire.protocol == "query":
            text = (f"<ErrorResponse><Error><Type>Sender</Type><Code>{self.code}</Code><Message>{message}</Message>"
                    f"</Error><RequestId>{request_id}</RequestId></ErrorResponse>")
            return Response(text, status=self.status, content_type="text/xml", headers={"x-amzn-RequestId": request_id})
        if wire.protocol == "ec2":
            text = (f"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Response><Errors><Error><Code>{self.code}</Code>"
                    f"<Message>{message}</Message></Error></Errors><RequestID>{request_id}</RequestID></Response>")
            return Response(text, status=self.status, content_type="text/xml")
        if wire.protocol == "rest-xml":
            text = (f"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{self.code}</Code><Message>{message}"
                    f"</Message><RequestId>{request_id}</RequestId></Error>")
            return Response(text, status=self.status, content_type="application/xml")
        headers = {"x-amzn-RequestId": request_id, "x-amzn-ErrorType": self.code}
        if wire.query_compatible:
            headers["x-amzn-query-error"] = f"{self.code};Sender"
        content_type = "application/json" if wire.protocol == "rest-json" else \
            f"application/x-amz-json-{wire.json_version}"
        body = {"__type": self.code, "message": self.message, **self.extra}
        return Response(json.dumps(body, default=str), status=self.status, content_type=content_type, headers=headers)


class SerializationException(AwsError):
    """A body that is not the JSON object the operation takes."""

    code = "SerializationException"


class ValidationException(AwsError):
    code = "ValidationException"
