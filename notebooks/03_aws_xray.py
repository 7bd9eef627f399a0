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
# # AWS X-Ray: segments, filter expressions, the service map and sampling
#
# The seed instruments **backend-flask** with the AWS X-Ray SDK: a recorder, Flask middleware, a daemon that
# ships segments to X-Ray, a sampling rule and a group created with the awscli. This notebook does the same for
# both Cruddur services, then reads the traces back with X-Ray's own query APIs into pandas: filter expressions,
# one trace as a waterfall, the service graph as a networkx graph, and a sampling experiment whose result you
# can predict.
#
# > **Maintenance mode.** AWS put the X-Ray SDKs and the X-Ray daemon into maintenance mode on 2026-02-25;
# > support ends on 2027-02-25. They still work (this notebook uses them because the bootcamp does), but new
# > code should send traces to X-Ray with **OpenTelemetry** (X-Ray's OTLP endpoint, or the CloudWatch agent /
# > ADOT collector). `lab_app.instrument.otel_xray` shows that route with the same services.

# %% [markdown]
# ## Overview
# 1. The X-Ray daemon: UDP for segments, TCP for sampling
# 2. Recorder and middleware on both services; one request becomes one trace
# 3. The seed's sampling rule and group, with the awscli
# 4. Traffic, then filter expressions into pandas (slow requests, faults, one annotation)
# 5. Annotations versus metadata
# 6. One trace's segments as a DataFrame and a waterfall
# 7. The service graph with networkx (and restricted to the group)
# 8. A sampling experiment: reservoir + fixed rate, predicted and measured

# %% [markdown]
# ## Prerequisites
#
# | Concept | Importance | Notes |
# | --- | --- | --- |
# | [01 the Cruddur services](01_cruddur_services.ipynb) | Necessary | the two services and the traffic generator |
# | [02 OpenTelemetry](02_opentelemetry_honeycomb.ipynb) | Helpful | traces and spans; X-Ray calls them traces and segments |
# | HTTP status codes | Necessary | X-Ray's error (4xx), throttle (429) and fault (5xx) |
#
# - **Time to learn**: 40 minutes

# %% [markdown]
# ## Imports

# %%
import json
import math
import os
import sys
import time

import boto3
import botocore.exceptions
import matplotlib.pyplot as plt
import networkx as nx
import pandas as pd
import requests

from lab_app import config, services, traffic
from lab_app.instrument import xray
from lab_app.notebook import setup
from lab_app.query import xray as xq
from lab_app.services import Faults

AWS = f"{sys.executable} -m awscli"  # the awscli of this environment, whatever PATH the kernel has
RULE_JSON = config.DATA_DIR / "xray-sampling-rule.json"  # the seed's sampling rule

# %%
lab = setup()
lab

# %% [markdown]
# ## 1. The X-Ray daemon
#
# The SDK never calls the X-Ray API for segments. It sends each finished segment as one **UDP** datagram,
# `{"format":"json","version":1}` + newline + the segment JSON, to the daemon at `AWS_XRAY_DAEMON_ADDRESS`
# (fire and forget: nothing listening means the segment is silently lost). The daemon batches them into
# `PutTraceSegments` calls. On the same port over **TCP** the daemon proxies the SDK's two sampling calls,
# `GetSamplingRules` and `GetSamplingTargets`, signing them with the daemon's credentials.
#
# In local mode the local cloud runs that daemon; in cloud mode run the real one, or
# `python -m lab_app.localcloud.xray.daemon --forward` which forwards to the real X-Ray API, signed with your
# AWS credentials (no Docker needed).

# %%
print("AWS_XRAY_DAEMON_ADDRESS =", os.environ.get("AWS_XRAY_DAEMON_ADDRESS", "127.0.0.1:2000 (the SDK's default)"))
xray_client = boto3.client("xray")

# %% [markdown]
# ## 2. Recorder and middleware on both services
#
# The seed configures the SDK's global `xray_recorder` with one service name and adds `XRayMiddleware`. We run
# two services in one process, so `xray.instrument_app` gives each Flask app a middleware whose segments carry
# *that app's* name, patches `requests` (the backend's call to **notifications** becomes a `remote` subsegment
# and carries the `X-Amzn-Trace-Id` header, so the downstream segment joins the same trace), and makes the
# services' `activity_span(...)` blocks open subsegments with annotations. `sampling=False` records every request
# for now; section 8 switches centralized sampling on.

# %%
xray.configure(sampling=False)
stack = services.start(instrument=[xray.instrument_app])
response = requests.get(stack.backend_url + "/api/activities/notifications", timeout=10)
print(response.status_code, response.headers["X-Amzn-Trace-Id"])
first_trace = dict(p.split("=", 1) for p in response.headers["X-Amzn-Trace-Id"].split(";"))["Root"]
first = xq.segments([xq.wait_for_traces([first_trace])["trace_id"][0]])
first[["service", "kind", "name", "namespace", "offset_ms", "duration_ms", "depth"]]

# %% [markdown]
# ### Checkpoint: one request, one trace, two services

# %%
segments_only = first[first["kind"] == "segment"]
assert set(segments_only["service"]) == {"backend-flask", "notifications"}
assert first["trace_id"].nunique() == 1
downstream = segments_only[segments_only["service"] == "notifications"].iloc[0]
caller = first[first["segment_id"] == downstream["parent_id"]].iloc[0]
assert caller["namespace"] == "remote"  # the patched requests call is the downstream segment's parent

# %% [markdown]
# ## 3. The seed's sampling rule and group, with the awscli
#
# The rule is kept in `data/xray-sampling-rule.json` (the seed's file, with the names it actually produced:
# `Cruddur` for `backend-flask`). The commands are the seed's, verbatim. To keep the cell re-runnable we delete
# what a previous run created first (creating an existing group or rule is an `InvalidRequestException`).

# %%
for group in xray_client.get_groups()["Groups"]:
    if group["GroupName"] == "Cruddur":
        xray_client.delete_group(GroupName="Cruddur")
for record in xray_client.get_sampling_rules()["SamplingRuleRecords"]:
    if record["SamplingRule"]["RuleName"] == "Cruddur":
        xray_client.delete_sampling_rule(RuleName="Cruddur")

# %%
# !{AWS} xray create-group --group-name "Cruddur" --filter-expression 'service("backend-flask")'

# %%
# !{AWS} xray create-sampling-rule --cli-input-json file://{RULE_JSON}

# %%
rules = pd.DataFrame([r["SamplingRule"] for r in xray_client.get_sampling_rules()["SamplingRuleRecords"]])
rules[["RuleName", "Priority", "ReservoirSize", "FixedRate", "ServiceName", "HTTPMethod", "URLPath"]]

# %% [markdown]
# ### Checkpoint: the group and the rule exist, Default is still last

# %%
assert xray_client.get_group(GroupName="Cruddur")["Group"]["FilterExpression"] == 'service("backend-flask")'
names = list(rules["RuleName"])
assert "Cruddur" in names and names[-1] == "Default"  # rules sort by (Priority, RuleName); Default is the catch-all
cruddur_rule = rules.set_index("RuleName").loc["Cruddur"]
assert (cruddur_rule["ReservoirSize"], cruddur_rule["FixedRate"], cruddur_rule["ServiceName"]) == (5, 0.1, "backend-flask")

# %% [markdown]
# ## 4. Traffic, then filter expressions into pandas
#
# The lesson's faults: a slow search, a flaky notifications service (25 % answer 503) and a route that raises.
# Every request is recorded (sampling is off), so X-Ray should see exactly what the client saw.
# `xq.trace_summaries(...)` pages through `GetTraceSummaries` and returns one typed row per trace.

# %%
stack = services.start(instrument=[xray.instrument_app], faults=Faults.lesson())
window_start = time.time()  # the first request starts after this; earlier cells' requests stay outside
frame = traffic.generate(stack.backend_url, n=300, concurrency=4, seed=3, progress=False)
window_end = time.time() + 1
summaries = xq.wait_for_traces(frame["xray_trace_id"].dropna())
summaries[["trace_id", "start_time", "response_time_ms", "http_method", "http_url", "http_status", "has_fault", "has_error"]].head()


# %%
def filtered(expression):
    return xq.trace_summaries(start=window_start, end=window_end, filter_expression=expression)

slow = filtered('service("backend-flask") { responsetime > 0.15 }')
faults = filtered("fault")
search = filtered('http.url CONTAINS "/api/activities/search"')
pd.DataFrame({"expression": ['service("backend-flask") { responsetime > 0.15 }', "fault", 'http.url CONTAINS "/api/activities/search"'],
              "traces": [len(slow), len(faults), len(search)]})

# %% [markdown]
# ### Checkpoint: X-Ray's answers match the client's own records

# %%
client_view = frame.set_index("xray_trace_id")
assert set(faults["trace_id"]) == set(client_view.index[client_view["status"] >= 500])
assert set(search["trace_id"]) == set(client_view.index[client_view["route"] == "/api/activities/search"])
# every slow trace was slow for the client too (the client's latency includes the network)
assert (client_view.loc[list(slow["trace_id"]), "latency_ms"] > 150).all()
assert len(slow) >= len(search) * 0.9  # the injected 180-240 ms search latency dominates

# %% [markdown]
# ## 5. Annotations versus metadata
#
# Inside `activity_span(...)` every attribute was written twice: as an **annotation** (`put_annotation`:
# string, number or boolean, indexed, usable in filter expressions and shown in trace summaries) and as
# **metadata** (`put_metadata`: any JSON, stored with the segment, *not* indexed). Put what you want to search by
# in annotations (user handle, result counts, feature flags), and bulky context in metadata. Annotation keys
# allow letters, digits and `_`, so `app.user` becomes `app_user`.

# %%
home = frame[frame["route"] == "/api/activities/home"].iloc[0]
home_segments = xq.segments([home["xray_trace_id"]])
activity = home_segments[home_segments["name"] == "home-activities-mock-data"].iloc[0]
print("annotations:", activity["annotations"])
print("metadata:   ", json.dumps(activity["metadata"]))
user = activity["annotations"]["app_user"]
by_user = filtered(f'annotation.app_user = "{user}"')
try:
    filtered(f'metadata.app_user = "{user}"')
except botocore.exceptions.ClientError as exc:
    metadata_error = exc.response["Error"]
metadata_error

# %% [markdown]
# ### Checkpoint: annotations filter, metadata does not

# %%
assert home["xray_trace_id"] in set(by_user["trace_id"])
assert metadata_error["Code"] == "InvalidRequestException"
assert "app.user" in activity["metadata"]["cruddur"]

# %% [markdown]
# ## 6. One trace as a DataFrame and a waterfall
#
# `xq.segments` flattens `BatchGetTraces`: every segment and subsegment, its offset from the start of the trace
# and its depth (a downstream segment sits under the subsegment that called it).
# The SDK names the `requests` subsegment after the host it called (`127.0.0.1` here); the
# **notifications** segment below it is the downstream service's own view of the same call, and the gap
# between the two is the HTTP round trip.

# %%
call_route = "/api/activities/notifications"
one_id = frame[(frame["route"] == call_route) & (frame["status"] == 200)]["xray_trace_id"].iloc[0]
one = xq.segments([one_id])
one[["service", "kind", "name", "offset_ms", "duration_ms", "depth", "http_status"]]

# %%
fig, ax = plt.subplots(figsize=(9, 0.45 * len(one) + 1))
colors = one["service"].map({"backend-flask": "tab:blue", "notifications": "tab:orange"}).fillna("tab:gray")
ax.barh(range(len(one)), one["duration_ms"], left=one["offset_ms"], color=colors)
ax.set_yticks(range(len(one)), ["· " * d + n for d, n in zip(one["depth"], one["name"])])
ax.invert_yaxis()
ax.set_xlabel("ms since the trace started")
ax.set_title(f"trace {one_id}")
plt.show()

# %% [markdown]
# ### Checkpoint: the waterfall nests

# %%
root = one[(one["kind"] == "segment") & (one["service"] == "backend-flask")].iloc[0]
assert root["offset_ms"] == 0
assert ((one["offset_ms"] + one["duration_ms"]) <= root["duration_ms"] + 1).all()  # children end inside the root
assert one["depth"].max() >= 2

# %% [markdown]
# ## 7. The service graph with networkx
#
# `GetServiceGraph` aggregates every segment in a time window into nodes (services) and edges (calls between
# them), each with ok / error / fault counts and response times. With `GroupName`, only the traces matching the
# group's filter expression count.

# %%
nodes, edges = xq.service_graph(start=window_start, end=window_end)
graph = xq.service_graph_nx(start=window_start, end=window_end)
display(nodes)
display(edges)
fig, ax = plt.subplots(figsize=(8, 3))
pos = nx.spring_layout(graph, seed=1)
nx.draw_networkx(graph, pos, ax=ax, node_color="lightsteelblue", node_size=4000, font_size=9, arrowsize=20,
                 labels={n: f"{n}\n{d['requests']} req" for n, d in graph.nodes(data=True)})
ax.margins(0.25)
nx.draw_networkx_edge_labels(graph, pos, ax=ax, edge_labels={(u, v): f"{d['requests']} calls, {d['faults']} faults"
                                                             for u, v, d in graph.edges(data=True)})
ax.set_axis_off()
plt.show()

# %% [markdown]
# ### Checkpoint: the graph counts what the traffic did

# %%
backend_node = nodes.set_index("service").loc["backend-flask"]
assert backend_node["requests"] == len(frame)
assert backend_node["faults"] == (frame["status"] >= 500).sum()
assert ("backend-flask", "notifications") in graph.edges
notif = nodes.set_index("service").loc["notifications"]
assert graph.edges["backend-flask", "notifications"]["faults"] == notif["faults"] > 0  # the flaky 503s
grouped, _ = xq.service_graph(start=window_start, end=window_end, group_name="Cruddur")
assert grouped.set_index("service").loc["backend-flask", "requests"] == len(frame)

# %% [markdown]
# ## 8. A sampling experiment
#
# With sampling on, the SDK asks the daemon for the rules (`GetSamplingRules`) and, every ~10 s, for targets
# (`GetSamplingTargets`). For each second, a rule samples the first `ReservoirQuota` matching requests (our
# `Cruddur` rule: 5 per second for one client) and then `FixedRate` (10 %) of the rest. So for a run where second
# *s* had *n<sub>s</sub>* requests, the expected number of sampled traces is
#
#   Σ<sub>s</sub> [ min(n<sub>s</sub>, 5) + 0.1 · max(0, n<sub>s</sub> − 5) ]
#
# The fixed-rate part is random (binomial), so we state a tolerance: 4 standard deviations of it, plus two
# reservoirs' worth (10 traces) for requests whose sampling decision fell into a different second than the
# client's timestamp. The checkpoint also shows the experiment can tell rules apart: the `Default` rule alone
# (1 per second + 5 %) predicts a number well outside that tolerance.

# %%
xray.configure(sampling=True)
stack = services.start(instrument=[xray.instrument_app])
target = xray.sync_sampling_rules("Cruddur", timeout=40,
                                  warmup=lambda: requests.get(stack.backend_url + "/api/activities/home", timeout=5))
target

# %%
time.sleep(max(0.0, math.ceil(time.time()) - time.time()))  # start on a second boundary
run = traffic.generate(stack.backend_url, duration=6, concurrency=2, seed=11, progress=False,
                       mix={"GET /api/activities/home": 1})
per_second = run.groupby(run["started_at"].dt.floor("s")).size()
quota, rate = target["reservoir_quota"], target["fixed_rate"]
reservoir_part = per_second.clip(upper=quota).sum()
rest = (per_second - quota).clip(lower=0).sum()
predicted = reservoir_part + rate * rest
tolerance = 4 * math.sqrt(rest * rate * (1 - rate)) + 2 * quota
default_only = per_second.clip(upper=1).sum() + 0.05 * (per_second - 1).clip(lower=0).sum()
time.sleep(1)
stored = xq.trace_summaries(minutes=5, filter_expression='service("backend-flask")')
sampled = len(set(run["xray_trace_id"]) & set(stored["trace_id"]))
pd.Series({"requests": len(run), "seconds": len(per_second), "predicted sampled": round(predicted, 1),
           "Default rule alone would give": round(default_only, 1),
           "measured sampled": sampled, "tolerance": round(tolerance, 1),
           "measured fraction": round(sampled / len(run), 3), "predicted fraction": round(predicted / len(run), 3)})

# %% [markdown]
# ### Checkpoint: measured within the stated tolerance of the prediction

# %%
assert len(run) > 10 * len(per_second), "the experiment needs well over 5 requests per second"
assert abs(sampled - predicted) <= tolerance, (sampled, predicted, tolerance)
assert abs(default_only - predicted) > tolerance  # the Cruddur rule, not the Default one, decided
assert sampled < len(run) * 0.6  # sampling really dropped most requests
xray.configure(sampling=False)
stack.stop()

# %% [markdown]
# ## Summary
# - The SDK sends segments over UDP to a daemon and asks the daemon (TCP) for sampling rules and targets.
# - Middleware per service names each segment after its service; the patched `requests` call links the two
#   services' segments into one trace through `X-Amzn-Trace-Id`.
# - Filter expressions (`fault`, `responsetime > 0.15`, `annotation.app_user = "..."`, `service("x") { ... }`)
#   run server-side; `lab_app.query.xray` turns the answers into typed DataFrames.
# - Annotations are indexed and filterable; metadata is not.
# - The service graph gives per-service and per-edge ok/error/fault counts; groups restrict it.
# - Centralized sampling = reservoir per second + fixed rate beyond it, and the numbers are predictable.
# - The X-Ray SDK and daemon are in maintenance mode (since 2026-02-25, end of support 2027-02-25): use
#   OpenTelemetry for new work.
#
# ## What's next
# [04 CloudWatch Logs and Insights](04_cloudwatch_logs.ipynb): structured logs from the same services, queried
# with Logs Insights.
#
# ## Resources
# - AWS X-Ray developer guide: filter expressions, sampling rules, segment documents
# - AWS X-Ray API reference: GetTraceSummaries, BatchGetTraces, GetServiceGraph, GetSamplingTargets
# - AWS Distro for OpenTelemetry: sending traces to X-Ray with OpenTelemetry

# %% [markdown]
# <!-- navigation -->
# ← Previous: [OpenTelemetry and Honeycomb: instrument backend-flask yourself](02_opentelemetry_honeycomb.ipynb) · [Start here](00_start_here.ipynb) · Next: [CloudWatch Logs and Logs Insights: access logs you can query](04_cloudwatch_logs.ipynb) →
