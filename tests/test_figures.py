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


def test_cost_bars_never_draw_an_unpriced_item_as_free():
    import pandas as pd
    from matplotlib.colors import to_rgba

    from lab_app.analysis import plots

    frame = pd.DataFrame({"service": ["xray", "rollbar", "logs"], "item": ["traces", "occurrences", "ingestion"],
                          "cost_usd": [258.7, float("nan"), 0.0], "within_free_tier": [False, False, True],
                          "plan": ["pay as you go", "more than Essentials: ask the vendor", "pay as you go"]})
    ax = plots.cost_bars(frame)
    billed, unpriced, free = ax.patches[:3]
    assert unpriced.get_width() >= billed.get_width() and unpriced.get_hatch() == "//"
    assert free.get_width() > 0 and free.get_facecolor() == to_rgba(plots.COST_COLOURS["free"])
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels == ["within the free tier ($0)", "billed", "beyond the price list: ask the vendor"]
    assert any("not priced" in t.get_text() for t in ax.texts)
    plt.close(ax.figure)


def test_the_tradeoff_plot_has_a_legend_per_family_and_one_row_per_strategy():
    import pandas as pd

    from lab_app.analysis import plots

    table = pd.DataFrame({"strategy": ["xray: seed rule", "otel head 100%", "tail: keep errors", "otel head 1%"],
                          "xray_usd_per_month": [84.0, 258.7, 10.0, 2.0], "errors": [10, 10, 10, 10],
                          "errors_kept": [1, 10, 10, 0]})
    left, right = plots.sampling_tradeoff(table)
    assert [t.get_text() for t in left.get_yticklabels()] == ["otel head 1%", "tail: keep errors", "xray: seed rule",
                                                              "otel head 100%"]       # cheapest first
    assert [p.get_width() for p in right.patches] == [0.0, 100.0, 10.0, 100.0]
    legend = left.figure.legends[0]
    assert {t.get_text() for t in legend.get_texts()} == {"OpenTelemetry head ratio", "tail-style (after the request)",
                                                          "X-Ray sampling rules"}
    plt.close(left.figure)
