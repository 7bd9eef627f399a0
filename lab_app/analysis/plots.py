"""The workbook's analysis plots (matplotlib): a Honeycomb-style heatmap, service maps, cost and sampling."""
from __future__ import annotations

import matplotlib.pyplot as plt
import networkx as nx
import numpy as np
import pandas as pd


def heatmap(table: pd.DataFrame, ax=None, title: str = "latency over time"):
    """Draw a table from ``correlate.latency_heatmap`` (rows: latency buckets, columns: time buckets)."""
    ax = ax or plt.subplots(figsize=(10, 4))[1]
    values = table.to_numpy(dtype=float)
    shown = np.where(values > 0, values, np.nan)
    image = ax.imshow(shown, aspect="auto", cmap="viridis", interpolation="nearest")
    ax.figure.colorbar(image, ax=ax, label="requests")
    rows = list(table.index)
    step = max(1, len(rows) // 8)
    ax.set_yticks(range(0, len(rows), step), [f"{float(r):g}" for r in rows[::step]])
    cols = list(table.columns)
    cstep = max(1, len(cols) // 8)
    ax.set_xticks(range(0, len(cols), cstep), [pd.Timestamp(c).strftime("%H:%M:%S.%f")[:-3] for c in cols[::cstep]],
                  rotation=30)
    ax.set_ylabel(f"{table.index.name or 'latency'} (ms)")
    ax.set_title(title)
    return ax


def graph_from_edges(edges: pd.DataFrame, source: str = "caller", target: str = "callee") -> nx.DiGraph:
    """A DiGraph from an edge table (``correlate.service_edges`` or ``query.xray.service_graph``'s edges)."""
    graph = nx.DiGraph()
    for row in edges.to_dict("records"):
        graph.add_edge(row.pop(source), row.pop(target), **row)
    return graph


def service_map(graph: nx.DiGraph, ax=None, title: str = "", failed_key: str | None = None,
                calls_key: str | None = None):
    """Draw a service graph: nodes are services, edge labels calls (and failures when known)."""
    ax = ax or plt.subplots(figsize=(5, 4))[1]
    pos = nx.circular_layout(graph) if len(graph) > 2 else {n: (i, 0) for i, n in enumerate(graph.nodes)}
    nx.draw_networkx_nodes(graph, pos, ax=ax, node_color="#f2c14e", node_size=1800)
    nx.draw_networkx_labels(graph, pos, ax=ax, font_size=8)
    nx.draw_networkx_edges(graph, pos, ax=ax, arrows=True, arrowsize=18, node_size=1800,
                           connectionstyle="arc3,rad=0.1")
    labels = {}
    for a, b, data in graph.edges(data=True):
        parts = []
        if calls_key and calls_key in data:
            parts.append(f"{int(data[calls_key])} calls")
        if failed_key and failed_key in data:
            parts.append(f"{int(data[failed_key])} failed")
        labels[(a, b)] = ", ".join(parts)
    nx.draw_networkx_edge_labels(graph, pos, edge_labels=labels, ax=ax, font_size=7)
    ax.set_title(title)
    ax.axis("off")
    ax.margins(0.25)
    return ax


COST_COLOURS = {"free": "tab:green", "billed": "tab:red", "unpriced": "lightgrey"}


def cost_bars(estimate: pd.DataFrame, ax=None, title: str = "monthly cost by item"):
    """One bar per billed item: green within the free tier, red billed; an item the price list cannot price
    (beyond its largest plan) is a hatched grey bar across the axis, labelled, never an empty bar that looks free."""
    from matplotlib.patches import Patch

    ax = ax or plt.subplots(figsize=(9, 3.8))[1]
    labels = (estimate["service"].astype(str) + ": " + estimate["item"].astype(str)).tolist()
    costs = estimate["cost_usd"].astype(float)
    unpriced = costs.isna().to_numpy()
    free = estimate["within_free_tier"].astype(bool).to_numpy() & ~unpriced
    priced_max = float(costs[~unpriced].max()) if (~unpriced).any() else 0.0
    width = max(priced_max, 1.0)
    colours = np.where(unpriced, COST_COLOURS["unpriced"], np.where(free, COST_COLOURS["free"], COST_COLOURS["billed"]))
    # an item inside its free tier costs $0: a sliver of green, so the colour the legend names is visible
    lengths = np.where(unpriced, width, np.where(free, np.maximum(costs.fillna(0).to_numpy(), width * 0.012),
                                                 costs.fillna(0).to_numpy()))
    bars = ax.barh(labels, lengths, color=colours)
    for bar, is_unpriced, plan in zip(bars, unpriced, estimate["plan"].astype(str)):
        if is_unpriced:
            bar.set_hatch("//")
            bar.set_edgecolor("grey")
            ax.annotate(f"not priced: {plan}", (0, bar.get_y() + bar.get_height() / 2), xytext=(4, 0),
                        textcoords="offset points", va="center", fontsize=7)
    for bar, cost, is_unpriced, is_free in zip(bars, costs, unpriced, free):
        if not is_unpriced:
            ax.annotate(f"${cost:,.2f}" + (" (free tier)" if is_free else ""),
                        (bar.get_width(), bar.get_y() + bar.get_height() / 2), xytext=(3, 0),
                        textcoords="offset points", va="center", fontsize=7)
    ax.invert_yaxis()
    ax.set_xlim(0, width * 1.25)
    ax.set_xlabel("USD per month")
    handles = [Patch(color=COST_COLOURS["free"], label="within the free tier ($0)"),
               Patch(color=COST_COLOURS["billed"], label="billed")]
    if unpriced.any():
        handles.append(Patch(facecolor=COST_COLOURS["unpriced"], edgecolor="grey", hatch="//",
                             label="beyond the price list: ask the vendor"))
    ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=7, frameon=False)
    ax.set_title(title)
    ax.figure.tight_layout()
    return ax


STRATEGY_FAMILIES = {"xray": ("X-Ray sampling rules", "tab:orange"), "otel": ("OpenTelemetry head ratio", "tab:blue"),
                     "tail": ("tail-style (after the request)", "tab:green")}


def sampling_tradeoff(table: pd.DataFrame, cost_col: str = "xray_usd_per_month", axes=None,
                      title: str = "what each strategy costs and what it still shows"):
    """Two aligned panels, one row per strategy (cheapest first): the monthly cost, and the share of failed
    requests it still traced. Colour is the strategy's family (legend). Returns the two axes."""
    from matplotlib.patches import Patch

    rows = table.sort_values(cost_col, kind="stable").reset_index(drop=True)
    if axes is None:
        fig, axes = plt.subplots(1, 2, figsize=(10, 0.38 * len(rows) + 1.6), sharey=True,
                                 gridspec_kw={"width_ratios": [3, 2]})
    left, right = axes
    names = rows["strategy"].astype(str).tolist()
    families = [n.split(":")[0].split(" ")[0] for n in names]
    colours = [STRATEGY_FAMILIES.get(f, ("other", "tab:gray"))[1] for f in families]
    kept_errors = np.where(rows["errors"] > 0, rows["errors_kept"] / rows["errors"].where(rows["errors"] > 0, 1), 1.0)
    left.barh(names, rows[cost_col].astype(float), color=colours)
    right.barh(names, kept_errors * 100, color=colours)
    for y, value in enumerate(rows[cost_col].astype(float)):
        left.annotate(f"${value:,.0f}", (value, y), xytext=(3, 0), textcoords="offset points", va="center", fontsize=7)
    for y, value in enumerate(kept_errors * 100):
        right.annotate(f"{value:.0f} %", (value, y), xytext=(3, 0), textcoords="offset points", va="center", fontsize=7)
    left.invert_yaxis()
    left.set_xlabel(cost_col.replace("_", " ").replace("usd", "USD"))
    left.set_xlim(0, float(rows[cost_col].max()) * 1.2 or 1.0)
    right.set_xlim(0, 118)
    right.set_xlabel("% of failed requests still traced")
    seen = dict.fromkeys(families)
    fig = left.figure
    fig.suptitle(title)
    fig.legend(handles=[Patch(color=STRATEGY_FAMILIES.get(f, ("other", "tab:gray"))[1],
                              label=STRATEGY_FAMILIES.get(f, ("other",))[0]) for f in seen],
               loc="lower center", ncol=len(seen), fontsize=8, frameon=False)
    fig.tight_layout(rect=(0, 0.06, 1, 1))        # room under the panels for the legend
    return axes
