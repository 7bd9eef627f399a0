# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # OpenTelemetry and Honeycomb: one trace across two services
#
# The bootcamp's Week 2 starts here: instrument **backend-flask** with OpenTelemetry, watch spans appear on the
# console, then ship them over OTLP to Honeycomb. You will follow one user request from the Flask API into the
# downstream **notifications** service and back, and answer latency questions with Honeycomb's query API and pandas.

# %% [markdown]
# ## Overview
# 1. Console spans: see what a span is before sending it anywhere
# 2. The key check: which Honeycomb team and environment your key belongs to
# 3. OTLP export, traffic, and the check that every request produced a trace
# 4. Per-route percentiles with Honeycomb's Query Data API
# 5. One request's span tree across both services
# 6. A heatmap like Honeycomb's

# %% [markdown]
# ## Prerequisites
#
# | Concept | Importance | Notes |
# | --- | --- | --- |
# | [01 the Cruddur services](01_cruddur_services.ipynb) | Necessary | the two services and the traffic generator |
# | Percentiles | Necessary | p50 / p95 / p99 |
# | OpenTelemetry vocabulary | Helpful | trace, span, parent, resource, exporter |
#
# - **Time to learn**: 30 minutes

# %% [markdown]
# ## Imports

# %%
import time

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import requests

from lab_app import services, traffic
from lab_app.instrument import otel
from lab_app.notebook import setup
from lab_app.query import spans
from lab_app.services import Faults

# %%
lab = setup()

# %% [markdown]
# ## 1. Console spans first
#
# A **span** is one timed operation with a name, attributes and a parent. The simplest exporter prints each
# finished span: the seed's `SimpleSpanProcessor(ConsoleSpanExporter())`. `otel.console()` adds it once, however
# often you run the cell (the process has a single `TracerProvider`; re-adding processors would print every span
# twice). We also keep an in-memory copy of every span for the checkpoints.

# %%
otel.console()
sink = otel.memory()
sink.clear()
with otel.tracer("lesson").start_as_current_span("hello-otel") as span:
    span.set_attribute("app.step", 1)

# %% [markdown]
# Now the services. `otel.instrument_app` is an *instrumenter*: `services.start` applies it to each Flask app
# before it serves. It adds Flask server spans, `requests` client spans for the backend's call to notifications,
# W3C `traceparent` propagation between them, and the seed's custom span (`home-activities-mock-data` with the
# `app.user` attribute) inside the home timeline code.
#
# Why does each service get **its own** `TracerProvider`? Honeycomb puts spans into a *dataset* named after the
# resource attribute `service.name`, and a provider has exactly one resource. Two services in one process need
# two providers to land in two datasets (`backend-flask` and `notifications`).

# %%
stack = services.start(instrument=[otel.instrument_app])
home = requests.get(stack.backend_url + "/api/activities/home")
home.status_code, home.headers["traceresponse"]

# %% [markdown]
# ### Checkpoint: a server span with the custom span inside it

# %%
otel.force_flush()
finished = sink.get_finished_spans()
server = [s for s in finished if s.name == "GET /api/activities/home"]
custom = [s for s in finished if s.name == "home-activities-mock-data"]
assert len(server) == 1 and len(custom) == 1
assert custom[0].parent.span_id == server[0].context.span_id
assert custom[0].attributes["app.user"] and "app.result_length" in custom[0].attributes
assert server[0].resource.attributes["service.name"] == "backend-flask"
# the traceresponse header names the trace the server recorded
assert home.headers["traceresponse"].split("-")[1] == f"{server[0].context.trace_id:032x}"
otel.console(enabled=False)  # enough printing

# %% [markdown]
# ## 2. The key check
#
# The seed's first Honeycomb step was confirming the key: Honeycomb's `GET /1/auth` answers with the team and
# environment the key belongs to. Locally the stand-in answers the same way; with `LAB_MODE=aws` and your own
# `HONEYCOMB_API_KEY` in `.env`, the same cell asks Honeycomb.

# %%
who = spans.whoami()
pd.DataFrame([{"team": who["team"]["name"], "environment": who["environment"]["name"],
               "can query": who.get("api_key_access", {}).get("queries")}])

# %%
assert who["team"]["slug"] and who["environment"]["slug"]

# %% [markdown]
# ## 3. Export over OTLP and generate traffic
#
# `otel.otlp()` adds a `BatchSpanProcessor` with the OTLP/HTTP exporter. It reads the same variables the exporter
# documents: `OTEL_EXPORTER_OTLP_ENDPOINT` and `OTEL_EXPORTER_OTLP_HEADERS` (`x-honeycomb-team=<key>`), which
# `setup()` pointed at the local stand-in. We restart the services with the workbook's standard faults: a slow
# search, a flaky notifications service, and a route with a bug.

# %%
otel.otlp()
stack = services.start(instrument=[otel.instrument_app], faults=Faults.lesson())
time.sleep(1.05 - time.time() % 1)  # start on a fresh second: the query window below is in whole seconds
started = int(time.time())
requests_df = traffic.generate(stack.backend_url, n=600, concurrency=8, seed=2, progress=False)
otel.force_flush()
traffic.route_summary(requests_df)

# %% [markdown]
# `spans.local_spans()` reads every span the **local** stand-in stored in a time range into a DataFrame (Honeycomb
# itself has no "download every span" API; against it you use the query API of section 4).

# %%
stored = spans.local_spans(start=started, end=time.time() + 1)
stored[["service", "name", "kind", "trace_id", "span_id", "parent_id", "duration_ms", "http_status_code"]].head()

# %% [markdown]
# ### Checkpoint: every generated request produced a trace

# %%
roots = stored[stored["parent_id"].isna()]
assert requests_df["otel_trace_id"].notna().all(), "every response carries a traceresponse header"
assert len(roots) == len(requests_df), (len(roots), len(requests_df))
assert set(roots["trace_id"]) == set(requests_df["otel_trace_id"])
assert set(roots["service"]) == {"backend-flask"} and set(roots["kind"]) == {"server"}
assert set(stored["dataset"]) == {"backend-flask", "notifications"}

# %% [markdown]
# ## 4. Per-route percentiles with the Query Data API
#
# Honeycomb's API runs a query in three steps: create the query spec (`POST /1/queries/<dataset>`), run it
# (`POST /1/query_results/<dataset>`), read the result. `spans.query` does the three and returns a DataFrame.

# %%
latency = spans.query(
    "backend-flask",
    calculations=[{"op": "COUNT"}, {"op": "P50", "column": "duration_ms"}, {"op": "P95", "column": "duration_ms"},
                  {"op": "P99", "column": "duration_ms"}],
    breakdowns=["http.route"],
    filters=[{"column": "span.kind", "op": "=", "value": "server"}],
    start_time=started, end_time=int(time.time()) + 2,
    orders=[{"op": "P50", "column": "duration_ms", "order": "descending"}],
)
latency

# %% [markdown]
# ### Checkpoint: the API agrees with pandas, and the slow route is on top
# The same percentiles computed from the raw spans with pandas must match, and the injected 180 ms of search latency
# must put `/api/activities/search` first.

# %%
server_spans = stored[(stored["dataset"] == "backend-flask") & (stored["kind"] == "server")]
by_pandas = server_spans.groupby("http_route")["duration_ms"].quantile(0.99)
by_api = latency.set_index("http.route")["P99(duration_ms)"]
assert np.allclose(by_api.sort_index(), by_pandas.sort_index(), rtol=1e-6), pd.concat([by_api, by_pandas], axis=1)
assert latency["COUNT"].sum() == len(requests_df)
assert latency.iloc[0]["http.route"] == "/api/activities/search"

# %% [markdown]
# ## 5. One request, two services
#
# Pick a request to `GET /api/activities/notifications`: the backend's server span, its client span calling
# notifications, the notifications server span (a child *in another service*, joined by the W3C `traceparent`
# header), and the custom spans inside each.

# %%
cross = requests_df[requests_df["route"] == "/api/activities/notifications"]
tree = spans.span_tree(stored, cross["otel_trace_id"].iloc[0])
tree[["label", "service", "kind", "duration_ms"]]

# %% [markdown]
# ### Checkpoint: cross-service traces link parent and child

# %%
by_id = stored.set_index("span_id")
downstream_servers = stored[(stored["dataset"] == "notifications") & (stored["kind"] == "server")]
# every request of that route crossed into notifications exactly once (other routes call it too)
per_trace = downstream_servers[downstream_servers["trace_id"].isin(set(cross["otel_trace_id"]))].groupby("trace_id").size()
assert len(per_trace) == len(cross) and (per_trace == 1).all()
for span in downstream_servers.itertuples(index=False):
    client = by_id.loc[span.parent_id]
    assert client["kind"] == "client" and client["service"] == "backend-flask"
    assert client["trace_id"] == span.trace_id
    root = by_id.loc[client["parent_id"]]
    assert root["kind"] == "server" and pd.isna(root["parent_id"])
assert set(tree["service"]) == {"backend-flask", "notifications"}

# %% [markdown]
# ## 6. A heatmap like Honeycomb's
#
# Honeycomb's HEATMAP shows time across and duration up, colour for how many spans fell in each cell. Bands
# appear: the fast routes at the bottom, the slow search route as a separate band near 200 ms.

# %%
x = (server_spans["start_time"] - server_spans["start_time"].min()).dt.total_seconds()
y = server_spans["duration_ms"].clip(lower=0.1)
counts, xedges, yedges = np.histogram2d(x, np.log10(y), bins=(30, 30))
fig, ax = plt.subplots(figsize=(8, 4))
mesh = ax.pcolormesh(xedges, 10 ** yedges, counts.T, cmap="viridis")
ax.set_yscale("log")
ax.set_xlabel("seconds since the first request")
ax.set_ylabel("duration (ms)")
ax.set_title("HEATMAP(duration_ms), backend-flask server spans")
fig.colorbar(mesh, ax=ax, label="spans")
plt.show()

# %%
assert counts.sum() == len(server_spans)
stack.stop()

# %% [markdown]
# ## Summary
# - One `TracerProvider` per **service** (resource `service.name` = Honeycomb dataset), exporters added once.
# - Console first, then OTLP with the `x-honeycomb-team` header; `force_flush()` before reading anything back.
# - W3C `traceparent` joins the backend and notifications into one trace; `traceresponse` tells the client the id.
# - Honeycomb's Query Data API (create, run, read) gives per-route percentiles; raw spans in pandas give trees and
#   heatmaps, and both agree.
#
# ## What's next
# [03 AWS X-Ray](03_aws_xray.ipynb): the same services traced with the X-Ray SDK, daemon, sampling rules and groups.

# %% [markdown]
# <!-- navigation -->
# ← Previous: [The Cruddur services: an API worth tracing](01_cruddur_services.ipynb) · [Start here](00_start_here.ipynb) · Next: [AWS X-Ray: segments, filter expressions, the service map and sampling](03_aws_xray.ipynb) →
