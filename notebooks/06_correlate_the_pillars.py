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
# # Correlate the pillars: one request across spans, segments, logs and errors
#
# Notebooks 02 to 05 switched on one instrument at a time. Real incidents do not arrive that way: a user says
# "the app is slow and sometimes broken", and you have four tools that each saw part of it. Here all four run
# at once, on traffic with faults injected where the code you read does not show them, and you answer two
# questions **from the data alone**: which route is slow, and which dependency fails. Then you move the same
# services from the X-Ray SDK to OpenTelemetry, still landing in X-Ray.

# %% [markdown]
# ## Overview
# 1. The seed's final `app.py`: OpenTelemetry, X-Ray, CloudWatch Logs and Rollbar all on, and Rollbar kept
#    off the request path
# 2. The join key: trace ids, reduced to 32 hex digits
# 3. One failing request, side by side in the four tools
# 4. Find the slow route and the failing dependency from the data
# 5. A latency heatmap, error rate by route, and two service maps
# 6. From the X-Ray SDK to OpenTelemetry: X-Ray's OTLP endpoint and CloudWatch Transaction Search
# 7. Your app.py now

# %% [markdown]
# ## Prerequisites
#
# | Concept | Importance | Notes |
# | --- | --- | --- |
# | [02 OpenTelemetry + Honeycomb](02_opentelemetry_honeycomb.ipynb) | Necessary | spans, trace ids, `traceresponse` |
# | [03 AWS X-Ray](03_aws_xray.ipynb) | Necessary | segments, subsegments, annotations, the service graph |
# | [04 CloudWatch Logs](04_cloudwatch_logs.ipynb), [05 Rollbar](05_rollbar.ipynb) | Helpful | access logs with trace ids, occurrences |
# | pandas `merge` / `groupby` | Necessary | |
#
# - **Time to learn**: 30 minutes
# - Runs in local mode as is. In cloud mode every query below is the real API, except
#   `spans.local_spans`: Honeycomb has no "export every span" API, so raw spans come from the local stand-in.

# %% [markdown]
# ## Set-up
# `setup()` first: the X-Ray recorder reads `AWS_XRAY_DAEMON_ADDRESS` when it is imported.

# %%
from lab_app.notebook import setup

lab = setup()
lab

# %% [markdown]
# ## Imports

# %%
import json
import logging
import math
import os
import time
from pathlib import Path

import boto3
import matplotlib.pyplot as plt
import pandas as pd
import rollbar
import watchtower
from aws_xray_sdk.core import patch, xray_recorder
from aws_xray_sdk.ext.flask.middleware import XRayMiddleware
from flask import g, got_request_exception, request
from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.instrumentation.flask import FlaskInstrumentor
from opentelemetry.instrumentation.propagators import TraceResponsePropagator, set_global_response_propagator
from opentelemetry.instrumentation.requests import RequestsInstrumentor
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

from lab_app import localcloud, services, traffic
from lab_app.analysis import correlate, plots
from lab_app.instrument import otel_xray
from lab_app.notebook import show
from lab_app.query import insights
from lab_app.query import rollbar as rollbar_q
from lab_app.query import spans as spans_q
from lab_app.query import xray as xq
from lab_app.services import Faults

# %% [markdown]
# ## 1. The seed's final app.py, four instruments at once
#
# The stack runs with the workbook's *lesson* faults. We do not print them: the point is to find them from what
# the tools recorded, the way you would in production. The injected settings are read once, in the checkpoint of
# section 4. **notifications** runs in its own process with zero-code OpenTelemetry, the X-Ray SDK and its own
# CloudWatch access log, all from its environment.

# %%
faults = Faults.lesson()
notifications = services.downstream.start(otel=True, xray=True, log_group="cruddur", faults=faults)
notifications

# %% [markdown]
# backend-flask gets what notebooks 02 to 05 built, in one place. Three things are new, because the pillars now
# have to be **joined**:
#
# * the access log line carries both trace ids (`trace.get_current_span()` and `xray_recorder.current_segment()`),
#   so a log line joins its trace;
# * the Rollbar report carries them too: instead of `rollbar.contrib.flask.report_exception` we connect our own
#   receiver that adds them as `custom` data;
# * **telemetry on the request path.** Rollbar's report is itself an HTTP call. With the `blocking` handler it is
#   made inside the failing request, so the instrumented `requests` records it as a dependency of backend-flask (a
#   phantom node in the service map) and the user waits ~100 ms longer for their error page. So: the `thread`
#   handler (the report leaves the request), `rollbar.wait()` before reading items, and
#   `RequestsInstrumentor().instrument(excluded_urls=...)` so the report, now in its own thread, does not start a
#   trace of its own either. The X-Ray SDK opens nothing outside a segment (`context_missing="IGNORE_ERROR"`).

# %%
ROLLBAR_ENDPOINT = os.environ.get("ROLLBAR_ENDPOINT", "https://api.rollbar.com/api/1/")

# OpenTelemetry: one provider per process (a re-run keeps the first one)
if isinstance(trace.get_tracer_provider(), TracerProvider):
    provider = trace.get_tracer_provider()
else:
    provider = TracerProvider(resource=Resource.create())     # OTEL_SERVICE_NAME=backend-flask
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(), schedule_delay_millis=1000))
    trace.set_tracer_provider(provider)
if not RequestsInstrumentor().is_instrumented_by_opentelemetry:
    RequestsInstrumentor().instrument(excluded_urls=ROLLBAR_ENDPOINT)
set_global_response_propagator(TraceResponsePropagator())

# X-Ray: the process's one recorder; sampling off so every request is recorded
xray_recorder.configure(service="backend-flask", sampling=False, context_missing="IGNORE_ERROR")
patch(["requests"])

# CloudWatch Logs: one JSON access line per request, stream created up front
logs = boto3.client("logs")
ACCESS_STREAM = "backend-flask/access-json"
try:
    logs.create_log_group(logGroupName="cruddur")
except logs.exceptions.ResourceAlreadyExistsException:
    pass
try:
    logs.create_log_stream(logGroupName="cruddur", logStreamName=ACCESS_STREAM)
except logs.exceptions.ResourceAlreadyExistsException:
    pass
LOGGER = logging.getLogger("cruddur.access")
LOGGER.setLevel(logging.INFO)
LOGGER.propagate = False
for old in [h for h in LOGGER.handlers if isinstance(h, watchtower.CloudWatchLogHandler)]:  # a re-run
    LOGGER.removeHandler(old)
    old.close()
cw_handler = watchtower.CloudWatchLogHandler(log_group_name="cruddur", log_stream_name=ACCESS_STREAM,
                                             boto3_client=logs, send_interval=2, create_log_group=False)
LOGGER.addHandler(cw_handler)

# Rollbar: once per process; the thread handler keeps the report off the request path
rollbar.init(os.environ["ROLLBAR_ACCESS_TOKEN"], "development", endpoint=ROLLBAR_ENDPOINT, handler="thread",
             root=os.getcwd(), allow_logging_basic_config=False)


def trace_ids() -> dict:
    ids = {}
    span = trace.get_current_span().get_span_context()
    if span.is_valid:
        ids["otel_trace_id"] = format(span.trace_id, "032x")
    segment = xray_recorder.current_segment()
    if segment is not None:
        ids["xray_trace_id"] = segment.trace_id
    return ids


def report_exception(sender, exception, **extra):
    rollbar.report_exc_info((type(exception), exception, exception.__traceback__), request,
                            payload_data={"custom": {"service": "backend-flask", **trace_ids()}})


app = services.create_backend_app(notifications.url, faults=faults)
FlaskInstrumentor().instrument_app(app)
XRayMiddleware(app, xray_recorder)
got_request_exception.connect(report_exception, app)


@app.before_request
def start_timer():
    g.t0 = time.perf_counter()


@app.after_request
def access_log(response):
    LOGGER.info({"type": "access", "level": "INFO", "service": "backend-flask", "method": request.method,
                 "path": request.path, "route": request.url_rule.rule if request.url_rule else "(unmatched)",
                 "status": response.status_code, "latency_ms": round((time.perf_counter() - g.t0) * 1000, 3),
                 "request_id": g.get("request_id"), **trace_ids()})
    return response


backend = services.serve_backend(app)
backend

# %%
window_start = pd.Timestamp.now(tz="UTC")  # earlier requests stay outside the window
run = traffic.generate(backend.url, n=200, concurrency=8, seed=6, progress=False)
provider.force_flush()
cw_handler.flush()
rollbar.wait()
notifications.stop()        # flushes the downstream's spans, segments and log lines; restarted in section 6
window_end = pd.Timestamp.now(tz="UTC") + pd.Timedelta(seconds=2)
run[["seq", "route", "status", "latency_ms", "request_id", "otel_trace_id", "xray_trace_id"]].head()

# %% [markdown]
# Each row is one request as the client saw it, with the two trace ids the services answered with:
# `traceresponse` (OpenTelemetry, W3C) and `X-Amzn-Trace-Id` (X-Ray). Two tracers, two ids for the same request.
#
# ## 2. The join key
#
# Now pull what each tool stored for this window, through each tool's own API:

# %%
xq.wait_for_traces(run["xray_trace_id"].dropna(), timeout=20)    # X-Ray indexes asynchronously
spans = spans_q.local_spans(window_start, window_end)              # every span (local stand-in)
summaries = xq.trace_summaries(start=window_start, end=window_end)
segments = xq.segments(summaries["trace_id"])                      # BatchGetTraces: segments + subsegments
logs = insights.filter_events("cruddur", start=window_start, end=window_end)
occurrences = rollbar_q.all_occurrences()
occurrences = occurrences[occurrences["timestamp"] >= window_start.floor("s")]
pd.Series({"requests": len(run), "spans": len(spans), "X-Ray segments": len(segments),
           "log lines": len(logs), "Rollbar occurrences": len(occurrences)})

# %% [markdown]
# The ids come in different spellings: OpenTelemetry writes `6b0684bf...` (32 hex digits), X-Ray writes
# `1-6b0684bf-...` (version, 8 hex digits of time, 24 more), log lines and Rollbar payloads embed either inside
# text. `correlate` reduces every spelling to the 32 hex digits and finds every id mentioned anywhere in a row,
# so the join is an ordinary pandas merge. An id seen next to one of the request's ids (in a log line or a
# Rollbar report that carries both) joins the request too (`correlate.expand_keys`).

# %%
correlate.normalize_trace_id("1-5759e988-bd862e3fe1be46a994272793"), correlate.xray_id("5759e988bd862e3fe1be46a994272793")

# %%
per_request = correlate.by_request(run, spans=spans, segments=segments, logs=logs, occurrences=occurrences)
per_request.head(10)

# %% [markdown]
# ### Checkpoint: every request is in every tool that should have it

# %%
assert (per_request["n_spans"] >= 1).all(), "a request without a span"
assert (per_request["n_logs"] >= 1).all(), "a request without an access log line"
has_xray = run["xray_trace_id"].notna()
assert (per_request.loc[has_xray, "n_segments"] >= 1).all(), "an X-Ray trace id with no segments"
crashed = per_request["status"] == 500
assert crashed.any() and (per_request.loc[crashed, "n_occurrences"] >= 1).all(), "a 500 without its Rollbar item"
assert (per_request.loc[crashed, "n_segments"] >= 1).all(), "a crashed request not linked to its X-Ray trace"
assert run.loc[crashed.to_numpy(), "xray_trace_id"].notna().all(), "a crashed request still answers X-Amzn-Trace-Id"

# %% [markdown]
# ### Checkpoint: Rollbar stayed off the request path
# No span and no segment records a call to Rollbar, and the service map has exactly the two services.

# %%
to_rollbar = spans[spans["attributes"].map(lambda a: "/api/1/item" in str(a.get("http.url", "")))]
assert to_rollbar.empty, f"{len(to_rollbar)} spans of Rollbar's own report POSTs"
assert not segments["name"].str.contains("rollbar|/api/1/item", regex=True).any()
assert set(segments.loc[segments["kind"] == "segment", "service"]) == {"backend-flask", "notifications"}

# %% [markdown]
# ## 3. One failing request, side by side
#
# A request that crashed (HTTP 500): its spans, its segments, its two access-log lines and its Rollbar
# occurrence, in time order. The Rollbar timestamp has one-second resolution, so it sorts first.

# %%
crashed_seq = int(per_request.loc[crashed, "seq"].iloc[0])
crash_view = correlate.evidence(crashed_seq, run, spans=spans, segments=segments, logs=logs, occurrences=occurrences)
crash_view

# %% [markdown]
# And a request that failed *downstream* (the backend answered 502 because the `notifications` service did not
# answer properly). Here the interesting rows are in the second service: the trace crosses the process boundary.

# %%
flaky_seq = int(per_request.loc[per_request["status"] == 502, "seq"].iloc[0])
flaky_view = correlate.evidence(flaky_seq, run, spans=spans, segments=segments, logs=logs, occurrences=occurrences)
flaky_view

# %% [markdown]
# ### Checkpoint: the four sources agree on the failing requests

# %%
assert set(crash_view["source"]) == {"span", "segment", "log", "rollbar"}
assert "InjectedException" in " ".join(crash_view.loc[crash_view["source"] == "rollbar", "what"])
assert {"backend-flask", "notifications"} <= set(flaky_view.loc[flaky_view["source"] == "span", "service"])
assert {"span", "segment", "log"} <= set(flaky_view["source"])

# %% [markdown]
# ## 4. Find the slow route and the failing dependency
#
# Three questions, three small `groupby`s over the spans; each answer double-checked from X-Ray:
#
# * **slow**: server spans per route, median duration, and how many times slower than the service's typical route;
# * **failing dependency**: server spans of one service whose parent span belongs to *another* service are calls
#   into a dependency; their error rate per route;
# * **crashing code**: server spans that recorded an `exception` event.

# %%
slow = correlate.slow_routes(spans, service="backend-flask")
slow.head()

# %%
dependencies = correlate.failing_dependencies(spans)
dependencies

# %%
dependencies_xray = correlate.failing_dependencies_xray(segments)   # the same question from X-Ray's segment tree
dependencies_xray

# %% [markdown]
# The two failure rates differ, and both are right; they answer different questions. The OpenTelemetry table is
# **per route**: `GET /api/notifications/@<handle>` is the route with the injected 25 % of 503s. The X-Ray table is
# **per pair of services**: a segment names its service, so every call backend-flask makes into notifications is
# pooled, including the `POST /api/notifications/fanout` calls (new posts, replies) that never fail, and the rate
# comes out lower. Pool the OpenTelemetry rows the same way and the two tools agree call for call:

# %%
pooled = dependencies.groupby(["caller", "dependency"], as_index=False)[["calls", "failed"]].sum()
pooled["error_rate"] = pooled["failed"] / pooled["calls"]
reconciled = pooled.merge(dependencies_xray, on=["caller", "dependency"], suffixes=("_otel", "_xray"))
reconciled[["caller", "dependency", "calls_otel", "calls_xray", "failed", "faults", "error_rate", "failure_rate"]]

# %% [markdown]
# ### Checkpoint: pooled by service pair, the OpenTelemetry and X-Ray rates agree

# %%
pair = reconciled.set_index(["caller", "dependency"]).loc[("backend-flask", "notifications")]
assert pair["calls_otel"] == pair["calls_xray"] and pair["failed"] == pair["faults"], pair
assert pair["errors"] == 0 and math.isclose(pair["error_rate"], pair["failure_rate"])
lookups = dependencies[dependencies["http_route"].str.startswith("/api/notifications/@")].iloc[0]
assert lookups["error_rate"] > pair["error_rate"]        # the failing route alone fails more often than the pair

# %%
crashes = correlate.exception_routes(spans, service="backend-flask")
crashes

# %% [markdown]
# ### Checkpoint: what the data says is what was injected
#
# Only now do we read the injected settings (`faults.rules`, keys `service:METHOD route`).

# %%
injected = faults.rules
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

# %% [markdown]
# ## 5. Heatmap, error rate by route, two service maps
#
# Honeycomb's signature view is a heatmap: time across, latency up, colour for how many requests. The slow
# search shows as its own band above everyone else.

# %%
heat = correlate.latency_heatmap(run, bins=24, freq="250ms")
plots.heatmap(heat, title="backend-flask latency as the client saw it (requests per cell)")
show(alt="Heatmap of backend-flask latency as the client saw it: time across in 250 ms buckets, latency up on a "
         "log scale, colour for the number of requests in each cell. Most requests form a band at a few "
         "milliseconds; the slow search requests form a separate band above 100 ms.")

# %%
rates = correlate.error_rate_by_route(spans)
ax = rates.assign(label=rates["service"] + " " + rates["http_route"]).plot.barh(
    x="label", y="error_rate", legend=False, figsize=(8, 4), title="5xx share by route (server spans)")
ax.invert_yaxis()
ax.set_xlabel("share of server spans that answered 5xx")
worst = rates.sort_values("error_rate", ascending=False).iloc[0]
show(alt=f"Horizontal bars of the 5xx share per service and route from the server spans; the highest is "
         f"{worst['service']} {worst['http_route']} at {worst['error_rate']:.0%}, and most routes have none.")

# %% [markdown]
# Two service maps of the same traffic: the one X-Ray computes (`GetServiceGraph`) and one built from the OTel
# spans with a `groupby` (a server span whose parent belongs to another service is an edge).

# %%
xray_graph = xq.service_graph_nx(start=window_start, end=window_end)
otel_edges = correlate.service_edges(spans)
otel_graph = plots.graph_from_edges(otel_edges)
fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
plots.service_map(xray_graph, ax=left, title="X-Ray GetServiceGraph", calls_key="requests", failed_key="faults")
plots.service_map(otel_graph, ax=right, title="built from OpenTelemetry spans", calls_key="calls", failed_key="failed")
show(alt="Two service maps side by side: nodes are services, arrows are calls labelled with how many there were "
         "and how many failed; left as X-Ray's GetServiceGraph computes it, right built from the "
         "OpenTelemetry spans. Both show the backend-flask to notifications edge with failed calls.")
otel_edges

# %% [markdown]
# ### Checkpoint: both maps show the failing edge

# %%
assert xray_graph.has_edge("backend-flask", "notifications")
assert otel_graph.has_edge("backend-flask", "notifications")
assert xray_graph.edges["backend-flask", "notifications"]["faults"] > 0
assert otel_graph.edges["backend-flask", "notifications"]["failed"] == int(dependencies["failed"].sum())
assert heat.to_numpy().sum() == len(run)

# %% [markdown]
# ## 6. From the X-Ray SDK to OpenTelemetry
#
# The X-Ray SDKs and daemon are in maintenance mode; AWS's way forward is OpenTelemetry, exporting OTLP straight
# to X-Ray's OTLP endpoint, `https://xray.<region>.amazonaws.com/v1/traces` (SigV4-signed, service `xray`).
# X-Ray turns the spans into segments itself. What you used in notebook 03 maps like this:
#
# | X-Ray SDK | OpenTelemetry | what X-Ray makes of it |
# | --- | --- | --- |
# | segment (`XRayMiddleware`) | server span (`FlaskInstrumentor`) | a segment, named after the service |
# | subsegment (`in_subsegment`) | internal span | a subsegment |
# | remote subsegment (`patch(("requests",))`) | client span (`RequestsInstrumentor`) | a subsegment with `namespace: remote` |
# | annotation (`put_annotation`), indexed | attribute listed in `aws.xray.annotations` (an *indexed attribute*) | `annotations`, usable in filter expressions |
# | metadata (`put_metadata`) | any other attribute | `metadata.default`, not searchable |
# | sampling rule (centralized, via the daemon) | sampler (`ParentBased(TraceIdRatioBased(...))`) | what reaches X-Ray at all (notebook 07) |
# | `X-Amzn-Trace-Id` header | W3C `traceparent` (or `AwsXRayPropagator` to talk to X-Ray SDK services) | one trace across services |
# | `1-5759e988-bd86...` ids | any 32-hex W3C trace id (`AwsXRayIdGenerator` is optional) | the same id, spelled `1-xxxxxxxx-...` |
# | UDP to the daemon on port 2000 | OTLP/HTTP to `/v1/traces`, SigV4 | |
#
# What changes in `app.py` is only the exporter: OTLP to X-Ray's endpoint, each request signed with SigV4 for
# service `xray` (`otel_xray.signed_session()` is a `requests.Session` whose auth signs with botocore's signer and
# your usual AWS credentials: the one piece of lab_app here, because the OTLP exporter has no SigV4 of its own;
# ADOT's `aws-opentelemetry-distro` does the same in production). The ids need nothing special: the endpoint
# accepts W3C trace ids. On a real account the endpoint requires **CloudWatch Transaction Search**, which the
# next cells switch on.
#
# ### CloudWatch Transaction Search: where OTLP spans land
#
# A new account sends trace data to X-Ray's own store (`GetTraceSegmentDestination` says `XRay`), and the OTLP
# endpoint refuses spans there. Transaction Search is an account-wide switch to the `CloudWatchLogs` destination:
#
# * **every** span is stored as a structured log event in the log group `aws/spans`, queryable with Logs Insights;
#   span ingestion is billed as CloudWatch Logs data (CloudWatch pricing, "Transaction Search");
# * a share of the traces is also **indexed** as X-Ray trace summaries (what `GetTraceSummaries`, filter
#   expressions and the service graph read): 1 % by default, free; indexing more is charged.
#
# Enabling it with the API takes two calls, as AWS's guide does it: a CloudWatch Logs **resource policy** that
# lets `xray.amazonaws.com` write to `aws/spans` (`PutResourcePolicy`), then `UpdateTraceSegmentDestination`. The
# answer is `PENDING`; it turns `ACTIVE` after a while (minutes on AWS, seconds locally). The cell checks first, so
# a re-run (or an account that already has it) changes nothing. Your IAM identity needs
# `xray:GetTraceSegmentDestination`, `xray:UpdateTraceSegmentDestination`, `xray:GetIndexingRules`,
# `xray:UpdateIndexingRule` and `logs:PutResourcePolicy`.

# %%
xray = boto3.client("xray")
logs_api = boto3.client("logs")
destination = xray.get_trace_segment_destination()
print("trace segment destination before:", destination["Destination"], destination["Status"])
if destination["Destination"] != "CloudWatchLogs":
    account = boto3.client("sts").get_caller_identity()["Account"]
    region = xray.meta.region_name
    spans_policy = {"Version": "2012-10-17", "Statement": [{
        "Sid": "TransactionSearchXRayAccess", "Effect": "Allow", "Principal": {"Service": "xray.amazonaws.com"},
        "Action": "logs:PutLogEvents",
        "Resource": [f"arn:aws:logs:{region}:{account}:log-group:aws/spans:*",
                     f"arn:aws:logs:{region}:{account}:log-group:/aws/application-signals/data:*"],
        "Condition": {"ArnLike": {"aws:SourceArn": f"arn:aws:xray:{region}:{account}:*"},
                      "StringEquals": {"aws:SourceAccount": account}}}]}
    logs_api.put_resource_policy(policyName="TransactionSearchXRayAccess", policyDocument=json.dumps(spans_policy))
    destination = xray.update_trace_segment_destination(Destination="CloudWatchLogs")
    print("Transaction Search enabled: destination", destination["Destination"], destination["Status"])
deadline = time.monotonic() + 900          # AWS: usually a few minutes
while destination["Status"] != "ACTIVE" and time.monotonic() < deadline:
    time.sleep(0.25 if lab.local else 15)
    destination = xray.get_trace_segment_destination()
print("trace segment destination now:", destination["Destination"], destination["Status"])

# %% [markdown]
# The **indexing rule** `Default` says which share of traces becomes trace summaries. This run is small (60
# requests) and the checkpoints below look for every one of its traces in X-Ray, so we index 100 % while it runs
# and put the rule back at the end of the section. On a busy service you would keep the free 1 % and find single
# requests in `aws/spans` instead.

# %%
default_rule = xray.get_indexing_rules()["IndexingRules"][0]
indexing_before = default_rule["Rule"]["Probabilistic"]["DesiredSamplingPercentage"]
print(f"indexing rule {default_rule['Name']}: {indexing_before:g} % of traces")
xray.update_indexing_rule(Name="Default", Rule={"Probabilistic": {"DesiredSamplingPercentage": 100}})

# %% [markdown]
# ### Checkpoint: Transaction Search is on

# %%
assert (destination["Destination"], destination["Status"]) == ("CloudWatchLogs", "ACTIVE")
assert xray.get_indexing_rules()["IndexingRules"][0]["Rule"]["Probabilistic"]["DesiredSamplingPercentage"] == 100
assert 0 <= indexing_before <= 100

# %% [markdown]
# ### The exporter
#
# We add the exporter to the process's provider (spans now go to Honeycomb *and* X-Ray), and build the backend
# without `XRayMiddleware`: X-Ray now learns about it only from OpenTelemetry. The `requests` patch of the X-Ray
# SDK stays (it cannot be undone in a process), and opens nothing without a segment. The notifications process
# keeps exporting to Honeycomb: zero-code OpenTelemetry cannot sign requests, so in production it would send
# through a collector (ADOT, the CloudWatch agent) that signs.

# %%
print("OTLP endpoint:", otel_xray.endpoint())
if "xray_export" not in globals():  # a re-run must not add a second X-Ray exporter to the process's provider
    xray_export = BatchSpanProcessor(OTLPSpanExporter(endpoint=otel_xray.endpoint(),
                                                      session=otel_xray.signed_session()),
                                     schedule_delay_millis=1000)
    provider.add_span_processor(xray_export)

# %% [markdown]
# An X-Ray **annotation** is an attribute you list in `aws.xray.annotations`: X-Ray indexes it (and spells
# `app.user` as `app_user`, the characters annotation keys allow). Every other attribute becomes metadata.

# %%
tracer = trace.get_tracer("home.activities")


class HomeActivities:
    def run(self, data, user):
        with tracer.start_as_current_span("home-activities-mock-data") as span:
            span.set_attribute("app.user", user)
            span.set_attribute("aws.xray.annotations", ["app.user"])
            return data.home()


notifications = services.downstream.start(otel=True, faults=faults)
otel_app = services.create_backend_app(notifications.url, faults=faults, home_activities=HomeActivities())
FlaskInstrumentor().instrument_app(otel_app)          # no XRayMiddleware this time
backend = services.serve_backend(otel_app)
otel_start = pd.Timestamp.now(tz="UTC") - pd.Timedelta(seconds=1)
otel_run = traffic.generate(backend.url, n=60, concurrency=4, seed=8, progress=False)
provider.force_flush()
otel_end = pd.Timestamp.now(tz="UTC") + pd.Timedelta(seconds=2)
otel_ids = otel_run["otel_trace_id"].dropna().map(correlate.xray_id)
otel_summaries = xq.wait_for_traces(otel_ids, timeout=20)
otel_summaries[["trace_id", "start_time", "duration_ms", "http_url", "http_status", "has_fault", "annotations"]].head()

# %%
calls_down = (otel_run["method"] == "GET") & (otel_run["route"] == "/api/activities/notifications")
one = xq.segments([correlate.xray_id(otel_run.loc[calls_down, "otel_trace_id"].dropna().iloc[0])])
one[["service", "kind", "name", "namespace", "offset_ms", "duration_ms", "annotations"]]

# %%
home = otel_run[(otel_run["route"] == "/api/activities/home") & (otel_run["status"] == 200)].iloc[0]
user = home["user"]
by_user = xq.trace_summaries(start=otel_start, end=otel_end, filter_expression=f'annotation.app_user = "{user}"')
otel_nodes, otel_graph_edges = xq.service_graph(start=otel_start, end=otel_end)
otel_nodes

# %% [markdown]
# Every span, indexed or not, is also a log event in `aws/spans`: the OTLP span as JSON (`traceId`, `spanId`,
# `parentSpanId`, `name`, `kind`, `durationNano`, `attributes`, `resource`). Logs Insights counts them per trace;
# the trace ids are in the 32-hex W3C spelling.

# %%
spans_per_trace = insights.run_query(
    "filter ispresent(traceId) | stats count(*) as spans, max(durationNano) as longest_ns by traceId",
    log_groups="aws/spans", start=otel_start, end=otel_end)
spans_per_trace.head()

# %% [markdown]
# ### Checkpoint: OpenTelemetry spans became X-Ray segments

# %%
assert set(otel_summaries["trace_id"]) == set(otel_ids)               # same ids, X-Ray spelling
assert "backend-flask" in set(otel_nodes["service"])
assert correlate.xray_id(home["otel_trace_id"]) in set(by_user["trace_id"])   # an indexed attribute, filterable
assert "remote" in set(one["namespace"].dropna())                      # the client span is a remote subsegment
assert not (one["service"] == "notifications").any()                   # notifications' spans went to Honeycomb only
otel_hex = set(otel_run["otel_trace_id"].dropna())
assert otel_hex <= set(spans_per_trace["traceId"])                     # every trace's spans are in aws/spans
one_in_logs = spans_per_trace.set_index("traceId").loc[one["trace_id"].iloc[0].replace("-", "")[1:]]
assert one_in_logs["spans"] == len(one)                                # one log event per segment/subsegment
assert math.isclose(one_in_logs["longest_ns"] / 1e6, one["duration_ms"].max(), abs_tol=0.01)

# %% [markdown]
# Put the indexing rule back (100 % of a real service's traces is a bill, not a default):

# %%
xray.update_indexing_rule(Name="Default", Rule={"Probabilistic": {"DesiredSamplingPercentage": indexing_before}})
assert xray.get_indexing_rules()["IndexingRules"][0]["Rule"]["Probabilistic"][
    "DesiredSamplingPercentage"] == indexing_before

# %%
backend.stop()
notifications.stop()
(localcloud.status() or {}).get("components", {}).get("xray-otlp")

# %% [markdown]
# ## 7. Your app.py now
#
# The seed's final `app.py`, done right: the four set-ups of section 1 in one file. Running the cell writes it to
# `build/app_06.py`; a test runs that file as its own process against the local cloud and checks that its spans,
# segments, log lines and Rollbar items arrive and carry the same trace ids.

# %%
Path("../build").mkdir(exist_ok=True)

# %%
# %%writefile ../build/app_06.py
"""backend-flask after notebook 06: OpenTelemetry (Honeycomb), X-Ray, CloudWatch Logs and Rollbar, joined by trace ids."""
import logging
import os
import time

import boto3
import rollbar
import watchtower
from aws_xray_sdk.core import patch, xray_recorder
from aws_xray_sdk.ext.flask.middleware import XRayMiddleware
from flask import g, got_request_exception, request
from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.instrumentation.flask import FlaskInstrumentor
from opentelemetry.instrumentation.requests import RequestsInstrumentor
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

from lab_app.services import create_backend_app

ROLLBAR_ENDPOINT = os.environ.get("ROLLBAR_ENDPOINT", "https://api.rollbar.com/api/1/")
LOG_GROUP, ACCESS_STREAM = "cruddur", "backend-flask/access-json"

# OpenTelemetry -> Honeycomb (OTEL_SERVICE_NAME, OTEL_EXPORTER_OTLP_ENDPOINT, OTEL_EXPORTER_OTLP_HEADERS)
provider = TracerProvider(resource=Resource.create())
provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
trace.set_tracer_provider(provider)
RequestsInstrumentor().instrument(excluded_urls=ROLLBAR_ENDPOINT)  # Rollbar's own POSTs are not a dependency

# X-Ray -> the daemon at AWS_XRAY_DAEMON_ADDRESS
xray_recorder.configure(service="backend-flask", dynamic_naming=os.getenv("AWS_XRAY_URL"),
                        context_missing="IGNORE_ERROR")
patch(["requests"])

# CloudWatch Logs: INFO access lines as JSON, the stream created before the first record
logs = boto3.client("logs")
for create, kwargs in ((logs.create_log_group, {"logGroupName": LOG_GROUP}),
                       (logs.create_log_stream, {"logGroupName": LOG_GROUP, "logStreamName": ACCESS_STREAM})):
    try:
        create(**kwargs)
    except logs.exceptions.ResourceAlreadyExistsException:
        pass
LOGGER = logging.getLogger("cruddur.access")
LOGGER.setLevel(logging.INFO)
LOGGER.propagate = False
LOGGER.addHandler(watchtower.CloudWatchLogHandler(log_group_name=LOG_GROUP, log_stream_name=ACCESS_STREAM,
                                                  boto3_client=logs, create_log_group=False))

# Rollbar: reports leave the request in a thread of their own
rollbar.init(os.environ["ROLLBAR_ACCESS_TOKEN"], os.environ.get("ROLLBAR_ENVIRONMENT", "development"),
             endpoint=ROLLBAR_ENDPOINT, handler="thread", root=os.path.dirname(os.path.realpath(__file__)),
             allow_logging_basic_config=False)


def trace_ids():
    ids = {}
    span = trace.get_current_span().get_span_context()
    if span.is_valid:
        ids["otel_trace_id"] = format(span.trace_id, "032x")
    segment = xray_recorder.current_segment()
    if segment is not None:
        ids["xray_trace_id"] = segment.trace_id
    return ids


def report_exception(sender, exception, **extra):
    rollbar.report_exc_info((type(exception), exception, exception.__traceback__), request,
                            payload_data={"custom": {"service": "backend-flask", **trace_ids()}})


app = create_backend_app(os.environ.get("NOTIFICATIONS_URL", "http://127.0.0.1:4568"))
FlaskInstrumentor().instrument_app(app)
XRayMiddleware(app, xray_recorder)
got_request_exception.connect(report_exception, app)


@app.before_request
def start_timer():
    g.t0 = time.perf_counter()


@app.after_request
def access_log(response):
    LOGGER.info({"type": "access", "level": "INFO", "service": "backend-flask", "method": request.method,
                 "path": request.path, "route": request.url_rule.rule if request.url_rule else "(unmatched)",
                 "status": response.status_code, "latency_ms": round((time.perf_counter() - g.t0) * 1000, 3),
                 "request_id": g.get("request_id"), **trace_ids()})
    return response


if __name__ == "__main__":
    app.run(host="127.0.0.1", port=int(os.environ.get("PORT", "4567")))

# %% [markdown]
# ### Checkpoint: the file is the lesson

# %%
written = Path("../build/app_06.py").read_text()
for call in ("trace.set_tracer_provider(provider)", "RequestsInstrumentor().instrument(excluded_urls=ROLLBAR_ENDPOINT)",
             "XRayMiddleware(app, xray_recorder)", 'patch(["requests"])', "watchtower.CloudWatchLogHandler(",
             'handler="thread"', "got_request_exception.connect(report_exception, app)"):
    assert call in written, call

# %% [markdown]
# ## Summary
#
# - A request is one row in the traffic frame and many rows across the tools; trace ids (in every spelling) and
#   the request id are the keys that join them, and an id seen next to a known one extends the join.
# - The slow route, the failing dependency and the crashing route fell out of three `groupby`s over spans, and
#   X-Ray's segment tree and service graph agreed.
# - Rollbar's report is telemetry on the request path: the `thread` handler and `excluded_urls` keep it out of the
#   request and out of the traces.
# - One more exporter (OTLP to X-Ray's endpoint, SigV4-signed) sends the same spans to X-Ray; server spans become
#   segments, client spans remote subsegments, attributes listed in `aws.xray.annotations` annotations.
# - That endpoint needs CloudWatch Transaction Search (a logs resource policy, then
#   `UpdateTraceSegmentDestination`): every span lands in `aws/spans` for Logs Insights, and the `Default`
#   indexing rule (1 % unless you change it) decides which traces also become X-Ray trace summaries.
#
# ## What's next
#
# [07 Sampling and cost](07_sampling_and_cost.ipynb): everything above traced every request. What would that cost
# at real traffic, and which sampling strategy keeps the evidence you just used?
#
# ## Resources
# - AWS: [CloudWatch Transaction Search](https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch-Transaction-Search.html)
#   (required by the OTLP endpoint; spans in `aws/spans`, 1 % indexed by default),
#   [Enable Transaction Search](https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/Enable-TransactionSearch.html)
#   (the resource policy, UpdateTraceSegmentDestination, UpdateIndexingRule; 1 % of spans indexed for free),
#   [the span log group](https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch-Transaction-Search-ingesting-span-log-groups.html),
#   [CloudWatch pricing](https://aws.amazon.com/cloudwatch/pricing/) (span ingestion and indexing),
#   X-Ray API [UpdateTraceSegmentDestination](https://docs.aws.amazon.com/xray/latest/api/API_UpdateTraceSegmentDestination.html),
#   [UpdateIndexingRule](https://docs.aws.amazon.com/xray/latest/api/API_UpdateIndexingRule.html),
#   [X-Ray OTLP endpoint](https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch-OTLPEndpoint.html),
#   [segment documents](https://docs.aws.amazon.com/xray/latest/devguide/xray-api-segmentdocuments.html)
# - OpenTelemetry collector: [AWS X-Ray exporter, data conversion](https://github.com/open-telemetry/opentelemetry-collector-contrib/tree/main/exporter/awsxrayexporter)
# - Rollbar's `handler` setting (thread, blocking, ...): https://docs.rollbar.com/docs/python ; OpenTelemetry
#   `requests` instrumentation, `excluded_urls`:
#   https://opentelemetry-python-contrib.readthedocs.io/en/latest/instrumentation/requests/requests.html
# - [opentelemetry-sdk-extension-aws](https://pypi.org/project/opentelemetry-sdk-extension-aws/),
#   [opentelemetry-propagator-aws-xray](https://pypi.org/project/opentelemetry-propagator-aws-xray/)

# %% [markdown]
# <!-- navigation -->
# ← Previous: [Rollbar: errors grouped into items you can count](05_rollbar.ipynb) · [Start here](00_start_here.ipynb) · Next: [Sampling and cost: what each strategy keeps, and what it costs](07_sampling_and_cost.ipynb) →
