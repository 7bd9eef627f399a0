"""The workbook as a learner meets it: JupyterLab started by `make lab`, notebook 00 opened and run in a real browser.

Debian's Chromium (``apt-get install chromium``; .ci/run installs it in CI) driven by Playwright, which never downloads
a browser of its own. JupyterLab and the local cloud run on free ports with their own data directory, JupyterLab
workspace and settings (autosave off), so the test neither disturbs a running workbook nor writes the notebook.
Skipped, with the reason, where Chromium is absent. The screenshot is saved to build/browser-00.png.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import secrets
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from conftest import free_udp_tcp_port
from lab_app.runner import free_port

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK = ROOT / "notebooks" / "00_start_here.ipynb"
SCREENSHOT = ROOT / "build" / "browser-00.png"
CHROMIUM = Path(os.environ.get("LAB_CHROMIUM", "/usr/bin/chromium"))
KERNEL_DISPLAY_NAME = json.loads(NOTEBOOK.read_text())["metadata"]["kernelspec"]["display_name"]
# Error outputs (tracebacks) and stderr streams both render with this MIME type in JupyterLab.
STDERR_OUTPUT = '.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]'

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(),
    reason=f"no Chromium at {CHROMIUM}: `apt-get install chromium` (Debian) or set LAB_CHROMIUM to a Chromium binary")


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)  # make and the JupyterLab it runs: their own process group
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)


@pytest.fixture(scope="module")
def jupyterlab(tmp_path_factory):
    """`make lab` on free ports: the local cloud first, then JupyterLab; yields (base URL, token)."""
    tmp = tmp_path_factory.mktemp("browser")
    settings = tmp / "settings" / "@jupyterlab" / "docmanager-extension"
    settings.mkdir(parents=True)
    (settings / "plugin.jupyterlab-settings").write_text(json.dumps({"autosave": False}))
    port, token = free_port(), secrets.token_hex(24)
    env = {key: value for key, value in os.environ.items()
           if not key.startswith(("AWS_", "OTEL_", "HONEYCOMB_", "ROLLBAR_", "LAB_", "CODESPACE", "GITPOD_"))}
    env.update({
        # The kernel inherits JupyterLab's environment: setup() in 00 attaches to this local cloud, not the default.
        "LAB_DATA_DIR": str(tmp / "lab"), "LAB_AWS_PORT": str(free_port()), "LAB_OTLP_PORT": str(free_port()),
        "LAB_XRAY_DAEMON_PORT": str(free_udp_tcp_port()), "LAB_BACKEND_PORT": str(free_port()),
        "LAB_DOWNSTREAM_PORT": str(free_port()), "LAB_MODE": "local",
        "JUPYTER_TOKEN": token,
        "JUPYTERLAB_WORKSPACES_DIR": str(tmp / "workspaces"), "JUPYTERLAB_SETTINGS_DIR": str(tmp / "settings"),
    })
    log = tmp / "make-lab.log"
    with open(log, "wb") as out:
        process = subprocess.Popen(["make", "--no-print-directory", "lab", f"LAB_PORT={port}"], cwd=ROOT, env=env,
                                   stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                   start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                if requests.get(f"{base}/api/status", headers={"Authorization": f"token {token}"}, timeout=2).ok:
                    break
            except requests.RequestException:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"make lab did not serve JupyterLab on {base}:\n{log.read_text()[-3000:]}")
            time.sleep(0.5)
        yield base, token
    finally:
        _stop(process)
        subprocess.run([sys.executable, "-m", "lab_app.localcloud", "stop"], env=env, cwd=ROOT,
                       capture_output=True, timeout=60)


@pytest.fixture(scope="module")
def page(jupyterlab):
    """Notebook 00 open in Chromium, its kernel started and idle."""
    from playwright.sync_api import expect, sync_playwright

    base, token = jupyterlab
    before = hashlib.sha256(NOTEBOOK.read_bytes()).hexdigest()
    args = ["--no-sandbox"] if os.geteuid() == 0 else []  # Chromium's sandbox refuses to run as root
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=args)
        try:
            tab = browser.new_page(viewport={"width": 1400, "height": 1000})
            tab.set_default_timeout(60_000)
            tab.goto(f"{base}/lab/tree/{NOTEBOOK.name}?token={token}")
            # "No Kernel" until the session has started the notebook's kernel (or asks which one to start)
            expect(tab.locator(".jp-NotebookPanel-toolbar .jp-Toolbar-kernelName")).not_to_have_text(
                re.compile(r"^\s*(No Kernel)?\s*$"), timeout=90_000)
            expect(tab.locator(".jp-NotebookPanel-toolbar .jp-Notebook-ExecutionIndicator")).to_have_attribute(
                "data-status", "idle", timeout=90_000)
            yield tab
        finally:
            browser.close()
    assert hashlib.sha256(NOTEBOOK.read_bytes()).hexdigest() == before, "the browser test must not save the notebook"


def _kernel_language_info() -> dict:
    """What the workbook's kernel answers in kernel_info: JupyterLab writes it into the notebook when it connects."""
    from jupyter_client.manager import start_new_kernel

    manager, client = start_new_kernel(kernel_name=json.loads(NOTEBOOK.read_text())["metadata"]["kernelspec"]["name"])
    try:
        return client.kernel_info(reply=True, timeout=60)["content"]["language_info"]
    finally:
        client.stop_channels()
        manager.shutdown_kernel(now=True)


def test_00_opens_with_the_workbook_kernel_and_unmodified(page):
    kernel = page.locator(".jp-NotebookPanel-toolbar .jp-Toolbar-kernelName").inner_text().strip()
    assert kernel == KERNEL_DISPLAY_NAME, f"JupyterLab chose the kernel {kernel!r}"
    page.wait_for_timeout(3000)  # the kernel's language_info reaches the notebook model a moment after it connects
    dirty = page.locator(".lm-TabBar-tab.jp-mod-dirty")
    committed = json.loads(NOTEBOOK.read_text())["metadata"].get("language_info")
    kernel_info = _kernel_language_info()
    if committed != kernel_info and dirty.count() == 1:
        # JupyterLab sets metadata.language_info to the kernel's kernel_info reply (Python's patch version included)
        # and marks the notebook changed when they differ: the committed form (tools/notebooks.py) carries less.
        pytest.xfail(f"metadata.language_info {committed} differs from the kernel's {kernel_info}")
    assert dirty.count() == 0, f"opening marked {dirty.all_text_contents()} as modified"


def test_00_runs_every_cell_through_the_ui_without_an_error(page):
    code_cells = sum(cell["cell_type"] == "code" for cell in json.loads(NOTEBOOK.read_text())["cells"])
    prompts = page.locator(".jp-Notebook .jp-CodeCell .jp-InputPrompt")
    assert prompts.count() == code_cells
    page.locator(".lm-MenuBar-itemLabel", has_text=re.compile(r"^Run$")).click()
    page.locator(".lm-Menu-itemLabel", has_text=re.compile(r"^Run All Cells$")).click()
    indicator = page.locator(".jp-NotebookPanel-toolbar .jp-Notebook-ExecutionIndicator")
    SCREENSHOT.parent.mkdir(exist_ok=True)
    errors = page.locator(f".jp-Notebook {STDERR_OUTPUT}")
    deadline = time.monotonic() + 120
    while True:
        shown = [text.strip() for text in prompts.all_text_contents()]  # innerText is '' off-screen
        idle = indicator.get_attribute("data-status") == "idle"
        if idle and (all(re.fullmatch(r"\[\d+\]:", text) for text in shown) or errors.count()):
            break  # all ran, or an error stopped Run All
        if time.monotonic() > deadline:
            page.screenshot(path=str(SCREENSHOT))
            pytest.fail(f"the cells did not all run within 120 s (a cell that failed stops Run All): {shown}")
        page.wait_for_timeout(500)
    page.locator(".jp-Notebook .jp-CodeCell").nth(1).evaluate("cell => cell.scrollIntoView({block: 'start'})")  # setup()
    page.screenshot(path=str(SCREENSHOT))
    assert errors.count() == 0, f"error or stderr outputs: {errors.all_text_contents()}"
    assert all(re.fullmatch(r"\[\d+\]:", text) for text in shown), shown
    counts = [int(text[1:-2]) for text in shown]
    assert counts == sorted(counts) and len(set(counts)) == len(counts), f"cells ran out of order: {shown}"
    assert page.locator(".jp-Notebook .jp-OutputArea-output").count() > 0
