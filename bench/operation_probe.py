"""How many operations of botocore's service models the local cloud answers (prints figures; asserts nothing).

One probe for every operation of a service: an empty request to the gateway, as the SDK would frame it (JSON 1.1
``X-Amz-Target`` for CloudWatch Logs; the model's method and URI, placeholders filled with ``x``, for X-Ray's
REST-JSON). An operation counts as answered when the reply is an AWS-shaped JSON error or success, and not
``UnknownOperationException``, an HTML page, a 404 without an AWS error type, or a 5xx.

    .venv/bin/python bench/operation_probe.py [logs xray]
"""
from __future__ import annotations

import re
import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import botocore.session
import requests

from lab_app.localcloud.server import LocalCloud


def answered(response: requests.Response) -> bool:
    if response.status_code >= 500:
        return False
    try:
        body = response.json()
    except ValueError:
        return False
    kind = str(body.get("__type") or body.get("code") or response.headers.get("x-amzn-ErrorType") or "")
    if "UnknownOperation" in kind:
        return False
    return not (response.status_code == 404 and not kind)


def probe(cloud: LocalCloud, service: str) -> tuple[list[str], list[str]]:
    model = botocore.session.get_session().get_service_model(service)
    yes, no = [], []
    for name in model.operation_names:
        op = model.operation_model(name)
        if model.protocol == "json":
            response = requests.post(cloud.aws_url, data="{}", timeout=30, headers={
                "X-Amz-Target": f"{model.metadata['targetPrefix']}.{name}",
                "Content-Type": "application/x-amz-json-1.1"})
        else:
            path = re.sub(r"\{[^}]+\}", "x", op.http["requestUri"]).split("?")[0]
            response = requests.request(op.http["method"], cloud.aws_url + path, data="{}", timeout=30,
                                        headers={"Content-Type": "application/json"})
        (yes if answered(response) else no).append(name)
    return yes, no


def main() -> None:
    services = sys.argv[1:] or ["logs", "xray"]
    data = Path(tempfile.mkdtemp(prefix="operation-probe-"))
    cloud = LocalCloud(data, aws_port=0, otlp_port=0, daemon_port=0).start()
    try:
        for service in services:
            yes, no = probe(cloud, service)
            print(f"{service}: {len(yes)} of {len(yes) + len(no)} operations answered")
            print(f"  not answered: {', '.join(no)}")
    finally:
        cloud.stop()
        shutil.rmtree(data, ignore_errors=True)


if __name__ == "__main__":
    main()
