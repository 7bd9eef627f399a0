"""The notebooks' text sources and their .ipynb twins: keep them paired, navigated and clean.

Each notebook is a Jupytext percent-format source ``notebooks/NN_name.py`` paired with
``notebooks/NN_name.ipynb`` (committed without outputs; nbval runs it). Edit either side, then:

    .venv/bin/python tools/notebooks.py sync    # newer side wins, navigation regenerated, outputs stripped
    .venv/bin/python tools/notebooks.py check   # exit 1 when a pair disagrees (what `make check` runs)

``sync`` works like ``jupytext --sync`` (the side modified last is the source) and then rewrites both
files from that source, so a fix made in JupyterLab (the jupytext extension saves both files) and a fix
made in an editor end up identical. The previous/next links at the bottom of every notebook are
generated here; never edit them by hand.
"""
from __future__ import annotations

import argparse
import copy
import re
import sys
from pathlib import Path

import jupytext
import nbformat
from nbstripout import strip_output

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"
FORMATS = "ipynb,py:percent"
NAV_MARK = "<!-- navigation -->"
KERNELSPEC = {"display_name": "Python 3 (workbook)", "language": "python", "name": "python3"}
# exactly what the workbook's kernel reports (lab_app/kernel.py): JupyterLab marks a notebook modified when they differ
LANGUAGE_INFO = {"codemirror_mode": {"name": "ipython", "version": 3}, "file_extension": ".py",
                 "mimetype": "text/x-python", "name": "python", "nbconvert_exporter": "python",
                 "pygments_lexer": "ipython3", "version": "3.11"}
# what `nbstripout` removes by default besides outputs and execution counts (its own list)
STRIP_KEYS = ["metadata.signature", "metadata.widgets", "cell.metadata.collapsed", "cell.metadata.ExecuteTime",
              "cell.metadata.execution", "cell.metadata.heading_collapsed", "cell.metadata.hidden",
              "cell.metadata.scrolled"]


def stems() -> list[str]:
    names = {p.stem for p in NOTEBOOKS.glob("[0-9][0-9]_*.py")} | {p.stem for p in NOTEBOOKS.glob("[0-9][0-9]_*.ipynb")}
    return sorted(names)


def normalise(nb) -> nbformat.NotebookNode:
    """The notebook as it is committed: paired metadata, no outputs, sequential cell ids."""
    nb = copy.deepcopy(nb)
    nb.metadata.pop("jupytext", None)
    nb.metadata = nbformat.from_dict({"jupytext": {"formats": FORMATS}, "kernelspec": dict(KERNELSPEC),
                                      "language_info": dict(LANGUAGE_INFO),
                                      **{k: v for k, v in nb.metadata.items() if k not in ("kernelspec", "language_info")}})
    nb.nbformat, nb.nbformat_minor = 4, 5
    return strip_output(nb, keep_output=False, keep_count=False, keep_id=False, extra_keys=STRIP_KEYS)


def ipynb_text(nb) -> str:
    return nbformat.writes(normalise(nb)).rstrip("\n") + "\n"


def py_text(nb) -> str:
    return jupytext.writes(normalise(nb), fmt="py:percent")


def _inputs(cell) -> tuple:
    return cell.cell_type, cell.source, cell.metadata


def read(stem: str, side: str):
    path = NOTEBOOKS / f"{stem}.{side}"
    return jupytext.read(path) if side == "py" else nbformat.read(path, as_version=4)


def title(nb) -> str:
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            match = re.search(r"^#\s+(.+)$", cell.source, re.M)
            if match:
                return match.group(1).strip()
    return "untitled"


def with_navigation(books: dict[str, nbformat.NotebookNode]) -> None:
    """Replace the generated previous/next cell at the end of every notebook."""
    names = list(books)
    titles = [title(books[name]) for name in names]
    for i, name in enumerate(names):
        nb = books[name]
        nb.cells = [c for c in nb.cells if not (c.cell_type == "markdown" and c.source.startswith(NAV_MARK))]
        links = []
        if i > 0:
            links.append(f"← Previous: [{titles[i - 1]}]({names[i - 1]}.ipynb)")
            links.append("[Start here](00_start_here.ipynb)")
        if i + 1 < len(names):
            links.append(f"Next: [{titles[i + 1]}]({names[i + 1]}.ipynb) →")
        nb.cells.append(nbformat.v4.new_markdown_cell(NAV_MARK + "\n" + " · ".join(links)))


def source_side(stem: str) -> str:
    """Which file of a pair to read: the one that exists, else the one modified last (jupytext --sync)."""
    py, ipynb = NOTEBOOKS / f"{stem}.py", NOTEBOOKS / f"{stem}.ipynb"
    if not ipynb.exists():
        return "py"
    if not py.exists():
        return "ipynb"
    return "ipynb" if ipynb.stat().st_mtime > py.stat().st_mtime else "py"


def sync() -> list[str]:
    books = {stem: read(stem, source_side(stem)) for stem in stems()}
    with_navigation(books)
    written = []
    for stem, nb in books.items():
        for side, text in (("py", py_text(nb)), ("ipynb", ipynb_text(nb))):
            path = NOTEBOOKS / f"{stem}.{side}"
            if not path.exists() or path.read_text(encoding="utf-8") != text:
                path.write_text(text, encoding="utf-8")
                written.append(path.name)
    return written


def problems() -> list[str]:
    """Every way the committed pairs differ from what ``sync`` would write."""
    found = []
    names = stems()
    for stem in names:
        for side in ("py", "ipynb"):
            if not (NOTEBOOKS / f"{stem}.{side}").exists():
                found.append(f"{stem}.{side} is missing: run `make notebooks` to create it from its twin")
    if found:
        return found
    books = {stem: read(stem, "py") for stem in names}
    with_navigation(books)
    for stem, nb in books.items():
        if (NOTEBOOKS / f"{stem}.py").read_text(encoding="utf-8") != py_text(nb):
            found.append(f"{stem}.py: the navigation or the header is not as generated: run `make notebooks`")
        committed = (NOTEBOOKS / f"{stem}.ipynb").read_text(encoding="utf-8")
        if committed != ipynb_text(nb):
            if [_inputs(c) for c in normalise(nbformat.reads(committed, as_version=4)).cells] != \
                    [_inputs(c) for c in normalise(nb).cells]:
                found.append(f"{stem}.ipynb and {stem}.py differ: edit one side and run `make notebooks` "
                             f"(the side saved last wins), or strip outputs")
            else:
                found.append(f"{stem}.ipynb has outputs or metadata the committed form has not: run `make notebooks`")
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=["sync", "check"])
    args = parser.parse_args(argv)
    if args.command == "sync":
        written = sync()
        print("updated: " + ", ".join(written) if written else "notebooks and sources already agree")
        return 0
    found = problems()
    for line in found:
        print(line, file=sys.stderr)
    if not found:
        print(f"{len(stems())} notebooks and their sources agree")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
