"""Figures carry a description: every plotting cell ends in ``show(alt=...)``, and the bundle it displays puts
the description where JupyterLab, nbconvert's HTML and a screen reader find it."""
from __future__ import annotations

import html
import re
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import nbformat
import pytest

from lab_app.notebook import figure_bundle

ROOT = Path(__file__).resolve().parent.parent
DRAWS = re.compile(r"plt\.subplots|plots\.(heatmap|service_map|cost_bars|sampling_tradeoff)|\.plot[.(]|ax\.hist")


def test_the_bundle_has_an_img_with_alt_text_and_a_text_fallback():
    fig, ax = plt.subplots()
    ax.plot([1, 2, 3])
    data, metadata = figure_bundle(fig, 'Latency "p99" <rises>')
    assert data["text/html"].startswith('<img alt="Latency &quot;p99&quot; &lt;rises&gt;" src="data:image/png;base64,')
    assert data["text/html"].endswith(f'{data["image/png"]}">')
    assert metadata == {"image/png": {"alt": 'Latency "p99" <rises>'}}
    assert data["text/plain"] == '[figure] Latency "p99" <rises>'
    plt.close(fig)


def test_a_figure_without_a_description_is_refused():
    fig, _ = plt.subplots()
    with pytest.raises(ValueError, match="describe the figure"):
        figure_bundle(fig, "  ")
    plt.close(fig)


@pytest.mark.parametrize("path", sorted((ROOT / "notebooks").glob("*.ipynb")), ids=lambda p: p.stem)
def test_every_plotting_cell_shows_its_figure_with_alt_text(path):
    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        if cell.cell_type != "code" or not DRAWS.search(cell.source):
            continue
        assert "plt.show()" not in cell.source, f"{path.name}: plt.show() shows a figure without a description"
        assert re.search(r"\bshow\(alt=", cell.source), f"{path.name}: a figure without show(alt=...):\n{cell.source}"
        alt = re.search(r"show\(alt=f?\"([^\"]+)", cell.source).group(1)
        assert len(html.unescape(alt)) >= 40, f"{path.name}: describe what the figure shows, not just its name"
