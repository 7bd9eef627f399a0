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


def cost_bars(estimate: pd.DataFrame, ax=None, title: str = "monthly cost by item"):
    ax = ax or plt.subplots(figsize=(8, 3.5))[1]
    labels = estimate["service"].astype(str) + ": " + estimate["item"].astype(str)
    ax.barh(labels, estimate["cost_usd"].fillna(0), color=np.where(estimate["within_free_tier"], "tab:green",
                                                                     "tab:red"))
    ax.invert_yaxis()
    ax.set_xlabel("USD per month (green: within the free tier)")
    ax.set_title(title)
    return ax


def sampling_tradeoff(table: pd.DataFrame, cost_col: str = "xray_usd_per_month", ax=None,
                      title: str = "what each strategy costs and what it still shows"):
    """Scatter: monthly cost (x) against errors kept (y), one labelled point per strategy."""
    ax = ax or plt.subplots(figsize=(8, 4.5))[1]
    kinds = table["strategy"].astype(str).str.split(":| ", regex=True).str[0]
    colors = {"xray": "tab:orange", "otel": "tab:blue", "tail": "tab:green"}
    for row, kind in zip(table.to_dict("records"), kinds):
        share = row["errors_kept"] / row["errors"] if row["errors"] else 1.0
        ax.scatter(row[cost_col], share * 100, color=colors.get(kind, "tab:gray"), s=40)
        ax.annotate(str(row["strategy"]), (row[cost_col], share * 100), fontsize=7, xytext=(4, 2),
                    textcoords="offset points")
    ax.set_xlabel(cost_col.replace("_", " "))
    ax.set_ylabel("% of failed requests still traced")
    ax.set_title(title)
    return ax
