"""Build notebooks from Python (markdown + code cells) so they are reviewed as code and committed clean.

    from nbbuild import md, code, write
    write("notebooks/01_x.ipynb", [md("# Title"), code("x = 1", tags=["raises-exception"])])
"""
from __future__ import annotations

import textwrap
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent


def md(text: str):
    return nbformat.v4.new_markdown_cell(textwrap.dedent(text).strip("\n"))


def code(source: str, tags: list[str] | None = None):
    cell = nbformat.v4.new_code_cell(textwrap.dedent(source).strip("\n"))
    if tags:
        cell.metadata["tags"] = list(tags)
    return cell


def write(path: str | Path, cells: list) -> Path:
    nb = nbformat.v4.new_notebook()
    nb.metadata = {
        "kernelspec": {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"},
        "language_info": {"name": "python"},
    }
    nb.cells = cells
    target = ROOT / path
    target.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, target)
    strip(target)
    if target.parent == ROOT / "notebooks":
        from add_navigation import main as add_navigation  # previous/next links on every numbered notebook

        add_navigation()
    return target


def strip(*paths) -> None:
    """nbstripout exactly as `nbstripout --verify` expects (it also renumbers cell ids)."""
    import subprocess
    import sys

    subprocess.run([sys.executable, "-m", "nbstripout", *map(str, paths)], check=True)
