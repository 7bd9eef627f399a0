"""Time to a learner's first trace: a fresh clone, ``make install``, then notebook 02 run cell by cell until the
cell that reads the first cross-service trace into pandas (issue budget: under 3 minutes on this machine).

    .venv/bin/python bench/first_trace.py [--repo .] [--keep]

The clone gets its own ports and data directory (the local cloud it starts is stopped afterwards). Printed: the
clone, ``make install`` (pip works from its cache, as on a machine that has installed once; a first install on a
new machine also downloads), the kernel start, each cell up to the first trace, and the total against the budget.
The baseline measured in the same run is ``python -m venv`` + ``pip install`` of nothing (the fixed cost every
install pays), so the figure says how much of the install is the packages themselves. Asserts nothing.
"""
from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from lab_app.runner import free_port

BUDGET_S = 180.0
FIRST_TRACE_CELL = "spans_q.wait_for_spans([cross_trace]"
# run by the clone's python: notebook 02 cell by cell until the first trace is in pandas; prints tab-separated times
RUN_02 = f"""
import time, nbformat
from nbclient import NotebookClient
nb = nbformat.read("notebooks/02_opentelemetry_honeycomb.ipynb", as_version=4)
client = NotebookClient(nb, timeout=300, kernel_name="python3", resources={{"metadata": {{"path": "notebooks"}}}})
started = time.perf_counter()
with client.setup_kernel():
    print("kernel", time.perf_counter() - started, sep="\\t")
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        t0 = time.perf_counter()
        client.execute_cell(cell, index)
        first = (cell.source.splitlines() or [""])[0][:60].replace("\\t", " ")
        print("cell", index, time.perf_counter() - t0, first, sep="\\t")
        if {FIRST_TRACE_CELL!r} in cell.source:
            break
print("total", time.perf_counter() - started, sep="\\t")
"""


def timed(cmd: list[str], cwd: Path, env: dict | None = None) -> float:
    started = time.perf_counter()
    subprocess.run(cmd, cwd=cwd, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    return time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repo", default=str(Path(__file__).resolve().parent.parent))
    parser.add_argument("--keep", action="store_true", help="keep the temporary clone")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="first-trace-"))
    clone = work / "workbook"
    try:
        baseline = timed([sys.executable, "-m", "venv", str(work / "empty-venv")], work)
        baseline += timed([str(work / "empty-venv" / "bin" / "python"), "-m", "pip", "install", "--quiet",
                           "--upgrade", "pip"], work)
        clone_s = timed(["git", "clone", "--quiet", args.repo, str(clone)], work)
        install_s = timed(["make", "install"], clone)
        ports = {"LAB_AWS_PORT": free_port(), "LAB_OTLP_PORT": free_port(), "LAB_XRAY_DAEMON_PORT": free_port(),
                 "LAB_BACKEND_PORT": free_port(), "LAB_DOWNSTREAM_PORT": free_port()}
        env = {**os.environ, **{k: str(v) for k, v in ports.items()}, "LAB_MODE": "local",
               "LAB_DATA_DIR": str(work / "lab")}
        env = {k: v for k, v in env.items() if not k.startswith(("AWS_", "OTEL_", "HONEYCOMB_", "ROLLBAR_"))}
        python = clone / ".venv" / "bin" / "python"        # the clone's own venv, kernel and lab_app
        out = subprocess.run([str(python), "-c", RUN_02], cwd=clone, env=env, check=True, capture_output=True,
                             text=True, timeout=600).stdout
        lines = [line.split("\t") for line in out.strip().splitlines()]
        kernel_s, notebook_s = float(lines[0][1]), float(lines[-1][1])
        cells = [(int(i), float(t), text) for _, i, t, text in (line for line in lines[1:-1])]
        subprocess.run([str(python), "-m", "lab_app.localcloud", "stop", "--aws-port", str(ports["LAB_AWS_PORT"]),
                        "--data-dir", str(work / "lab")], cwd=clone, env=env,
                       stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    total = clone_s + install_s + notebook_s
    print(f"first trace from a fresh clone: {total:.0f} s (budget {BUDGET_S:.0f} s: {total / BUDGET_S:.2f}x)")
    print(f"  git clone {clone_s:.1f} s; make install {install_s:.0f} s (baseline: an empty venv + pip upgrade "
          f"{baseline:.0f} s, so the packages are {install_s / max(baseline, 0.1):.1f}x that)")
    print(f"  notebook 02 to the first trace in pandas: {notebook_s:.1f} s (kernel start {kernel_s:.1f} s)")
    for index, seconds, first_line in cells:
        if seconds >= 0.5:
            print(f"    cell {index:>2} {seconds:5.1f} s  {first_line}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
