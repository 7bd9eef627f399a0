"""OpenTelemetry -> X-Ray's OTLP endpoint: SigV4 signing and the exporter, with a private TracerProvider."""
from __future__ import annotations

import datetime as dt
import gzip
import hashlib
import hmac
import re
import threading

from botocore.credentials import Credentials
from xray_helpers import RecordingXRay

from lab_app.instrument import otel_xray
from lab_app.localcloud.logs import Logs
from lab_app.localcloud.server import LocalCloud
from lab_app.localcloud.xray.otlp import XRayOTLP
from lab_app.runner import ServerThread

AKID, SECRET = "AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"  # pragma: allowlist secret



class Recorder:
    """A WSGI app that keeps each request (headers, raw body) and answers 200."""

    def __init__(self):
        self.requests: list[dict] = []
        self.lock = threading.Lock()

    def __call__(self, environ, start_response):
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length)
        headers = {k[5:].replace("_", "-").lower(): v for k, v in environ.items() if k.startswith("HTTP_")}
        for key in ("CONTENT_TYPE", "CONTENT_LENGTH"):
            if environ.get(key):
                headers[key.replace("_", "-").lower()] = environ[key]
        with self.lock:
            self.requests.append({"method": environ["REQUEST_METHOD"], "path": environ["PATH_INFO"],
                                  "query": environ.get("QUERY_STRING", ""), "headers": headers, "body": body})
        start_response("200 OK", [("Content-Type", "application/x-protobuf")])
        return [b""]


def expected_signature(req: dict, region: str, service: str, secret: str) -> str:
    """SigV4 computed from the AWS documentation's steps, independently of botocore."""
    auth = req["headers"]["authorization"]
    signed = re.search(r"SignedHeaders=([^,]+)", auth).group(1).split(";")
    amz_date = req["headers"]["x-amz-date"]
    canonical_headers = "".join(f"{h}:{req['headers'][h].strip()}\n" for h in signed)
    canonical = "\n".join([req["method"], req["path"], req["query"], canonical_headers, ";".join(signed),
                           hashlib.sha256(req["body"]).hexdigest()])
    scope = f"{amz_date[:8]}/{region}/{service}/aws4_request"
    to_sign = "\n".join(["AWS4-HMAC-SHA256", amz_date, scope, hashlib.sha256(canonical.encode()).hexdigest()])

    def mac(key, msg):
        return hmac.new(key, msg.encode(), hashlib.sha256).digest()

    key = mac(mac(mac(mac(("AWS4" + secret).encode(), amz_date[:8]), region), service), "aws4_request")
    return hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()


def test_sigv4_header_shape_and_signature(monkeypatch):
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_HEADERS", "x-honeycomb-team=not-for-aws")
    recorder = Recorder()
    before = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%d")
    with ServerThread(recorder, port=0) as server:
        session = otel_xray.signed_session("eu-west-1", Credentials(AKID, SECRET))
        body = gzip.compress(b"\x0a\x00")
        r = session.post(server.url + "/v1/traces", data=body, timeout=5,
                         headers={"Content-Type": "application/x-protobuf", "Content-Encoding": "gzip",
                                  "x-honeycomb-team": "not-for-aws"})
        assert r.status_code == 200
    req, = recorder.requests
    auth = req["headers"]["authorization"]
    today = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%d")
    assert re.fullmatch(rf"AWS4-HMAC-SHA256 Credential={AKID}/\d{{8}}/eu-west-1/xray/aws4_request, "
                        r"SignedHeaders=[a-z0-9;-]+, Signature=[0-9a-f]{64}", auth), auth
    assert req["headers"]["x-amz-date"][:8] in (before, today)
    signed = re.search(r"SignedHeaders=([^,]+)", auth).group(1).split(";")
    assert {"host", "x-amz-date", "content-type"} <= set(signed)
    assert "x-honeycomb-team" not in req["headers"]  # the other vendor's key never reaches AWS
    assert auth.endswith("Signature=" + expected_signature(req, "eu-west-1", "xray", SECRET))


def test_endpoint_follows_the_mode(monkeypatch):
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    monkeypatch.delenv("AWS_ENDPOINT_URL_XRAY", raising=False)
    assert otel_xray.endpoint("ap-southeast-2") == "https://xray.ap-southeast-2.amazonaws.com/v1/traces"
    monkeypatch.setenv("AWS_ENDPOINT_URL_XRAY", "http://127.0.0.1:9/")
    assert otel_xray.endpoint() == "http://127.0.0.1:9/v1/traces"


def test_exporter_delivers_w3c_ids_to_the_otlp_endpoint(tmp_path):
    """Notebook 06's provider uses the SDK's default (random W3C) ids: X-Ray's endpoint takes them as they are."""
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.trace import SpanKind

    lc = LocalCloud(tmp_path / "lab", aws_port=0, otlp_port=0, daemon_port=0,
                    components=[XRayOTLP, RecordingXRay, Logs]).start()
    try:
        provider = TracerProvider(resource=Resource.create({"service.name": "backend-flask"}))
        provider.add_span_processor(SimpleSpanProcessor(
            otel_xray.exporter(lc.aws_url + "/v1/traces", "us-east-1", Credentials(AKID, SECRET))))
        tracer = provider.get_tracer("test")
        with tracer.start_as_current_span("/api/activities/home", kind=SpanKind.SERVER,
                                          attributes={"http.method": "GET", "http.status_code": 200}) as root:
            with tracer.start_as_current_span("GET", kind=SpanKind.CLIENT,
                                              attributes={"http.url": "http://127.0.0.1:4568/x",
                                                          "http.status_code": 503}):
                pass
        provider.shutdown()
        docs = {d["id"]: d for d in lc.component("xray").docs}
        trace_hex = format(root.get_span_context().trace_id, "032x")
        root_doc = docs[format(root.get_span_context().span_id, "016x")]
        assert root_doc["trace_id"] == f"1-{trace_hex[:8]}-{trace_hex[8:]}" and root_doc["name"] == "backend-flask"
        client, = [d for d in docs.values() if d is not root_doc]
        assert client["namespace"] == "remote" and client["fault"] is True and client["name"] == "127.0.0.1"
        assert lc.component("xray-otlp").status()["bad_requests"] == 0
    finally:
        lc.stop()
