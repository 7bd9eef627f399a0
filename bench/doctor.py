"""How long ``python -m lab_app.doctor`` takes on a healthy local stack (prints figures; asserts nothing).

Budget (issue "A doctor for no data"): under 10 s. Baseline measured in the same run: ``python -m lab_app.localcloud
status`` (a fresh interpreter, the import of lab_app.localcloud and one ``status()`` call), so "x baseline" says
what the doctor's sixteen checks and four round trips cost beyond starting Python and asking the stack once.
Also the in-process figures: one ``localcloud.status()`` call and one ``doctor.run()`` (what the notebook cell pays).

Its own local cloud on its own ports and data directory (override with the LAB_* variables), stopped afterwards.

    .venv/bin/python bench/doctor.py [--runs 5]
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

BUDGET_S = 10.0
ENV = {"LAB_DATA_DIR": os.environ.get("LAB_DATA_DIR") or tempfile.mkdtemp(prefix="bench-doctor-"),
       "LAB_AWS_PORT": os.environ.get("LAB_AWS_PORT", "4866"), "LAB_OTLP_PORT": os.environ.get("LAB_OTLP_PORT", "4618"),
       "LAB_XRAY_DAEMON_PORT": os.environ.get("LAB_XRAY_DAEMON_PORT", "2300"), "LAB_MODE": "local"}


def timed(cmd: list[str], env: dict) -> float:
    started = time.perf_counter()
    answer = subprocess.run(cmd, env=env, cwd=ROOT, capture_output=True, text=True, timeout=120)
    seconds = time.perf_counter() - started
    if answer.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} exited {answer.returncode}:\n{answer.stdout}{answer.stderr}")
    return seconds


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    os.environ.update(ENV)
    import lab_app.localcloud as localcloud
    from lab_app import doctor

    info = localcloud.start()
    env = {**os.environ}
    try:
        started = time.perf_counter()
        localcloud.status()
        status_s = time.perf_counter() - started
        baseline = [timed([sys.executable, "-m", "lab_app.localcloud", "status"], env) for _ in range(args.runs)]
        cli = [timed([sys.executable, "-m", "lab_app.doctor"], env) for _ in range(args.runs)]
        in_process = []
        for _ in range(args.runs):
            report = doctor.run()
            assert report.ok, str(report)
            in_process.append(report.seconds)
    finally:
        if not info.attached:
            localcloud.stop()
    base, median = statistics.median(baseline), statistics.median(cli)
    print(f"local cloud on :{ENV['LAB_AWS_PORT']} ({'attached' if info.attached else 'started'}), {args.runs} runs each")
    print(f"baseline  python -m lab_app.localcloud status   median {base:5.2f} s  (max {max(baseline):.2f} s)")
    print(f"doctor    python -m lab_app.doctor              median {median:5.2f} s  (max {max(cli):.2f} s)  "
          f"= {median / base:.1f}x baseline; budget {BUDGET_S:.0f} s: {'within' if max(cli) < BUDGET_S else 'OVER'}")
    print(f"in process: localcloud.status() {status_s * 1000:.0f} ms; doctor.run() median "
          f"{statistics.median(in_process):.2f} s (the notebook cell, modules already imported)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
