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
# # Metrics and SLOs: OpenTelemetry metrics, CloudWatch EMF, metric math and burn-rate alarms
#
# The seed names three pillars (metrics, traces, logs) and "CloudWatch Metrics" as AWS's view of the first; so far
# this workbook met metrics only as a by-product of metric filters. Here backend-flask gets **application metrics**
# of its own, twice: OpenTelemetry metrics to Honeycomb, and the same RED metrics (Rate, Errors, Duration) as
# CloudWatch **embedded metric format** lines through watchtower. You read both back and check them against what the
# client saw, compare what metrics cost with what traces cost, and then do what an SRE alerts on: **service level
# objectives**, an error budget, and multi-window multi-burn-rate alarms built with CloudWatch metric math, which you
# watch fire on an injected fault.

# %% [markdown]
# ## Overview
# 1. backend-flask with RED metrics: an OpenTelemetry `MeterProvider`, and EMF lines through watchtower
# 2. Traffic, and the client's own counts
# 3. The metrics back into pandas: CloudWatch GetMetricData and Honeycomb's Query Data API
# 4. Monitoring vs observability, and what each costs
# 5. SLIs, a 30-day SLO and its error budget, with metric math
# 6. Multi-window multi-burn-rate alarms; inject a fault and watch them (LOCAL ONLY clock control)
# 7. A CloudWatch dashboard in JSON, drawn with matplotlib from the same queries
# 8. Your turn: a metric of your own; a burn-rate threshold for your own SLO

# %% [markdown]
# ## Prerequisites
#
# | Concept | Importance | Notes |
# | --- | --- | --- |
# | [02 OpenTelemetry + Honeycomb](02_opentelemetry_honeycomb.ipynb) | Necessary | providers, exporters, the OTLP endpoint and headers |
# | [04 CloudWatch Logs](04_cloudwatch_logs.ipynb) | Necessary | watchtower, log groups, metric filters |
# | [07 Sampling and cost](07_sampling_and_cost.ipynb) | Helpful | the per-request cost of traces and logs |
# | [08 Security](08_security_for_observability.ipynb) | Helpful | alarms, M of N, the local clock |
#
# - **Time to learn**: 45 minutes
# - **Runs in**: under 15 seconds in local mode. In cloud mode the alarm section cannot move time forward: the cells
#   say so, and the alarms evaluate on AWS's schedule (minutes to hours).

# %% [markdown]
# ## Set-up
# `setup()` starts the local cloud (or finds your real keys in `.env`) and sets the environment the SDKs read.

# %%
from lab_app.notebook import setup

lab = setup()
lab

# %% [markdown]
# ## Imports
# The first block is what backend-flask's `app.py` would import for metrics: the OpenTelemetry metrics SDK and OTLP
# exporter, AWS's `aws-embedded-metrics` (its serializer writes EMF documents), watchtower and boto3. The second is the
# workbook's plumbing: the services, the traffic generator, and readers that turn API answers into DataFrames.

# %%
import json
import logging
import math
import os
import time

import boto3
import matplotlib.pyplot as plt
import pandas as pd
import watchtower
from aws_embedded_metrics.logger.metrics_context import MetricsContext
from aws_embedded_metrics.serializers.log_serializer import LogSerializer
from flask import g, request
from opentelemetry import metrics
from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
from opentelemetry.sdk.metrics import Counter, Histogram, MeterProvider, UpDownCounter
from opentelemetry.sdk.metrics.export import AggregationTemporality, PeriodicExportingMetricReader
from opentelemetry.sdk.resources import Resource

from lab_app import services, slo, traffic
from lab_app.analysis import cost
from lab_app.notebook import show
from lab_app.query import cloudwatch as cwq
from lab_app.query import metrics as metrics_q
from lab_app.query import spans as spans_q
from lab_app.services import Fault, Faults

# %% [markdown]
# ## 1. backend-flask with RED metrics
#
# **RED** is the classic trio for a request-serving service: **R**ate (requests per second), **E**rrors (how many
# of them failed) and **D**uration (how long they took, as a distribution). We record them in two ways at once.
#
# ### OpenTelemetry metrics
#
# A `MeterProvider` holds the instruments; a `PeriodicExportingMetricReader` collects them every
# `export_interval_millis` and hands them to the `OTLPMetricExporter`, which POSTs them to `<endpoint>/v1/metrics`.
# Honeycomb **requires** an `x-honeycomb-dataset` header for metrics (without it they land in a dataset called
# `unknown_metrics`), on top of the `x-honeycomb-team` key of `OTEL_EXPORTER_OTLP_HEADERS`; passing `headers=` to
# the exporter replaces the environment's headers, so the cell builds both. Three instruments:
#
# | instrument | kind | attributes | what it answers |
# | --- | --- | --- | --- |
# | `http.server.requests` | `Counter` | route, status | rate, and errors by status |
# | `http.server.duration` | `Histogram` (ms) | route, status | duration percentiles |
# | `http.server.active_requests` | `UpDownCounter` | route | requests in flight (goes up and down) |
#
# **Temporality**: a cumulative counter reports its total since the process started, a delta counter what happened
# since the last export. We ask for delta on the counter and the histogram, so a `SUM` over a time range is what
# happened in that range (the up-down counter stays cumulative: it is a level). `metrics.set_meter_provider` works
# **once per process** (like `set_tracer_provider` in 02): the cell keeps the provider of its first run.

# %%
METRICS_DATASET = "cruddur-metrics"
team_header = dict(pair.split("=", 1) for pair in os.environ["OTEL_EXPORTER_OTLP_HEADERS"].split(","))
exporter = OTLPMetricExporter(endpoint=os.environ["OTEL_EXPORTER_OTLP_ENDPOINT"].rstrip("/") + "/v1/metrics",
                              headers={**team_header, "x-honeycomb-dataset": METRICS_DATASET},
                              preferred_temporality={Counter: AggregationTemporality.DELTA,
                                                     Histogram: AggregationTemporality.DELTA,
                                                     UpDownCounter: AggregationTemporality.CUMULATIVE})
if isinstance(metrics.get_meter_provider(), MeterProvider):     # this cell ran before in this kernel: keep it
    meter_provider = metrics.get_meter_provider()
else:
    reader = PeriodicExportingMetricReader(exporter, export_interval_millis=60_000)
    meter_provider = MeterProvider(resource=Resource.create({"service.name": "backend-flask"}),
                                   metric_readers=[reader])
    metrics.set_meter_provider(meter_provider)
meter = metrics.get_meter("cruddur.red")
request_counter = meter.create_counter("http.server.requests", unit="{request}", description="requests served")
latency_histogram = meter.create_histogram("http.server.duration", unit="ms", description="time to answer")
in_flight = meter.create_up_down_counter("http.server.active_requests", unit="{request}",
                                         description="requests being served")
[request_counter.name, latency_histogram.name, in_flight.name]

# %% [markdown]
# ### The same RED metrics as embedded metric format (EMF) lines
#
# EMF is a JSON log line that *also* describes metrics: an `_aws` member names the namespace, the **dimension
# sets** and the metrics (with units); CloudWatch Logs extracts them when it ingests the line, and the line stays a
# searchable log event. One line per request, written by AWS's own `aws-embedded-metrics` serializer and sent by
# watchtower, so no agent is needed. Each dimension set becomes its own metric: `["service"]` for the service-wide
# SLO, `["service", "route", "status"]` to compare with the client per route and status. Properties that are not
# metrics (`request_id`) stay in the log event only: that is the bridge from a metric to the one request behind it.
#
# `CLOCK` is plumbing: the line's timestamp is when the request finished, on the local cloud's clock (LOCAL ONLY:
# section 6 moves that clock forward; in cloud mode it is the wall clock).

# %%
NAMESPACE = "Cruddur/RED"
LOG_GROUP = "cruddur-metrics"
EMF_STREAM = "backend-flask/emf"
LATENCY_THRESHOLD_MS = 150          # the latency SLI's "fast enough" (section 5)
CLOCK = slo.CloudClock()

logs = boto3.client("logs")
cloudwatch = boto3.client("cloudwatch")
try:
    logs.create_log_group(logGroupName=LOG_GROUP)
except logs.exceptions.ResourceAlreadyExistsException:
    pass
try:
    logs.create_log_stream(logGroupName=LOG_GROUP, logStreamName=EMF_STREAM)
except logs.exceptions.ResourceAlreadyExistsException:
    pass

EMF_LOGGER = logging.getLogger("cruddur.emf")
EMF_LOGGER.setLevel(logging.INFO)
EMF_LOGGER.propagate = False
for old in [h for h in EMF_LOGGER.handlers if isinstance(h, watchtower.CloudWatchLogHandler)]:
    EMF_LOGGER.removeHandler(old)     # a re-run replaces the handler instead of adding a second one
    old.close()
emf_handler = watchtower.CloudWatchLogHandler(log_group_name=LOG_GROUP, log_stream_name=EMF_STREAM,
                                              boto3_client=logs, send_interval=5, create_log_group=False)
EMF_LOGGER.addHandler(emf_handler)


def emf_line(route: str, status: int, latency_ms: float, request_id: str | None) -> str:
    context = MetricsContext.empty()
    context.namespace = NAMESPACE
    context.set_dimensions([{"service": "backend-flask"},
                            {"service": "backend-flask", "route": route, "status": str(status)}])
    context.put_metric("requests", 1, "Count")
    context.put_metric("errors", 1 if status >= 500 else 0, "Count")
    context.put_metric("slow", 1 if latency_ms >= LATENCY_THRESHOLD_MS else 0, "Count")
    context.put_metric("latency", latency_ms, "Milliseconds")
    context.set_property("request_id", request_id)
    context.meta["Timestamp"] = int(CLOCK.now() * 1000)
    (line,) = LogSerializer.serialize(context)      # one document: 4 metrics, well under EMF's 100
    return line


json.loads(emf_line("/api/activities/home", 200, 12.5, "example"))

# %% [markdown]
# ### The app and its hooks
#
# The notifications service runs in its own process. `INCIDENT` is a fault rule that does nothing yet (section 6
# switches it on); `Faults` draws from a seeded random stream, so the run is the same every time. `before_request`
# starts the timer and counts the request in flight; `after_request` records the three OpenTelemetry instruments and
# logs the EMF line; `teardown_request` takes the request out of flight (it runs even when the view raised).

# %%
INCIDENT = "backend-flask:GET /api/message_groups"
faults = Faults({INCIDENT: Fault()})
notifications = services.downstream.start(otel=False, xray=False)
app = services.create_backend_app(notifications.url, faults=faults)


def route_of() -> str:
    return request.url_rule.rule if request.url_rule else "(unmatched)"


@app.before_request
def start_timer():
    g.t0 = time.perf_counter()
    in_flight.add(1, {"http.route": route_of()})


@app.after_request
def record_red(response):
    latency_ms = (time.perf_counter() - g.get("t0", time.perf_counter())) * 1000
    attributes = {"http.route": route_of(), "http.response.status_code": response.status_code}
    request_counter.add(1, attributes)
    latency_histogram.record(latency_ms, attributes)
    EMF_LOGGER.info(emf_line(route_of(), response.status_code, latency_ms, g.get("request_id")))
    return response


@app.teardown_request
def leave_flight(_error):
    in_flight.add(-1, {"http.route": route_of()})


backend = services.serve_backend(app)
backend

# %% [markdown]
# ### Checkpoint: one request, one EMF line that CloudWatch turned into metrics

# %%
meter_provider.force_flush()                 # export what earlier runs recorded: from here on, this run only
otel_start = math.ceil(time.time())          # Honeycomb's times are the wall clock, in whole seconds: wait for
time.sleep(max(0.0, otel_start - time.time()))   # the next one, so every later point is at or after otel_start
probe_start = CLOCK.timestamp().floor("min")
probe = traffic.send("GET", backend.url + "/api/activities/home", headers={"X-Cruddur-User": "andrewbrown"})
emf_handler.flush()
probe_lines = logs.filter_log_events(logGroupName=LOG_GROUP, logStreamNames=[EMF_STREAM],
                                     filterPattern=f'{{ $.request_id = "{probe.headers["X-Request-Id"]}" }}')["events"]
assert probe.status_code == 200 and len(probe_lines) == 1, probe_lines
probe_doc = json.loads(probe_lines[0]["message"])
assert probe_doc["_aws"]["CloudWatchMetrics"][0]["Namespace"] == NAMESPACE and probe_doc["requests"] == 1
listed = cloudwatch.list_metrics(Namespace=NAMESPACE, MetricName="requests",
                                 Dimensions=[{"Name": "route", "Value": "/api/activities/home"}])["Metrics"]
assert listed, "the EMF line made no metric: is the namespace right?"

# %% [markdown]
# ## 2. Traffic, and the client's own counts
#
# 200 requests from 8 concurrent clients with the standard mix (5 % of them deliberately invalid: 4xx answers).
# The traffic generator records every answer: that is the **client's view**, the ground truth every metric below is
# checked against. `run_start` is the probe's minute (the metrics' resolution), so the probe counts too.
#
# **LOCAL ONLY**, for re-runs: section 6 needs a 6-hour window without an earlier run's incident in it. If the last
# 6 hours hold 5xx errors, the first lines move the local cloud's clock 6 hours on (cloud mode: nothing moves; wait,
# or read section 6's numbers knowing the window holds older traffic too).

# %%
earlier = cloudwatch.get_metric_statistics(
    Namespace=NAMESPACE, MetricName="errors", Dimensions=[{"Name": "service", "Value": "backend-flask"}],
    StartTime=(CLOCK.timestamp() - pd.Timedelta(hours=6)).to_pydatetime(), EndTime=CLOCK.timestamp().to_pydatetime(),
    Period=21600, Statistics=["Sum"])["Datapoints"]
if sum(p["Sum"] for p in earlier) > 0 and slo.advance_clock(6 * 3600):     # LOCAL ONLY
    CLOCK.sync()
    meter_provider.force_flush()
    otel_start = math.ceil(time.time())
    time.sleep(max(0.0, otel_start - time.time()))
    probe = traffic.send("GET", backend.url + "/api/activities/home", headers={"X-Cruddur-User": "andrewbrown"})
    probe_start = CLOCK.timestamp().floor("min") - pd.Timedelta(minutes=1)
run_start = probe_start
wall_start = int(time.time() * 1000)      # the log events' own timestamps (the wall clock)           # the probe request of section 1 is part of the client's view too
run = traffic.generate(backend.url, n=200, concurrency=8, seed=9, progress=False)
emf_handler.flush()
wall_end = int(time.time() * 1000) + 1
run_end = CLOCK.timestamp().ceil("min") + pd.Timedelta(minutes=1)
client_view = pd.concat([pd.DataFrame({"route": ["/api/activities/home"], "status": [probe.status_code]}),
                         run[["route", "status"]]], ignore_index=True)
client_counts = client_view.groupby(["route", "status"]).size().rename("client").reset_index()
client_counts["status"] = client_counts["status"].astype(int)
client_counts.sort_values("client", ascending=False).head(8)

# %% [markdown]
# ## 3. The metrics back into pandas
#
# ### CloudWatch: GetMetricData
#
# One query per metric, each with an `Id` (a lowercase first letter), a `MetricStat` (the metric, a `Period` in
# seconds and a statistic) and `ReturnData`. Here: requests per (route, status) over the run, one 1-hour period so
# each metric gives one number. `ListMetrics` finds which (route, status) dimension values exist.

# %%
window = dict(StartTime=run_start.to_pydatetime(), EndTime=run_end.to_pydatetime())
per_route = [m for m in cloudwatch.list_metrics(Namespace=NAMESPACE, MetricName="requests")["Metrics"]
             if {d["Name"] for d in m["Dimensions"]} == {"service", "route", "status"}]
queries = [{"Id": f"q{i}", "Label": json.dumps({d["Name"]: d["Value"] for d in m["Dimensions"]}),
            "MetricStat": {"Metric": m, "Period": 3600, "Stat": "Sum"}} for i, m in enumerate(per_route)]
answer = cloudwatch.get_metric_data(MetricDataQueries=queries, **window)
emf_counts = cwq.metric_frame(answer)
emf_counts = pd.concat([emf_counts.drop(columns="status"), emf_counts["label"].map(json.loads).apply(pd.Series)],
                       axis=1) \
    .groupby(["route", "status"])["value"].sum().rename("cloudwatch").reset_index()
emf_counts["status"] = emf_counts["status"].astype(int)
compare = client_counts.merge(emf_counts, on=["route", "status"], how="outer").fillna(0)
compare.sort_values("client", ascending=False).head(8)

# %% [markdown]
# ### Honeycomb: the Query Data API over the metrics dataset
#
# `force_flush()` exports now instead of at the next 60-second tick. In a metrics dataset each data point is a field
# of an event, named after the metric, with the point's attributes as columns; a query names the metric as its
# column. `SUM` of the delta counter is the number of requests in the time range; `P99` of the histogram merges the
# points' buckets. (A free Honeycomb team has no Query Data API: the cell then prints the query link for the UI.)

# %%
meter_provider.force_flush()
otel_spec = {"calculations": [{"op": "SUM", "column": "http.server.requests"},
                              {"op": "P99", "column": "http.server.duration"}],
             "breakdowns": ["http.route", "http.response.status_code"],
             "start_time": otel_start, "end_time": math.ceil(time.time()) + 1}
who = spans_q.whoami()
no_queries = spans_q.query_unavailable(who)
if no_queries is None:
    otel = metrics_q.query(METRICS_DATASET, **otel_spec).dropna(subset=["http.route"])   # (the up-down counter's
    otel_counts = otel.rename(columns={"http.route": "route", "http.response.status_code": "status",  # events have
                                       "SUM(http.server.requests)": "opentelemetry"})                   # no status)
    otel_counts = otel_counts.dropna(subset=["status"]).astype({"status": int})[["route", "status", "opentelemetry"]]
    compare = compare.merge(otel_counts, on=["route", "status"], how="outer").fillna(0)
else:
    print(f"No Query Data API: {no_queries}.")
    print("The same query in Honeycomb's UI:", spans_q.query_template_url(METRICS_DATASET, otel_spec, who))
compare.sort_values("client", ascending=False).head(8)

# %% [markdown]
# LOCAL ONLY: the stand-in also hands out every stored data point (Honeycomb has no such export): here the points of
# the up-down counter, a level per route that is back to 0 once the traffic is over.

# %%
in_flight_now = None
if lab.local:
    points = metrics_q.local_points(start=otel_start, dataset=METRICS_DATASET, metric="http.server.active_requests")
    in_flight_now = points.assign(route=points["attributes"].map(lambda a: a.get("http.route"))) \
        .sort_values("time").groupby("route")["value"].last()
in_flight_now

# %% [markdown]
# ### Checkpoint: CloudWatch and OpenTelemetry counted exactly what the client saw, per route and status

# %%
assert len(run) == 200 and run["status"].notna().all() and len(client_view) == 201
assert (compare["client"] == compare["cloudwatch"]).all(), compare[compare["client"] != compare["cloudwatch"]]
assert all(r["StatusCode"] == "Complete" for r in answer["MetricDataResults"])
if no_queries is None:
    assert (compare["client"] == compare["opentelemetry"]).all(), compare[compare["client"] != compare["opentelemetry"]]
if lab.local:
    assert len(in_flight_now) >= 5 and (in_flight_now == 0).all(), in_flight_now

# %% [markdown]
# ## 4. Monitoring vs observability
#
# A metric is a number aggregated per period, per dimension set. It answers **known questions cheaply** and fast:
# the request rate per minute, the p99 latency of each route over the day, the error ratio. CloudWatch computes them
# from what it stored per period (the local cloud keeps every value, so its percentiles are exact nearest-rank ones).

# %%
red = cloudwatch.get_metric_data(MetricDataQueries=[
    {"Id": "r", "MetricStat": {"Metric": {"Namespace": NAMESPACE, "MetricName": "requests",
                                          "Dimensions": [{"Name": "service", "Value": "backend-flask"}]},
                               "Period": 60, "Stat": "Sum"}, "Label": "requests/min"},
    {"Id": "e", "MetricStat": {"Metric": {"Namespace": NAMESPACE, "MetricName": "errors",
                                          "Dimensions": [{"Name": "service", "Value": "backend-flask"}]},
                               "Period": 60, "Stat": "Sum"}, "Label": "errors/min"},
    {"Id": "p99", "MetricStat": {"Metric": {"Namespace": NAMESPACE, "MetricName": "latency",
                                            "Dimensions": [{"Name": "service", "Value": "backend-flask"}]},
                                 "Period": 3600, "Stat": "p99"}, "Label": "p99 ms"},
], **window)
cwq.wide(cwq.metric_frame(red))

# %% [markdown]
# What a metric **cannot** answer is *why one request was slow*: the p99 is a number with no request behind it. The
# EMF line kept a `request_id` property (not a dimension: one dimension value per request would be one metric per
# request, and each metric is billed). The slowest request's line is one query away, and from its id the trace and
# the logs (notebook 06): that is the step from monitoring to observability.

# %%
slowest = run.sort_values("latency_ms").iloc[-1]
line = logs.filter_log_events(logGroupName=LOG_GROUP, logStreamNames=[EMF_STREAM],
                              filterPattern=f'{{ $.request_id = "{slowest["request_id"]}" }}')["events"]
{k: v for k, v in json.loads(line[0]["message"]).items() if k != "_aws"}

# %% [markdown]
# ### What each costs
#
# Metrics are billed **per metric** (each unique namespace + name + dimension values) per month, whatever the
# traffic; traces and logs are billed **per request** (notebook 07). The CloudWatch prices (us-east-1, see
# Resources): $0.30 per custom metric-month (first 10,000), $0.10 per standard-resolution alarm metric-month,
# $3.00 per dashboard-month, 10 metrics, 10 alarm metrics and 3 dashboards free. EMF lines are also log ingestion
# ($0.50 per GB, notebook 07's price table). We count our metrics with `ListMetrics`, measure the EMF bytes per
# request, and put both next to notebook 07's model of traces and logs at 20 requests/s.

# %%
all_metrics = cloudwatch.list_metrics(Namespace=NAMESPACE)["Metrics"]
emf_bytes = sum(len(e["message"].encode()) + 26 for e in logs.filter_log_events(
    logGroupName=LOG_GROUP, logStreamNames=[EMF_STREAM], startTime=wall_start, endTime=wall_end,
    limit=10_000)["events"]) / len(run)
REQUESTS_PER_SECOND = 20
monthly_requests = REQUESTS_PER_SECOND * 86400 * 30
CUSTOM_METRIC_USD, ALARM_METRIC_USD, LOGS_GB_USD = 0.30, 0.10, 0.50
metric_bill = pd.DataFrame([
    {"item": f"{len(all_metrics)} custom metrics", "usd_per_month": max(0, len(all_metrics) - 10) * CUSTOM_METRIC_USD},
    {"item": "EMF log ingestion", "usd_per_month": monthly_requests * emf_bytes / 1e9 * LOGS_GB_USD},
])
traces_07 = cost.estimate(cost.Usage(requests_per_month=monthly_requests,
                                     per_request=cost.PerRequest(4, 3, 500, 0.001)))
comparison = pd.DataFrame({
    "usd_per_month": [metric_bill["usd_per_month"].sum(), cost.total(traces_07)],
    "grows_with_traffic": ["only the EMF bytes", "yes: every span, segment and log line"],
}, index=["RED metrics (this notebook)", "traces + logs (notebook 07's hand model)"])
metric_bill, comparison

# %% [markdown]
# The counts above are the lesson: a dimension with many values (a user id, a request id) multiplies the metric
# count, and so the bill; traces and logs grow with requests instead. Keep dimensions few and bounded, and sample
# traces (notebook 07).

# %% [markdown]
# ### Checkpoint: the metric count is the dimension sets' combinations

# %%
combos = {(r, str(s)) for r, s in zip(client_view["route"], client_view["status"])}
listed_combos = {tuple(d["Value"] for d in m["Dimensions"] if d["Name"] in ("route", "status"))
                 for m in all_metrics if len(m["Dimensions"]) == 3}
assert combos <= listed_combos, combos - listed_combos          # (a re-run may have listed more)
assert len(all_metrics) == 4 * (1 + len(listed_combos)), len(all_metrics)   # 4 metrics x dimension values
assert 100 < emf_bytes < 2000, emf_bytes

# %% [markdown]
# ## 5. SLIs, a 30-day SLO and its error budget
#
# An **SLI** is a ratio of good events to valid events; an **SLO** is a target for it over a window; the **error
# budget** is what the target leaves: with a 99 % availability SLO over 30 days, 1 % of the month's requests may
# fail. Two SLIs from the EMF metrics, as metric math (arithmetic between metrics, `FILL` for periods with no
# datapoint, `IF` and comparisons):
#
# * availability: `1 - FILL(errors, 0) / requests` (errors are 5xx answers; 4xx are the client's fault)
# * latency: `1 - FILL(slow, 0) / requests` (slow: at least `LATENCY_THRESHOLD_MS`)

# %%
SLO = 0.99
BUDGET = 1 - SLO
service = [{"Name": "service", "Value": "backend-flask"}]


def red_metric(qid: str, name: str, period: int) -> dict:
    return {"Id": qid, "ReturnData": False, "MetricStat": {
        "Metric": {"Namespace": NAMESPACE, "MetricName": name, "Dimensions": service}, "Period": period,
        "Stat": "Sum"}}


sli_queries = [red_metric("r", "requests", 3600), red_metric("e", "errors", 3600), red_metric("s", "slow", 3600),
               {"Id": "availability", "Expression": "1 - FILL(e, 0) / r", "Label": "availability SLI"},
               {"Id": "latency", "Expression": "1 - FILL(s, 0) / r", "Label": "latency SLI"},
               {"Id": "budget_left", "Expression": f"1 - (FILL(e, 0) / r) / {BUDGET}",
                "Label": "error budget left"}]
sli = cwq.wide(cwq.metric_frame(cloudwatch.get_metric_data(MetricDataQueries=sli_queries, **window)))
sli

# %% [markdown]
# ### Checkpoint: the SLIs equal the client's own ratios

# %%
want_availability = 1 - (client_view["status"] >= 500).sum() / len(client_view)
assert abs(sli["availability SLI"].iloc[-1] - want_availability) < 1e-9, (sli, want_availability)
assert 0 < sli["latency SLI"].iloc[-1] <= 1

# %% [markdown]
# ## 6. Multi-window multi-burn-rate alarms
#
# The **burn rate** is how fast the budget goes: the error ratio divided by the budget (1 % errors against a 1 %
# budget is 1x: the budget lasts exactly 30 days). The SRE workbook's recommended alerts page on a fast burn
# (**14.4x** over **1 hour**, confirmed over **5 minutes**: 2 % of the month's budget in an hour) and on a slower
# one (**6x** over **6 hours**, confirmed over **30 minutes**: 5 % of the budget). The long window makes the alert
# significant, the short one makes it reset soon after the fault is fixed.
#
# Each window is one CloudWatch alarm on a metric-math expression (`Metrics=[...]`), the two metrics' `Period` being
# the window; CloudWatch evaluates it every minute over the last window. Each alert is a **composite alarm** whose
# rule joins its two windows, `ALARM("long") AND ALARM("short")`: that is the alarm you would page on (give it the
# `AlarmActions`, not the window alarms).

# %%
WINDOWS = {"fast": [(3600, 14.4), (300, 14.4)], "slow": [(21600, 6.0), (1800, 6.0)]}


def burn_rate_alarm(alert: str, period: int, factor: float) -> str:
    name = f"slo-{alert}-burn-{period // 60}m"
    cloudwatch.put_metric_alarm(
        AlarmName=name, AlarmDescription=f"{factor}x budget burn over {period // 60} min (SLO {SLO:.1%})",
        Metrics=[red_metric("e", "errors", period), red_metric("r", "requests", period),
                 {"Id": "burn", "Expression": f"(FILL(e, 0) / r) / {BUDGET}", "Label": "burn rate",
                  "ReturnData": True}],
        ComparisonOperator="GreaterThanThreshold", Threshold=factor, EvaluationPeriods=1,
        TreatMissingData="notBreaching")
    return name


def all_alarm_names() -> list[str]:
    return [f"slo-{alert}-burn" for alert in WINDOWS] + [
        f"slo-{alert}-burn-{period // 60}m" for alert, windows in WINDOWS.items() for period, _ in windows]


cloudwatch.delete_alarms(AlarmNames=all_alarm_names())     # a re-run starts without them (deleting is idempotent)


def composite_alert(alert: str, long_name: str, short_name: str) -> str:
    name = f"slo-{alert}-burn"
    cloudwatch.put_composite_alarm(AlarmName=name, AlarmRule=f'ALARM("{long_name}") AND ALARM("{short_name}")',
                                   AlarmDescription=f"{alert} burn of the {SLO:.1%} SLO's error budget")
    return name


def alert_states() -> pd.DataFrame:
    found = cloudwatch.describe_alarms(AlarmNames=all_alarm_names(), AlarmTypes=["MetricAlarm", "CompositeAlarm"])
    state = {a["AlarmName"]: a["StateValue"] for a in found["MetricAlarms"] + found["CompositeAlarms"]}
    rows = [{"alert": alert, "long window": state[long_], "short window": state[short],
             "composite alarm": state[f"slo-{alert}-burn"]} for alert, (long_, short) in ALARMS.items()]
    return pd.DataFrame(rows).set_index("alert")

# %% [markdown]
# ### An hour passes, the alarms are created, then the incident (LOCAL ONLY clock control)
#
# **LOCAL ONLY:** `slo.advance_clock()` moves the local cloud's clock forward; every alarm evaluation the jump
# crosses runs before it returns (`CLOCK.sync()` lets the app stamp its metrics with the new time). In cloud mode it
# does nothing: on AWS the healthy traffic above is simply older when the incident happens. The four window alarms
# and the two composite alarms are created after the jump (a new metric alarm starts in `INSUFFICIENT_DATA`); the
# windows still reach back to the healthy traffic. The skipped time stays skipped: the local cloud's clock is now
# ahead of your wall clock, as after notebook 08 (`python -m lab_app.localcloud reset` starts over).

# %%
moved = slo.advance_clock(65 * 60)              # LOCAL ONLY: 65 minutes later (cloud mode: returns False)
CLOCK.sync()
ALARMS = {alert: [burn_rate_alarm(alert, p, f) for p, f in windows] for alert, windows in WINDOWS.items()}
PAGES = [composite_alert(alert, *names) for alert, names in ALARMS.items()]
alert_states()

# %% [markdown]
# Then the fault: the message-groups route raises on every request, and 40 requests (a fifth of them to that
# route) come in. The traffic generator counts the errors itself.

# %%
faults.rules[INCIDENT] = Fault(exception_rate=1.0)           # inject: every message_groups request fails
incident = traffic.generate(backend.url, n=40, concurrency=8, seed=11, progress=False,
                            mix={"GET /api/message_groups": 1, "GET /api/activities/home": 4}, invalid_rate=0.0)
faults.rules[INCIDENT] = Fault()                             # fixed
emf_handler.flush()
incident_errors = int((incident["status"] >= 500).sum())
moved, incident_errors, len(incident)

# %% [markdown]
# The minute with the incident is complete once the clock passes the next boundary (LOCAL ONLY: jump there; in
# cloud mode, wait a minute or two and re-run `alert_states()`).

# %%
now = slo.cloud_now().timestamp()
slo.advance_clock((int(now // 60) + 1) * 60 + 1 - now)        # LOCAL ONLY
states = alert_states()
states

# %% [markdown]
# By hand: the last hour holds only the incident, `incident_errors` of 40 requests, far above 14.4 % (the fast
# threshold: 14.4 x 1 %), and so does the last 5 minutes: the **fast** alert fires. The last 6 hours also hold the
# 201 healthy requests, which dilute the ratio below 6 % (the slow threshold), so the **slow** alert does not, even
# though its 30-minute window alone would have fired: that is what the long window is for.

# %% [markdown]
# ### Checkpoint: fast burn fires, slow burn does not, and the numbers match the client's

# %%
healthy_errors = int((run["status"] >= 500).sum())
one_hour_ratio = incident_errors / len(incident)
six_hour_ratio = (incident_errors + healthy_errors) / (len(incident) + len(client_view))
assert one_hour_ratio / BUDGET > 14.4 and six_hour_ratio / BUDGET < 6.0, (one_hour_ratio, six_hour_ratio)
if moved:
    assert states.loc["fast", "composite alarm"] == "ALARM" and states.loc["slow", "composite alarm"] == "OK", states
    assert states.loc["slow", "short window"] == "ALARM" and states.loc["slow", "long window"] == "OK", states
    reason = cloudwatch.describe_alarms(AlarmNames=[ALARMS["fast"][0]])["MetricAlarms"][0]["StateReasonData"]
    assert abs(json.loads(reason)["recentDatapoints"][0] - one_hour_ratio / BUDGET) < 1e-9, reason

# %% [markdown]
# ### The budget burned, over time
#
# `RUNNING_SUM` adds the errors up period by period; divided by the budget of the requests so far it is the share
# of the error budget burned (100 % means the SLO is missed for the traffic so far).

# %%
history = dict(StartTime=run_start.to_pydatetime(), EndTime=(slo.cloud_now() + pd.Timedelta(minutes=1)).to_pydatetime())
burned_queries = [red_metric("r", "requests", 60), red_metric("e", "errors", 60),
                  {"Id": "burned", "Label": "budget burned %",
                   "Expression": f"100 * RUNNING_SUM(FILL(e, 0)) / ({BUDGET} * RUNNING_SUM(FILL(r, 0)))"}]
burned = cwq.wide(cwq.metric_frame(cloudwatch.get_metric_data(MetricDataQueries=burned_queries,
                                                              ScanBy="TimestampAscending", **history)))
fig, ax = plt.subplots(figsize=(8, 3))
burned["budget burned %"].plot(ax=ax, drawstyle="steps-post")
ax.axhline(100, color="red", linestyle="--", label="whole budget")
ax.set_ylabel("% of the error budget")
ax.legend()
show(alt="A step line of the share of the error budget burned, flat near zero during the healthy traffic, then "
         "jumping far above the dashed 100 % line when the incident's errors arrive an hour later.", fig=fig)

# %%
assert burned["budget burned %"].iloc[-1] > 100, burned.tail()
assert abs(burned["budget burned %"].iloc[-1] - 100 * six_hour_ratio / BUDGET) < 1e-6

# %% [markdown]
# ## 7. A dashboard in JSON, drawn with matplotlib
#
# A CloudWatch dashboard is a JSON body of widgets (`PutDashboard`); a metric widget's `metrics` array holds the
# same queries as GetMetricData (a line `[namespace, name, dimension, value, {options}]` per metric, `{"expression":
# ...}` for metric math). `slo.dashboard_metrics` writes our query lists in that form, so the dashboard and the
# drawing below come from the same queries. CloudWatch validates the body and answers `InvalidParameterInput` with
# the problems listed.

# %%
panels = {
    "Requests and errors per minute": [red_metric("r", "requests", 60) | {"ReturnData": True, "Label": "requests"},
                                       red_metric("e", "errors", 60) | {"ReturnData": True, "Label": "errors"}],
    "Burn rate (5 min)": [red_metric("r", "requests", 300), red_metric("e", "errors", 300),
                          {"Id": "burn", "Expression": f"(FILL(e, 0) / r) / {BUDGET}", "Label": "burn rate"}],
}
body = {"widgets": [
    {"type": "metric", "x": 12 * (i % 2), "y": 0, "width": 12, "height": 6,
     "properties": {"title": title, "view": "timeSeries", "region": os.environ.get("AWS_DEFAULT_REGION", "us-east-1"),
                    "metrics": slo.dashboard_metrics(qs)}} for i, (title, qs) in enumerate(panels.items())]
    + [{"type": "alarm", "x": 0, "y": 6, "width": 24, "height": 3, "properties": {
        "title": "Burn-rate alerts", "alarms": [a["AlarmArn"] for a in cloudwatch.describe_alarms(
            AlarmNames=PAGES, AlarmTypes=["CompositeAlarm"])["CompositeAlarms"]]}}]}
cloudwatch.put_dashboard(DashboardName="cruddur-slo", DashboardBody=json.dumps(body))

# %%
fig, axes = plt.subplots(1, len(panels), figsize=(11, 3))
for ax, (title, qs) in zip(axes, panels.items()):
    cwq.wide(cwq.metric_frame(cloudwatch.get_metric_data(MetricDataQueries=qs, **history))).plot(
        ax=ax, drawstyle="steps-post", title=title)
    ax.set_xlabel("")
fig.tight_layout()
show(alt="Two panels of the dashboard: requests and errors per minute (a block of traffic, then an hour later a "
         "smaller block with errors), and the 5-minute burn rate, near zero first and far above 14 at the incident.",
     fig=fig)

# %% [markdown]
# ### Checkpoint: the dashboard is stored as sent, and a bad body is refused with reasons

# %%
stored = json.loads(cloudwatch.get_dashboard(DashboardName="cruddur-slo")["DashboardBody"])
assert stored == body and len(stored["widgets"]) == 3
try:
    cloudwatch.put_dashboard(DashboardName="cruddur-slo", DashboardBody=json.dumps({"widgets": [{"type": "metric"}]}))
    raise AssertionError("CloudWatch accepted a widget without properties")
except cloudwatch.exceptions.DashboardInvalidInputError as error:
    refused = error.response["dashboardValidationMessages"]
refused

# %% [markdown]
# ## 8. Your turn
#
# ### Your turn 1: a query of your own
#
# How many requests did the **search** route (`/api/activities/search`) answer with status 200 during the run of
# section 2? Write the GetMetricData query list in `my_queries`: one query, `Id` `mine`, the EMF metric `requests`
# with the dimensions `service`, `route` and `status` (all three: a metric is its exact dimension set), statistic
# `Sum`, one period covering the run (3600 s). Hint: the queries of section 3.

# %%
my_queries = ...  # your MetricDataQueries list

# %% [markdown]
# The collapsed cell holds a solution; it only fills in `my_queries` if you left it as `...`.

# %% jupyter={"source_hidden": true}
if my_queries is ...:
    my_queries = [{"Id": "mine", "MetricStat": {"Metric": {"Namespace": NAMESPACE, "MetricName": "requests",
                                                           "Dimensions": service + [
                                                               {"Name": "route", "Value": "/api/activities/search"},
                                                               {"Name": "status", "Value": "200"}]},
                                                "Period": 3600, "Stat": "Sum"}}]

# %% [markdown]
# ### Checkpoint: your number is the client's

# %%
mine = cloudwatch.get_metric_data(MetricDataQueries=my_queries, **window)["MetricDataResults"]
want = int(((run["route"] == "/api/activities/search") & (run["status"] == 200)).sum())
assert len(mine) == 1 and mine[0]["Id"] == "mine", "one query with Id 'mine'"
assert mine[0]["Values"], "no datapoint: are the three dimensions (service, route, status) and the namespace right?"
assert sum(mine[0]["Values"]) == want, f"CloudWatch says {sum(mine[0]['Values'])}, the client counted {want}"

# %% [markdown]
# ### Your turn 2: the burn-rate threshold for your own SLO
#
# Your team agrees on a **99.9 %** availability SLO over 30 days. The slow alert should page when **5 %** of the
# month's budget is gone in **6 hours**. What burn-rate threshold does that alarm need? (The burn rate that
# spends the whole budget in 30 days is 1.) Put the number in `my_threshold`.

# %%
my_threshold = ...  # a number

# %% jupyter={"source_hidden": true}
if my_threshold is ...:
    my_threshold = 0.05 * (30 * 24) / 6       # 5 % of the budget in 6 of the month's 720 hours: 6x

# %% [markdown]
# ### Checkpoint: the threshold, and what it means for the error ratio

# %%
assert isinstance(my_threshold, (int, float)), "a number, please"
assert abs(my_threshold - 6.0) < 1e-9, f"{my_threshold}: 5 % of the budget in 6 h is 0.05 x 720 h / 6 h"
print(f"page when the 6-hour error ratio exceeds {my_threshold * (1 - 0.999):.2%}")

# %% [markdown]
# ## Clean up
# The six alarms are deleted (in cloud mode each alarm metric is billed; the dashboard stays, delete it with
# `delete_dashboards` if you do not keep it); the services stop.

# %%
cloudwatch.delete_alarms(AlarmNames=all_alarm_names())
notifications.stop()

# %% [markdown]
# ## Summary
#
# - **RED metrics** (rate, errors, duration) come from a few lines in the request hooks: OpenTelemetry's `Counter`,
#   `Histogram` and `UpDownCounter` behind a `MeterProvider` with a periodic OTLP reader (Honeycomb needs the
#   `x-honeycomb-dataset` header), or CloudWatch **EMF** lines that CloudWatch Logs turns into metrics on ingest, one
#   metric per dimension set, with the line kept as a log event.
# - Checked against the client: every request counted once, per route and status.
# - Metrics answer known questions cheaply, billed per metric whatever the traffic; why *one* request was slow needs
#   its id, its trace and its logs. Keep dimensions bounded.
# - An **SLO** turns a metric into a promise; the **error budget** is what it leaves; **burn-rate** alerts over a long
#   and a short window (1 h / 5 min at 14.4x, 6 h / 30 min at 6x) page on what threatens the budget, not on every
#   blip: here the fast one (a composite of its two window alarms) fired on the incident, the slow one did not.
#
# ## What's next
#
# [10 threat detection](10_threat_detection.ipynb): GuardDuty findings routed by EventBridge to an auto-remediation,
# Security Hub triage, and CloudWatch Logs data protection. Or go back to
# [06 correlate the pillars](06_correlate_the_pillars.ipynb) and start from a burn-rate alarm: find the failing
# requests' ids in the EMF lines, then their traces.
#
# ## Resources
# - CloudWatch: [embedded metric format specification](https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html)
#   (dimension sets of at most 30 keys, at most 100 metrics per directive, StorageResolution 1 or 60),
#   [aws-embedded-metrics for Python](https://github.com/awslabs/aws-embedded-metrics-python),
#   [metric math syntax and functions](https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/using-metric-math.html),
#   [GetMetricData](https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_GetMetricData.html)
#   and [MetricDataQuery](https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_MetricDataQuery.html)
#   (Id pattern `^[a-z][a-zA-Z0-9_]*$`), [alarms on metric math](https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/Create-alarm-on-metric-math-expression.html),
#   [composite alarms](https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/Create_Composite_Alarm.html),
#   [dashboard body structure](https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/CloudWatch-Dashboard-Body-Structure.html)
# - [Amazon CloudWatch pricing](https://aws.amazon.com/cloudwatch/pricing/) (us-east-1): the free tier as the page
#   showed it on 2026-12-02 (10 metrics, 10 alarm metrics, 3 dashboards for up to 50 metrics, 1 million API requests
#   not counting GetMetricData, 5 GB of logs); the paid prices used here ($0.30 per custom metric-month for the first
#   10,000, $0.10 per standard-resolution alarm metric-month, $3.00 per dashboard-month, $0.50 per GB of logs
#   ingested, the last from `data/pricing.json`) change: check the page before you rely on them
# - OpenTelemetry: [metrics SDK for Python](https://opentelemetry-python.readthedocs.io/en/latest/sdk/metrics.html),
#   [HTTP metrics semantic conventions](https://opentelemetry.io/docs/specs/semconv/http/http-metrics/);
#   Honeycomb: [send metrics with OpenTelemetry, `x-honeycomb-dataset`](https://docs.honeycomb.io/send-data/metrics/application/)
# - Google SRE workbook, [Alerting on SLOs](https://sre.google/workbook/alerting-on-slos/): multi-window,
#   multi-burn-rate alerts (1 h / 5 min at 14.4x and 6 h / 30 min at 6x for a 30-day SLO);
#   [Implementing SLOs](https://sre.google/workbook/implementing-slos/)
# - The RED method: Tom Wilkie, [The RED Method: key metrics for microservices architecture](https://grafana.com/blog/2018/08/02/the-red-method-how-to-instrument-your-services/)

# %% [markdown]
# <!-- navigation -->
# ← Previous: [Security for observability: audit trail, alarms, notifications, secrets and PII](08_security_for_observability.ipynb) · [Start here](00_start_here.ipynb) · Next: [Threat detection: GuardDuty, Security Hub, EventBridge auto-remediation and log data protection](10_threat_detection.ipynb) →
