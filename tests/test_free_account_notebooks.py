"""The free-account check: notebooks 02, 05 and 06 run without an error against a fresh local cloud that is a
new free account: its Honeycomb team is a free one (``LAB_HONEYCOMB_PLAN=free``: no Query Data API), Rollbar has
separate post and read tokens, and X-Ray has CloudWatch Transaction Search at a new account's default (trace
segment destination ``XRay``, so the OTLP endpoint refuses spans; ``Default`` indexing rule 1 %), on its own ports
and data dir.

Notebook 02 must then say why it cannot query and print a query template link; notebook 05 reads Rollbar with
ROLLBAR_READ_TOKEN and shows the post token refused; notebook 06 finds Transaction Search off, enables it as a
real account must (logs resource policy, UpdateTraceSegmentDestination, PENDING until ACTIVE), and leaves the
indexing rule at the 1 % it found.
"""
from __future__ import annotations

import time

import boto3
import nbformat
import pytest
from nbclient import NotebookClient

from conftest import free_udp_tcp_port
from lab_app import config, localcloud
from lab_app.runner import free_port

NOTEBOOKS = config.REPO_ROOT / "notebooks"


def outputs_text(notebook) -> str:
    parts = []
    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            parts.append(output.get("text", ""))
            parts.append((output.get("data") or {}).get("text/plain", ""))
    return "\n".join(parts)


@pytest.fixture
def free_plan_env(tmp_path, monkeypatch):
    aws_port = free_port()
    env = {"LAB_MODE": "local", "LAB_HONEYCOMB_PLAN": "free", "LAB_DATA_DIR": str(tmp_path / "lab"),
           "LAB_AWS_PORT": str(aws_port), "LAB_OTLP_PORT": str(free_port()),
           "LAB_XRAY_DAEMON_PORT": str(free_udp_tcp_port()), "LAB_BACKEND_PORT": str(free_port()),
           "LAB_DOWNSTREAM_PORT": str(free_port())}
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    for name in ("ROLLBAR_READ_TOKEN", "HONEYCOMB_CONFIG_KEY", "AWS_ENDPOINT_URL", "OTEL_EXPORTER_OTLP_HEADERS"):
        monkeypatch.delenv(name, raising=False)     # what setup() sets, not left over from another test's cloud
    yield env
    localcloud.stop(env["LAB_DATA_DIR"], aws_port)


def run_notebook(name: str, cwd) -> nbformat.NotebookNode:
    notebook = nbformat.read(NOTEBOOKS / name, as_version=4)
    # nbval's --nbval-lax convention: a cell tagged raises-exception is meant to raise
    NotebookClient(notebook, timeout=120, kernel_name="python3", allow_errors=True,
                   resources={"metadata": {"path": str(cwd)}}).execute()
    errors = [(i, out.get("ename"), out.get("evalue")) for i, cell in enumerate(notebook.cells)
              for out in cell.get("outputs", []) if out.get("output_type") == "error"
              and "raises-exception" not in cell.get("metadata", {}).get("tags", [])]
    assert not errors, f"{name}: cells raised {errors}"
    return notebook


def test_notebooks_02_and_05_pass_on_a_free_team(free_plan_env):
    started = time.monotonic()
    nb02 = run_notebook("02_opentelemetry_honeycomb.ipynb", NOTEBOOKS)
    text = outputs_text(nb02)
    assert "No Query Data API: the key may not run queries: the Query Data API is an Enterprise feature" in text
    assert "The same query in Honeycomb's UI: http://127.0.0.1:" in text and "?query=%7B" in text
    nb05 = run_notebook("05_rollbar.ipynb", NOTEBOOKS)
    assert "Rollbar API answered 403: insufficient privileges: read scope is required" in outputs_text(nb05)
    assert time.monotonic() - started < 60


def test_notebook_06_enables_transaction_search_on_a_new_account(free_plan_env):
    aws_url = f"http://127.0.0.1:{free_plan_env['LAB_AWS_PORT']}"
    nb06 = run_notebook("06_correlate_the_pillars.ipynb", NOTEBOOKS)
    text = outputs_text(nb06)
    assert "trace segment destination before: XRay ACTIVE" in text
    assert "Transaction Search enabled: destination CloudWatchLogs PENDING" in text
    assert "trace segment destination now: CloudWatchLogs ACTIVE" in text
    assert "indexing rule Default: 1 % of traces" in text
    xray = boto3.client("xray", endpoint_url=aws_url, region_name=config.REGION,
                        aws_access_key_id=config.LOCAL_AWS_ACCESS_KEY_ID,
                        aws_secret_access_key=config.LOCAL_AWS_SECRET_ACCESS_KEY)
    destination = xray.get_trace_segment_destination()
    assert (destination["Destination"], destination["Status"]) == ("CloudWatchLogs", "ACTIVE")
    rule, = xray.get_indexing_rules()["IndexingRules"]
    assert rule["Rule"]["Probabilistic"]["DesiredSamplingPercentage"] == 1.0     # put back as found
