"""The one OTLP/HTTP layer: request checks and bounded decompression (:mod:`.http`), protobuf or OTLP/JSON
decoding and ``AnyValue`` conversion (:mod:`.decode`), reply bodies. Used by the Honeycomb receiver and
X-Ray's OTLP endpoint."""
from lab_app.localcloud.otlp.decode import any_value, attributes, parse, parse_json
from lab_app.localcloud.otlp.http import Body, OtlpError, error_reply, is_json_request, read_body, success_reply

__all__ = ["Body", "OtlpError", "any_value", "attributes", "error_reply", "is_json_request", "parse", "parse_json",
           "read_body", "success_reply"]
