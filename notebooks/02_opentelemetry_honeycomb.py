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
#     display_name: Python 3 (workbook)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # OpenTelemetry and Honeycomb: instrument backend-flask yourself
#
# The bootcamp's Week 2 starts here. You add OpenTelemetry to **backend-flask** with the SDK's own calls, the
# same lines that go into its `app.py`: a `TracerProvider`, an exporter, Flask and `requests` instrumentation and
# a custom span. Then you follow one request from the Flask API into the **notifications** service, which runs in
# a process of its own and is instrumented the zero-code way, and answer latency questions with Honeycomb's
# query API and pandas.

# %% [markdown]
# ## Overview
# 1. Two services, two processes
# 2. A span on the console (the seed's `ConsoleSpanExporter`)
# 3. The real set-up: one `TracerProvider` per process, OTLP to Honeycomb
# 4. Instrument the app: Flask, `requests` and the seed's custom span
# 5. Zero-code OpenTelemetry on the downstream, and a trace across the process boundary
# 6. The key check, traffic, and per-route percentiles with the Query Data API
# 7. Your turn: a span of your own, and a query of your own
# 8. Your app.py now

# %% [markdown]
# ## Prerequisites
#
# | Concept | Importance | Notes |
# | --- | --- | --- |
# | [01 the Cruddur services](01_cruddur_services.ipynb) | Necessary | the routes and the traffic generator |
# | Percentiles | Necessary | p50 / p95 / p99 |
# | OpenTelemetry vocabulary | Helpful | trace, span, parent, resource, exporter |
#
# - **Time to learn**: 40 minutes

# %% [markdown]
# ## Set-up
# `setup()` starts the local cloud (or finds your real keys in `.env`) and sets the environment variables the
# SDKs read. Run it before anything imports an SDK.

# %%
from lab_app.notebook import setup

lab = setup()
lab

# %% [markdown]
# ## Imports
# The first block is what backend-flask's `app.py` imports; the second is the workbook's plumbing (processes,
# traffic, reading results back).

# %%
import os
import time
import unittest
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pandas as pd
from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.instrumentation.flask import FlaskInstrumentor
from opentelemetry.instrumentation.propagators import TraceResponsePropagator, set_global_response_propagator
from opentelemetry.instrumentation.requests import RequestsInstrumentor
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter, SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from lab_app import services, traffic
from lab_app.query import spans as spans_q
from lab_app.services import Faults

# %% [markdown]
# ## 1. Two services, two processes
#
# **notifications** is "another team's service": it runs in its own process, started here with
# `opentelemetry-instrument`, and its instrumentation comes from its environment, not from code (section 5).
# **backend-flask** runs in a thread of this kernel, and you instrument it. `Faults.lesson()` is the workbook's
# standard scenario: a slow search, a flaky notifications service, a route with a bug.

# %%
faults = Faults.lesson()
notifications = services.downstream.start(otel=True, faults=faults)
notifications

# %% [markdown]
# ## 2. A span on the console
#
# The seed checked its set-up with `SimpleSpanProcessor(ConsoleSpanExporter())`: every finished span is printed as
# JSON. We try it on a throw-away provider and app, calling the app in-process with Flask's test client, so only
# this one span is printed. The **resource** says who made the span: `Resource.create()` reads `OTEL_SERVICE_NAME`.

# %%
console_provider = TracerProvider(resource=Resource.create())
console_provider.add_span_processor(SimpleSpanProcessor(ConsoleSpanExporter()))
demo_app = services.create_backend_app(notifications.url)
FlaskInstrumentor().instrument_app(demo_app, tracer_provider=console_provider)
demo_app.test_client().get("/api/activities/home")
console_provider.shutdown()

# %% [markdown]
# Read the JSON: `name` is the **route template** (`GET /api/activities/home`), `context` holds the `trace_id` and
# `span_id`, `parent_id` is `null` (the root of its trace), `kind` is `SpanKind.SERVER`, the `attributes` are HTTP
# semantic conventions, and `resource` carries `service.name`.

# %% [markdown]
# ## 3. The real set-up: one provider per process, OTLP to Honeycomb
#
# This is the seed's set-up, corrected. The exporter reads the variables the seed exported:
#
# | variable | what it does | here |
# | --- | --- | --- |
# | `OTEL_SERVICE_NAME` | `service.name` of the resource: Honeycomb's **dataset** | `backend-flask` (the seed's `Cruddur` named a dataset after the whole app) |
# | `OTEL_EXPORTER_OTLP_ENDPOINT` | base URL; the HTTP exporter appends `/v1/traces` | `https://api.honeycomb.io`, or the local stand-in |
# | `OTEL_EXPORTER_OTLP_HEADERS` | `x-honeycomb-team=<key>`: which team and environment the spans go to | from `.env`, or a local dummy |
#
# `trace.set_tracer_provider` works **once per process**: a second call only logs a warning and changes nothing.
# A notebook cell can run twice, so the cell checks first and keeps the provider it set the first time. The
# `InMemorySpanExporter` is for this notebook's checkpoints only: it keeps a copy of every span.

# %%
configuration = lab.configuration()
configuration[configuration["variable"].str.startswith("OTEL_")]

# %%
if isinstance(trace.get_tracer_provider(), TracerProvider):   # this cell ran before in this kernel: keep it
    provider = trace.get_tracer_provider()
else:
    provider = TracerProvider(resource=Resource.create())     # service.name from OTEL_SERVICE_NAME
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(), schedule_delay_millis=1000))
    checkpoint_spans = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(checkpoint_spans))
    trace.set_tracer_provider(provider)
provider.resource.attributes["service.name"]

# %% [markdown]
# What a second `set_tracer_provider` does (the warning is logged by `opentelemetry.trace`):

# %%
with unittest.TestCase().assertLogs("opentelemetry.trace", level="WARNING") as seen:
    trace.set_tracer_provider(TracerProvider())
seen.output

# %% [markdown]
# ### Checkpoint: one provider, the one you configured

# %%
assert trace.get_tracer_provider() is provider, "set_tracer_provider must not replace the first provider"
assert provider.resource.attributes["service.name"] == os.environ["OTEL_SERVICE_NAME"] == "backend-flask"
assert "Overriding of current TracerProvider is not allowed" in seen.output[0]

# %% [markdown]
# ## 4. Instrument the app
#
# The seed's custom span lives in `services/home_activities.py`. Its journal wrote
# `trace = trace.get_trace("home.activity.trace")`: that line fails twice over. `get_trace` does not exist
# (`get_tracer` does), and assigning to `trace` would shadow the `opentelemetry.trace` module the class needs. The
# cell below is the seed's code, fixed.

# %% tags=["raises-exception"]
trace.get_trace("home.activity.trace")  # the seed's typo: AttributeError

# %%
tracer = trace.get_tracer("home.activities")


class HomeActivities:
    """backend-flask/services/home_activities.py, with the seed's custom span."""

    def run(self, data, user):
        with tracer.start_as_current_span("home-activities-mock-data") as span:
            now = datetime.now(timezone.utc)
            span.set_attribute("app.now", now.isoformat())
            span.set_attribute("app.user", user)
            results = data.home(now)
            span.set_attribute("app.result_length", len(results))
            return results


# %% [markdown]
# Now `app.py` itself: the app, `FlaskInstrumentor().instrument_app(app)` for a server span per request, and
# `RequestsInstrumentor().instrument()` for a client span around the backend's calls to notifications (it also
# puts the W3C `traceparent` header on them). `RequestsInstrumentor` patches `requests` for the whole process:
# instrumenting twice would only log a warning, hence the check. `TraceResponsePropagator` adds a `traceresponse`
# header to every response, so the client (our traffic generator) learns each request's trace id.

# %%
app = services.create_backend_app(notifications.url, faults=faults, home_activities=HomeActivities())
FlaskInstrumentor().instrument_app(app)
if not RequestsInstrumentor().is_instrumented_by_opentelemetry:
    RequestsInstrumentor().instrument()
set_global_response_propagator(TraceResponsePropagator())
backend = services.serve_backend(app)
home = traffic.send("GET", backend.url + "/api/activities/home")
home.status_code, home.headers["traceresponse"]

# %% [markdown]
# ### Checkpoint: a server span with the custom span inside it

# %%
provider.force_flush()
home_trace = home.headers["traceresponse"].split("-")[1]
finished = [s for s in checkpoint_spans.get_finished_spans() if f"{s.context.trace_id:032x}" == home_trace]
server = [s for s in finished if s.name == "GET /api/activities/home"]
custom = [s for s in finished if s.name == "home-activities-mock-data"]
assert len(server) == 1 and len(custom) == 1, [s.name for s in finished]
assert custom[0].parent.span_id == server[0].context.span_id, "the custom span is a child of the server span"
assert custom[0].attributes["app.user"] and custom[0].attributes["app.result_length"] > 0
assert server[0].resource.attributes["service.name"] == "backend-flask"

# %% [markdown]
# ## 5. Zero-code OpenTelemetry on the downstream
#
# The notifications process was started with `opentelemetry-instrument`: the `opentelemetry-distro` package
# builds the SDK from the `OTEL_*` variables below and instruments Flask before the app's code runs. No
# OpenTelemetry set-up in its code at all, which is how many teams ship services.

# %%
print(" ".join(Path(part).name if i == 0 else part for i, part in enumerate(notifications.command)))
pd.Series(notifications.environment()).to_frame("value")

# %% [markdown]
# One request to `/api/activities/notifications` crosses the process boundary: the backend's client span
# sends `traceparent`, and the notifications server span, made in **another process**, joins the same trace.

# %%
cross = traffic.send("GET", backend.url + "/api/activities/notifications", headers={"X-Cruddur-User": "andrewbrown"})
cross_trace = cross.headers["traceresponse"].split("-")[1]
provider.force_flush()    # this process's spans; notifications exports its own every half second
stored = spans_q.wait_for_spans([cross_trace], services=("backend-flask", "notifications"),
                              start=pd.Timestamp.now(tz="UTC") - pd.Timedelta(minutes=5))
tree = spans_q.span_tree(stored, cross_trace)
tree[["label", "service", "kind", "duration_ms"]]

# %% [markdown]
# ### Checkpoint: one trace, two processes

# %%
in_trace = stored[stored["trace_id"] == cross_trace]
assert set(in_trace["service"]) == {"backend-flask", "notifications"}, set(in_trace["service"])
downstream_server = in_trace[(in_trace["service"] == "notifications") & (in_trace["kind"] == "server")].iloc[0]
client = in_trace.set_index("span_id").loc[downstream_server["parent_id"]]
assert client["service"] == "backend-flask" and client["kind"] == "client"
assert downstream_server["resource_attributes"]["process.pid"] != os.getpid(), "notifications runs in its own process"

# %% [markdown]
# ## 6. The key check, traffic and the Query Data API
#
# The seed confirmed its key with a "whoami" page. Honeycomb's `GET /1/auth` answers with the team and
# environment the key belongs to; locally the stand-in answers the same way.

# %%
who = spans_q.whoami()
pd.DataFrame([{"team": who["team"]["name"], "environment": who["environment"]["name"],
               "can query": who.get("api_key_access", {}).get("queries")}])

# %% [markdown]
# **Team, environment, dataset and key.** A Honeycomb *team* holds *environments*; a new team starts with one
# called `test`, and the journal added its own, `BootCamp`, to keep its data apart. Every API key belongs to exactly
# one environment, so **the key decides where the spans land**: no header names the environment. Inside it, each
# `service.name` becomes a *dataset* (`backend-flask`, `notifications`), created on the first span. To send to
# another environment, use that environment's key. (Classic teams, from before environments, have no
# environment: the `/1/auth` answer's environment fields are empty, and the dataset comes from the
# `x-honeycomb-dataset` header.) The local stand-in has one team, `Local Cloud`, with one environment, `local`.

# %% [markdown]
# ### Checkpoint: the key names the team and the environment it writes to

# %%
assert who["environment"]["name"] and who["team"]["name"], who
if lab.local:
    assert who["environment"]["slug"] == "local" and who["team"]["slug"] == "local-cloud"

# %%
time.sleep(1.05 - time.time() % 1)  # start on a fresh second: the query window below is in whole seconds
started = pd.Timestamp.now(tz="UTC")
requests_df = traffic.generate(backend.url, n=250, concurrency=8, seed=2, progress=False)
provider.force_flush()
stored = spans_q.wait_for_spans(requests_df["otel_trace_id"], start=started)
traffic.route_summary(requests_df)

# %% [markdown]
# ### Checkpoint: every request produced one trace, rooted in backend-flask

# %%
roots = stored[stored["parent_id"].isna()]
assert requests_df["otel_trace_id"].notna().all(), "every response carries a traceresponse header"
assert set(requests_df["otel_trace_id"]) <= set(roots["trace_id"])
ours = roots[roots["trace_id"].isin(set(requests_df["otel_trace_id"]))]
assert len(ours) == len(requests_df) and set(ours["service"]) == {"backend-flask"}
assert set(ours["kind"]) == {"server"}

# %% [markdown]
# Honeycomb's Query Data API runs a query in three steps: create the query spec, run it, read the result.
# `spans_q.query` does the three and returns a DataFrame. Against real Honeycomb this API is an Enterprise feature and
# needs a *configuration* key (`HONEYCOMB_CONFIG_KEY`) with "Manage Queries and Columns" and "Run Queries"; the
# exporter's *ingest* key cannot query, and the API allows 10 query results a minute over the last 7 days. On a free
# team (locally: start the local cloud with `LAB_HONEYCOMB_PLAN=free`) the cell says so and prints a *query template
# link* instead: the dataset's page with the same query as its `query` parameter, which runs it in Honeycomb's UI on
# any plan. Either way the answer is also computed with pandas from the spans this kernel kept in memory
# (`checkpoint_spans`).

# %%
window = {"start_time": int(started.timestamp()), "end_time": int(pd.Timestamp.now(tz="UTC").timestamp()) + 2}
latency_spec = {
    "calculations": [{"op": "COUNT"}, {"op": "P50", "column": "duration_ms"}, {"op": "P99", "column": "duration_ms"}],
    "breakdowns": ["http.route"],
    "filters": [{"column": "span.kind", "op": "=", "value": "server"}],
    "orders": [{"op": "P50", "column": "duration_ms", "order": "descending"}],
    **window,
}
no_queries = spans_q.query_unavailable(who)     # None when this key and team may use the Query Data API
if no_queries is None:
    latency = spans_q.query("backend-flask", **latency_spec)
else:
    latency = None
    print(f"No Query Data API: {no_queries}.")
    print("The same query in Honeycomb's UI:", spans_q.query_template_url("backend-flask", latency_spec, who))

# the same answer from the spans kept in memory: this kernel's server spans that started inside the window
kept = pd.DataFrame([{"http.route": s.attributes.get("http.route"), "kind": s.kind.name.lower(),
                      "http.status_code": s.attributes.get("http.status_code",
                                                           s.attributes.get("http.response.status_code")),
                      "duration_ms": (s.end_time - s.start_time) / 1e6, "start_s": s.start_time / 1e9}
                     for s in checkpoint_spans.get_finished_spans()])
in_window = kept[(kept["kind"] == "server") & (kept["start_s"] >= window["start_time"])
                 & (kept["start_s"] < window["end_time"])]
by_memory = (in_window.groupby("http.route")["duration_ms"]
             .agg(COUNT="size", P50=lambda d: d.quantile(0.5), P99=lambda d: d.quantile(0.99))
             .sort_values("P50", ascending=False))
latency if latency is not None else by_memory

# %% [markdown]
# ### Checkpoint: the API agrees with pandas, and the slow route is on top

# %%
assert by_memory["COUNT"].sum() == len(requests_df), "one server span per request sent"
assert by_memory.index[0] == "/api/activities/search", "the injected 180 ms make search the slowest"
if latency is not None:     # the API's answer, checked against the stored spans and the in-memory ones
    server_spans = stored[(stored["service"] == "backend-flask") & (stored["kind"] == "server")]
    by_pandas = server_spans.groupby("http_route")["duration_ms"].quantile(0.99)
    by_api = latency.set_index("http.route")["P99(duration_ms)"]
    assert np.allclose(by_api.sort_index(), by_pandas.sort_index(), rtol=1e-6), pd.concat([by_api, by_pandas], axis=1)
    assert np.allclose(by_api.sort_index(), by_memory["P99"].sort_index(), rtol=1e-6)
    assert latency.set_index("http.route")["COUNT"].sort_index().tolist() == by_memory["COUNT"].sort_index().tolist()
    assert latency["COUNT"].sum() == len(server_spans)
    assert latency.iloc[0]["http.route"] == "/api/activities/search", "the injected 180 ms make search the slowest"

# %% [markdown]
# ## 7. Your turn
#
# ### Your turn 1: a span of your own
# The search is slow. Write your own `SearchActivities` (same `run(self, data, term)` method, returning
# `data.search(term)`) that wraps the search in a span named `search-activities` with the attribute
# `app.search_term_length`. Then the next cell rebuilds the app with it and sends five searches. Try it first in
# the empty cell; the solution is in the collapsed cell below it (click the dots to open it).

# %%
# your SearchActivities here (the solution below defines it if you leave this empty)

# %% jupyter={"source_hidden": true}
class SearchActivities(services.SearchActivities):
    """Solution: a span around the (slow) search, with the term's length as an attribute."""

    def run(self, data, term):
        with tracer.start_as_current_span("search-activities") as span:
            span.set_attribute("app.search_term_length", len(term))
            return super().run(data, term)


# %%
app = services.create_backend_app(notifications.url, faults=faults, home_activities=HomeActivities(),
                                  search_activities=SearchActivities())
FlaskInstrumentor().instrument_app(app)
backend = services.serve_backend(app)
searches = [traffic.send("GET", backend.url + f"/api/activities/search?term={term}")
            for term in ("cloud", "aws", "week", "x", "honeycomb")]
provider.force_flush()
[r.status_code for r in searches]

# %% [markdown]
# ### Checkpoint: your span, graded

# %%
search_traces = {r.headers["traceresponse"].split("-")[1] for r in searches}
mine = [s for s in checkpoint_spans.get_finished_spans()
        if s.name == "search-activities" and f"{s.context.trace_id:032x}" in search_traces]
assert len(mine) == 5, f"expected one 'search-activities' span per search (5), found {len(mine)}: check the span name"
assert sorted(s.attributes.get("app.search_term_length") for s in mine) == [1, 3, 4, 5, 9], \
    "set app.search_term_length to len(term)"
parents = {s.parent.span_id for s in mine if s.parent}
servers = {s.context.span_id for s in checkpoint_spans.get_finished_spans() if s.name == "GET /api/activities/search"}
assert parents <= servers and len(parents) == 5, "start the span inside the request (start_as_current_span)"
assert min((s.end_time - s.start_time) / 1e6 for s in mine) >= 180, "the span must cover the slow search itself"

# %% [markdown]
# ### Your turn 2: a query of your own
# Which route has the most **errors** (server spans with `http.status_code` >= 500)? Write the Query Data API
# call: a `COUNT` broken down by `http.route`, filtered on `span.kind = server` and
# `http.status_code >= 500`, over `window`. Put the route with the most errors in `most_errors`. Without the
# Query Data API (`no_queries` says why), print its query template link and answer from `in_window` with pandas.

# %%
# errors = spans_q.query("backend-flask", ...)
# most_errors = ...

# %% jupyter={"source_hidden": true}
errors_spec = {
    "calculations": [{"op": "COUNT"}],
    "breakdowns": ["http.route"],
    "filters": [{"column": "span.kind", "op": "=", "value": "server"},
                {"column": "http.status_code", "op": ">=", "value": 500}],
    "orders": [{"op": "COUNT", "order": "descending"}],
    **window,
}
if no_queries is None:
    errors = spans_q.query("backend-flask", **errors_spec)
else:
    print("The same query in Honeycomb's UI:", spans_q.query_template_url("backend-flask", errors_spec, who))
    errors = (in_window[in_window["http.status_code"] >= 500].groupby("http.route").size().rename("COUNT")
              .sort_values(ascending=False).reset_index())
most_errors = errors.iloc[0]["http.route"]
errors

# %% [markdown]
# ### Checkpoint: your query, graded against the traffic you sent

# %%
by_client = requests_df[requests_df["status"] >= 500].groupby("route").size()
assert most_errors == by_client.idxmax(), f"the traffic says {by_client.idxmax()!r} failed most, not {most_errors!r}"
assert errors["COUNT"].sum() == len(requests_df[requests_df["status"] >= 500]), \
    "count every server span with http.status_code >= 500 (filter op '>=')"

# %% [markdown]
# ## 8. Your app.py now
#
# Everything above, as backend-flask's `app.py` (the workbook's `create_backend_app` stands for the bootcamp's
# routes). Running the cell writes it to `build/app_02.py`; a test runs that file as its own process against the
# local cloud and checks that its spans arrive, so this is code that works verbatim:
# `OTEL_SERVICE_NAME=backend-flask python build/app_02.py`.

# %%
Path("../build").mkdir(exist_ok=True)

# %%
# %%writefile ../build/app_02.py
"""backend-flask after notebook 02: OpenTelemetry traces to Honeycomb over OTLP/HTTP."""
import os
from datetime import datetime, timezone

from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.instrumentation.flask import FlaskInstrumentor
from opentelemetry.instrumentation.requests import RequestsInstrumentor
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

from lab_app.services import create_backend_app

# One provider per process; the exporter reads OTEL_EXPORTER_OTLP_ENDPOINT and OTEL_EXPORTER_OTLP_HEADERS
# (x-honeycomb-team=<key>), the resource reads OTEL_SERVICE_NAME.
provider = TracerProvider(resource=Resource.create())
provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
trace.set_tracer_provider(provider)
tracer = trace.get_tracer("home.activities")


class HomeActivities:
    def run(self, data, user):
        with tracer.start_as_current_span("home-activities-mock-data") as span:
            now = datetime.now(timezone.utc)
            span.set_attribute("app.now", now.isoformat())
            span.set_attribute("app.user", user)
            results = data.home(now)
            span.set_attribute("app.result_length", len(results))
            return results


app = create_backend_app(os.environ.get("NOTIFICATIONS_URL", "http://127.0.0.1:4568"),
                         home_activities=HomeActivities())
FlaskInstrumentor().instrument_app(app)
RequestsInstrumentor().instrument()

if __name__ == "__main__":
    app.run(host="127.0.0.1", port=int(os.environ.get("PORT", "4567")))

# %% [markdown]
# ### Checkpoint: the file is the lesson

# %%
written = Path("../build/app_02.py").read_text()
for call in ("TracerProvider(resource=Resource.create())", "BatchSpanProcessor(OTLPSpanExporter())",
             "trace.set_tracer_provider(provider)", "FlaskInstrumentor().instrument_app(app)",
             "RequestsInstrumentor().instrument()", 'start_as_current_span("home-activities-mock-data")'):
    assert call in written, call
backend.stop()
notifications.stop()

# %% [markdown]
# ## Summary
# - One `TracerProvider` per **process**, its resource's `service.name` from `OTEL_SERVICE_NAME` (Honeycomb's
#   dataset); `set_tracer_provider` works once, so a re-run keeps the first one.
# - `BatchSpanProcessor(OTLPSpanExporter())` reads the endpoint and the `x-honeycomb-team` header from the
#   environment; `SimpleSpanProcessor(ConsoleSpanExporter())` prints each span, for checking a set-up.
# - `FlaskInstrumentor` (server spans), `RequestsInstrumentor` (client spans + `traceparent`) and a custom span
#   from `tracer.start_as_current_span`; zero-code `opentelemetry-instrument` does the same for a service you
#   do not change.
# - A trace crosses processes through the `traceparent` header; the Query Data API and pandas agree.
#
# ## What's next
# [03 AWS X-Ray](03_aws_xray.ipynb): the same backend traced with the X-Ray SDK, its daemon, sampling rules and groups.
#
# ## Resources
# - OpenTelemetry Python, getting started and manual instrumentation: https://opentelemetry.io/docs/languages/python/
# - Zero-code instrumentation (`opentelemetry-instrument`, `opentelemetry-distro`):
#   https://opentelemetry.io/docs/zero-code/python/
# - OTLP exporter environment variables (`OTEL_EXPORTER_OTLP_ENDPOINT`, `_HEADERS`):
#   https://opentelemetry.io/docs/specs/otel/protocol/exporter/
# - "Only one TracerProvider can be set" (`set_tracer_provider`): https://opentelemetry-python.readthedocs.io/en/latest/api/trace.html
# - Honeycomb: send data with OpenTelemetry Python: https://docs.honeycomb.io/send-data/python/opentelemetry-sdk/
# - Honeycomb Query Data API (Enterprise; configuration key): https://docs.honeycomb.io/api/query-results/
# - Honeycomb `GET /1/auth`: https://docs.honeycomb.io/api/auth/
# - Honeycomb environments and API keys (a key belongs to one environment; datasets from `service.name`):
#   https://docs.honeycomb.io/configure/environments/ and https://docs.honeycomb.io/configure/environments/manage-api-keys/

# %% [markdown]
# <!-- navigation -->
# ← Previous: [The Cruddur services: an API worth tracing](01_cruddur_services.ipynb) · [Start here](00_start_here.ipynb) · Next: [AWS X-Ray: segments, filter expressions, the service map and sampling](03_aws_xray.ipynb) →
