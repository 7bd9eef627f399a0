"""Open-and-run: the devcontainer (Codespaces, Ona), Ona's automations and .gitpod.yml agree; what cloud mode reads is in
.env.example; `make lab-background` starts one JupyterLab that accepts the codespace's forwarded name and no other."""
from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import pytest
import requests
import yaml

from lab_app import config
from lab_app.runner import free_port

ROOT = Path(__file__).resolve().parent.parent
LAB_PORT = 8888


def devcontainer() -> dict:
    """devcontainer.json is JSON with comments; ours keeps each comment on a line of its own."""
    text = (ROOT / ".devcontainer" / "devcontainer.json").read_text()
    return json.loads("\n".join(line for line in text.splitlines() if not line.lstrip().startswith("//")))


def gitpod() -> dict:
    return yaml.safe_load((ROOT / ".gitpod.yml").read_text())


def ona_service() -> dict:
    services = yaml.safe_load((ROOT / ".ona" / "automations.yaml").read_text())["services"]
    assert list(services) == ["jupyterlab"]
    return services["jupyterlab"]


# Every port the workbook listens on by default, as config.py defines them.
PORTS = {LAB_PORT, config.DEFAULT_BACKEND_PORT, config.DEFAULT_DOWNSTREAM_PORT, config.DEFAULT_AWS_PORT,
         config.DEFAULT_OTLP_PORT, config.DEFAULT_DAEMON_PORT}


def test_the_three_files_label_the_same_ports():
    dc, gp = devcontainer(), gitpod()
    attributes = {int(port): value for port, value in dc["portsAttributes"].items()}
    assert set(attributes) == PORTS == {p["port"] for p in gp["ports"]}
    labels = {p["port"]: p["name"] for p in gp["ports"]}
    assert {port: value["label"] for port, value in attributes.items()} == labels
    assert dc["forwardPorts"] == [LAB_PORT]
    # JupyterLab opens (once); the app and the local cloud are labelled, forwarded quietly, never opened
    assert attributes[LAB_PORT]["onAutoForward"] == "openBrowserOnce"
    assert {attributes[p]["onAutoForward"] for p in PORTS - {LAB_PORT}} == {"silent"}
    assert [p["onOpen"] for p in gp["ports"] if p["port"] == LAB_PORT] == ["open-browser"]
    assert {p["onOpen"] for p in gp["ports"] if p["port"] != LAB_PORT} == {"ignore"}
    assert ona_service()["name"] == labels[LAB_PORT]
    assert f"running {LAB_PORT}" in ona_service()["commands"]["ready"]


def test_gitpod_installs_and_keeps_ports_private():
    gp = gitpod()
    task = gp["tasks"][0]
    assert "make install" in task["init"] and "make lab-background" in task["command"]
    assert all(p.get("visibility", "private") == "private" for p in gp["ports"])
    assert {8888, 4567, 4568} <= {p["port"] for p in gp["ports"]}


def test_the_three_files_run_the_same_commands():
    dc, task, service = devcontainer(), gitpod()["tasks"][0], ona_service()
    assert dc["onCreateCommand"] == task["init"] == "make install"
    assert dc["postStartCommand"] == "make lab-background"
    assert task["command"].startswith("make lab-background && ")
    assert service["commands"]["start"].startswith("make lab-background && ")
    assert service["commands"]["stop"] == "make lab-stop"
    assert service["triggeredBy"] == ["postDevcontainerStart"]
    # every make target they name exists
    makefile = (ROOT / "Makefile").read_text()
    for target in ("install", "lab", "lab-background", "lab-url", "lab-stop"):
        assert re.search(rf"^{re.escape(target)}:", makefile, re.M), target


def test_the_devcontainer_opens_00_with_python_3_11_and_the_jupyter_extension():
    dc = devcontainer()
    assert re.fullmatch(r"mcr\.microsoft\.com/devcontainers/python:1-3\.11-bookworm", dc["image"])
    assert {"ms-python.python", "ms-toolsai.jupyter"} <= set(dc["customizations"]["vscode"]["extensions"])
    opened = dc["customizations"]["codespaces"]["openFiles"]
    assert opened == ["notebooks/00_start_here.ipynb"] and all((ROOT / path).exists() for path in opened)
    assert dc["customizations"]["vscode"]["settings"]["python.defaultInterpreterPath"].endswith("/.venv/bin/python")


def test_readme_opens_in_codespaces_and_ona_and_points_to_env_example():
    readme = (ROOT / "README.md").read_text()
    assert "https://github.com/codespaces/badge.svg" in readme
    assert re.search(r"\]\(https://(github\.com/codespaces/new|codespaces\.new/[\w.-]+/[\w.-]+)\)", readme)
    assert "Ona" in readme and ".ona/automations.yaml" in readme
    cloud = readme[readme.index("## Cloud mode"):]
    assert ".env.example" in cloud[:cloud.index("\n## ", 3)]


# --- .env.example ------------------------------------------------------------------------------------------------
def env_example() -> dict[str, str]:
    """Each variable .env.example names (commented out or not) with the comment line right above it."""
    found, comment = {}, ""
    for line in (ROOT / ".env.example").read_text().splitlines():
        match = re.match(r"#?\s*([A-Z][A-Z0-9_]+)=", line)
        if match:
            found[match.group(1)] = comment
        elif line.startswith("#"):
            comment = line
        else:
            comment = ""
    return found


# Variables the workbook reads that a learner never sets: local mode's own (config.local_env() sets them, or the
# local cloud reads them), the ones it sets for the notifications process it starts, and a known misspelling.
NOT_FOR_CLOUD_MODE = {
    "LAB_DATA_DIR", "LAB_AWS_PORT", "LAB_OTLP_PORT", "LAB_XRAY_DAEMON_PORT", "LAB_BACKEND_PORT",
    "LAB_DOWNSTREAM_PORT", "LAB_HONEYCOMB_KEYS", "LAB_ROLLBAR_TOKENS", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_XRAY",
    "AWS_ENDPOINT_URL_CLOUDWATCH_LOGS", "AWS_ENDPOINT_URL_EVENTBRIDGE", "ROLLBAR_ENDPOINT",
    "PORT", "CRUDDUR_FAULTS", "CRUDDUR_LOG_GROUP", "AWS_XRAY_SDK_ENABLED",
    "AWS_ENDPOINT_URL_LOGS",  # read by the doctor only to report it as the misspelling of ..._CLOUDWATCH_LOGS
    "LAB_HONEYCOMB_PLAN",  # the local cloud's Honeycomb plan (free or enterprise); a real team has its own
}


def variables_the_code_reads() -> set[str]:
    pattern = re.compile(r"""(?:os\.environ\.get\(|os\.environ\[|os\.getenv\(|_int_env\()\s*["']([A-Z][A-Z0-9_]+)["']""")
    names = set()
    for path in (ROOT / "lab_app").rglob("*.py"):
        text = path.read_text()
        names |= set(pattern.findall(text))
        # names read in a loop over a literal tuple: for var in ("A", "B"): ... os.environ.get(var)
        for group in re.findall(r"for \w+ in \(([^)]*)\):\n[^\n]*os\.environ", text):
            names |= set(re.findall(r"""["']([A-Z][A-Z0-9_]+)["']""", group))
    return names


def test_env_example_lists_every_variable_cloud_mode_reads_with_a_comment():
    listed = env_example()
    required = {"LAB_MODE", "AWS_PROFILE", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_REGION",
                "HONEYCOMB_API_KEY", "HONEYCOMB_CONFIG_KEY", "OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_HEADERS",
                "ROLLBAR_ACCESS_TOKEN", "ROLLBAR_READ_TOKEN"}
    read = variables_the_code_reads()
    assert {"HONEYCOMB_API_KEY", "ROLLBAR_READ_TOKEN", "AWS_REGION"} <= read  # the scan finds what it should
    missing = (required | (read - NOT_FOR_CLOUD_MODE)) - set(listed)
    assert not missing, f"cloud mode reads {sorted(missing)}: add each to .env.example with a comment"
    assert all(comment.startswith("#") for comment in listed.values()), \
        [name for name, comment in listed.items() if not comment]


def test_env_example_holds_no_value_that_could_be_a_secret():
    for line in (ROOT / ".env.example").read_text().splitlines():
        match = re.match(r"#?\s*([A-Z][A-Z0-9_]+)=(.*)", line)
        if match and config._is_secret(match.group(1)):
            assert match.group(2) == "", line


def test_configuration_shows_every_env_example_variable_and_masks_the_new_secrets(monkeypatch):
    assert set(env_example()) <= set(config.WATCHED) | set(config.SHOWN_WHEN_SET)
    for name in config.SHOWN_WHEN_SET:
        monkeypatch.delenv(name, raising=False)
    assert not set(config.settings().masked()) & set(config.SHOWN_WHEN_SET)  # unused: no row
    monkeypatch.setenv("HONEYCOMB_CONFIG_KEY", "hcxck_" + "c" * 30)
    monkeypatch.setenv("ROLLBAR_READ_TOKEN", "r" * 32)
    shown = config.settings().masked()
    assert "c" * 30 not in shown["HONEYCOMB_CONFIG_KEY"] and "r" * 32 not in shown["ROLLBAR_READ_TOKEN"]
    assert shown["HONEYCOMB_CONFIG_KEY"].startswith("hcxc") and shown["ROLLBAR_READ_TOKEN"].startswith("rrrr")
    assert {"HONEYCOMB_CONFIG_KEY", "ROLLBAR_READ_TOKEN"} <= set(config.SECRET_NAMES)


# --- make lab-background in a codespace ----------------------------------------------------------------------------
@pytest.fixture
def codespace_lab(tmp_path):
    port = free_port()
    from conftest import free_udp_tcp_port

    env = {key: value for key, value in os.environ.items()
           if not key.startswith(("AWS_", "OTEL_", "HONEYCOMB_", "ROLLBAR_", "LAB_", "CODESPACE", "GITPOD_"))}
    env.update({"CODESPACE_NAME": "learner-abc123", "GITHUB_CODESPACES_PORT_FORWARDING_DOMAIN": "app.github.dev",
                "LAB_DATA_DIR": str(tmp_path / "lab"), "LAB_AWS_PORT": str(free_port()),
                "LAB_OTLP_PORT": str(free_port()), "LAB_XRAY_DAEMON_PORT": str(free_udp_tcp_port()),
                "JUPYTERLAB_WORKSPACES_DIR": str(tmp_path / "workspaces")})
    args = ["make", "--no-print-directory", f"LAB_PORT={port}", f"LAB_LOG={tmp_path / 'jupyterlab.log'}"]

    def make(target: str) -> str:
        done = subprocess.run([*args, target], cwd=ROOT, env=env, capture_output=True, text=True, timeout=240)
        assert done.returncode == 0, done.stdout + done.stderr + (tmp_path / "jupyterlab.log").read_text()
        return done.stdout

    try:
        yield make, port
    finally:
        subprocess.run([*args, "lab-stop"], cwd=ROOT, env=env, capture_output=True, timeout=120)


def test_lab_background_starts_one_jupyterlab_that_takes_only_the_codespace_name(codespace_lab):
    make, port = codespace_lab
    first = make("lab-background")
    public = f"learner-abc123-{port}.app.github.dev"
    urls = re.findall(rf"JupyterLab: (https://{re.escape(public)}/lab\?token=(\w+))", first)
    assert urls, first
    token = urls[0][1]
    assert "already running" in make("lab-background")  # a second start step (Ona's service) starts nothing
    assert f"https://{public}/lab?token={token}" in make("lab-url")

    def get(host: str, origin: str | None = None) -> int:
        """/api/status as a browser asks it: signed in by the token once, then by cookie (as a page's scripts are)."""
        browser = requests.Session()
        base = f"http://127.0.0.1:{port}"
        browser.get(f"{base}/lab?token={token}", headers={"Host": host}, timeout=10)
        headers = {"Host": host, **({"Origin": origin} if origin else {})}
        return browser.get(f"{base}/api/status", headers=headers, timeout=10).status_code

    assert get(public, f"https://{public}") == 200           # the forwarded name, from its own page
    assert get(f"127.0.0.1:{port}") == 200                   # from inside the container
    assert get(f"127.0.0.1:{port}", f"https://{public}") == 200  # a proxy that rewrites Host: the one origin allowed
    assert get("evil.example") == 403                        # DNS rebinding: any other name is refused
    assert get(public, "https://evil.example") == 404        # another site's page cannot use the learner's cookie
