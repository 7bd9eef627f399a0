"""Secret scanning in CI: detect-secrets over the whole tree (notebooks included) against the baseline.

``.secrets.baseline`` lists the audited findings, every one a documented dummy (AWS's example key
id, hex trace ids in tests, help text). A new finding fails this test. Fix it by removing the
secret, or, for a made-up value, by ending its line with ``# pragma: allowlist secret``; regenerate
the baseline only after auditing:

    .venv/bin/detect-secrets scan --exclude-files '(\\.venv|\\.lab|build)/' > .secrets.baseline
"""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BASELINE = ROOT / ".secrets.baseline"
HOOK = Path(sys.executable).parent / "detect-secrets-hook"
EXCLUDED = (".venv/", ".lab/", "build/")


def _tree_files() -> list[str]:
    """Tracked files plus new, not-ignored ones (a notebook not committed yet is scanned too)."""
    out = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard"], cwd=ROOT,
                         capture_output=True, text=True, check=True).stdout.splitlines()
    return sorted({f for f in out if f and not f.startswith(EXCLUDED) and f != BASELINE.name and (ROOT / f).is_file()})


def test_baseline_is_audited():
    baseline = json.loads(BASELINE.read_text())
    assert baseline["results"], "an empty baseline would hide nothing: regenerate it with detect-secrets scan"
    for filename, findings in baseline["results"].items():
        for finding in findings:
            assert finding.get("is_secret") is False, f"{filename}:{finding['line_number']} is not audited as a dummy"


def test_no_new_secrets_in_the_tree(tmp_path):
    if not HOOK.exists():
        pytest.fail(f"{HOOK} is missing: install the pinned requirements (detect-secrets)")
    files = _tree_files()
    assert any(f.endswith(".ipynb") for f in files), "the notebooks must be part of the scan"
    baseline = tmp_path / "baseline.json"       # the hook may rewrite line numbers: never touch the real one
    shutil.copy(BASELINE, baseline)
    result = subprocess.run([str(HOOK), "--baseline", str(baseline), *files], cwd=ROOT, capture_output=True,
                            text=True, timeout=120)
    # 0: nothing new; 3: only line numbers of known findings moved (the copy was updated, not the repo)
    assert result.returncode in (0, 3), f"detect-secrets found secrets not in the baseline:\n{result.stdout}{result.stderr}"


def test_the_scan_catches_a_planted_secret(tmp_path):
    """The control experiment: the same hook and baseline flag a key pasted into a notebook cell."""
    planted = tmp_path / "leak.ipynb"
    key = "AKIA" + "QWERTYUIOPASDFGH"
    secret = "aws_secret_access_key = " + "9" * 8 + "Zx" * 16  # pragma: allowlist secret
    planted.write_text(json.dumps({"cells": [{"cell_type": "code", "source": [f"key = '{key}'\n", secret]}]}))
    baseline = tmp_path / "baseline.json"
    shutil.copy(BASELINE, baseline)
    result = subprocess.run([str(HOOK), "--baseline", str(baseline), str(planted)], cwd=ROOT, capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 1
    assert "AWS Access Key" in result.stdout
