"""Regenerate the previous/next links at the bottom of every numbered notebook (never edit them by hand)."""
from __future__ import annotations

import re
from pathlib import Path

import nbformat

from nbbuild import strip

ROOT = Path(__file__).resolve().parent.parent
MARK = "<!-- navigation -->"


def title(nb) -> str:
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            match = re.search(r"^#\s+(.+)$", cell.source, re.M)
            if match:
                return match.group(1).strip()
    return "untitled"


def main() -> None:
    paths = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    books = [nbformat.read(p, as_version=4) for p in paths]
    titles = [title(nb) for nb in books]
    for i, (path, nb) in enumerate(zip(paths, books)):
        nb.cells = [c for c in nb.cells if not (c.cell_type == "markdown" and c.source.startswith(MARK))]
        links = []
        if i > 0:
            links.append(f"← Previous: [{titles[i-1]}]({paths[i-1].name})")
        links.append("[Start here](00_start_here.ipynb)" if i else "")
        if i + 1 < len(paths):
            links.append(f"Next: [{titles[i+1]}]({paths[i+1].name}) →")
        cell = nbformat.v4.new_markdown_cell(MARK + "\n" + " · ".join(l for l in links if l))
        cell["id"] = "navigation"
        nb.cells.append(cell)
        nbformat.write(nb, path)
    strip(*paths)


if __name__ == "__main__":
    main()
