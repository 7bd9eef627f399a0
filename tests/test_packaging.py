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
    """.ci/run runs `make test`, the README's command, last, and nothing else that runs tests (it may install
    Debian's chromium first, for tests/test_browser.py)."""
    ci = (ROOT / ".ci" / "run").read_text()
    commands = [line.strip() for line in ci.splitlines() if line.strip() and not line.strip().startswith("#")]
    assert commands[-1] == "make test"
    runs_tests = [c for c in commands if re.search(r"\b(pytest|nbval|make)\b", c)]
    assert runs_tests == ["make test"], runs_tests
    installs = [c for c in commands if "apt-get" in c]
    assert all(re.fullmatch(r"apt-get (update -qq|install -y -qq --no-install-recommends chromium) >/dev/null", c)
               for c in installs), installs
    readme = (ROOT / "README.md").read_text()
    assert "make lab" in readme and "make test" in readme


def test_notebooks_are_committed_without_outputs():
    notebooks = sorted((ROOT / "notebooks").glob("*.ipynb"))
    assert notebooks
    subprocess.run([sys.executable, "-m", "nbstripout", "--verify", *map(str, notebooks)], check=True)


def _kernelspec() -> dict:
    sys.path.insert(0, str(ROOT / "tools"))
    try:
        import notebooks as nbtool
    finally:
        sys.path.pop(0)
    return nbtool.KERNELSPEC


def test_the_registered_kernel_is_the_one_the_notebooks_name():
    """JupyterLab rewrites a notebook's kernelspec to the kernel's, and marks it changed, when they differ."""
    import json

    spec = _kernelspec()
    makefile = (ROOT / "Makefile").read_text()
    assert f'--name {spec["name"]} --display-name "{spec["display_name"]}"' in makefile
    for path in sorted((ROOT / "notebooks").glob("*.ipynb")):
        assert json.loads(path.read_text())["metadata"]["kernelspec"] == spec, path.name
    installed = Path(sys.prefix) / "share" / "jupyter" / "kernels" / spec["name"] / "kernel.json"
    assert json.loads(installed.read_text())["display_name"] == spec["display_name"]


def test_jupyter_settings_are_installed_into_the_venv():
    import json

    config = (ROOT / "jupyter" / "jupyter_config.py").read_text()
    assert 'c.KernelManager.transport = "ipc"' in config
    overrides = json.loads((ROOT / "jupyter" / "overrides.json").read_text())
    assert overrides["@jupyterlab/apputils-extension:notification"]["fetchNews"] == "false"
    assert (Path(sys.prefix) / "etc" / "jupyter" / "jupyter_config.py").read_text() == config
    assert json.loads((Path(sys.prefix) / "share" / "jupyter" / "lab" / "settings" / "overrides.json").read_text()) \
        == overrides


def test_kernels_started_by_jupyter_apps_use_ipc_and_do_not_warn(tmp_path):
    import nbformat

    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("import sys; print('ok', sys.version_info[:2])")])
    nb.metadata["kernelspec"] = _kernelspec()
    path = tmp_path / "t.ipynb"
    nbformat.write(nb, path)
    done = subprocess.run([str(Path(sys.prefix) / "bin" / "jupyter"), "nbconvert", "--to", "notebook", "--execute",
                           "--output", "out.ipynb", str(path)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "without encryption" not in done.stderr, done.stderr
    assert "ok (3, 11)" in (tmp_path / "out.ipynb").read_text()


def test_the_kernel_reports_the_language_info_the_notebooks_carry():
    """JupyterLab copies the kernel's language_info into the notebook on connect and marks it modified if it
    differs: the committed metadata must be exactly what the workbook's kernel answers."""
    import json

    from jupyter_client.manager import start_new_kernel

    sys.path.insert(0, str(ROOT / "tools"))
    try:
        import notebooks as nbtool
    finally:
        sys.path.pop(0)
    km, kc = start_new_kernel(kernel_name=nbtool.KERNELSPEC["name"])
    try:
        reply = kc.kernel_info(reply=True, timeout=30)
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)
    assert reply["content"]["language_info"] == nbtool.LANGUAGE_INFO
    for path in sorted((ROOT / "notebooks").glob("*.ipynb")):
        assert json.loads(path.read_text())["metadata"]["language_info"] == nbtool.LANGUAGE_INFO, path.name
