"""Run a notebook's "your app.py now" file as its own process (the code shown is the code that works).

Each instrumentation notebook has one code cell starting ``%%writefile ../build/app_NN.py``: the whole
``app.py`` the learner has built. :func:`app_source` takes that cell out of the committed notebook and
:func:`run_app` runs it with ``python app.py`` against a local cloud, like the learner would.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import requests

ROOT = Path(__file__).resolve().parent.parent
MAGIC = "%%writefile ../build/"


def app_source(notebook: str) -> tuple[str, str]:
    """(file name, source) of the notebook's ``%%writefile ../build/...`` cell."""
    nb = json.loads((ROOT / "notebooks" / f"{notebook}.ipynb").read_text(encoding="utf-8"))
    cells = [c for c in nb["cells"] if c["cell_type"] == "code" and "".join(c["source"]).startswith(MAGIC)]
    assert len(cells) == 1, f"{notebook}: expected one `{MAGIC}app_NN.py` cell, found {len(cells)}"
    first, _, rest = "".join(cells[0]["source"]).partition("\n")
    return first[len(MAGIC):].strip(), rest


@contextmanager
def run_app(notebook: str, tmp_path: Path, env: dict[str, str], port: int,
            timeout: float = 20.0) -> Iterator[tuple[str, subprocess.Popen]]:
    """Write the notebook's app.py to ``tmp_path`` and run it; yields (base URL, process)."""
    name, source = app_source(notebook)
    path = tmp_path / name
    path.write_text(source, encoding="utf-8")
    log = (tmp_path / f"{name}.log").open("w+b")
    proc = subprocess.Popen([sys.executable, str(path)], cwd=str(ROOT), stdout=log, stderr=subprocess.STDOUT,
                            env={**os.environ, **env, "PORT": str(port)})
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout
        while True:
            if proc.poll() is not None or time.monotonic() > deadline:
                log.seek(0)
                raise AssertionError(f"{name} did not start:\n{log.read().decode(errors='replace')[-3000:]}")
            try:
                if requests.get(url + "/health", timeout=0.5).ok:
                    break
            except requests.RequestException:
                time.sleep(0.1)
        # The X-Ray SDK's default sampling keeps the first request of each second (1/s + 5 %), and the /health
        # polls above may have taken this second's: the test's first request starts a fresh second.
        time.sleep(1.02 - time.time() % 1)
        yield url, proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)  # Ctrl-C: the dev server exits normally, atexit flushes exporters
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
        log.close()
