"""Rewrite environment.yml from requirements.txt (the one pinned list). tests/test_packaging.py checks they agree."""
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
pins = [line.strip() for line in (ROOT / "requirements.txt").read_text().splitlines()
        if line.strip() and not line.startswith("#")]
lines = ["# Mirrors requirements.txt exactly (tests/test_packaging.py fails when they drift).",
         "# Regenerate with: python tools/sync_environment.py", "name: cruddur-tracing-workbook",
         "channels:", "  - conda-forge", "dependencies:", "  - python=3.11", "  - pip", "  - pip:"]
lines += [f"      - {pin}" for pin in pins]
(ROOT / "environment.yml").write_text("\n".join(lines) + "\n")
