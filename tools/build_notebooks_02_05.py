"""Builds notebooks/02_opentelemetry_honeycomb.ipynb and notebooks/05_rollbar.ipynb.

    .venv/bin/python tools/build_notebooks_02_05.py
"""
from nbbuild import code, md, write

NB02 = [
md("""
# OpenTelemetry and Honeycomb: one trace across two services

The bootcamp's Week 2 starts here: instrument **backend-flask** with OpenTelemetry, watch spans appear on the
console, then ship them over OTLP to Honeycomb. You will follow one user request from the Flask API into the
downstream **notifications** service and back, and answer latency questions with Honeycomb's query API and pandas.
"""),
md("""
## Overview
1. Console spans: see what a span is before sending it anywhere
2. The key check: which Honeycomb team and environment your key belongs to
3. OTLP export, traffic, and the check that every request produced a trace
4. Per-route percentiles with Honeycomb's Query Data API
5. One request's span tree across both services
6. A heatmap like Honeycomb's
"""),
md("""
## Prerequisites

| Concept | Importance | Notes |
| --- | --- | --- |
| [01 the Cruddur services](01_cruddur_services.ipynb) | Necessary | the two services and the traffic generator |
| Percentiles | Necessary | p50 / p95 / p99 |
| OpenTelemetry vocabulary | Helpful | trace, span, parent, resource, exporter |

- **Time to learn**: 30 minutes
"""),
md("## Imports"),
code("""
from lab_app.notebook import setup
from lab_app import services, traffic
from lab_app.services import Faults
from lab_app.instrument import otel
from lab_app.query import spans
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import requests
import time
"""),
code("lab = setup()"),
md("""
## 1. Console spans first

A **span** is one timed operation with a name, attributes and a parent. The simplest exporter prints each
finished span: the seed's `SimpleSpanProcessor(ConsoleSpanExporter())`. `otel.console()` adds it once, however
often you run the cell (the process has a single `TracerProvider`; re-adding processors would print every span
twice). We also keep an in-memory copy of every span for the checkpoints.
"""),
code("""
otel.console()
sink = otel.memory()
sink.clear()
with otel.tracer("lesson").start_as_current_span("hello-otel") as span:
    span.set_attribute("app.step", 1)
"""),
md("""
Now the services. `otel.instrument_app` is an *instrumenter*: `services.start` applies it to each Flask app
before it serves. It adds Flask server spans, `requests` client spans for the backend's call to notifications,
W3C `traceparent` propagation between them, and the seed's custom span (`home-activities-mock-data` with the
`app.user` attribute) inside the home timeline code.

Why does each service get **its own** `TracerProvider`? Honeycomb puts spans into a *dataset* named after the
resource attribute `service.name`, and a provider has exactly one resource. Two services in one process need
two providers to land in two datasets (`backend-flask` and `notifications`).
"""),
code("""
stack = services.start(instrument=[otel.instrument_app])
home = requests.get(stack.backend_url + "/api/activities/home")
home.status_code, home.headers["traceresponse"]
"""),
md("### Checkpoint: a server span with the custom span inside it"),
code("""
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
"""),
md("""
## 2. The key check

The seed's first Honeycomb step was confirming the key: Honeycomb's `GET /1/auth` answers with the team and
environment the key belongs to. Locally the stand-in answers the same way; with `LAB_MODE=aws` and your own
`HONEYCOMB_API_KEY` in `.env`, the same cell asks Honeycomb.
"""),
code("""
who = spans.whoami()
pd.DataFrame([{"team": who["team"]["name"], "environment": who["environment"]["name"],
               "can query": who.get("api_key_access", {}).get("queries")}])
"""),
code("""
assert who["team"]["slug"] and who["environment"]["slug"]
"""),
md("""
## 3. Export over OTLP and generate traffic

`otel.otlp()` adds a `BatchSpanProcessor` with the OTLP/HTTP exporter. It reads the same variables the exporter
documents: `OTEL_EXPORTER_OTLP_ENDPOINT` and `OTEL_EXPORTER_OTLP_HEADERS` (`x-honeycomb-team=<key>`), which
`setup()` pointed at the local stand-in. We restart the services with the workbook's standard faults: a slow
search, a flaky notifications service, and a route with a bug.
"""),
code("""
otel.otlp()
stack = services.start(instrument=[otel.instrument_app], faults=Faults.lesson())
time.sleep(1.05 - time.time() % 1)  # start on a fresh second: the query window below is in whole seconds
started = int(time.time())
requests_df = traffic.generate(stack.backend_url, n=600, concurrency=8, seed=2, progress=False)
otel.force_flush()
traffic.route_summary(requests_df)
"""),
md("""
`spans.local_spans()` reads every span the **local** stand-in stored in a time range into a DataFrame (Honeycomb
itself has no "download every span" API; against it you use the query API of section 4).
"""),
code("""
stored = spans.local_spans(start=started, end=time.time() + 1)
stored[["service", "name", "kind", "trace_id", "span_id", "parent_id", "duration_ms", "http_status_code"]].head()
"""),
md("### Checkpoint: every generated request produced a trace"),
code("""
roots = stored[stored["parent_id"].isna()]
assert requests_df["otel_trace_id"].notna().all(), "every response carries a traceresponse header"
assert len(roots) == len(requests_df), (len(roots), len(requests_df))
assert set(roots["trace_id"]) == set(requests_df["otel_trace_id"])
assert set(roots["service"]) == {"backend-flask"} and set(roots["kind"]) == {"server"}
assert set(stored["dataset"]) == {"backend-flask", "notifications"}
"""),
md("""
## 4. Per-route percentiles with the Query Data API

Honeycomb's API runs a query in three steps: create the query spec (`POST /1/queries/<dataset>`), run it
(`POST /1/query_results/<dataset>`), read the result. `spans.query` does the three and returns a DataFrame.
"""),
code("""
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
"""),
md("""
### Checkpoint: the API agrees with pandas, and the slow route is on top
The same percentiles computed from the raw spans with pandas must match, and the injected 180 ms of search latency
must put `/api/activities/search` first.
"""),
code("""
server_spans = stored[(stored["dataset"] == "backend-flask") & (stored["kind"] == "server")]
by_pandas = server_spans.groupby("http_route")["duration_ms"].quantile(0.99)
by_api = latency.set_index("http.route")["P99(duration_ms)"]
assert np.allclose(by_api.sort_index(), by_pandas.sort_index(), rtol=1e-6), pd.concat([by_api, by_pandas], axis=1)
assert latency["COUNT"].sum() == len(requests_df)
assert latency.iloc[0]["http.route"] == "/api/activities/search"
"""),
md("""
## 5. One request, two services

Pick a request to `GET /api/activities/notifications`: the backend's server span, its client span calling
notifications, the notifications server span (a child *in another service*, joined by the W3C `traceparent`
header), and the custom spans inside each.
"""),
code("""
cross = requests_df[requests_df["route"] == "/api/activities/notifications"]
tree = spans.span_tree(stored, cross["otel_trace_id"].iloc[0])
tree[["label", "service", "kind", "duration_ms"]]
"""),
md("### Checkpoint: cross-service traces link parent and child"),
code("""
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
"""),
md("""
## 6. A heatmap like Honeycomb's

Honeycomb's HEATMAP shows time across and duration up, colour for how many spans fell in each cell. Bands
appear: the fast routes at the bottom, the slow search route as a separate band near 200 ms.
"""),
code("""
x = (server_spans["start_time"] - server_spans["start_time"].min()).dt.total_seconds()
y = server_spans["duration_ms"].clip(lower=0.1)
counts, xedges, yedges = np.histogram2d(x, np.log10(y), bins=(30, 30))
fig, ax = plt.subplots(figsize=(8, 4))
mesh = ax.pcolormesh(xedges, 10 ** yedges, counts.T, cmap="viridis")
ax.set_yscale("log"); ax.set_xlabel("seconds since the first request"); ax.set_ylabel("duration (ms)")
ax.set_title("HEATMAP(duration_ms), backend-flask server spans")
fig.colorbar(mesh, ax=ax, label="spans")
plt.show()
"""),
code("""
assert counts.sum() == len(server_spans)
stack.stop()
"""),
md("""
## Summary
- One `TracerProvider` per **service** (resource `service.name` = Honeycomb dataset), exporters added once.
- Console first, then OTLP with the `x-honeycomb-team` header; `force_flush()` before reading anything back.
- W3C `traceparent` joins the backend and notifications into one trace; `traceresponse` tells the client the id.
- Honeycomb's Query Data API (create, run, read) gives per-route percentiles; raw spans in pandas give trees and
  heatmaps, and both agree.

## What's next
[03 AWS X-Ray](03_aws_xray.ipynb): the same services traced with the X-Ray SDK, daemon, sampling rules and groups.
"""),
]

NB05 = [
md("""
# Rollbar: errors grouped into items you can count

Traces tell you *where* time goes; an error tracker tells you *what broke*, how often, and since when. This
notebook wires Rollbar into backend-flask the Flask 3 way, triggers the seed's `/rollbar/test` message, an
unhandled exception and a handled one, and reads Rollbar's items and occurrences back into pandas.
"""),
md("""
## Overview
1. Set-up: token, endpoint, environment, and why `before_first_request` is gone
2. `/rollbar/test`: a message
3. Unhandled errors from traffic with an injected bug
4. A handled error
5. Items and occurrences in pandas
"""),
md("""
## Prerequisites

| Concept | Importance | Notes |
| --- | --- | --- |
| [01 the Cruddur services](01_cruddur_services.ipynb) | Necessary | fault injection, the traffic generator |
| Python exceptions and tracebacks | Necessary | what a frame is |
| Rollbar vocabulary | Helpful | item = a group of occurrences with the same fingerprint |

- **Time to learn**: 20 minutes
"""),
md("## Imports"),
code("""
from lab_app.notebook import setup
from lab_app import services, traffic
from lab_app.services import Faults
from lab_app.instrument import rollbar as rollbar_setup
from lab_app.query import rollbar as rb
import pandas as pd
import requests
"""),
code("lab = setup()"),
md("""
## 1. Set-up

The seed initialised Rollbar in `@app.before_first_request`. Flask 2.3 removed that hook and Flask 3 raises
`AttributeError`, so `rollbar_setup.init()` runs once before the app serves, and `instrument_app` connects Flask's
`got_request_exception` signal for each app (what `rollbar.contrib.flask` does). The token comes from
`ROLLBAR_ACCESS_TOKEN`, the endpoint from `ROLLBAR_ENDPOINT` (locally, the stand-in on the AWS port).

Delivery is made **deterministic** for notebooks: the SDK's default `thread` handler sends in the background, so a
cell reading items right after an error could miss it. We use the `blocking` handler, and `flush()` before reading.
"""),
code("""
settings = rollbar_setup.init()
settings
"""),
code("""
ENV = settings["environment"]
faults = Faults.lesson()
stack = services.start(instrument=[rollbar_setup.instrument_app], faults=faults)
before = rb.occurrence_counts(environment=ENV)
"""),
md("""
## 2. `/rollbar/test`

The seed's smoke test reports one `warning`-level message, "Hello World!".
"""),
code("""
answer = requests.get(stack.backend_url + "/rollbar/test")
rollbar_setup.flush()
answer.status_code, answer.text
"""),
md("""
## 3. Unhandled errors

`Faults.lesson()` makes `GET /api/message_groups` raise an `InjectedException` in 20 % of requests (a stand-in for
a real bug). Flask turns each into a 500, and the signal hands it to Rollbar with the request attached.
"""),
code("""
requests_df = traffic.generate(stack.backend_url, n=400, concurrency=4, seed=5, progress=False)
rollbar_setup.flush()
injected = faults.counts["backend-flask:GET /api/message_groups"]["exceptions"]
server_errors = int((requests_df["status"] == 500).sum())
injected, server_errors
"""),
md("""
## 4. A handled error

Code that catches an exception can still report it. Here a lookup of an unknown user fails with 404; the caller
handles it and reports it at `warning` level, with context in `custom`.
"""),
code("""
try:
    requests.get(stack.backend_url + "/api/activities/@nobody").raise_for_status()
except requests.HTTPError as exc:
    rollbar_setup.report_handled(exc, level="warning", lookup="@nobody")
rollbar_setup.flush()
"""),
md("""
## 5. Items and occurrences in pandas

An **item** groups occurrences with the same fingerprint: the exception class and where it was raised, or the
message text. Counting what is new since the start of this notebook keeps the checkpoint right when you re-run it.
"""),
code("""
items = rb.items(environment=ENV)
items[["counter", "title", "level", "total_occurrences", "first_seen", "last_seen"]]
"""),
code("""
new = rb.occurrence_counts(environment=ENV).sub(before, fill_value=0).astype(int)
new = new[new > 0]
new
"""),
code("""
bug = items[items["title"].str.startswith("InjectedException")].iloc[0]
occurrences = rb.occurrences(bug["id"])
occurrences[["timestamp", "exception_class", "request_method", "request_url", "top_frame"]].head()
"""),
md("### Checkpoint: the counts equal the errors injected"),
code("""
injected_titles = [t for t in new.index if t.startswith("InjectedException")]
assert injected > 0 and server_errors == injected
assert len(injected_titles) == 1 and new[injected_titles[0]] == injected
assert new["Hello World!"] == 1
handled = [t for t in new.index if t.startswith("HTTPError")]
assert len(handled) == 1 and new[handled[0]] == 1
assert len(new) == 3, new  # nothing else went wrong
assert (occurrences["request_url"].str.endswith("/api/message_groups")).all()
levels = items.groupby("title")["level"].agg(set)  # one title can be several items (other code paths, other checkouts)
assert levels["Hello World!"] == {"warning"} and levels[injected_titles[0]] == {"error"}
stack.stop()
"""),
md("""
## Summary
- Flask 3: `rollbar.init` once before serving, `got_request_exception.connect(...)` per app.
- Deterministic delivery (`blocking` handler, `flush()` before reading) makes error counts checkable.
- Rollbar groups occurrences into items by exception class and location (or message text); the read API gives
  items and their occurrences, which pandas counts and compares with what was injected.

## What's next
[06 correlate the pillars](06_correlate.ipynb): join spans, segments, logs and errors by trace id.
"""),
]


if __name__ == "__main__":
    write("notebooks/02_opentelemetry_honeycomb.ipynb", NB02)
    write("notebooks/05_rollbar.ipynb", NB05)
