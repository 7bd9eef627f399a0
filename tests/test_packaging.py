"""Set-up files agree with each other: pins, environment.yml mirror, CI entry point, notebooks clean."""
from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent


def requirement_lines() -> list[str]:
    return [line.strip() for line in (ROOT / "requirements.txt").read_text().splitlines()
            if line.strip() and not line.startswith("#")]


def test_every_requirement_is_pinned():
    for line in requirement_lines():
        assert re.fullmatch(r"[A-Za-z0-9_.\-]+(\[[a-z,]+\])?==[0-9][0-9A-Za-z.\-]*", line), f"not pinned: {line}"


def test_environment_yml_mirrors_requirements():
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip_section = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict) and "pip" in d)
    assert "python=3.11" in env["dependencies"]
    assert sorted(pip_section) == sorted(requirement_lines())


def test_installed_versions_match_the_pins():
    import importlib.metadata as md

    for line in requirement_lines():
        name, version = re.sub(r"\[.*\]", "", line).split("==")
        assert md.version(name) == version, f"{name}: installed {md.version(name)}, pinned {version}"


def test_awscli_and_boto3_share_one_botocore():
    import botocore

    out = subprocess.run([sys.executable, "-m", "awscli", "--version"], capture_output=True, text=True, check=True)
    assert f"botocore/{botocore.__version__}" in (out.stdout + out.stderr)


def test_ci_runs_the_readme_test_command():
    ci = (ROOT / ".ci" / "run").read_text()
    assert "make test" in ci
    readme = (ROOT / "README.md").read_text()
    assert "make lab" in readme and "make test" in readme


def test_notebooks_are_committed_without_outputs():
    notebooks = sorted((ROOT / "notebooks").glob("*.ipynb"))
    assert notebooks
    subprocess.run([sys.executable, "-m", "nbstripout", "--verify", *map(str, notebooks)], check=True)


def test_gitpod_installs_and_keeps_ports_private():
    gitpod = yaml.safe_load((ROOT / ".gitpod.yml").read_text())
    task = gitpod["tasks"][0]
    assert "make install" in task["init"] and "jupyter lab" in task["command"]
    assert all(p.get("visibility", "private") == "private" for p in gitpod["ports"])
    assert {8888, 4567, 4568} <= {p["port"] for p in gitpod["ports"]}
