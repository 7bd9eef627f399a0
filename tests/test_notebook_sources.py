"""tools/notebooks.py: every notebook has a paired percent-format source, and a one-sided edit is caught."""
from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def tool(tmp_path, monkeypatch):
    spec = importlib.util.spec_from_file_location("notebooks_tool", ROOT / "tools" / "notebooks.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    copy = tmp_path / "notebooks"
    shutil.copytree(ROOT / "notebooks", copy, ignore=shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__"))
    monkeypatch.setattr(module, "NOTEBOOKS", copy)
    return module


def test_every_notebook_has_a_source_and_they_agree(tool):
    names = tool.stems()
    assert len(names) >= 9 and names[0] == "00_start_here"
    assert tool.problems() == []


def test_editing_the_source_alone_is_caught(tool):
    source = tool.NOTEBOOKS / "02_opentelemetry_honeycomb.py"
    text = source.read_text()
    assert "\n# %%\n" in text
    source.write_text(text.replace("\n# %%\n", "\n# %%\nedited = True\n", 1))
    assert any("02_opentelemetry_honeycomb" in p and "differ" in p for p in tool.problems())


def test_editing_the_notebook_alone_is_caught(tool):
    import nbformat

    path = tool.NOTEBOOKS / "03_aws_xray.ipynb"
    nb = nbformat.read(path, as_version=4)
    code = next(c for c in nb.cells if c.cell_type == "code")
    code.source += "\nedited = True"
    nbformat.write(nb, path)
    assert any("03_aws_xray" in p and "differ" in p for p in tool.problems())


def test_outputs_in_the_notebook_are_caught(tool):
    import nbformat

    path = tool.NOTEBOOKS / "01_cruddur_services.ipynb"
    nb = nbformat.read(path, as_version=4)
    code = next(c for c in nb.cells if c.cell_type == "code")
    code.outputs = [nbformat.v4.new_output("stream", name="stdout", text="hi\n")]
    code.execution_count = 1
    nbformat.write(nb, path)
    assert any("01_cruddur_services.ipynb has outputs" in p for p in tool.problems())


def test_sync_takes_the_side_saved_last_and_regenerates_navigation(tool):
    import os

    source = tool.NOTEBOOKS / "05_rollbar.py"
    text = source.read_text()
    navigation = text[text.index(tool.NAV_MARK):]
    source.write_text(text.replace(navigation, navigation.replace("Next:", "Hand-edited:")))
    os.utime(source, (source.stat().st_atime, source.stat().st_mtime + 10))
    assert tool.problems()
    written = tool.sync()
    assert "05_rollbar.py" in written  # the hand-edited links were regenerated
    assert tool.problems() == []
    assert "Hand-edited:" not in source.read_text()


def test_a_missing_twin_is_reported(tool):
    (tool.NOTEBOOKS / "04_cloudwatch_logs.py").unlink()
    assert any("04_cloudwatch_logs.py is missing" in p for p in tool.problems())
