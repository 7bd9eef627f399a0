"""Every relative link in the notebooks' Markdown (and the README) points at a file that exists, and every
notebook that names the next one links to it."""
from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")


def relative_links(markdown: str) -> list[str]:
    return [t for t in LINK.findall(markdown) if not re.match(r"^[a-z][a-z0-9+.-]*:", t) and not t.startswith("#")]


def test_the_link_pattern_finds_relative_links_and_skips_urls():
    text = "[a](01_x.ipynb) [b](https://x.org/y) [c](#top) [d](../data/p.json \"title\") [e](mailto:a@b.c)"
    assert relative_links(text) == ["01_x.ipynb", "../data/p.json"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_every_relative_link_resolves(path):
    nb = nbformat.read(path, as_version=4)
    broken = []
    for cell in nb.cells:
        if cell.cell_type != "markdown":
            continue
        for target in relative_links(cell.source):
            file = target.split("#", 1)[0]
            if file and not (path.parent / file).exists():
                broken.append(target)
    assert not broken, f"{path.name}: broken links {broken}"


def test_readme_links_resolve():
    broken = [t for t in relative_links((ROOT / "README.md").read_text())
              if not (ROOT / t.split("#", 1)[0]).exists()]
    assert not broken, broken


@pytest.mark.parametrize("path", NOTEBOOKS[:-1], ids=lambda p: p.stem)
def test_whats_next_links_the_next_notebook(path):
    nb = nbformat.read(path, as_version=4)
    nxt = NOTEBOOKS[NOTEBOOKS.index(path) + 1].name
    whats_next = [c.source.split("## What's next", 1)[1] for c in nb.cells
                  if c.cell_type == "markdown" and "## What's next" in c.source]
    assert whats_next, f"{path.name} has no What's next section"
    assert nxt in relative_links(whats_next[0].split("## Resources", 1)[0]), f"{path.name}: What's next does not link {nxt}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_every_notebook_has_a_resources_section_with_links(path):
    nb = nbformat.read(path, as_version=4)
    sections = [c.source.split("## Resources", 1)[1] for c in nb.cells
                if c.cell_type == "markdown" and "## Resources" in c.source]
    assert sections, f"{path.name} has no Resources section"
    assert len(re.findall(r"https://", sections[0])) >= 2, f"{path.name}: Resources without links"
