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
# # CloudWatch Logs and Logs Insights: access logs you can query
#
# The bootcamp's Week 2 sends backend-flask's logs to CloudWatch Logs with **watchtower**. In this notebook you set
# that up properly, generate traffic, and then answer the questions an on-call engineer asks with the real APIs:
# `FilterLogEvents`, Logs Insights (`StartQuery` / `GetQueryResults`) and a metric filter that turns log lines into
# a CloudWatch metric. Every answer lands in a pandas DataFrame.

# %% [markdown]
# ## Overview
# 1. The seed's watchtower set-up, done right (and why access logs are INFO, not ERROR)
# 2. A metric filter first, then traffic
# 3. `FilterLogEvents`: filter patterns on JSON and on plain text
# 4. Logs Insights into pandas: requests per minute by status, p50/p95/p99 by route, top errors, `parse`
# 5. From a slow request's trace id to its log lines
# 6. The metric filter's values in CloudWatch

# %% [markdown]
# ## Prerequisites
#
# | Concept | Importance | Notes |
# | --- | --- | --- |
# | [01 the Cruddur services](01_cruddur_services.ipynb) | Necessary | the services, faults and the traffic generator |
# | [02 OpenTelemetry](02_opentelemetry_honeycomb.ipynb) | Helpful | trace ids; we reuse the OTel instrumenter |
# | Python `logging` | Helpful | loggers, handlers, levels |
# | Percentiles | Necessary | p50 / p95 / p99 |
#
# - **Time to learn**: 35 minutes

# %% [markdown]
# ## Imports

# %%
import time

import boto3
import pandas as pd

from lab_app import services, traffic
from lab_app.instrument import cloudwatch, otel
from lab_app.notebook import setup
from lab_app.query import insights
from lab_app.services import Faults

# %%
lab = setup()

# %% [markdown]
# ## 1. The seed's set-up, done right
#
# The bootcamp's `app.py` did roughly this:
#
# ```python
# LOGGER = logging.getLogger(__name__)
# LOGGER.setLevel(logging.DEBUG)
# console_handler = logging.StreamHandler()
# cw_handler = watchtower.CloudWatchLogHandler(log_group='cruddur')
# LOGGER.addHandler(console_handler)
# LOGGER.addHandler(cw_handler)
#
# @app.after_request
# def after_request(response):
#     LOGGER.error('%s %s %s %s %s %s', timestamp, request.remote_addr, request.method,
#                  request.scheme, request.full_path, response.status)
#     return response
# ```
#
# Three things to fix:
#
# * **Access logs are not errors.** Logged at `ERROR`, every successful request looks like a failure: an alarm on
#   "ERROR" lines fires all day, and the real exceptions drown. A request that was served is an `INFO` event;
#   its *status* says whether it went well. Filter on the status, not on the level.
# * **One string is hard to query.** A JSON document per request (route template, method, status, latency,
#   user, request id, trace ids) lets Logs Insights discover every field by name. We still write a plain-text
#   line to a second stream, because real systems have those too and `parse` is how you query them.
# * **Smaller things.** `log_group=` is deprecated in watchtower 3 (`log_group_name=`). The seed's logger is at
#   `DEBUG`, so every debug line the app ever writes is shipped (and billed), and it propagates to the root
#   logger, so in a notebook each line is also printed by whatever handles the root. Our loggers are dedicated,
#   `INFO`, non-propagating, and re-running the cell never adds a second handler (which would send every line
#   twice).
#
# `cloudwatch.instrument_app` is an instrumenter like `otel.instrument_app`: `services.start` applies it to both
# services. Each service writes two streams in the `cruddur` log group:

# %%
pd.DataFrame([{"service": s, **cloudwatch.stream_names(s)} for s in ("backend-flask", "notifications")])

# %% [markdown]
# ## 2. A metric filter first, then traffic
#
# A **metric filter** is evaluated when events are *ingested*: it only counts lines that arrive after it exists.
# So we create it before sending traffic. This one counts backend responses with a 5xx status and publishes the
# count as the CloudWatch metric `Cruddur/Backend5xx`.

# %%
logs = boto3.client("logs")
cloudwatch.access_logger("backend-flask", "json")  # makes sure the group exists (watchtower creates it)
logs.put_metric_filter(
    logGroupName="cruddur",
    filterName="backend-5xx",
    filterPattern='{ $.service = "backend-flask" && $.status >= 500 }',
    metricTransformations=[{"metricName": "Backend5xx", "metricNamespace": "Cruddur", "metricValue": "1"}],
)
pd.DataFrame(logs.describe_metric_filters(logGroupName="cruddur")["metricFilters"])[
    ["filterName", "filterPattern", "logGroupName"]]

# %% [markdown]
# Now the services, with OpenTelemetry (so every log line carries the request's trace id) and CloudWatch
# logging, and the workbook's standard faults: a slow search, a flaky notifications service, and a route with a
# bug. We note the start time (on a whole second: Insights time ranges are in seconds) so every query below
# looks at this run only.

# %%
stack = services.start(instrument=[otel.instrument_app, cloudwatch.instrument_app], faults=Faults.lesson())
time.sleep(1.05 - time.time() % 1)
started = int(time.time())
requests_df = traffic.generate(stack.backend_url, n=500, concurrency=8, seed=4, progress=False)
cloudwatch.flush()  # watchtower sends every few seconds; flush before querying
traffic.route_summary(requests_df)

# %% [markdown]
# ### Checkpoint: one JSON line and one text line per backend request

# %%
streams = cloudwatch.stream_names("backend-flask")
json_lines = insights.filter_events("cruddur", start=started, streams=[streams["json"]])
text_lines = insights.filter_events("cruddur", start=started, streams=[streams["text"]])
assert len(json_lines) == len(text_lines) == len(requests_df), (len(json_lines), len(text_lines), len(requests_df))
json_lines.head(3)

# %% [markdown]
# ## 3. `FilterLogEvents` and filter patterns
#
# Filter patterns are CloudWatch Logs' grep. For JSON events, `{ $.field op value }` with `&&` and `||`; for text,
# terms and `"quoted phrases"` (case-sensitive), `?alternatives` and `-exclusions`; for space-delimited lines,
# `[field1, field2, ...]` with conditions.

# %%
errors = insights.filter_events("cruddur", '{ $.service = "backend-flask" && $.status >= 500 }', start=started)
slow_search = insights.filter_events("cruddur", '"route=/api/activities/search" ?GET ?POST', start=started,
                                     streams=[streams["text"]])
seed_style = insights.filter_events("cruddur", "ERROR", start=started)
pd.DataFrame({"5xx (JSON pattern)": [len(errors)], "search lines (text pattern)": [len(slow_search)],
              "lines containing ERROR": [len(seed_style)]})

# %% [markdown]
# ### Checkpoint: the patterns count what the traffic generator saw
#
# With the seed's `LOGGER.error(...)` every access line would have matched `ERROR`; with INFO access logs the
# word only appears where something really failed (here: nowhere in the access logs).

# %%
backend_5xx = int((requests_df["status"] >= 500).sum())
assert len(errors) == backend_5xx > 0
assert len(slow_search) == int((requests_df["route"] == "/api/activities/search").sum())
assert len(seed_style) == 0

# %% [markdown]
# ## 4. Logs Insights into pandas
#
# `insights.run_query` calls `StartQuery`, polls `GetQueryResults` until the status is `Complete`, and returns a
# DataFrame with numbers as numbers and timestamps as datetimes (the API returns every value as a string).
#
# ### Requests per minute by status
#
# `bin(1m)` buckets `@timestamp`; `stats ... by` groups on several fields.

# %%
per_minute = insights.run_query(
    'filter service = "backend-flask" '
    "| stats count(*) as requests by bin(1m) as minute, status",
    start=started)
per_minute.pivot_table(index="minute", columns="status", values="requests", aggfunc="sum", fill_value=0)

# %%
ax = per_minute.pivot_table(index="minute", columns="status", values="requests", aggfunc="sum", fill_value=0).plot.bar(
    stacked=True, figsize=(8, 3), title="backend-flask requests per minute by status")
ax.set_xlabel("minute (UTC)")

# %% [markdown]
# ### Checkpoint: every request counted once, per status

# %%
assert per_minute["requests"].sum() == len(requests_df)
by_status = per_minute.groupby("status")["requests"].sum()
assert by_status.to_dict() == requests_df["status"].value_counts().to_dict()

# %% [markdown]
# ### p50 / p95 / p99 latency by route
#
# `pct(field, n)` is Insights' percentile. The latency here is measured inside the service (from the first
# `before_request` to `after_request`), so it excludes the network, unlike the client-side `latency_ms` of
# `requests_df`.

# %%
latency = insights.run_query(
    'filter service = "backend-flask" '
    "| stats count(*) as n, pct(latency_ms, 50) as p50, pct(latency_ms, 95) as p95, pct(latency_ms, 99) as p99 "
    "by method, route | sort p50 desc",
    start=started)
latency

# %% [markdown]
# ### Checkpoint: the slow search has the highest median, and the counts match the traffic

# %%
assert latency.iloc[0]["route"] == "/api/activities/search"
assert latency.iloc[0]["p50"] >= 180  # the injected 180-240 ms
assert (latency["p50"] <= latency["p95"]).all() and (latency["p95"] <= latency["p99"]).all()
want = requests_df.groupby(["method", "route"]).size()
got = latency.set_index(["method", "route"])["n"]
assert got.sort_index().to_dict() == want.sort_index().to_dict()

# %% [markdown]
# ### Top errors
#
# `filter`, then `stats`, then `sort ... desc | limit`: the classic top-N.

# %%
top_errors = insights.run_query(
    "filter service = 'backend-flask' and status >= 500 "
    "| stats count(*) as errors by method, route, status | sort errors desc | limit 5",
    start=started)
top_errors

# %%
assert top_errors["errors"].sum() == backend_5xx
worst = requests_df[requests_df["status"] >= 500].groupby("route").size().idxmax()
assert top_errors.iloc[0]["route"] == worst

# %% [markdown]
# ### `parse`: fields from plain-text lines
#
# The text stream's lines look like
# `127.0.0.1 andrew "GET /api/activities/home" 200 3.127ms route=/api/activities/home request_id=... trace=...`.
# `parse` with a glob pattern turns each `*` into a field (a regular expression with named groups works too:
# `parse @message /(?<status>\d{3}) (?<ms>[\d.]+)ms/`).

# %%
glob = '* * "* *" * *ms route=* request_id=* trace=*'
parsed = insights.run_query(
    f'filter @logStream = "{streams["text"]}" '
    f"| parse @message '{glob}' as ip, user, method, path, status, ms, route, request_id, trace "
    "| stats count(*) as n, avg(ms) as avg_ms, max(ms) as max_ms by status | sort status",
    start=started)
parsed

# %%
assert parsed["n"].sum() == len(requests_df)
assert parsed.set_index("status")["n"].to_dict() == requests_df["status"].value_counts().to_dict()

# %% [markdown]
# ## 5. From a slow request's trace id to its log lines
#
# `traffic.generate` recorded the OpenTelemetry trace id of each request (from the `traceresponse` header).
# Take the slowest request and ask Logs Insights for every line with that trace id: the backend's JSON and text
# lines, and the downstream service's lines when the request called it.

# %%
slowest = requests_df.sort_values("latency_ms").iloc[-1]
trace_id = slowest["otel_trace_id"]
lines = insights.run_query(
    f'fields @timestamp, @logStream, service, route, status, latency_ms, request_id '
    f'| filter otel_trace_id = "{trace_id}" or @message like "trace={trace_id}" | sort @timestamp asc',
    start=started)
print(slowest[["method", "route", "status", "latency_ms", "request_id", "otel_trace_id"]].to_dict())
lines

# %% [markdown]
# ### Checkpoint: the trace id leads to this request's own lines

# %%
backend_lines = lines[lines["@logStream"].str.startswith("backend-flask/")]
assert len(backend_lines) == 2  # one JSON line, one text line
assert set(backend_lines["request_id"].dropna()) == {slowest["request_id"]}
assert set(lines["@logStream"].str.split("/").str[0]) <= {"backend-flask", "notifications"}

# %% [markdown]
# ## 6. The metric filter's values
#
# The filter from section 2 published one data point per minute (a statistic set: count, sum, min, max) to
# CloudWatch. `GetMetricStatistics` reads it back; the sum is the number of 5xx responses.

# %%
metric = insights.metric_statistics("Cruddur", "Backend5xx", start=started, period=60, statistics=("Sum",))
metric

# %% [markdown]
# ### Checkpoint: the metric counts every backend 5xx

# %%
assert metric["Sum"].sum() == backend_5xx

# %%
stack.stop()

# %% [markdown]
# ## Summary
#
# * Access logs are **INFO** events with the outcome in a field; `ERROR` is for errors. The seed's `LOGGER.error`
#   made every request look like a failure.
# * Structured JSON lines make Logs Insights discover fields (`route`, `status`, `latency_ms`, nested ones as
#   `http.status`); plain lines need `parse`.
# * `FilterLogEvents` filter patterns are grep-like and good for a quick look or a metric filter; Insights is SQL-like:
#   `filter`, `stats ... by bin(1m)`, `pct`, `sort`, `limit`, `parse`, `dedup`.
# * A trace id in every log line joins logs to traces: from the slowest request straight to its lines.
# * Metric filters apply on ingest and turn lines into CloudWatch metrics (which alarms can watch).
#
# ## What's next
#
# [05 Rollbar](05_rollbar.ipynb): the exceptions behind the 500s you counted here, with stack traces.
#
# ## Resources
#
# * [CloudWatch Logs Insights query syntax](https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/CWL_QuerySyntax.html)
# * [Filter pattern syntax](https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/FilterAndPatternSyntax.html)
# * [watchtower](https://kislyuk.github.io/watchtower/)

# %% [markdown]
# <!-- navigation -->
# ← Previous: [AWS X-Ray: segments, filter expressions, the service map and sampling](03_aws_xray.ipynb) · [Start here](00_start_here.ipynb) · Next: [Rollbar: errors grouped into items you can count](05_rollbar.ipynb) →
