"""ADOT (``aws-opentelemetry-distro``) exporting to the local cloud's X-Ray OTLP endpoint, signed as it signs for AWS.

``aws-opentelemetry-distro`` cannot be installed next to this workbook's OpenTelemetry: every release pins exact
OpenTelemetry versions (0.21.0, the newest on PyPI, pins ``opentelemetry-api==1.44.0``, ``opentelemetry-sdk==1.44.0``
and ``opentelemetry-distro==0.65b0``; 0.20.0 and 0.19.0 the same), and requirements.txt has 1.45.1 / 0.66b1, so pip
answers ResolutionImpossible. Installing it into the venv with ``--no-deps`` would also register its
``opentelemetry_distro`` / ``opentelemetry_configurator`` entry points next to opentelemetry-distro's and change
what ``opentelemetry-instrument`` does for the notifications service.

So two tests:

* :func:`test_the_adot_signing_path_with_botocore` always runs: a ``requests.Session`` that signs the way ADOT
  0.21.0's ``AwsAuthSession.request`` does (``amazon/opentelemetry/distro/exporter/otlp/aws/common/
  aws_auth_session.py``: botocore ``SigV4Auth(credentials, "xray", region)`` over an ``AWSRequest("POST", url,
  data, {"Content-Type": "application/x-protobuf"})``, the signed headers copied onto the request, plus its
  ``User-Agent``), given to the SDK's ``OTLPSpanExporter`` as ADOT's ``OTLPAwsSpanExporter`` does.
* :func:`test_the_real_adot_exporter` runs ADOT's own ``OTLPAwsSpanExporter`` in a child process, with the
  package and the OpenTelemetry 1.44.0 it pins unpacked (``--no-deps``) into ``build/adot`` by ``make install``
  (requirements-adot.txt); on this venv's 1.45.1 it fails (``'OTLPAwsSpanExporter' object has no attribute
  '_session'``). Skipped with that reason when the folder is missing.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import boto3
import pytest
import requests
from xray_helpers import enable_transaction_search, wait_for

from lab_app import config

ADOT_DIR = config.REPO_ROOT / "build" / "adot"
ADOT_VERSION = "0.21.0"


class AdotStyleSession(requests.Session):
    """ADOT 0.21.0's AwsAuthSession.request, re-typed: sign with botocore, copy the signed headers."""

    def __init__(self, region: str, service: str = "xray"):
        super().__init__()
        import botocore.session

        self._region, self._service = region, service
        self._credentials = botocore.session.get_session().get_credentials()
        self.headers.update({"User-Agent": f"ADOT-OTLP-Exporter-Python/{ADOT_VERSION}"})
        self.signed: list[str] = []

    def request(self, method, url, *args, data=None, headers=None, **kwargs):
        from botocore.auth import SigV4Auth
        from botocore.awsrequest import AWSRequest

        aws_request = AWSRequest(method="POST", url=url, data=data, headers={"Content-Type": "application/x-protobuf"})
        SigV4Auth(self._credentials, self._service, self._region).add_auth(aws_request)
        headers = dict(headers or {})
        headers.update(dict(aws_request.headers))
        self.signed.append(headers["Authorization"])
        return super().request(method, url, *args, data=data, headers=headers, **kwargs)


def export_three_traces(exporter) -> list[str]:
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.trace import SpanKind

    provider = TracerProvider(resource=Resource.create({"service.name": "adot-contract"}))
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("contract")
    ids = []
    for i in range(3):
        with tracer.start_as_current_span(f"GET /item/{i}", kind=SpanKind.SERVER,
                                          attributes={"http.request.method": "GET", "http.response.status_code": 200}):
            with tracer.start_as_current_span("lookup") as inner:
                ids.append(format(inner.get_span_context().trace_id, "032x"))
    provider.shutdown()
    return ids


def spans_by_trace(start: float) -> dict[str, int]:
    logs = boto3.client("logs")
    query_id = logs.start_query(logGroupName="aws/spans", startTime=int(start) - 5, endTime=int(time.time()) + 5,
                                queryString="stats count(*) as spans by traceId")["queryId"]
    result = wait_for(lambda: (r := logs.get_query_results(queryId=query_id))["status"] == "Complete" and r, 10)
    rows = [{f["field"]: f["value"] for f in row} for row in result["results"]]
    return {r["traceId"]: int(r["spans"]) for r in rows}


def test_the_adot_signing_path_with_botocore(cloud):
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    enable_transaction_search(cloud, percentage=100)
    start = time.time()
    session = AdotStyleSession(region="us-east-1")
    ids = export_three_traces(OTLPSpanExporter(endpoint=cloud.aws_url + "/v1/traces", session=session))
    assert session.signed and all("/us-east-1/xray/aws4_request" in a for a in session.signed)
    assert spans_by_trace(start) == {t: 2 for t in ids}
    summaries = boto3.client("xray").get_trace_summaries(StartTime=start - 5, EndTime=time.time() + 5)
    assert {s["Id"] for s in summaries["TraceSummaries"]} == {f"1-{t[:8]}-{t[8:]}" for t in ids}


def test_the_same_session_signed_for_logs_is_refused(cloud):
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.trace.export import SpanExportResult

    enable_transaction_search(cloud)
    session = AdotStyleSession(region="us-east-1", service="logs")
    statuses = []
    session.hooks["response"].append(lambda r, *a, **k: statuses.append((r.status_code,
                                                                          r.headers.get("x-amzn-ErrorType"))))
    exporter = OTLPSpanExporter(endpoint=cloud.aws_url + "/v1/traces", session=session)
    from opentelemetry.sdk.trace import TracerProvider

    tracer = TracerProvider().get_tracer("contract")
    with tracer.start_as_current_span("x") as span:
        pass
    assert exporter.export([span]) == SpanExportResult.FAILURE
    assert statuses == [(403, "InvalidSignatureException")]


CHILD = """
import json, sys
import botocore.session
from amazon.opentelemetry.distro.exporter.otlp.aws.traces.otlp_aws_span_exporter import OTLPAwsSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor

exporter = OTLPAwsSpanExporter(aws_region="us-east-1", session=botocore.session.Session(), endpoint=sys.argv[1])
provider = TracerProvider(resource=Resource.create({"service.name": "adot-real"}))
provider.add_span_processor(SimpleSpanProcessor(exporter))
ids = []
with provider.get_tracer("contract").start_as_current_span("GET /adot") as span:
    ids.append(format(span.get_span_context().trace_id, "032x"))
provider.shutdown()
from opentelemetry.sdk.version import __version__ as sdk_version
from amazon.opentelemetry.distro.version import __version__ as adot_version
print(json.dumps({"ids": ids, "sdk": sdk_version, "adot": adot_version}))
"""


@pytest.mark.skipif(not (ADOT_DIR / "amazon").is_dir(),
                    reason="build/adot missing: make install unpacks aws-opentelemetry-distro there (--no-deps, "
                           "it pins OpenTelemetry 1.44.0 and cannot share this venv)")
def test_the_real_adot_exporter(cloud):
    enable_transaction_search(cloud, percentage=100)
    start = time.time()
    env = {**os.environ, "PYTHONPATH": str(ADOT_DIR)}
    out = subprocess.run([sys.executable, "-c", CHILD, cloud.aws_url + "/v1/traces"], capture_output=True,
                         text=True, timeout=60, env=env)
    assert out.returncode == 0, out.stderr
    child = json.loads(out.stdout.strip().splitlines()[-1])
    assert (child["adot"], child["sdk"]) == (ADOT_VERSION, "1.44.0")     # ADOT with the OpenTelemetry it pins
    ids = child["ids"]
    assert spans_by_trace(start) == {ids[0]: 1}
    summary, = boto3.client("xray").get_trace_summaries(StartTime=start - 5, EndTime=time.time() + 5)["TraceSummaries"]
    assert summary["Id"] == f"1-{ids[0][:8]}-{ids[0][8:]}"
