"""Builds notebooks/06_correlate_the_pillars.ipynb and notebooks/07_sampling_and_cost.ipynb.

    .venv/bin/python tools/build_notebook_06_07.py
"""
from nbbuild import code, md, write

NB06 = [
md("""
# Correlate the pillars: one request across spans, segments, logs and errors

Notebooks 02 to 05 switched on one instrument at a time. Real incidents do not arrive that way: a user says
"the app is slow and sometimes broken", and you have four tools that each saw part of it. Here all four run
at once, on traffic with faults injected where the code you read does not show them, and you answer two
questions **from the data alone**: which route is slow, and which dependency fails. Then you move the same
services from the X-Ray SDK to OpenTelemetry, still landing in X-Ray.
"""),
md("""
## Overview
1. One traffic run with OpenTelemetry, X-Ray, CloudWatch Logs and Rollbar all on
2. The join key: trace ids, reduced to 32 hex digits
3. One failing request, side by side in the four tools
4. Find the slow route and the failing dependency from the data
5. A latency heatmap, error rate by route, and two service maps
6. From the X-Ray SDK to OpenTelemetry: X-Ray's OTLP endpoint
"""),
md("""
## Prerequisites

| Concept | Importance | Notes |
| --- | --- | --- |
| [02 OpenTelemetry + Honeycomb](02_opentelemetry_honeycomb.ipynb) | Necessary | spans, trace ids, `traceresponse` |
| [03 AWS X-Ray](03_aws_xray.ipynb) | Necessary | segments, subsegments, annotations, the service graph |
| [04 CloudWatch Logs](04_cloudwatch_logs.ipynb), [05 Rollbar](05_rollbar.ipynb) | Helpful | access logs with trace ids, occurrences |
| pandas `merge` / `groupby` | Necessary | |

- **Time to learn**: 30 minutes
- Runs in local mode as is. In cloud mode every query below is the real API, except
  `spans.local_spans`: Honeycomb has no "export every span" API, so raw spans come from the local stand-in.
"""),
md("## Imports"),
code("""
from lab_app.notebook import setup
from lab_app import localcloud, services, traffic
from lab_app.services import Faults
from lab_app.instrument import cloudwatch, otel, otel_xray, rollbar, trace_context, xray
from lab_app.query import insights, rollbar as rollbar_q, spans as spans_q, xray as xq
from lab_app.analysis import correlate, plots
import matplotlib.pyplot as plt
import pandas as pd
"""),
code("""
lab = setup()
lab
"""),
md("""
## 1. One traffic run, four instruments

The stack runs with the workbook's *lesson* faults. We do not print them: the point is to find them from what
the tools recorded, the way you would in production. The injected settings are read once, in the checkpoint of
section 4.

`trace_context.instrument_app` adds the request's trace ids to every Rollbar report (Rollbar's payload knows
the request, not the trace); the CloudWatch access logs already carry them (notebook 04).
"""),
code("""
otel_xray.uninstrument()              # section 6 of an earlier run switches OTel to X-Ray: switch it back
otel.otlp()                           # spans to Honeycomb (the local stand-in in local mode)
xray.configure(sampling=False)        # the X-Ray SDK records every request
rollbar.init()
stack = services.start(instrument=[otel.instrument_app, xray.instrument_app, cloudwatch.instrument_app,
                                   rollbar.instrument_app, trace_context.instrument_app],
                       faults=Faults.lesson())
stack
"""),
code("""
window_start = pd.Timestamp.now(tz="UTC")  # earlier requests stay outside the window
run = traffic.generate(stack.backend_url, n=300, concurrency=8, seed=6)
otel.force_flush(); cloudwatch.flush(); rollbar.flush()
window_end = pd.Timestamp.now(tz="UTC") + pd.Timedelta(seconds=2)
run[["seq", "route", "status", "latency_ms", "request_id", "otel_trace_id", "xray_trace_id"]].head()
"""),
md("""
Each row is one request as the client saw it, with the two trace ids the services answered with:
`traceresponse` (OpenTelemetry, W3C) and `X-Amzn-Trace-Id` (X-Ray). Two tracers, two ids for the same request.

## 2. The join key

Now pull what each tool stored for this window, through each tool's own API:
"""),
code("""
xq.wait_for_traces(run["xray_trace_id"].dropna(), timeout=20)    # X-Ray indexes asynchronously
spans = spans_q.local_spans(window_start, window_end)              # every span (local stand-in)
summaries = xq.trace_summaries(start=window_start, end=window_end)
segments = xq.segments(summaries["trace_id"])                      # BatchGetTraces: segments + subsegments
logs = insights.filter_events("cruddur", start=window_start, end=window_end)
occurrences = rollbar_q.all_occurrences()
occurrences = occurrences[occurrences["timestamp"] >= window_start.floor("s")]
pd.Series({"requests": len(run), "spans": len(spans), "X-Ray segments": len(segments),
           "log lines": len(logs), "Rollbar occurrences": len(occurrences)})
"""),
md("""
The ids come in different spellings: OpenTelemetry writes `6b0684bf...` (32 hex digits), X-Ray writes
`1-6b0684bf-...` (version, 8 hex digits of time, 24 more), log lines and Rollbar payloads embed either inside
text. `correlate` reduces every spelling to the 32 hex digits and finds every id mentioned anywhere in a row,
so the join is an ordinary pandas merge. One more step matters: a request that crashed got no
`X-Amzn-Trace-Id` answer, but the Rollbar report made *inside* it carries both ids, so an id seen next to one of
the request's ids joins the request too (`correlate.expand_keys`).
"""),
code("""
correlate.normalize_trace_id("1-5759e988-bd862e3fe1be46a994272793"), correlate.xray_id("5759e988bd862e3fe1be46a994272793")
"""),
code("""
per_request = correlate.by_request(run, spans=spans, segments=segments, logs=logs, occurrences=occurrences)
per_request.head(10)
"""),
md("### Checkpoint: every request is in every tool that should have it"),
code("""
assert (per_request["n_spans"] >= 1).all(), "a request without a span"
assert (per_request["n_logs"] >= 1).all(), "a request without an access log line"
has_xray = run["xray_trace_id"].notna()
assert (per_request.loc[has_xray, "n_segments"] >= 1).all(), "an X-Ray trace id with no segments"
crashed = per_request["status"] == 500
assert crashed.any() and (per_request.loc[crashed, "n_occurrences"] >= 1).all(), "a 500 without its Rollbar item"
assert (per_request.loc[crashed, "n_segments"] >= 1).all(), "a crashed request not linked to its X-Ray trace"
"""),
md("""
## 3. One failing request, side by side

A request that crashed (HTTP 500): its spans, its segments, its two access-log lines and its Rollbar
occurrence, in time order. The Rollbar timestamp has one-second resolution, so it sorts first.
"""),
code("""
crashed_seq = int(per_request.loc[crashed, "seq"].iloc[0])
crash_view = correlate.evidence(crashed_seq, run, spans=spans, segments=segments, logs=logs, occurrences=occurrences)
crash_view
"""),
md("""
And a request that failed *downstream* (the backend answered 502 because the `notifications` service did not
answer properly). Here the interesting rows are in the second service: the trace crosses the process boundary.
"""),
code("""
flaky_seq = int(per_request.loc[per_request["status"] == 502, "seq"].iloc[0])
flaky_view = correlate.evidence(flaky_seq, run, spans=spans, segments=segments, logs=logs, occurrences=occurrences)
flaky_view
"""),
md("### Checkpoint: the four sources agree on the failing requests"),
code("""
assert set(crash_view["source"]) == {"span", "segment", "log", "rollbar"}
assert "InjectedException" in " ".join(crash_view.loc[crash_view["source"] == "rollbar", "what"])
assert {"backend-flask", "notifications"} <= set(flaky_view.loc[flaky_view["source"] == "span", "service"])
assert {"span", "segment", "log"} <= set(flaky_view["source"])
"""),
md("""
## 4. Find the slow route and the failing dependency

Three questions, three small `groupby`s over the spans; each answer double-checked from X-Ray:

* **slow**: server spans per route, median duration, and how many times slower than the service's typical route;
* **failing dependency**: server spans of one service whose parent span belongs to *another* service are calls
  into a dependency; their error rate per route;
* **crashing code**: server spans that recorded an `exception` event.
"""),
code("""
slow = correlate.slow_routes(spans, service="backend-flask")
slow.head()
"""),
code("""
dependencies = correlate.failing_dependencies(spans)
dependencies
"""),
code("""
dependencies_xray = correlate.failing_dependencies_xray(segments)   # the same question from X-Ray's segment tree
dependencies_xray
"""),
code("""
crashes = correlate.exception_routes(spans, service="backend-flask")
crashes
"""),
md("""
### Checkpoint: what the data says is what was injected

Only now do we read the injected settings (`stack.faults.rules`, keys `service:METHOD route`).
"""),
code("""
injected = stack.faults.rules
slowest, dependency, crash = slow.iloc[0], dependencies.iloc[0], crashes.iloc[0]
found = {
    f"{slowest['service']}:{slowest['http_method']} {slowest['http_route']}": "latency",
    f"{dependency['dependency']}:{dependency['http_method']} {dependency['http_route']}": "errors",
    f"{crash['service']}:{crash['http_method']} {crash['http_route']}": "exceptions",
}
print(found)
assert set(found) == set(injected), (found, list(injected))
inverse = {kind: key for key, kind in found.items()}
assert injected[inverse["latency"]].latency_ms > 0 and slowest["slowdown"] > 5
assert injected[inverse["errors"]].error_rate > 0 and 0 < dependency["error_rate"] < 1
assert injected[inverse["exceptions"]].exception_rate > 0 and crash["exception_type"].endswith("InjectedException")
assert dependencies_xray.iloc[0]["dependency"] == dependency["dependency"]   # X-Ray agrees
"""),
md("""
## 5. Heatmap, error rate by route, two service maps

Honeycomb's signature view is a heatmap: time across, latency up, colour for how many requests. The slow
search shows as its own band above everyone else.
"""),
code("""
heat = correlate.latency_heatmap(run, bins=24, freq="250ms")
plots.heatmap(heat, title="backend-flask latency as the client saw it (requests per cell)")
plt.show()
"""),
code("""
rates = correlate.error_rate_by_route(spans)
ax = rates.assign(label=rates["service"] + " " + rates["http_route"]).plot.barh(
    x="label", y="error_rate", legend=False, figsize=(8, 4), title="5xx share by route (server spans)")
ax.invert_yaxis()
plt.show()
"""),
md("""
Two service maps of the same traffic: the one X-Ray computes (`GetServiceGraph`) and one built from the OTel
spans with a `groupby` (a server span whose parent belongs to another service is an edge).
"""),
code("""
xray_graph = xq.service_graph_nx(start=window_start, end=window_end)
otel_edges = correlate.service_edges(spans)
otel_graph = plots.graph_from_edges(otel_edges)
fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
plots.service_map(xray_graph, ax=left, title="X-Ray GetServiceGraph", calls_key="requests", failed_key="faults")
plots.service_map(otel_graph, ax=right, title="built from OpenTelemetry spans", calls_key="calls", failed_key="failed")
plt.show()
otel_edges
"""),
md("### Checkpoint: both maps show the failing edge"),
code("""
assert xray_graph.has_edge("backend-flask", "notifications")
assert otel_graph.has_edge("backend-flask", "notifications")
assert xray_graph.edges["backend-flask", "notifications"]["faults"] > 0
assert otel_graph.edges["backend-flask", "notifications"]["failed"] == int(dependencies["failed"].sum())
assert heat.to_numpy().sum() == len(run)
"""),
md("""
## 6. From the X-Ray SDK to OpenTelemetry

The X-Ray SDKs and daemon are in maintenance mode; AWS's way forward is OpenTelemetry, exporting OTLP straight
to X-Ray's OTLP endpoint, `https://xray.<region>.amazonaws.com/v1/traces` (SigV4-signed, service `xray`).
X-Ray turns the spans into segments itself. What you used in notebook 03 maps like this:

| X-Ray SDK | OpenTelemetry | what X-Ray makes of it |
| --- | --- | --- |
| segment (`XRayMiddleware`) | server span (`FlaskInstrumentor`) | a segment, named after the service |
| subsegment (`in_subsegment`) | internal span | a subsegment |
| remote subsegment (`patch(("requests",))`) | client span (`RequestsInstrumentor`) | a subsegment with `namespace: remote` |
| annotation (`put_annotation`), indexed | attribute listed in `aws.xray.annotations` (an *indexed attribute*) | `annotations`, usable in filter expressions |
| metadata (`put_metadata`) | any other attribute | `metadata.default`, not searchable |
| sampling rule (centralized, via the daemon) | sampler (`ParentBased(TraceIdRatioBased(...))`) | what reaches X-Ray at all (notebook 07) |
| `X-Amzn-Trace-Id` header | `AwsXRayPropagator` (next to W3C `traceparent`) | one trace across services |
| `1-5759e988-bd86...` ids | `AwsXRayIdGenerator`: the start time in the first 32 bits | the same id, spelled `1-xxxxxxxx-...` |
| UDP to the daemon on port 2000 | OTLP/HTTP to `/v1/traces`, SigV4 | |

`otel_xray.instrument_app` is notebook 02's OpenTelemetry set-up with three changes: X-Ray ids, the X-Ray
propagator, and a second exporter signed with SigV4. In local mode the endpoint is the local cloud's AWS port,
which converts spans to segments the way AWS documents it.
"""),
code("""
print("OTLP endpoint:", otel_xray.endpoint())
otel_start = pd.Timestamp.now(tz="UTC") - pd.Timedelta(seconds=1)
stack = services.start(instrument=[otel_xray.instrument_app], faults=Faults.lesson())
otel_run = traffic.generate(stack.backend_url, n=120, concurrency=4, seed=8)
otel_xray.flush()
otel_end = pd.Timestamp.now(tz="UTC") + pd.Timedelta(seconds=2)
otel_ids = otel_run["otel_trace_id"].dropna().map(correlate.xray_id)
otel_summaries = xq.wait_for_traces(otel_ids, timeout=20)
otel_summaries[["trace_id", "start_time", "duration_ms", "http_url", "http_status", "has_fault", "annotations"]].head()
"""),
code("""
calls_down = (otel_run["method"] == "GET") & (otel_run["route"] == "/api/activities/notifications")
one = xq.segments([correlate.xray_id(otel_run.loc[calls_down, "otel_trace_id"].dropna().iloc[0])])
one[["service", "kind", "name", "namespace", "offset_ms", "duration_ms", "annotations"]]
"""),
code("""
home = otel_run[(otel_run["route"] == "/api/activities/home") & (otel_run["status"] == 200)].iloc[0]
user = home["user"]
by_user = xq.trace_summaries(start=otel_start, end=otel_end, filter_expression=f'annotation.app_user = "{user}"')
otel_nodes, otel_graph_edges = xq.service_graph(start=otel_start, end=otel_end)
otel_graph_edges
"""),
md("### Checkpoint: OpenTelemetry spans became X-Ray segments"),
code("""
assert set(otel_summaries["trace_id"]) == set(otel_ids)               # same ids, X-Ray spelling
started = otel_run.set_index(otel_run["otel_trace_id"].map(correlate.xray_id))["started_at"]
drift = (otel_summaries["trace_id"].map(lambda t: int(t[2:10], 16)) - otel_summaries["trace_id"].map(started).map(pd.Timestamp.timestamp)).abs()
assert (drift < 5).all(), "AwsXRayIdGenerator puts the start time in the id"
assert {"backend-flask", "notifications"} <= set(otel_nodes["service"])
assert ((otel_graph_edges["source"] == "backend-flask") & (otel_graph_edges["target"] == "notifications")).any()
assert correlate.xray_id(home["otel_trace_id"]) in set(by_user["trace_id"])   # an OTel attribute, filterable
assert "remote" in set(one["namespace"].dropna())                      # the client span is a remote subsegment
"""),
code("""
stack.stop()
otel_xray.uninstrument()
(localcloud.status() or {}).get("components", {}).get("xray-otlp")
"""),
md("""
## Summary

- A request is one row in the traffic frame and many rows across the tools; trace ids (in every spelling) and
  the request id are the keys that join them, and an id seen next to a known one extends the join.
- The slow route, the failing dependency and the crashing route fell out of three `groupby`s over spans, and
  X-Ray's segment tree and service graph agreed.
- OpenTelemetry with the X-Ray id generator and propagator sends the same services to X-Ray's OTLP endpoint;
  server spans become segments, client spans remote subsegments, indexed attributes annotations.

## What's next

[07 Sampling and cost](07_sampling_and_cost.ipynb): everything above traced every request. What would that cost
at real traffic, and which sampling strategy keeps the evidence you just used?

## Resources
- AWS: [X-Ray OTLP endpoint](https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch-OTLPEndpoint.html),
  [segment documents](https://docs.aws.amazon.com/xray/latest/devguide/xray-api-segmentdocuments.html)
- OpenTelemetry collector: [AWS X-Ray exporter, data conversion](https://github.com/open-telemetry/opentelemetry-collector-contrib/tree/main/exporter/awsxrayexporter)
- [opentelemetry-sdk-extension-aws](https://pypi.org/project/opentelemetry-sdk-extension-aws/),
  [opentelemetry-propagator-aws-xray](https://pypi.org/project/opentelemetry-propagator-aws-xray/)
"""),
]


NB07 = [
md("""
# Sampling and cost: what each strategy keeps, and what it costs

Notebook 06 traced every request and found the faults. Tracing everything has a price that grows with traffic:
X-Ray bills each recorded trace, CloudWatch Logs each ingested GB, Honeycomb each span, Rollbar each
occurrence. This notebook measures what one request produces, turns it into a monthly bill at a traffic level
you choose, and replays several sampling strategies on the same traffic to see what each one would have hidden.
"""),
md("""
## Overview
1. One traffic run with every instrument on
2. Measure per request: spans, segments, log bytes, Rollbar occurrences
3. The cost model: your traffic level, the price list, the free tiers
4. Sampling strategies replayed on the same traffic
5. Cost against the faults each strategy still shows
"""),
md("""
## Prerequisites

| Concept | Importance | Notes |
| --- | --- | --- |
| [06 Correlate the pillars](06_correlate_the_pillars.ipynb) | Necessary | the faults and how they were found |
| [03 AWS X-Ray](03_aws_xray.ipynb), sampling rules | Necessary | reservoir + fixed rate |
| Head vs tail sampling | Helpful | decided at the first span vs after the request finished |

- **Time to learn**: 30 minutes
"""),
md("## Imports"),
code("""
from lab_app.notebook import setup
from lab_app import services, traffic
from lab_app.services import Faults
from lab_app.instrument import cloudwatch, otel, otel_xray, rollbar, trace_context, xray
from lab_app.query import insights, rollbar as rollbar_q, spans as spans_q, xray as xq
from lab_app.analysis import correlate, cost, plots, sampling
import math
import matplotlib.pyplot as plt
import pandas as pd
"""),
code("""
lab = setup()
lab
"""),
md("""
## 1. One traffic run

The same four instruments and the same lesson faults as in notebook 06 (a different seed for the traffic).
"""),
code("""
otel_xray.uninstrument()
otel.otlp()
xray.configure(sampling=False)
rollbar.init()
stack = services.start(instrument=[otel.instrument_app, xray.instrument_app, cloudwatch.instrument_app,
                                   rollbar.instrument_app, trace_context.instrument_app],
                       faults=Faults.lesson())
window_start = pd.Timestamp.now(tz="UTC")  # earlier requests stay outside the window
run = traffic.generate(stack.backend_url, n=400, concurrency=8, seed=7)
otel.force_flush(); cloudwatch.flush(); rollbar.flush()
window_end = pd.Timestamp.now(tz="UTC") + pd.Timedelta(seconds=2)
traffic.route_summary(run)
"""),
md("""
## 2. Measure per request

Each tool's own API says how much this run produced: spans stored by the Honeycomb stand-in, segments and
subsegments X-Ray returns, the bytes of every log event, the Rollbar occurrences.
"""),
code("""
xq.wait_for_traces(run["xray_trace_id"].dropna(), timeout=20)
spans = spans_q.local_spans(window_start, window_end)
segments = xq.segments(xq.trace_summaries(start=window_start, end=window_end)["trace_id"])
logs = insights.filter_events("cruddur", start=window_start, end=window_end)
occurrences = rollbar_q.all_occurrences()
occurrences = occurrences[occurrences["timestamp"] >= window_start.floor("s")]
log_bytes = int(logs["message"].map(lambda m: len(m.encode("utf-8"))).sum())
per_request = cost.measure(requests=len(run), spans=len(spans), segments=len(segments), log_bytes=log_bytes,
                           occurrences=len(occurrences))
per_request.to_frame()
"""),
md("### Checkpoint: the measurements add up"),
code("""
assert per_request.requests == 400
assert 1 <= per_request.spans <= 8 and 1 <= per_request.segments <= 8
assert per_request.spans * 400 == len(spans) and per_request.log_bytes * 400 == log_bytes
# two access-log lines (JSON + text) per request per service; the downstream adds its own
assert len(logs) >= 2 * len(run)
assert 0 < per_request.rollbar_occurrences < 0.2
"""),
md("""
## 3. The cost model

Prices and free tiers live in `data/pricing.json`, each with its source page and the date it was read.
**Prices and free tiers change**: check the sources before you quote a number. Items marked `confirmed = False`
could not be re-read from the vendor's page when the file was written.
"""),
code("""
prices = cost.pricing_table()
prices[["service", "item", "plan", "unit", "usd_per_unit", "included_per_month", "usd_per_month", "confirmed", "read_on", "source"]]
"""),
md("""
Set the traffic level you want to plan for. Everything else (spans, segments, bytes, errors per request) is
what you just measured; the X-Ray console and Logs Insights usage are assumptions you can change too
(`cost.Usage` lists them).
"""),
code("""
REQUESTS_PER_SECOND = 20          # <- your traffic level
usage = cost.Usage.from_measurements(per_request, requests_per_second=REQUESTS_PER_SECOND)
estimate = cost.estimate(usage)
unpriced = estimate.loc[estimate["cost_usd"].isna(), "service"].tolist()
print(f"{usage.requests_per_month:,.0f} requests a month; ${cost.total(estimate):,.2f} a month"
      + (f" plus {', '.join(unpriced)} beyond the largest plan in the price list" if unpriced else ""))
estimate[["service", "item", "unit", "usage", "free_tier", "billable", "usd_per_unit", "plan", "cost_usd", "within_free_tier"]]
"""),
code("""
plots.cost_bars(estimate, title=f"monthly cost at {REQUESTS_PER_SECOND} requests/s, every request traced")
plt.show()
"""),
code("""
sweep = cost.sweep(per_request, [0.1, 1, 5, 20, 100, 500])
ax = sweep.pivot(index="requests_per_second", columns="service", values="cost_usd").plot(
    logx=True, marker="o", figsize=(8, 4), title="monthly cost by traffic level (everything traced)")
ax.set_ylabel("USD per month")
plt.show()
"""),
md("""
### Checkpoint: the arithmetic, by hand

A month of 10 million requests, 5 % of them traced by X-Ray, 500 bytes of logs each, 30-day retention,
computed here line by line from the price list and compared with the model.
"""),
code("""
hand_usage = cost.Usage(requests_per_month=10_000_000, per_request=cost.PerRequest(4, 3, 500, 0.001),
                        xray_sampled_fraction=0.05, xray_queries_per_day=100, xray_traces_scanned_per_query=200,
                        xray_traces_retrieved_per_query=50, log_retention_days=30, insights_queries_per_day=20,
                        insights_window_hours=1, days_per_month=30)
model = cost.estimate(hand_usage).set_index(["service", "item"])
price = prices.set_index(["service", "item"])
recorded = 10_000_000 * 0.05                                                  # 500,000 traces
by_hand_xray = (recorded - price.loc[("xray", "traces_recorded"), "included_per_month"]) * price.loc[("xray", "traces_recorded"), "usd_per_unit"]
ingest_gb = 10_000_000 * 500 / 1e9                                            # 5 GB: the whole shared free 5 GB
stored_gb = ingest_gb / 30 * 30                                               # 5 GB-month, none of it free any more
by_hand_storage = stored_gb * price.loc[("cloudwatch_logs", "storage"), "usd_per_unit"]
assert math.isclose(model.loc[("xray", "traces_recorded"), "cost_usd"], by_hand_xray)
assert math.isclose(model.loc[("cloudwatch_logs", "ingestion"), "cost_usd"], 0.0, abs_tol=1e-12)
assert math.isclose(model.loc[("cloudwatch_logs", "storage"), "cost_usd"], by_hand_storage)
assert model.loc[("xray", "traces_retrieved_or_scanned"), "usage"] == 100 * 30 * (200 + 50)
pd.Series({"X-Ray recorded (model)": model.loc[("xray", "traces_recorded"), "cost_usd"], "by hand": by_hand_xray,
           "log storage (model)": model.loc[("cloudwatch_logs", "storage"), "cost_usd"], "by hand ": by_hand_storage})
"""),
md("""
## 4. Sampling strategies on the same traffic

Every strategy is replayed on the 400 requests above, deterministically:

* **X-Ray rules** (reservoir + fixed rate): per second, the first `reservoir` matching requests are traced, the
  rest with probability `fixed_rate`. `Default` is 1/s + 5 %; the seed's rule 1/s + 10 %; one variant traces
  every search and samples the rest by `Default`; one keeps only 1 %.
* **OpenTelemetry head sampling** (`TraceIdRatioBased`): keep a trace when the lower 64 bits of its id are below
  `ratio x 2^64`; decided before anything went wrong.
* **Tail-style**: decided after the request finished, so it can keep every error (and every slow request).
  Real systems do this in a collector (OpenTelemetry's tail sampling processor, Honeycomb Refinery).

What counts as a fault is taken from the data, as in notebook 06: the slowest route and every route that
answered 5xx.
"""),
code("""
slowest = correlate.slow_routes(spans, service="backend-flask").iloc[0]
slow_route = slowest["http_route"]                                  # a route template, as in the traffic frame
error_routes = sorted(run.loc[run["status"] >= 500, "route"].unique())
fault_kinds = [sampling.FaultKind(f"slow {slow_route}", slow_route, "slow", slow_ms=150)] + \\
              [sampling.FaultKind(f"errors {route}", route, "error") for route in error_routes]
strategies = sampling.standard_strategies(slow_ms=150)
decisions = sampling.decide_all(run, strategies, seed=0)
comparison = sampling.compare(run, decisions, fault_kinds, per_request=per_request,
                              requests_per_second=REQUESTS_PER_SECOND)
comparison
"""),
code("""
sampling.fault_visibility(run, decisions, fault_kinds).pivot(index="strategy", columns="fault", values="kept")
"""),
md("""
## 5. Cost against what you can still see
"""),
code("""
plots.sampling_tradeoff(comparison, cost_col="xray_usd_per_month")
plt.show()
"""),
md("""
### Checkpoint: keep-errors keeps every injected fault, head sampling does not promise to
"""),
code("""
table = comparison.set_index("strategy")
injected = stack.faults.rules
# the fault kinds found in the data are the injected ones (read only here)
# the faults found in the data are the injected ones (read only here)
assert injected[f"backend-flask:{slowest['http_method']} {slow_route}"].latency_ms > 0
crashing = {k.split(" ", 1)[1] for k, f in injected.items() if k.startswith("backend-flask:") and f.exception_rate}
assert crashing and crashing <= set(error_routes)
assert any(k.startswith("notifications:") and f.error_rate for k, f in injected.items())
assert "/api/activities/notifications" in error_routes          # the route that calls the flaky dependency
keep_errors = table.loc["tail: keep errors"]
assert keep_errors["errors_kept"] == keep_errors["errors"] == int((run["status"] >= 500).sum())
tail_all = [s for s in table.index if s.startswith("tail: errors + slow")][0]
assert table.loc[tail_all, "faults_visible"] == len(fault_kinds)      # every injected fault still visible
assert table.loc["otel head 100%", "kept"] == len(run)
assert 0.15 < table.loc["otel head 25%", "kept_fraction"] < 0.35       # 400 draws: ±0.1 is more than 4 sd
seconds = run["started_at"].dt.floor("s").nunique()
expected_default = seconds + 0.05 * (len(run) - seconds)               # reservoir 1/s, then 5 %
sd = math.sqrt(0.05 * 0.95 * (len(run) - seconds))
assert abs(table.loc["xray: Default (1/s + 5%)", "kept"] - expected_default) < 4 * sd + 1
month = REQUESTS_PER_SECOND * 86_400 * 30
assert math.isclose(table.loc["otel head 100%", "xray_usd_per_month"], max(0, month - 100_000) * 5e-6, rel_tol=1e-9)
assert table.loc["tail: keep errors", "xray_usd_per_month"] < table.loc["otel head 100%", "xray_usd_per_month"]
"""),
code("""
stack.stop()
"""),
md("""
## Summary

- One request of this app produces a few spans, a few segments, a few hundred bytes of logs and now and then a
  Rollbar occurrence; multiplied by real traffic, tracing everything leaves the free tiers quickly.
- Head sampling (X-Ray rules, `TraceIdRatioBased`) is cheap and simple but blind: the decision is taken before
  the request fails, so rare faults disappear with the rest.
- A tail-style policy keeps every error (and every slow request) for a fraction of the cost: the evidence notebook
  06 needed survives.
- Prices and free tiers in `data/pricing.json` carry their source and date; they change.

## What's next

08 security for observability: who can read these traces and logs, audit trails, alarms, and keeping secrets
and personal data out of telemetry.

## Resources
- [AWS X-Ray pricing](https://aws.amazon.com/xray/pricing/), [Amazon CloudWatch pricing](https://aws.amazon.com/cloudwatch/pricing/),
  [Honeycomb pricing](https://www.honeycomb.io/pricing), [Rollbar pricing](https://rollbar.com/pricing/)
- [X-Ray sampling rules](https://docs.aws.amazon.com/xray/latest/devguide/xray-console-sampling.html)
- OpenTelemetry: [sampling](https://opentelemetry.io/docs/concepts/sampling/)
"""),
]


if __name__ == "__main__":
    write("notebooks/06_correlate_the_pillars.ipynb", NB06)
    write("notebooks/07_sampling_and_cost.ipynb", NB07)
