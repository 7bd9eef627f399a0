"""How long each notebook's cells take, the way nbval runs them (a fresh kernel per notebook, in order).

Budget (issue "The learner writes the instrumentation"): the whole workbook in at most 60 s of cell time, no
notebook over 15 s. Baseline measured in the same run: a one-cell notebook (`setup()` only) in a fresh
kernel, so "x baseline" says what a notebook costs beyond starting a kernel and attaching to the local cloud.
The slowest cells of each notebook are listed with their first line.

    python bench/notebooks.py              # every notebook
    python bench/notebooks.py 03 06        # some
"""
from __future__ import annotations

import os
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

import nbformat
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"
BUDGET_TOTAL_S, BUDGET_EACH_S = 60.0, 15.0
TOP = int(os.environ.get("BENCH_TOP_CELLS", "3"))  # slowest cells listed per notebook
# its own local cloud and ports, so a learner's running stack is never touched
ENV = {"LAB_DATA_DIR": tempfile.mkdtemp(prefix="bench-notebooks-"), "LAB_AWS_PORT": "4766", "LAB_OTLP_PORT": "4518",
       "LAB_XRAY_DAEMON_PORT": "2200", "LAB_BACKEND_PORT": "4767", "LAB_DOWNSTREAM_PORT": "4768", "LAB_MODE": "local"}


def _seconds(cell) -> float:
    timing = cell.get("metadata", {}).get("execution", {})
    start, end = timing.get("iopub.execute_input"), timing.get("shell.execute_reply")
    if not (start and end):
        return 0.0
    parse = lambda text: datetime.fromisoformat(text.replace("Z", "+00:00"))  # noqa: E731
    return (parse(end) - parse(start)).total_seconds()


def run(nb) -> tuple[float, float, list[tuple[float, str]]]:
    """(wall seconds with kernel start, seconds inside cells, [(seconds, first line)] per code cell)."""
    t0 = time.perf_counter()
    NotebookClient(nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(NOTEBOOKS)}},
                   allow_errors=False).execute()
    wall = time.perf_counter() - t0
    cells = [(_seconds(c), c.source.splitlines()[0] if c.source else "") for c in nb.cells if c.cell_type == "code"]
    return wall, sum(s for s, _ in cells), cells


def main(argv: list[str]) -> None:
    os.environ.update(ENV)
    paths = sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))
    if argv:
        paths = [p for p in paths if p.name[:2] in argv]
    def baseline():
        return nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("from lab_app.notebook import setup\nlab = setup()")])

    run(baseline())  # starts the local cloud
    base_wall, base_cells, _ = run(baseline())  # the second run: the local cloud is already up
    print(f"baseline (fresh kernel + setup()): {base_wall:.1f} s wall, {base_cells:.2f} s in cells")
    total = 0.0
    rows = []
    for path in paths:
        wall, in_cells, cells = run(nbformat.read(path, as_version=4))
        total += in_cells
        flag = "" if in_cells <= BUDGET_EACH_S else f"  OVER {BUDGET_EACH_S:.0f} s"
        rows.append((path.name, wall, in_cells, flag))
        print(f"{path.name:42s} {in_cells:6.1f} s in cells  {wall:6.1f} s wall  "
              f"{wall / base_wall:5.1f}x baseline{flag}")
        for seconds, first in sorted(cells, reverse=True)[:TOP]:
            print(f"      {seconds:5.1f} s  {first[:80]}")
    print(f"total in cells: {total:.1f} s (budget {BUDGET_TOTAL_S:.0f} s); "
          f"wall with kernel starts: {sum(r[1] for r in rows):.1f} s")
    from lab_app import localcloud

    localcloud.stop()


if __name__ == "__main__":
    main(sys.argv[1:])
