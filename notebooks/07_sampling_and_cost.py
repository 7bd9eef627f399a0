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
# # Sampling and cost: what each strategy keeps, and what it costs
#
# Notebook 06 traced every request and found the faults. Tracing everything has a price that grows with traffic:
# X-Ray bills each recorded trace, CloudWatch Logs each ingested GB, Honeycomb each span, Rollbar each
# occurrence. This notebook measures what one request produces, turns it into a monthly bill at a traffic level
# you choose, and replays several sampling strategies on the same traffic to see what each one would have hidden.

# %% [markdown]
# ## Overview
# 1. One traffic run with every instrument on
# 2. Measure per request: spans, segments, log bytes, Rollbar occurrences
# 3. The cost model: your traffic level, the price list, the free tiers
# 4. Sampling strategies replayed on the same traffic
# 5. Cost against the faults each strategy still shows

# %% [markdown]
# ## Prerequisites
#
# | Concept | Importance | Notes |
# | --- | --- | --- |
# | [06 Correlate the pillars](06_correlate_the_pillars.ipynb) | Necessary | the faults and how they were found |
# | [03 AWS X-Ray](03_aws_xray.ipynb), sampling rules | Necessary | reservoir + fixed rate |
# | Head vs tail sampling | Helpful | decided at the first span vs after the request finished |
#
# - **Time to learn**: 30 minutes

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
import logging
import math
import os
import time

import boto3
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

from lab_app import services, traffic
from lab_app.analysis import correlate, cost, plots, sampling
from lab_app.notebook import show
from lab_app.query import insights
from lab_app.query import rollbar as rollbar_q
from lab_app.query import spans as spans_q
from lab_app.query import xray as xq
from lab_app.services import Faults

# %% [markdown]
# ## 1. One traffic run
#
# The same four instruments as notebook 06's `app.py` (the cell below is that set-up, unchanged: see 06 for what
# each line does), the same lesson faults, a different seed for the traffic.

# %%
faults = Faults.lesson()
notifications = services.downstream.start(otel=True, xray=True, log_group="cruddur", faults=faults)
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
run = traffic.generate(backend.url, n=250, concurrency=8, seed=7, progress=False)
provider.force_flush()
cw_handler.flush()
rollbar.wait()
notifications.stop()        # flushes the downstream's spans, segments and log lines
window_end = pd.Timestamp.now(tz="UTC") + pd.Timedelta(seconds=2)
traffic.route_summary(run)

# %% [markdown]
# ## 2. Measure per request
#
# Each tool's own API says how much this run produced: spans stored by the Honeycomb stand-in, segments and
# subsegments X-Ray returns, the bytes of every log event, the Rollbar occurrences.

# %%
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

# %% [markdown]
# ### Checkpoint: the measurements add up

# %%
assert per_request.requests == len(run) == 250
assert 1 <= per_request.spans <= 8 and 1 <= per_request.segments <= 8
assert per_request.spans * 250 == len(spans) and per_request.log_bytes * 250 == log_bytes
# one JSON access line per backend request; the downstream adds its own
assert (logs["stream"] == "backend-flask/access-json").sum() == len(run) < len(logs)
assert 0 < per_request.rollbar_occurrences < 0.2

# %% [markdown]
# ## 3. The cost model
#
# Prices and free tiers live in `data/pricing.json`, each with its source page and the date it was read.
# **Prices and free tiers change**: check the sources before you quote a number. Items marked `confirmed = False`
# could not be re-read from the vendor's page when the file was written.

# %%
prices = cost.pricing_table()
prices[["service", "item", "plan", "unit", "usd_per_unit", "included_per_month", "usd_per_month", "confirmed", "read_on", "source"]]

# %% [markdown]
# **What you pay for is also how long it is kept.** The bill above buys a retention period that differs by service:
#
# | Service | Keeps your data | Can you change it? |
# | --- | --- | --- |
# | AWS X-Ray | traces for 30 days | no |
# | CloudWatch Logs | **forever** by default ("Never expire"), billed as storage every month | yes: `PutRetentionPolicy`, 1 day to 10 years (notebook 04 sets 14 days) |
# | Honeycomb | 60 days (its retention window for most customers) | by plan |
# | Rollbar | 30 days on the free plan (the journal's note, March 2023) | by plan |
#
# The model's `log_retention_days` (30 by default) is the retention policy you set: storage is what it keeps.

# %% [markdown]
# Set the traffic level you want to plan for. Everything else (spans, segments, bytes, errors per request) is
# what you just measured; the X-Ray console and Logs Insights usage are assumptions you can change too
# (`cost.Usage` lists them).

# %%
REQUESTS_PER_SECOND = 20          # <- your traffic level
usage = cost.Usage.from_measurements(per_request, requests_per_second=REQUESTS_PER_SECOND)
estimate = cost.estimate(usage)
unpriced = estimate.loc[estimate["cost_usd"].isna(), "service"].tolist()
print(f"{usage.requests_per_month:,.0f} requests a month; ${cost.total(estimate):,.2f} a month"
      + (f" plus {', '.join(unpriced)} beyond the largest plan in the price list" if unpriced else ""))
estimate[["service", "item", "unit", "usage", "free_tier", "billable", "usd_per_unit", "plan", "cost_usd", "within_free_tier"]]

# %%
plots.cost_bars(estimate, title=f"monthly cost at {REQUESTS_PER_SECOND} requests/s, every request traced")
top = estimate.loc[estimate["cost_usd"].idxmax()]
show(alt=f"Horizontal bars, one per billed item, of the monthly cost at {REQUESTS_PER_SECOND} requests/s with every "
         f"request traced. The largest is {top['service']} {top['item']} at ${top['cost_usd']:,.2f}; "
         f"{int(estimate['within_free_tier'].sum())} items stay within their free tier"
         + (f"; {', '.join(unpriced)} cannot be priced from the price list" if unpriced else "") + ".")

# %%
sweep = cost.sweep(per_request, [0.1, 1, 5, 20, 100, 500])
ax = sweep.pivot(index="requests_per_second", columns="service", values="cost_usd").plot(
    logx=True, marker="o", figsize=(8, 4), title="monthly cost by traffic level (everything traced)")
ax.set_ylabel("USD per month")
show(alt="Monthly cost per service (one line each, see the legend) against requests per second on a log axis, "
         "from 0.1 to 500 requests/s with every request traced: every line starts at or near $0 inside the free "
         "tiers and grows with traffic once they are used up.")

# %% [markdown]
# ### Checkpoint: the arithmetic, by hand
#
# A month of 10 million requests, 5 % of them traced by X-Ray, 500 bytes of logs each, 30-day retention,
# computed here line by line from the price list and compared with the model.

# %%
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

# %% [markdown]
# ## 4. Sampling strategies on the same traffic
#
# Every strategy is replayed on the 250 requests above, deterministically:
#
# * **X-Ray rules** (reservoir + fixed rate): per second, the first `reservoir` matching requests are traced, the
#   rest with probability `fixed_rate`. `Default` is 1/s + 5 %; the journal's rule (`data/xray-sampling-rule.json`,
#   which notebook 03 created) is 5/s + 10 %; one variant traces every search and samples the rest by `Default`;
#   one keeps only 1 %.
# * **OpenTelemetry head sampling** (`TraceIdRatioBased`): keep a trace when the lower 64 bits of its id are below
#   `ratio x 2^64`; decided before anything went wrong.
# * **Tail-style**: decided after the request finished, so it can keep every error (and every slow request).
#   Real systems do this in a collector (OpenTelemetry's tail sampling processor, Honeycomb Refinery).
#
# What counts as a fault is taken from the data, as in notebook 06: the slowest route and every route that
# answered 5xx.
#
# **A reservoir keeps a share that depends on the traffic level.** The replay above ran as fast as 8 threads could
# send (its rate is in `replay_requests_per_second`), so 1 request per second of reservoir was a small share of it.
# At your `REQUESTS_PER_SECOND` a rule that matches `R` requests a second records `min(R, reservoir) +
# fixed_rate x (R - reservoir)` of them: 5/s + 10 % keeps all of 4 requests/s, 32.5 % of 20 requests/s and 10.9 % of
# 500. So the table has two fractions: `kept_fraction` (what the replay kept, used for the faults it shows) and
# `priced_fraction` (what the strategy keeps at your traffic level, used for the cost). A ratio and a tail-style
# policy keep the same share at any rate.

# %%
slowest = correlate.slow_routes(spans, service="backend-flask").iloc[0]
slow_route = slowest["http_route"]                                  # a route template, as in the traffic frame
error_routes = sorted(run.loc[run["status"] >= 500, "route"].unique())
fault_kinds = [sampling.FaultKind(f"slow {slow_route}", slow_route, "slow", slow_ms=150)] + \
              [sampling.FaultKind(f"errors {route}", route, "error") for route in error_routes]
strategies = sampling.standard_strategies(slow_ms=150)
decisions = sampling.decide_all(run, strategies, seed=0)
comparison = sampling.compare(run, decisions, fault_kinds, strategies=strategies, per_request=per_request,
                              requests_per_second=REQUESTS_PER_SECOND)
comparison[["strategy", "kept", "kept_fraction", "replay_requests_per_second", "errors", "errors_kept",
            "faults_visible", "faults_total", "priced_fraction", "xray_traces_per_month", "xray_usd_per_month",
            "honeycomb_events_per_month"]]

# %%
sampling.fault_visibility(run, decisions, fault_kinds).pivot(index="strategy", columns="fault", values="kept")

# %% [markdown]
# ## 5. Cost against what you can still see

# %%
plots.sampling_tradeoff(comparison, cost_col="xray_usd_per_month",
                        title=f"X-Ray cost at {REQUESTS_PER_SECOND} requests/s against the failures still traced")
cheapest_full = comparison[comparison["errors_kept"] == comparison["errors"]].sort_values("xray_usd_per_month").iloc[0]
show(alt=f"Two aligned bar charts, one row per sampling strategy sorted by monthly X-Ray cost at {REQUESTS_PER_SECOND} "
         "requests/s, coloured by family (X-Ray rules, OpenTelemetry head ratio, tail-style). Left: the cost; right: "
         f"the share of failed requests still traced. The cheapest strategy that still traces every failure is "
         f"'{cheapest_full['strategy']}' at ${cheapest_full['xray_usd_per_month']:,.2f} a month.")

# %% [markdown]
# ### Checkpoint: keep-errors keeps every injected fault, head sampling does not promise to

# %%
table = comparison.set_index("strategy")
injected = faults.rules
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
assert 0.15 < table.loc["otel head 25%", "kept_fraction"] < 0.35       # 250 draws: ±0.1 is more than 3.6 sd
seconds = run["started_at"].dt.floor("s").nunique()
expected_default = seconds + 0.05 * (len(run) - seconds)               # reservoir 1/s, then 5 %
sd = math.sqrt(0.05 * 0.95 * (len(run) - seconds))
assert abs(table.loc["xray: Default (1/s + 5%)", "kept"] - expected_default) < 4 * sd + 1
month = REQUESTS_PER_SECOND * 86_400 * 30
assert math.isclose(table.loc["otel head 100%", "xray_usd_per_month"], max(0, month - 100_000) * 5e-6, rel_tol=1e-9)
assert table.loc["tail: keep errors", "xray_usd_per_month"] < table.loc["otel head 100%", "xray_usd_per_month"]

# %% [markdown]
# ### Checkpoint: the journal's rule priced by hand at your traffic level

# %%
rule = sampling.seed_rule()                      # data/xray-sampling-rule.json: ReservoirSize 5, FixedRate 0.1
assert (rule.reservoir_size, rule.fixed_rate) == (5, 0.1)
per_second = min(REQUESTS_PER_SECOND, 5) + 0.1 * max(0, REQUESTS_PER_SECOND - 5)   # 5 + 1.5 = 6.5 at 20/s
fraction_by_hand = per_second / REQUESTS_PER_SECOND                                  # 0.325 at 20/s
xray_price = price.loc[("xray", "traces_recorded")]
cost_by_hand = max(0, month * fraction_by_hand - xray_price["included_per_month"]) * xray_price["usd_per_unit"]
seed_row = table.loc["xray: seed rule (5/s + 10%)"]
assert math.isclose(seed_row["priced_fraction"], fraction_by_hand)
assert math.isclose(seed_row["xray_usd_per_month"], cost_by_hand)
# the replay ran far faster than REQUESTS_PER_SECOND, so it kept a smaller share than the rule does at 20/s
assert seed_row["replay_requests_per_second"] > REQUESTS_PER_SECOND and seed_row["kept_fraction"] < fraction_by_hand
print(f"seed rule at {REQUESTS_PER_SECOND}/s keeps {fraction_by_hand:.1%}: ${cost_by_hand:,.2f} a month "
      f"(the replay at {seed_row['replay_requests_per_second']:.0f}/s kept {seed_row['kept_fraction']:.1%})")

# %%
backend.stop()

# %% [markdown]
# ## Summary
#
# - One request of this app produces a few spans, a few segments, a few hundred bytes of logs and now and then a
#   Rollbar occurrence; multiplied by real traffic, tracing everything leaves the free tiers quickly.
# - Head sampling (X-Ray rules, `TraceIdRatioBased`) is cheap and simple but blind: the decision is taken before
#   the request fails, so rare faults disappear with the rest.
# - A tail-style policy keeps every error (and every slow request) for a fraction of the cost: the evidence notebook
#   06 needed survives.
# - Prices and free tiers in `data/pricing.json` carry their source and date; they change.
#
# ## What's next
#
# [08 Security for observability](08_security_for_observability.ipynb): who can read these traces and logs, audit
# trails, alarms, and keeping secrets and personal data out of telemetry.
#
# ## Resources
# - [AWS X-Ray pricing](https://aws.amazon.com/xray/pricing/), [Amazon CloudWatch pricing](https://aws.amazon.com/cloudwatch/pricing/),
#   [Honeycomb pricing](https://www.honeycomb.io/pricing), [Rollbar pricing](https://rollbar.com/pricing/)
# - Retention: [X-Ray FAQ](https://aws.amazon.com/xray/faqs/) (trace data kept 30 days),
#   [CloudWatch Logs retention](https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/Working-with-log-groups-and-streams.html)
#   ("Never expire" by default; `PutRetentionPolicy` values), [Honeycomb security overview](https://docs.honeycomb.io/authentication-and-security/security-overview/)
#   ("60 days for most customers"), [Rollbar pricing](https://rollbar.com/pricing/) (data retention per plan)
# - [X-Ray sampling rules](https://docs.aws.amazon.com/xray/latest/devguide/xray-console-sampling.html): the reservoir is
#   "a fixed number of matching requests to instrument per second, before applying the fixed rate"; the default
#   rule is 1 request per second and 5 % of the rest.
# - OpenTelemetry: [sampling](https://opentelemetry.io/docs/concepts/sampling/)

# %% [markdown]
# <!-- navigation -->
# ← Previous: [Correlate the pillars: one request across spans, segments, logs and errors](06_correlate_the_pillars.ipynb) · [Start here](00_start_here.ipynb) · Next: [Security for observability: audit trail, alarms, notifications, secrets and PII](08_security_for_observability.ipynb) →
