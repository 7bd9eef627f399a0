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
# # CloudWatch Logs and Logs Insights: access logs you can query
#
# The bootcamp's Week 2 sends backend-flask's logs to CloudWatch Logs with **watchtower**. In this notebook you
# write that set-up yourself, the way it belongs in a real `app.py`: a dedicated logger, a watchtower handler, one
# structured INFO line per request. Then you generate traffic and answer the questions an on-call engineer asks
# with the real APIs: `FilterLogEvents`, Logs Insights (`StartQuery` / `GetQueryResults`), a metric filter that
# turns log lines into a CloudWatch metric, and a retention policy so the logs do not pile up forever. Every
# answer lands in a pandas DataFrame.

# %% [markdown]
# ## Overview
# 1. The seed's watchtower set-up, and what is wrong with it
# 2. The logger, the handler and the access log, written by you
# 3. Traffic, then `FilterLogEvents`: filter patterns on JSON and on plain text
# 4. Logs Insights into pandas: requests per minute by status, p95 by route (your turn), top errors, `parse`
# 5. From a slow request's request id to its log lines
# 6. A metric filter for 5xx responses (your turn)
# 7. A retention policy
# 8. Your `app.py` now

# %% [markdown]
# ## Prerequisites
#
# | Concept | Importance | Notes |
# | --- | --- | --- |
# | [01 the Cruddur services](01_cruddur_services.ipynb) | Necessary | the services, faults and the traffic generator |
# | Python `logging` | Necessary | loggers, handlers, levels, `propagate` |
# | Flask request hooks | Helpful | `before_request`, `after_request`, `g` |
# | Percentiles | Necessary | p50 / p95 / p99 |
#
# - **Time to learn**: 40 minutes

# %% [markdown]
# ## Set-up and imports
#
# The first cell starts (or attaches to) the local cloud and points this kernel's AWS clients at it; with real
# credentials in `.env` the same cells talk to your AWS account.

# %%
from lab_app.notebook import setup

lab = setup()
lab

# %%
import json
import logging
import time
import warnings
from pathlib import Path

import boto3
import pandas as pd
import watchtower
from flask import g, request

from lab_app import services, traffic
from lab_app.notebook import show
from lab_app.query import insights
from lab_app.services import Faults

# %% [markdown]
# ## 1. The seed's set-up
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
#     timestamp = strftime('[%Y-%b-%d %H:%M]')
#     LOGGER.error('%s %s %s %s %s %s', timestamp, request.remote_addr, request.method,
#                  request.scheme, request.full_path, response.status)
#     return response
# ```
#
# What to fix:
#
# * **Access logs are not errors.** Logged at `ERROR`, every successful request looks like a failure: an alarm on
#   "ERROR" lines fires all day, and the real exceptions drown. A request that was served is an `INFO` event;
#   its *status* says whether it went well. Filter on the status, not on the level.
# * **One string is hard to query.** A JSON document per request (route template, method, status, latency,
#   user, request id) lets Logs Insights discover every field by name. We still write a plain-text line to a
#   second stream, because real systems have those too and `parse` is how you query them.
# * **`log_group=` is deprecated** in watchtower 3: the argument is `log_group_name=` (and `log_stream_name=`).
#   The old name still works but warns; passing both raises an error.
# * **The logger is at `DEBUG` and propagates.** Every debug line the app ever writes is shipped (and billed),
#   and every line also goes up to the root logger, which prints it a second time. Ours is dedicated, `INFO`,
#   and non-propagating.
# * **No stream is created up front.** Left alone, watchtower creates its stream on the first failed
#   `PutLogEvents`, and while it does that its `emit` silently drops the records any other thread logs (its guard
#   against logging its own side effects). Under concurrent traffic the first access lines vanish. Creating the
#   stream yourself, before the first request, avoids that path.
#
# The deprecation is easy to see: build the seed's handler once and collect its warnings.

# %%
logs = boto3.client("logs")  # endpoint and region from the environment (AWS_ENDPOINT_URL_CLOUDWATCH_LOGS locally)
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    seed_handler = watchtower.CloudWatchLogHandler(log_group="cruddur", boto3_client=logs)
seed_handler.close()
deprecations = [str(w.message) for w in caught if issubclass(w.category, DeprecationWarning)]
deprecations

# %% [markdown]
# ### Checkpoint: watchtower warns about the seed's argument

# %%
assert any("log_group_name" in message for message in deprecations), caught

# %% [markdown]
# ## 2. The services, the logger and the handler
#
# notifications ("another team's service") runs in a process of its own, already logging one JSON line per request
# to the stream `notifications/access-json` of the same `cruddur` log group. backend-flask is the app you
# instrument, in this kernel. Both get the workbook's standard faults: a slow search, a flaky notifications
# service, and a route with a bug.

# %%
faults = Faults.lesson()
notifications = services.downstream.start(otel=False, xray=False, log_group="cruddur", faults=faults)
notifications

# %% [markdown]
# ### The logger
#
# Two dedicated loggers, one per stream: `cruddur.access` gets a dict per request (the JSON stream),
# `cruddur.access_text` a plain line. Both at `INFO` and `propagate = False`, so nothing reaches the root logger:
# no line printed twice, no botocore debug chatter fed back into CloudWatch.

# %%
LOG_GROUP = "cruddur"
JSON_STREAM = "backend-flask/access-json"
TEXT_STREAM = "backend-flask/access-text"

LOGGER = logging.getLogger("cruddur.access")
LOGGER.setLevel(logging.INFO)
LOGGER.propagate = False
TEXT_LOGGER = logging.getLogger("cruddur.access_text")
TEXT_LOGGER.setLevel(logging.INFO)
TEXT_LOGGER.propagate = False

# %% [markdown]
# ### The handler
#
# * `log_group_name` / `log_stream_name`: the watchtower 3 names. The constructor calls `DescribeLogGroups` and
#   `CreateLogGroup` right away (synchronously), so a wrong endpoint fails here, not later.
# * `send_interval`: watchtower queues records and sends a batch every `send_interval` seconds (default 60), or
#   sooner at 10,000 events or 1 MiB (the `PutLogEvents` limits), or on `flush()`. At exit, Python's `logging`
#   shuts down every handler, which sends what is still queued.
# * `boto3_client`: the client you built, so its endpoint, region and credentials are the ones you chose.
# * `create_log_stream` first, ignoring `ResourceAlreadyExistsException`: the stream exists before the first
#   request, so watchtower never drops records while creating it.
#
# Re-running this cell must not add a second handler (every line would be sent twice), so the loop first removes
# and closes any `CloudWatchLogHandler` the logger already has, then adds the new one.

# %%
def cloudwatch_handler(stream):
    handler = watchtower.CloudWatchLogHandler(log_group_name=LOG_GROUP, log_stream_name=stream,
                                              send_interval=5, boto3_client=logs)
    try:
        logs.create_log_stream(logGroupName=LOG_GROUP, logStreamName=stream)
    except logs.exceptions.ResourceAlreadyExistsException:
        pass
    return handler


for logger, stream in ((LOGGER, JSON_STREAM), (TEXT_LOGGER, TEXT_STREAM)):
    for old in [h for h in logger.handlers if isinstance(h, watchtower.CloudWatchLogHandler)]:
        logger.removeHandler(old)  # a re-run replaces the handler instead of adding a second one
        old.close()
    logger.addHandler(cloudwatch_handler(stream))
LOGGER.handlers + TEXT_LOGGER.handlers

# %% [markdown]
# ### Checkpoint: one handler per logger, INFO, not propagating, streams created

# %%
for logger in (LOGGER, TEXT_LOGGER):
    kinds = [type(h).__name__ for h in logger.handlers]
    assert kinds == ["CloudWatchLogHandler"], f"{logger.name} has handlers {kinds}: expected exactly one"
    assert logger.level == logging.INFO, f"{logger.name} is at {logging.getLevelName(logger.level)}, not INFO"
    assert not logger.propagate, f"{logger.name} propagates to the root logger"
existing = {s["logStreamName"] for s in logs.describe_log_streams(
    logGroupName=LOG_GROUP, logStreamNamePrefix="backend-flask/access-")["logStreams"]}
assert {JSON_STREAM, TEXT_STREAM} <= existing, existing

# %% [markdown]
# ### The app and its access log
#
# `create_backend_app` builds backend-flask's routes (uninstrumented). Two hooks make the access log:
#
# * `before_request` notes the start time in `g` (Flask's per-request storage);
# * `after_request` runs after the view, with the response (also for a 500 from an exception), and logs one
#   **INFO** record. A dict message is serialised as JSON by watchtower's formatter, so no formatter of our own is
#   needed. `request.url_rule.rule` is the route *template* (`/api/activities/@<handle>`), which groups well;
#   the path (`/api/activities/@andrewbrown`) is kept too.
#
# The app is created in this cell, so re-running it gives a fresh app with each hook registered once.

# %%
app = services.create_backend_app(notifications.url, faults=faults)


@app.before_request
def start_timer():
    g.t0 = time.perf_counter()


@app.after_request
def access_log(response):
    record = {
        "type": "access",
        "level": "INFO",
        "service": "backend-flask",
        "method": request.method,
        "path": request.path,
        "route": request.url_rule.rule if request.url_rule else "(unmatched)",
        "status": response.status_code,
        "latency_ms": round((time.perf_counter() - g.get("t0", time.perf_counter())) * 1000, 3),
        "user": request.headers.get("X-Cruddur-User", "anonymous"),
        "remote_addr": request.remote_addr,
        "request_id": g.get("request_id"),
    }
    LOGGER.info(record)
    TEXT_LOGGER.info('%s %s "%s %s" %s %.3fms route=%s request_id=%s', record["remote_addr"], record["user"],
                     record["method"], request.full_path.rstrip("?"), record["status"], record["latency_ms"],
                     record["route"], record["request_id"])
    return response


# %% [markdown]
# Serve it (a werkzeug server in a daemon thread of this kernel; re-running restarts it on the same port), send one
# request, and `flush()` the handlers: without it the line would sit in watchtower's queue for up to
# `send_interval` seconds.

# %%
backend = services.serve_backend(app)
r = traffic.send("GET", backend.url + "/api/activities/home", headers={"X-Cruddur-User": "andrewbrown"})
for handler in LOGGER.handlers + TEXT_LOGGER.handlers:
    handler.flush()
first = insights.filter_events(LOG_GROUP, f'{{ $.request_id = "{r.headers["X-Request-Id"]}" }}',
                               start=int(time.time()) - 60, streams=[JSON_STREAM])
first_record = json.loads(first["message"].iloc[0]) if len(first) else None
first_record

# %% [markdown]
# ### Checkpoint: the request's line arrived as JSON, at INFO

# %%
assert r.status_code == 200, r.status_code
assert len(first) == 1, f"expected one JSON line for request {r.headers['X-Request-Id']}, found {len(first)}"
assert first_record["level"] == "INFO" and first_record["status"] == 200
assert first_record["route"] == "/api/activities/home" and first_record["user"] == "andrewbrown"

# %% [markdown]
# ## 3. Traffic, then `FilterLogEvents`
#
# 300 requests from 8 concurrent clients. We note the start time on a whole second (Insights time ranges are in
# seconds) so every query below looks at this run only.

# %%
time.sleep(1.05 - time.time() % 1)
started = int(time.time())
df = traffic.generate(backend.url, n=300, concurrency=8, seed=4, progress=False)
for handler in LOGGER.handlers + TEXT_LOGGER.handlers:
    handler.flush()
traffic.route_summary(df)

# %% [markdown]
# ### Checkpoint: one JSON line and one text line per request

# %%
json_lines = insights.filter_events(LOG_GROUP, start=started, streams=[JSON_STREAM])
text_lines = insights.filter_events(LOG_GROUP, start=started, streams=[TEXT_STREAM])
assert len(json_lines) == len(text_lines) == len(df), (len(json_lines), len(text_lines), len(df))
events = pd.DataFrame([json.loads(message) for message in json_lines["message"]])  # the raw events, for checks
text_lines.head(3)

# %% [markdown]
# ### Filter patterns
#
# Filter patterns are CloudWatch Logs' grep. For JSON events, `{ $.field op value }` with `&&` and `||`; for text,
# terms and `"quoted phrases"` (case-sensitive), `?alternatives` and `-exclusions`; for space-delimited lines,
# `[field1, field2, ...]` with conditions.

# %%
errors = insights.filter_events(LOG_GROUP, '{ $.service = "backend-flask" && $.status >= 500 }', start=started)
search_lines = insights.filter_events(LOG_GROUP, '"route=/api/activities/search" ?GET ?POST', start=started,
                                      streams=[TEXT_STREAM])
seed_style = insights.filter_events(LOG_GROUP, "ERROR", start=started)
pd.DataFrame({"5xx (JSON pattern)": [len(errors)], "search lines (text pattern)": [len(search_lines)],
              "lines containing ERROR": [len(seed_style)]})

# %% [markdown]
# ### Checkpoint: the patterns count what the traffic generator saw
#
# With the seed's `LOGGER.error(...)` every access line would have matched `ERROR`; with INFO access logs the
# word appears nowhere in the access logs, and the 5xx are found by their status.

# %%
backend_5xx = int((df["status"] >= 500).sum())
assert len(errors) == backend_5xx > 0, (len(errors), backend_5xx)
assert len(search_lines) == int((df["route"] == "/api/activities/search").sum())
assert len(seed_style) == 0, seed_style.head()

# %% [markdown]
# ## 4. Logs Insights into pandas
#
# `insights.run_query` calls `StartQuery`, polls `GetQueryResults` until the status is `Complete`, and returns a
# DataFrame with numbers as numbers and timestamps as datetimes (the API returns every value as a string). JSON
# fields are discovered by name: `status`, `route`, `latency_ms`.
#
# ### Requests per minute by status
#
# `bin(1m)` buckets `@timestamp`; `stats ... by` groups on several fields.

# %%
per_minute = insights.run_query(
    'filter service = "backend-flask" '
    "| stats count(*) as requests by bin(1m) as minute, status",
    start=started)
per_minute_table = per_minute.pivot_table(index="minute", columns="status", values="requests", aggfunc="sum",
                                          fill_value=0)
ax = per_minute_table.plot.bar(stacked=True, figsize=(8, 3), title="backend-flask requests per minute by status")
ax.set_xlabel("minute (UTC)")
ax.set_ylabel("requests")
show(alt="Stacked bars, one per minute of the traffic run, of backend-flask requests split by HTTP status (colours in "
         "the legend): most are 200; the 4xx and 5xx slices are the validation errors and the injected faults.")
per_minute_table

# %% [markdown]
# ### Checkpoint: every request counted once, per status

# %%
assert per_minute["requests"].sum() == len(df)
assert per_minute.groupby("status")["requests"].sum().to_dict() == df["status"].value_counts().to_dict()

# %% [markdown]
# ### Your turn: which route has the highest p95 latency?
#
# Try it yourself before you open the solution. Write a Logs Insights query that returns **one row per
# backend-flask route** with two columns, `route` and `p95` (the 95th percentile of `latency_ms`). Hints:
# `pct(field, 95)` is Insights' percentile, `as` names a column, and the notifications service writes to the same
# log group (with its own routes). The latency here is measured inside the service (from `before_request` to
# `after_request`), so it excludes the network, unlike the client-side `latency_ms` of `df`.
#
# Put your query in `p95_query` (a string) in the next cell.

# %%
p95_query = ...  # your Logs Insights query

# %% [markdown]
# The collapsed cell holds a solution; it only fills in `p95_query` if you left it as `...`.

# %% jupyter={"source_hidden": true}
if p95_query is ...:
    p95_query = ('filter service = "backend-flask" '
                 "| stats count(*) as n, pct(latency_ms, 95) as p95 by route | sort p95 desc")

# %%
p95_by_route = insights.run_query(p95_query, start=started)
p95_by_route

# %% [markdown]
# ### Checkpoint: your query finds the slowest route
#
# The check computes the same percentiles with pandas from the raw JSON events.

# %%
want = events.groupby("route")["latency_ms"].quantile(0.95).sort_values(ascending=False)
assert {"route", "p95"} <= set(p95_by_route.columns), \
    f"name the columns route and p95 (`pct(latency_ms, 95) as p95 by route`); got {list(p95_by_route.columns)}"
assert p95_by_route["route"].notna().all(), \
    "a row without a route: lines of other streams (the text lines have no JSON fields) are in your result: " \
    "filter on service = \"backend-flask\""
extra = set(p95_by_route["route"]) - set(want.index)
assert not extra, f"routes that are not backend-flask's: {sorted(extra)}: filter on service = \"backend-flask\""
missing = set(want.index) - set(p95_by_route["route"])
assert not missing, f"routes missing from your result: {sorted(missing)}: one row per route, no limit"
top = p95_by_route.sort_values("p95", ascending=False).iloc[0]
assert top["route"] == want.index[0], f"highest p95 should be {want.index[0]} ({want.iloc[0]:.1f} ms), not {top['route']}"
assert abs(top["p95"] - want.iloc[0]) <= 0.1 * want.iloc[0], \
    f"p95 of {top['route']} is {top['p95']:.1f} ms but pandas says {want.iloc[0]:.1f} ms: is it pct(latency_ms, 95)?"
assert want.iloc[0] >= 180  # the injected 180-240 ms in the search service

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
worst = df[df["status"] >= 500].groupby("route").size().idxmax()
assert top_errors.iloc[0]["route"] == worst, (top_errors.iloc[0]["route"], worst)

# %% [markdown]
# ### `parse`: fields from plain-text lines
#
# The text stream's lines look like
# `127.0.0.1 andrewbrown "GET /api/activities/home" 200 3.127ms route=/api/activities/home request_id=...`.
# `parse` with a glob pattern turns each `*` into a field (a regular expression with named groups works too:
# `parse @message /(?<status>\d{3}) (?<ms>[\d.]+)ms/`).

# %%
glob = '* * "* *" * *ms route=* request_id=*'
parsed = insights.run_query(
    f'filter @logStream = "{TEXT_STREAM}" '
    f"| parse @message '{glob}' as ip, user, method, path, status, ms, route, request_id "
    "| stats count(*) as n, avg(ms) as avg_ms, max(ms) as max_ms by status | sort status",
    start=started)
parsed

# %%
assert parsed["n"].sum() == len(df)
assert parsed.set_index("status")["n"].to_dict() == df["status"].value_counts().to_dict()

# %% [markdown]
# ## 5. From a slow request's request id to its log lines
#
# Every response carries the `X-Request-Id` the backend put in its log lines, and `traffic.generate` recorded it.
# Take the slowest request and ask Logs Insights for every line with that id: its JSON line (a field) and its
# text line (a substring). Notebook 06 does the same across services with trace ids.

# %%
slowest = df.sort_values("latency_ms").iloc[-1]
request_id = slowest["request_id"]
lines = insights.run_query(
    "fields @timestamp, @logStream, route, status, latency_ms, request_id, @message "
    f'| filter request_id = "{request_id}" or @message like "request_id={request_id}" | sort @timestamp asc',
    start=started)
print(slowest[["method", "path", "status", "latency_ms", "request_id"]].to_dict())
lines

# %% [markdown]
# Two rows, and the text line's row has empty (`<NA>`) `route`, `status`, `latency_ms` and `request_id`. That is
# not a lost value: Logs Insights discovers fields only in JSON events, and the text line's fields are inside its
# `@message` (shown in the last column), which is why `like` found it. `parse` (section 4) would extract them.

# %% [markdown]
# ### Checkpoint: the request id leads to this request's own two lines

# %%
assert sorted(lines["@logStream"]) == [JSON_STREAM, TEXT_STREAM], lines
assert set(lines["request_id"].dropna()) == {request_id}
text_row = lines[lines["@logStream"] == TEXT_STREAM].iloc[0]
assert text_row[["route", "status", "latency_ms", "request_id"]].isna().all()      # no fields discovered in text
assert f"request_id={request_id}" in text_row["@message"]

# %% [markdown]
# ## 6. A metric filter
#
# A **metric filter** turns matching log lines into a CloudWatch metric (which an alarm can watch). It is
# evaluated when events are *ingested*: it only counts lines that arrive after it exists, never the ones already
# stored.
#
# ### Your turn: a metric filter for 5xx, and predict its count
#
# Try it yourself before you open the solutions.
#
# **(a)** Write the filter pattern that matches backend-flask's access lines with a 5xx status, and only those.
# Careful: the notifications service logs to the same group, and its 503s are what backend-flask turns into 502s,
# so a pattern on the status alone counts each of those failures twice. Put it in `backend_5xx_pattern`.

# %%
backend_5xx_pattern = ...  # your filter pattern, a string

# %% jupyter={"source_hidden": true}
if backend_5xx_pattern is ...:
    backend_5xx_pattern = '{ $.service = "backend-flask" && $.status >= 500 }'

# %% [markdown]
# `TestMetricFilter` tries a pattern on sample lines without storing anything: a good first check.

# %%
samples = [json.dumps({"service": "backend-flask", "route": "/api/message_groups", "status": 500}),
           json.dumps({"service": "backend-flask", "route": "/api/activities/notifications", "status": 502}),
           json.dumps({"service": "backend-flask", "route": "/api/activities/@<handle>", "status": 404}),
           json.dumps({"service": "notifications", "route": "/api/notifications/@<handle>", "status": 503})]
matched = [m["eventNumber"] for m in logs.test_metric_filter(filterPattern=backend_5xx_pattern,
                                                             logEventMessages=samples)["matches"]]
assert matched == [1, 2], (f"your pattern matches sample lines {matched} of {samples}; it should match the "
                           f"backend-flask 500 and 502 (1, 2), not the 404 (3) nor the notifications 503 (4)")

# %% [markdown]
# Create the filter with your pattern. Each matching line adds 1 to the metric `Cruddur/Backend5xx`.
# `PutMetricFilter` replaces a filter of the same name, so re-running is safe.

# %%
logs.put_metric_filter(
    logGroupName=LOG_GROUP,
    filterName="backend-5xx",
    filterPattern=backend_5xx_pattern,
    metricTransformations=[{"metricName": "Backend5xx", "metricNamespace": "Cruddur", "metricValue": "1"}],
)
pd.DataFrame(logs.describe_metric_filters(logGroupName=LOG_GROUP, filterNamePrefix="backend-5xx")["metricFilters"])[
    ["filterName", "filterPattern", "logGroupName"]]

# %% [markdown]
# A second batch of traffic, 150 requests with another seed, after the filter exists:

# %%
time.sleep(1.05 - time.time() % 1)
started_2 = int(time.time())
df_2 = traffic.generate(backend.url, n=150, concurrency=8, seed=5, progress=False)
for handler in LOGGER.handlers + TEXT_LOGGER.handlers:
    handler.flush()
traffic.route_summary(df_2)

# %% [markdown]
# **(b)** Predict the metric: what will the sum of `Cruddur/Backend5xx` since `started_2` be? Write it as an
# expression over `df` (the first batch) and/or `df_2` (the second) in `predicted_5xx`.

# %%
predicted_5xx = ...  # your prediction, an int computed from df and/or df_2

# %% jupyter={"source_hidden": true}
if predicted_5xx is ...:
    predicted_5xx = int((df_2["status"] >= 500).sum())  # only lines ingested after the filter was created

# %% [markdown]
# `GetMetricStatistics` reads the metric back: one data point per minute (a statistic set: count, sum, min, max).

# %%
metric = insights.metric_statistics("Cruddur", "Backend5xx", start=started_2, period=60, statistics=("Sum",))
metric

# %% [markdown]
# ### Checkpoint: the metric counts every backend 5xx of the second batch, as you predicted

# %%
metric_sum = int(metric["Sum"].sum())
second_batch_5xx = int((df_2["status"] >= 500).sum())
assert second_batch_5xx > 0
assert metric_sum == second_batch_5xx, \
    f"the metric says {metric_sum}, the second batch had {second_batch_5xx} backend 5xx: check your pattern (a)"
assert predicted_5xx != backend_5xx + second_batch_5xx, \
    "you counted the first batch too: a metric filter only counts lines ingested after it was created"
assert predicted_5xx == metric_sum, f"you predicted {predicted_5xx}, the metric says {metric_sum}"

# %% [markdown]
# ## 7. A retention policy
#
# A new log group keeps its events forever ("Never expire"), and CloudWatch Logs bills stored data every month,
# so an access log nobody reads after a few weeks costs money indefinitely. `PutRetentionPolicy` sets how many
# days events are kept (one of a fixed list of values: 1, 3, 5, 7, 14, 30, 60, 90, ...); older events are deleted.
# Usually infrastructure code or the CLI (`aws logs put-retention-policy`) sets it once, rather than the app at
# every start (watchtower's `log_group_retention_days=` can do the latter, but then the app needs the
# `logs:PutRetentionPolicy` permission).

# %%
logs.put_retention_policy(logGroupName=LOG_GROUP, retentionInDays=14)
group = next(lg for lg in logs.describe_log_groups(logGroupNamePrefix=LOG_GROUP)["logGroups"]
             if lg["logGroupName"] == LOG_GROUP)
{key: group.get(key) for key in ("logGroupName", "retentionInDays", "storedBytes", "metricFilterCount")}

# %% [markdown]
# ### Checkpoint: the group keeps 14 days

# %%
assert group.get("retentionInDays") == 14, group

# %% [markdown]
# Stop both services (the handlers stay attached; the next run of the handler cell replaces them).

# %%
backend.stop()
notifications.stop()

# %% [markdown]
# ## Your app.py now
#
# Everything you wrote above, as one file: the logger and handler set-up, the app, the two hooks. The next cell
# writes it to `build/app_04.py`; run it with `python build/app_04.py` (with the local cloud's environment, or your
# AWS credentials) and every request becomes a JSON line in `backend-flask/access-json`. When you stop it with
# Ctrl-C, `logging` shuts the handlers down at exit, which sends what is still queued. The retention policy is
# not in it: that is set once, outside the app.

# %%
Path("../build").mkdir(exist_ok=True)

# %%
# %%writefile ../build/app_04.py
"""backend-flask after notebook 04: structured INFO access logs to CloudWatch Logs with watchtower."""
import logging
import os
import time

import boto3
import watchtower
from flask import g, request

from lab_app.services import create_backend_app

LOG_GROUP = "cruddur"
JSON_STREAM = "backend-flask/access-json"
TEXT_STREAM = "backend-flask/access-text"
logs = boto3.client("logs")  # endpoint, region and credentials from the environment


def cloudwatch_handler(stream):
    handler = watchtower.CloudWatchLogHandler(log_group_name=LOG_GROUP, log_stream_name=stream,
                                              send_interval=5, boto3_client=logs)
    try:  # create the stream up front: watchtower drops records while it creates one itself
        logs.create_log_stream(logGroupName=LOG_GROUP, logStreamName=stream)
    except logs.exceptions.ResourceAlreadyExistsException:
        pass
    return handler


LOGGER = logging.getLogger("cruddur.access")
LOGGER.setLevel(logging.INFO)
LOGGER.propagate = False
LOGGER.addHandler(cloudwatch_handler(JSON_STREAM))
TEXT_LOGGER = logging.getLogger("cruddur.access_text")
TEXT_LOGGER.setLevel(logging.INFO)
TEXT_LOGGER.propagate = False
TEXT_LOGGER.addHandler(cloudwatch_handler(TEXT_STREAM))

app = create_backend_app(os.environ.get("NOTIFICATIONS_URL", "http://127.0.0.1:4568"))


@app.before_request
def start_timer():
    g.t0 = time.perf_counter()


@app.after_request
def access_log(response):
    record = {
        "type": "access",
        "level": "INFO",
        "service": "backend-flask",
        "method": request.method,
        "path": request.path,
        "route": request.url_rule.rule if request.url_rule else "(unmatched)",
        "status": response.status_code,
        "latency_ms": round((time.perf_counter() - g.get("t0", time.perf_counter())) * 1000, 3),
        "user": request.headers.get("X-Cruddur-User", "anonymous"),
        "remote_addr": request.remote_addr,
        "request_id": g.get("request_id"),
    }
    LOGGER.info(record)  # a dict: watchtower sends it as one JSON document
    TEXT_LOGGER.info('%s %s "%s %s" %s %.3fms route=%s request_id=%s', record["remote_addr"], record["user"],
                     record["method"], request.full_path.rstrip("?"), record["status"], record["latency_ms"],
                     record["route"], record["request_id"])
    return response


if __name__ == "__main__":
    app.run(host="127.0.0.1", port=int(os.environ.get("PORT", "4567")))

# %% [markdown]
# ## Summary
#
# * Access logs are **INFO** events with the outcome in a field; `ERROR` is for errors. The seed's `LOGGER.error`
#   made every request look like a failure.
# * A dedicated, non-propagating `INFO` logger with one `CloudWatchLogHandler(log_group_name=..., log_stream_name=...,
#   send_interval=..., boto3_client=...)`; create the stream up front; guard re-runs so a cell never adds a
#   second handler; `flush()` before you query.
# * Dict messages become JSON documents, so Logs Insights discovers fields (`route`, `status`, `latency_ms`);
#   plain lines need `parse`.
# * `FilterLogEvents` filter patterns are grep-like and good for a quick look or a metric filter; Insights is
#   SQL-like: `filter`, `stats ... by bin(1m)`, `pct`, `sort`, `limit`, `parse`.
# * A request id (and, in notebook 06, a trace id) in every line joins a request to its log lines.
# * Metric filters apply on ingest, never to lines already stored, and turn lines into CloudWatch metrics.
# * Without a retention policy a log group keeps (and bills) its events forever.
#
# ## What's next
#
# [05 Rollbar](05_rollbar.ipynb): the exceptions behind the 500s you counted here, with stack traces.
#
# ## Resources
#
# * [watchtower documentation](https://kislyuk.github.io/watchtower/) and
#   [source](https://github.com/kislyuk/watchtower/blob/develop/watchtower/__init__.py) (arguments, `send_interval`,
#   dict messages as JSON, the deprecated `log_group`)
# * [CloudWatch Logs quotas](https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/cloudwatch_limits_cwl.html)
#   (`PutLogEvents` batch size and count)
# * [CloudWatch pricing](https://aws.amazon.com/cloudwatch/pricing/) (Logs ingestion, storage and Insights queries)
# * [PutRetentionPolicy API reference](https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_PutRetentionPolicy.html)
#   and [working with log groups](https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/Working-with-log-groups-and-streams.html)
#   (retention, "Never expire" by default)
# * [CreateLogStream API reference](https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_CreateLogStream.html)
# * [CloudWatch Logs Insights query syntax](https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/CWL_QuerySyntax.html)
# * [Filter pattern syntax](https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/FilterAndPatternSyntax.html)
#   and [metric filters](https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/MonitoringLogData.html)
# * [Flask `after_request`](https://flask.palletsprojects.com/en/stable/api/#flask.Flask.after_request) and
#   [Python `logging`](https://docs.python.org/3/library/logging.html)

# %% [markdown]
# <!-- navigation -->
# ← Previous: [AWS X-Ray: segments, filter expressions, the service map and sampling](03_aws_xray.ipynb) · [Start here](00_start_here.ipynb) · Next: [Rollbar: errors grouped into items you can count](05_rollbar.ipynb) →
