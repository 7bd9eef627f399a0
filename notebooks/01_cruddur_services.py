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
# # The Cruddur services: an API worth tracing
#
# Before adding any instrumentation you need something to observe. This notebook starts **backend-flask** (the
# Cruddur API) and the downstream **notifications** service it calls over HTTP, exercises every endpoint, then
# generates 600 requests and measures latency and errors per route with nothing but the client's stopwatch.

# %% [markdown]
# ## Overview
# 1. Start both services: notifications in its own process, backend-flask in this kernel
# 2. Call every endpoint; see a validation error and a cross-service call
# 3. Turn on fault injection and generate 600 requests
# 4. Per-route p50/p95/p99 and error rate; a latency histogram

# %% [markdown]
# ## Prerequisites
#
# | Concept | Importance | Notes |
# | --- | --- | --- |
# | [00 start here](00_start_here.ipynb) | Necessary | environment checked |
# | HTTP status codes | Necessary | 2xx, 4xx (client's fault), 5xx (server's fault) |
# | Percentiles | Helpful | why p99 matters more than the mean |
#
# - **Time to learn**: 20 minutes

# %% [markdown]
# ## Set-up

# %%
from lab_app.notebook import setup

lab = setup()

# %% [markdown]
# ## Imports

# %%
import matplotlib.pyplot as plt
import pandas as pd

from lab_app import services, traffic
from lab_app.notebook import show
from lab_app.services import Faults

# %% [markdown]
# ## 1. Start both services
#
# The two services run the way they do in production, one process each:
#
# * **notifications** ("another team's service") in a process of its own: `services.downstream.start()` runs
#   `python -m lab_app.services.notifications` and waits until it answers `/health`;
# * **backend-flask** in a thread of this kernel, so you can instrument it from the next notebooks' cells:
#   `create_backend_app` is its app factory (the bootcamp's routes), `serve_backend` serves it on its port.
#
# Re-running the cell replaces both on the same ports, so the notebook stays re-runnable.

# %%
notifications = services.downstream.start(otel=False)
app = services.create_backend_app(notifications.url)
backend = services.serve_backend(app)
notifications, backend

# %% [markdown]
# ## 2. Call every endpoint
#
# The home timeline: each activity carries its author, timestamps (timezone-aware), counters and replies.

# %%
api = backend.url
home = traffic.send("GET", f"{api}/api/activities/home").json()
pd.json_normalize(home)[["handle", "message", "created_at", "expires_at", "likes_count", "replies_count"]].head()

# %%
calls = [
    ("GET", "/api/activities/@worf", None),
    ("GET", "/api/activities/search?term=cloud", None),
    ("GET", "/api/activities/68f126b0-1ceb-4a33-88be-d90fa7109eee", None),
    ("POST", "/api/activities", {"message": "Tracing makes the invisible visible", "ttl": "7-days"}),
    ("POST", "/api/activities/68f126b0-1ceb-4a33-88be-d90fa7109eee/reply", {"message": "Agreed!"}),
    ("GET", "/api/message_groups", None),
    ("GET", "/api/messages/@worf", None),
    ("POST", "/api/messages", {"handle": "worf", "message": "Are you coming to the standup?"}),
    ("GET", "/rollbar/test", None),
    ("GET", "/health", None),
]
rows = []
for method, path, body in calls:
    resp = traffic.send(method, api + path, json=body)
    rows.append({"method": method, "path": path, "status": resp.status_code, "bytes": len(resp.text.encode())})
pd.DataFrame(rows)

# %% [markdown]
# ### A validation error
#
# Bad input gets **422** with *every* failing code at once, so a client can show them all. Unknown handles and
# activity ids get **404**.

# %%
bad = traffic.send("POST", f"{api}/api/activities", json={"message": "x" * 281, "ttl": "2-weeks"})
missing = traffic.send("GET", f"{api}/api/activities/@nobody")
bad.status_code, bad.json(), missing.status_code, missing.json()

# %% [markdown]
# ### A call that crosses two services
#
# `GET /api/activities/notifications` asks the **notifications** service (its own process, on its own port)
# which activities concern the user, then enriches them with its own data. One user request, two services:
# that is what makes tracing *distributed*, and what notebooks 02 and 03 will draw.

# %%
downstream = traffic.send("GET", f"{notifications.url}/api/notifications/@andrewbrown").json()["notifications"]
enriched = traffic.send("GET", f"{api}/api/activities/notifications").json()
pd.DataFrame(enriched)[["notification_kind", "handle", "message"]].head()

# %% [markdown]
# ### Checkpoint: every endpoint answered as documented

# %%
statuses = pd.DataFrame(rows).set_index("path")["status"]
assert (statuses == 200).all(), statuses
assert bad.status_code == 422 and bad.json() == {"errors": ["ttl_invalid", "message_exceed_max_chars"]}
assert missing.status_code == 404
assert enriched and {a["uuid"] for a in enriched} <= {n["activity_uuid"] for n in downstream}

# %% [markdown]
# ## 3. Faults, and 600 requests
#
# Real systems are slow and flaky in places. `Faults.lesson()` injects three problems, deterministically with a
# seed: extra latency in the search code, a notifications service that sometimes fails, and a route with a bug.
# They live in the code, where real faults live (the notifications process gets its share through its
# environment). Later notebooks find them from traces and logs alone; here you only measure them from the outside.
#
# The traffic generator plans the requests from a seed (same seed, same requests), sends them with 8 concurrent
# workers and returns one row per request.

# %%
faults = Faults.lesson(seed=42)
notifications = services.downstream.start(otel=False, faults=faults)
app = services.create_backend_app(notifications.url, faults=faults)
backend = services.serve_backend(app)
df = traffic.generate(backend.url, n=600, concurrency=8, seed=7)
df.head()

# %% [markdown]
# ## 4. Latency and errors per route
#
# `route_summary` groups by route template and computes percentiles. The mean hides the slow tail; p95 and p99 show it.
# An *error* here is a 5xx or no answer; 4xx are the client's fault and counted apart.

# %%
summary = traffic.route_summary(df)
styled = summary.style.format({"p50_ms": "{:.1f}", "p95_ms": "{:.1f}", "p99_ms": "{:.1f}", "error_rate": "{:.1%}"},
                              escape="html")   # route templates contain <handle>: show them, not parse them as tags
styled

# %%
fig, ax = plt.subplots(figsize=(9, 4))
ax.hist(df["latency_ms"], bins=[x / 2 for x in range(0, 600)], log=True)
ax.set_xlabel("latency (ms)")
ax.set_ylabel("requests (log scale)")
ax.set_title("600 requests: most are fast, one cluster is not")
show(alt="Histogram of the latency of 600 requests in half-millisecond bins on a log count axis: most requests "
         "take a few milliseconds; a separate cluster around 180 to 240 ms is the slow search.")

# %% [markdown]
# ### Checkpoint: the numbers match what was sent and injected

# %%
assert "/api/activities/@&lt;handle&gt;" in styled.to_html(), "the table must show <handle>, escaped"
planned = list(traffic.plan(600, seed=7))
assert len(df) == 600 and df["error"].isna().all(), "every request got an answer"
assert int(((df["status"] >= 400) & (df["status"] < 500)).sum()) == sum(p.invalid for p in planned)
by_route = summary.set_index("route")
assert by_route["p50_ms"].idxmax() == "/api/activities/search", "the injected slow route is the slowest"
assert by_route.loc["/api/activities/search", "p50_ms"] >= 180
counts = faults.summary().set_index("rule")  # what this kernel's backend injected
assert int((df["status"] == 500).sum()) == counts.loc["backend-flask:GET /api/message_groups", "exceptions"]
# the notifications process draws from the same seeded stream: replay it for the lookups it served
lookups = int((df["route"] == "/api/activities/notifications").sum())
replay = Faults.lesson(seed=42)
expected_502 = sum(replay.decide("notifications:GET /api/notifications/@<handle>")[1] for _ in range(lookups))
assert int((df["status"] == 502).sum()) == expected_502
assert 0.15 < by_route.loc["/api/activities/notifications", "error_rate"] < 0.35  # 25 % injected

# %% [markdown]
# From the outside you can see *that* search is slow and notifications fail, not *why*: is the time spent in
# backend-flask, in the downstream service, or in the network between them? That is what traces answer.

# %%
backend.stop()
notifications.stop()

# %% [markdown]
# ## Summary
# - Two Flask services, two processes: notifications on its own, backend-flask in a thread of this kernel; one
#   request can cross both.
# - Validation errors are 422 with every failing code; unknown resources are 404.
# - A seeded traffic generator gives repeatable load, and pandas turns it into per-route percentiles.
#
# ## What's next
# [02 OpenTelemetry and Honeycomb](02_opentelemetry_honeycomb.ipynb): the same traffic, seen from the inside.
#
# ## Resources
# - Flask's application factory pattern: https://flask.palletsprojects.com/en/stable/patterns/appfactories/
# - Werkzeug's development server (`make_server`, threaded): https://werkzeug.palletsprojects.com/en/stable/serving/
# - HTTP status codes (422 Unprocessable Content, 502 Bad Gateway): https://www.rfc-editor.org/rfc/rfc9110#section-15

# %% [markdown]
# <!-- navigation -->
# ← Previous: [Start here: a tracing workbook you can run without a cloud account](00_start_here.ipynb) · [Start here](00_start_here.ipynb) · Next: [OpenTelemetry and Honeycomb: instrument backend-flask yourself](02_opentelemetry_honeycomb.ipynb) →
