"""How many of botocore's X-Ray operations a server answers: the same probe against the local cloud's gateway and,
as the baseline in the same run, a bare moto server.

For every operation of the xray-2016-04-12 model, boto3 (client-side validation off) sends the operation with no
parameters, signed as boto3 signs it. The operation counts as answered when the reply is a 2xx, or a 4xx whose
error code is one the model lists for that operation: not a 404 page, a 5xx, or an error the model does not know.
An operation with required members can only answer a validation error to an empty request; X-Ray's is
InvalidRequestException, which counts for it even where the operation's model lists no validation error
(PutResourcePolicy: AWS does not document which code it answers for a missing member).

    .venv/bin/python bench/xray_operations_probe.py            # this checkout
    PROBE_REPO=/path/to/other/checkout .venv/bin/python bench/xray_operations_probe.py
"""
from __future__ import annotations

import logging
import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, os.environ.get("PROBE_REPO") or str(Path(__file__).resolve().parent.parent))

import boto3
import botocore.session
from botocore.config import Config
from botocore.exceptions import ClientError

from lab_app.localcloud.server import LocalCloud


def probe(endpoint: str) -> dict[str, str]:
    """operation -> "ok", "error:<code>" (a modeled error) or "NO:<what came back>"."""
    model = botocore.session.get_session().get_service_model("xray")
    client = boto3.client("xray", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="testing",
                          aws_secret_access_key="testing",  # pragma: allowlist secret
                          config=Config(parameter_validation=False, retries={"max_attempts": 1}))
    out = {}
    for name in model.operation_names:
        op = model.operation_model(name)
        modeled = {shape.name for shape in op.error_shapes}
        if op.input_shape is not None and op.input_shape.required_members:
            modeled.add("InvalidRequestException")
        try:
            getattr(client, botocore.xform_name(name))()
            out[name] = "ok"
        except ClientError as exc:
            code = exc.response["Error"].get("Code", "")
            status = exc.response["ResponseMetadata"]["HTTPStatusCode"]
            out[name] = f"error:{code}" if code in modeled and status < 500 else f"NO:{status} {code}"[:60]
        except Exception as exc:  # a reply botocore cannot parse
            out[name] = f"NO:{type(exc).__name__}"
    return out


def report(title: str, answers: dict[str, str]) -> int:
    answered = sum(not v.startswith("NO") for v in answers.values())
    print(f"{title}: {answered} of {len(answers)} X-Ray operations answered")
    for name, value in sorted(answers.items()):
        if value.startswith("NO"):
            print(f"    not answered: {name} ({value[3:]})")
    return answered


def main() -> None:
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.CRITICAL)   # moto's server logs every request and its 500s

    moto = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    moto.start()
    try:
        host, port = moto.get_host_and_port()
        report("moto server (baseline)", probe(f"http://{host}:{port}"))
    finally:
        moto.stop()
    with tempfile.TemporaryDirectory() as data:
        cloud = LocalCloud(Path(data) / "lab", aws_port=0, otlp_port=0, daemon_port=0).start()
        try:
            report("local cloud", probe(cloud.aws_url))
        finally:
            cloud.stop()


if __name__ == "__main__":
    main()
