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
# # AWS X-Ray: segments, filter expressions, the service map and sampling
#
# The seed instruments **backend-flask** with the AWS X-Ray SDK: a recorder, Flask middleware, a daemon that
# ships segments to X-Ray, a sampling rule and a group created with the awscli. You write the same lines here,
# the ones that go into backend-flask's `app.py`; **notifications**, in its own process, ships with the X-Ray SDK
# already configured from its environment. Then you read the traces back with X-Ray's own query APIs into pandas:
# filter expressions, one trace as a waterfall, the service graph as a networkx graph, and a sampling experiment
# whose result you can predict.
#
# > **Maintenance mode.** AWS put the X-Ray SDKs and the X-Ray daemon into maintenance mode on 2026-02-25 (an
# > end-of-support date announced earlier was withdrawn in November 2025). They still work (this notebook uses them because the bootcamp does), but new
# > code should send traces to X-Ray with **OpenTelemetry** (X-Ray's OTLP endpoint, or the CloudWatch agent /
# > ADOT collector). `lab_app.instrument.otel_xray` shows that route with the same services.

# %% [markdown]
# ## Overview
# 1. The X-Ray daemon: UDP for segments, TCP for sampling
# 2. Recorder, middleware and `patch(["requests"])`: one request becomes one trace across two processes
# 3. The seed's sampling rule and group, with the awscli
# 4. Traffic, then filter expressions into pandas (slow requests, faults, one annotation)
# 5. Your own subsegment: annotations versus metadata (and the seed's `in_segment`, which breaks requests)
# 6. One trace's segments as a DataFrame and a waterfall
# 7. The service graph with networkx (and restricted to the group)
# 8. A sampling experiment: reservoir + fixed rate, predicted and measured
# 9. Your turn: two filter expressions
# 10. Your app.py now

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
# ## Set-up
# `setup()` starts the local cloud (or finds your real keys in `.env`) and sets `AWS_XRAY_DAEMON_ADDRESS`. Run it
# before importing the X-Ray SDK: its recorder reads that variable when it is created.

# %%
from lab_app.notebook import setup

lab = setup()
lab

# %% [markdown]
# ## Imports

# %%
import json
import math
import os
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import boto3
import botocore.exceptions
import matplotlib.pyplot as plt
import networkx as nx
import pandas as pd
from aws_xray_sdk.core import patch, xray_recorder
from aws_xray_sdk.core.models.default_dynamic_naming import DefaultDynamicNaming
from aws_xray_sdk.core.sampling.sampler import DefaultSampler
from aws_xray_sdk.ext.flask.middleware import XRayMiddleware

from lab_app import config, services, traffic
from lab_app.notebook import show
from lab_app.query import xray as xq
from lab_app.services import Faults

AWS = f"{sys.executable} -m awscli"  # the awscli of this environment, whatever PATH the kernel has
RULE_JSON = config.SEED_DATA_DIR / "xray-sampling-rule.json"  # the seed's sampling rule

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
# The seed ran the real daemon as a docker-compose service:
#
# ```yaml
# xray-daemon:
#   image: "amazon/aws-xray-daemon"
#   environment:
#     AWS_ACCESS_KEY_ID: "${AWS_ACCESS_KEY_ID}"
#     AWS_SECRET_ACCESS_KEY: "${AWS_SECRET_ACCESS_KEY}"
#     AWS_REGION: "us-east-1"
#   command:
#     - "xray -o -b xray-daemon:2000"
#   ports:
#     - 2000:2000/udp
# ```
#
# `-o` (`--local-mode`) tells the daemon not to look for EC2 instance metadata; `-b` (`--bind`) is the UDP address
# it listens on (`xray-daemon:2000`, the compose service's own name, so the backend's
# `AWS_XRAY_DAEMON_ADDRESS: "xray-daemon:2000"` reaches it). Only UDP is published, so the SDK's sampling calls
# (TCP) would fail and fall back to 1 request/s + 5 %. The `${...}` values are interpolated from the shell that runs
# compose: long-lived access keys then sit in the container's environment, visible to `docker inspect` and to
# anything that can read the process's environment. On AWS give the daemon an IAM role (task role, instance
# profile) instead; on a laptop, short-lived credentials (`aws sso login`, a profile), never keys pasted into a
# file.

# %% [markdown]
# ## 2. Recorder, middleware and `patch(["requests"])`
#
# **notifications** runs in its own process with the X-Ray SDK switched on by its environment
# (`AWS_XRAY_SDK_ENABLED=true`, segments to `AWS_XRAY_DAEMON_ADDRESS`). For backend-flask you write the seed's
# three lines: configure the process's one `xray_recorder`, wrap the app in `XRayMiddleware`, and
# `patch(["requests"])` so the backend's call to notifications becomes a `remote` subsegment and carries the
# `X-Amzn-Trace-Id` header (the downstream segment then joins the same trace).
#
# The seed passed `dynamic_naming=os.getenv("AWS_XRAY_URL")` with
# `AWS_XRAY_URL: "*4567-${GITPOD_WORKSPACE_ID}.${GITPOD_WORKSPACE_CLUSTER_HOST}*"`: a segment is then named after
# the request's `Host` header when it matches that pattern, and after `service` otherwise. On Gitpod the host was
# the workspace URL, so the service map showed that URL; here `AWS_XRAY_URL` is unset and every segment is
# `backend-flask`. `sampling=False` records every request for now (the default, `True`, asks the daemon for
# sampling rules: section 8).

# %%
naming = DefaultDynamicNaming("*4567-*.gitpod.io*", "backend-flask")
pd.DataFrame([{"Host header": host, "segment name": naming.get_name(host)}
              for host in ("4567-ws-1234.ws-eu99.gitpod.io", "127.0.0.1:4567")])

# %%
faults = Faults.lesson()
notifications = services.downstream.start(otel=False, xray=True, faults=faults)

xray_url = os.getenv("AWS_XRAY_URL")
xray_recorder.configure(service="backend-flask", dynamic_naming=xray_url, sampling=False)
app = services.create_backend_app(notifications.url, faults=faults)
XRayMiddleware(app, xray_recorder)
patch(["requests"])
backend = services.serve_backend(app)

response = traffic.send("GET", backend.url + "/api/activities/notifications")
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
assert notifications.pid != os.getpid()  # the downstream segment came from another process

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

# %% [markdown]
# `CreatedAt` and `ModifiedAt` print as seconds since the epoch (`1764...`), where the journal shows
# `2023-03-12T15:21:08+00:00`. Both are right. X-Ray's JSON API sends timestamps as epoch seconds; this workbook pins
# the **awscli v1** (`python -m awscli`, from PyPI), which prints them as they arrived, and the journal used the
# **awscli v2**, which converts them to ISO 8601 by default. The setting is `cli_timestamp_format` in the awscli
# config file (no environment variable). Here it is for one command, from a config file of its own, compared with the
# epoch value the create command printed above:

# %%
cli_config = Path("../build/awscli-iso8601.config")
cli_config.parent.mkdir(exist_ok=True)
cli_config.write_text("[default]\ncli_timestamp_format = iso8601\n")
created_at = ["xray", "get-sampling-rules", "--region", boto3.session.Session().region_name, "--output", "text",
              "--query", "SamplingRuleRecords[?SamplingRule.RuleName=='Cruddur'].CreatedAt"]
as_iso = subprocess.run([sys.executable, "-m", "awscli", *created_at], capture_output=True, text=True, check=True,
                        env={**os.environ, "AWS_CONFIG_FILE": str(cli_config)})
print("cli_timestamp_format = iso8601:", as_iso.stdout.strip())
# the same instant as the epoch seconds the create command printed (boto3 parses them into a datetime)
record = next(r for r in xray_client.get_sampling_rules()["SamplingRuleRecords"] if r["SamplingRule"]["RuleName"] == "Cruddur")
print("as sent (epoch seconds):       ", record["CreatedAt"].timestamp())
assert math.isclose(datetime.fromisoformat(as_iso.stdout.strip()).timestamp(), record["CreatedAt"].timestamp(), abs_tol=1)

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
window_start = time.time()  # the first request starts after this; earlier cells' requests stay outside
frame = traffic.generate(backend.url, n=150, concurrency=4, seed=3, progress=False)
window_end = time.time() + 1
summaries = xq.wait_for_traces(frame["xray_trace_id"].dropna())
summaries[["trace_id", "start_time", "response_time_ms", "http_method", "http_url", "http_status", "has_fault", "has_error"]].head()


# %%
def filtered(expression):
    return xq.trace_summaries(start=window_start, end=window_end, filter_expression=expression)

slow = filtered('service("backend-flask") { responsetime > 0.15 }')
faulted = filtered("fault")
search = filtered('http.url CONTAINS "/api/activities/search"')
pd.DataFrame({"expression": ['service("backend-flask") { responsetime > 0.15 }', "fault", 'http.url CONTAINS "/api/activities/search"'],
              "traces": [len(slow), len(faulted), len(search)]})

# %% [markdown]
# ### Checkpoint: X-Ray's answers match the client's own records

# %%
client_view = frame.set_index("xray_trace_id")
assert set(faulted["trace_id"]) == set(client_view.index[client_view["status"] >= 500])
assert set(search["trace_id"]) == set(client_view.index[client_view["route"] == "/api/activities/search"])
# every slow trace was slow for the client too (the client's latency includes the network)
assert (client_view.loc[list(slow["trace_id"]), "latency_ms"] > 150).all()
assert len(slow) >= len(search) * 0.9  # the injected 180-240 ms search latency dominates

# %% [markdown]
# ## 5. Your own subsegment: annotations versus metadata
#
# The seed added X-Ray code to `services/user_activities.py` with `xray_recorder.in_segment('user.activity')`.
# Inside a request the middleware has already opened the segment, and a second segment breaks the request:
# see for yourself with the seed's version, on a throw-away app called through Flask's test client.

# %%
class SeedUserActivities:
    """The journal's version: a *segment* inside a request."""

    def run(self, data, handle):
        with xray_recorder.in_segment("user.activity") as segment:
            segment.put_metadata("key", {"user": handle, "now": datetime.now(timezone.utc).isoformat()}, "namespace")
            return data.by_handle(handle)


time.sleep(max(0.0, window_end - time.time()))  # keep this section's requests out of section 4's window
seed_app = services.create_backend_app(notifications.url, user_activities=SeedUserActivities(), quiet=True)
XRayMiddleware(seed_app, xray_recorder)
broken = seed_app.test_client().get("/api/activities/@andrewbrown")
broken.status_code

# %% [markdown]
# The 500 is the seed's bug: `in_segment` put a second segment in the place of the request's own, so when the view
# finished, the middleware and Flask found no segment to close: the SDK logged "cannot find the current
# segment/subsegment" (the lines above) and the request failed. The request's segment never reaches X-Ray; only the
# seed's `user.activity`, as a trace of its own.
#
# Work inside a request must be a **subsegment** (`in_subsegment`, or the `@xray_recorder.capture`
# decorator). On it, **annotations** (`put_annotation`: string, number or boolean) are indexed: filter expressions
# and trace summaries can use them. **Metadata** (`put_metadata`: any JSON, in a namespace) is stored with the
# segment but not indexed. Annotation keys allow letters, digits and `_` only. The fixed service class, used from
# now on:

# %%
class UserActivities:
    """backend-flask/services/user_activities.py with an X-Ray subsegment."""

    def run(self, data, handle):
        with xray_recorder.in_subsegment("user-activities-mock-data") as subsegment:
            now = datetime.now(timezone.utc)
            results = data.by_handle(handle)
            subsegment.put_annotation("user_handle", handle)
            subsegment.put_annotation("result_length", len(results or []))
            subsegment.put_metadata("request", {"user": handle, "now": now.isoformat()}, "cruddur")
            return results


app = services.create_backend_app(notifications.url, faults=faults, user_activities=UserActivities())
XRayMiddleware(app, xray_recorder)
backend = services.serve_backend(app)
mine = traffic.send("GET", backend.url + "/api/activities/@andrewbrown")
mine_trace = dict(p.split("=", 1) for p in mine.headers["X-Amzn-Trace-Id"].split(";"))["Root"]
xq.wait_for_traces([mine_trace])
user_segments = xq.segments([mine_trace])
activity = user_segments[user_segments["name"] == "user-activities-mock-data"].iloc[0]
print("annotations:", activity["annotations"])
print("metadata:   ", json.dumps(activity["metadata"]))
by_user = xq.trace_summaries(minutes=5, filter_expression='annotation.user_handle = "andrewbrown"')
try:
    xq.trace_summaries(minutes=5, filter_expression='metadata.user_handle = "andrewbrown"')
except botocore.exceptions.ClientError as exc:
    metadata_error = exc.response["Error"]
metadata_error

# %% [markdown]
# ### Checkpoint: the seed's segment broke its request; annotations filter, metadata does not

# %%
assert broken.status_code == 500, "in_segment inside a traced request fails it"
assert mine.status_code == 200 and activity["annotations"] == {"user_handle": "andrewbrown", "result_length":
                                                              activity["annotations"]["result_length"]}
assert activity["annotations"]["result_length"] > 0
assert mine_trace in set(by_user["trace_id"])
assert metadata_error["Code"] == "InvalidRequestException"
assert activity["metadata"]["cruddur"]["request"]["user"] == "andrewbrown"

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
ax.legend(handles=[plt.Rectangle((0, 0), 1, 1, color=c) for c in ("tab:blue", "tab:orange")],
          labels=["backend-flask", "notifications"], loc="lower right", fontsize=8)
show(alt=f"Waterfall of X-Ray trace {one_id}: one horizontal bar per segment and subsegment, indented by depth, "
         "placed at its offset from the start of the trace and as long as its duration; backend-flask in blue, the "
         "notifications segment in orange nested inside the subsegment that called it.")

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
show(alt="Service graph from GetServiceGraph: one node per service labelled with its request count, arrows for the "
         "calls between them labelled with calls and faults; backend-flask calls notifications.")

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
# With sampling on, the SDK asks the daemon for the rules (`GetSamplingRules`, at its first request and then every
# ~5 minutes) and, every ~10 s, for targets (`GetSamplingTargets`: the reservoir quota X-Ray assigns this client).
# Until the first targets arrive, a rule has no quota yet, and the SDK **borrows** one request per second from the
# reservoir; beyond that, it samples `FixedRate` of the requests. For the first seconds after a sampler starts, a
# run whose second *s* had *n<sub>s</sub>* matching requests therefore keeps, on average,
#
#   Σ<sub>s</sub> [ min(n<sub>s</sub>, 1) + FixedRate · max(0, n<sub>s</sub> − 1) ]
#
# (later, with a quota of *q* per second, the same formula with *q* in place of 1). The fixed-rate part is random
# (binomial), so we state a tolerance: 4 standard deviations of it, plus one borrowed request per second for
# requests whose decision fell into a different second than the client's timestamp.
#
# At the seed's 10 % it would take thousands of requests to tell the `Cruddur` rule from `Default` (5 %) within
# that tolerance, so for the experiment we **change the rule** to 50 % first, exactly what
# `aws xray update-sampling-rule --sampling-rule-update '{"RuleName": "Cruddur", "FixedRate": 0.5}'` does, and
# put it back afterwards. Then a few seconds of traffic are enough.
#
# `sampler=DefaultSampler()` gives the recorder a fresh sampler, so a re-run of the cell starts again before the
# first targets; the first request starts its pollers, and the rule poller fetches the rules at once.

# %%
xray_client.update_sampling_rule(SamplingRuleUpdate={"RuleName": "Cruddur", "FixedRate": 0.5})
xray_recorder.configure(sampling=True, sampler=DefaultSampler())   # centralized rules from the daemon (TCP)
app = services.create_backend_app(notifications.url)
XRayMiddleware(app, xray_recorder)
backend = services.serve_backend(app)
warmup = traffic.send("GET", backend.url + "/api/activities/home")   # starts the SDK's pollers
time.sleep(0.2)                                                      # GetSamplingRules answered by now

# %%
run = traffic.generate(backend.url, duration=2, concurrency=4, seed=11, progress=False,
                       mix={"GET /api/activities/home": 1})
per_second = run.groupby(run["started_at"].dt.floor("s")).size()
rate = next(r["SamplingRule"]["FixedRate"] for r in xray_client.get_sampling_rules()["SamplingRuleRecords"]
            if r["SamplingRule"]["RuleName"] == "Cruddur")
rest = (per_second - 1).clip(lower=0).sum()
predicted = per_second.clip(upper=1).sum() + rate * rest
tolerance = 4 * math.sqrt(rest * rate * (1 - rate)) + len(per_second)
default_only = per_second.clip(upper=1).sum() + 0.05 * rest
time.sleep(0.3)  # the last segments are still on their way through the daemon
stored = xq.trace_summaries(minutes=5, filter_expression='service("backend-flask")')
sampled = len(set(run["xray_trace_id"]) & set(stored["trace_id"]))
pd.Series({"requests": len(run), "seconds": len(per_second), "predicted sampled": round(predicted, 1),
           "Default rule alone would give": round(default_only, 1),
           "measured sampled": sampled, "tolerance": round(tolerance, 1),
           "measured fraction": round(sampled / len(run), 3), "predicted fraction": round(predicted / len(run), 3)})

# %% [markdown]
# ### Checkpoint: measured within the stated tolerance of the prediction

# %%
assert rate == 0.5 and len(run) > 50 * len(per_second), "the experiment needs the 50 % rule and many requests"
assert abs(sampled - predicted) <= tolerance, (sampled, predicted, tolerance)
assert abs(default_only - predicted) > tolerance  # the Cruddur rule, not the Default one, decided
assert sampled < len(run) * 0.7  # sampling really dropped many requests
xray_client.update_sampling_rule(SamplingRuleUpdate={"RuleName": "Cruddur", "FixedRate": 0.1})  # the seed's again
xray_recorder.configure(sampling=False)

# %% [markdown]
# ## 9. Your turn
#
# ### Your turn 1: the failed downstream calls
# Write a filter expression that selects, from the section 4 traffic, exactly the traces in which the
# **notifications** service faulted (its 25 % of 503s). Hint: `service("name") { fault }` restricts a condition
# to one service. Try it first; the solution is in the collapsed cell below.

# %%
downstream_faults = ""  # your filter expression

# %% jupyter={"source_hidden": true}
downstream_faults = 'service("notifications") { fault }'

# %% [markdown]
# ### Checkpoint: graded against what the client saw

# %%
picked = xq.trace_summaries(start=window_start, end=window_end, filter_expression=downstream_faults)
expected = set(client_view.index[(client_view["route"] == "/api/activities/notifications") & (client_view["status"] == 502)])
assert expected, "the traffic had no failed notifications call to find"
missing, extra = expected - set(picked["trace_id"]), set(picked["trace_id"]) - expected
assert not missing, f"{len(missing)} traces with a failed notifications call are not selected"
assert not extra, f"{len(extra)} selected traces had no notifications fault (e.g. the message_groups bug): narrow it"

# %% [markdown]
# ### Your turn 2: search by your own annotation
# Your `UserActivities` subsegment annotates `result_length`. Send one request for a user who does not exist
# (`/api/activities/@nobody`, a 404) and write the filter expression that finds traces whose
# `result_length` annotation is 0.

# %%
empty_result = ""  # your filter expression

# %% jupyter={"source_hidden": true}
empty_result = "annotation.result_length = 0"

# %%
app = services.create_backend_app(notifications.url, user_activities=UserActivities())
XRayMiddleware(app, xray_recorder)
backend = services.serve_backend(app)
nobody = traffic.send("GET", backend.url + "/api/activities/@nobody")
nobody_trace = dict(p.split("=", 1) for p in nobody.headers["X-Amzn-Trace-Id"].split(";"))["Root"]
xq.wait_for_traces([nobody_trace])
found = xq.trace_summaries(minutes=5, filter_expression=empty_result)

# %% [markdown]
# ### Checkpoint: your annotation, found

# %%
assert nobody.status_code == 404
assert nobody_trace in set(found["trace_id"]), "the 404 trace is not selected: filter on annotation.result_length"
assert mine_trace not in set(found["trace_id"]), "andrewbrown has posts: the expression must not select every trace"

# %% [markdown]
# ## 10. Your app.py now
#
# Everything above, as backend-flask's `app.py`. Running the cell writes it to `build/app_03.py`; a test runs that
# file as its own process against the local cloud (its daemon) and checks that its segments arrive.

# %%
Path("../build").mkdir(exist_ok=True)

# %%
# %%writefile ../build/app_03.py
"""backend-flask after notebook 03: AWS X-Ray SDK segments to the daemon at AWS_XRAY_DAEMON_ADDRESS."""
import os
from datetime import datetime, timezone

from aws_xray_sdk.core import patch, xray_recorder
from aws_xray_sdk.ext.flask.middleware import XRayMiddleware

from lab_app.services import create_backend_app


class UserActivities:
    def run(self, data, handle):
        with xray_recorder.in_subsegment("user-activities-mock-data") as subsegment:
            now = datetime.now(timezone.utc)
            results = data.by_handle(handle)
            subsegment.put_annotation("user_handle", handle)
            subsegment.put_annotation("result_length", len(results or []))
            subsegment.put_metadata("request", {"user": handle, "now": now.isoformat()}, "cruddur")
            return results


xray_url = os.getenv("AWS_XRAY_URL")
xray_recorder.configure(service="backend-flask", dynamic_naming=xray_url)
app = create_backend_app(os.environ.get("NOTIFICATIONS_URL", "http://127.0.0.1:4568"),
                         user_activities=UserActivities())
XRayMiddleware(app, xray_recorder)
patch(["requests"])

if __name__ == "__main__":
    app.run(host="127.0.0.1", port=int(os.environ.get("PORT", "4567")))

# %% [markdown]
# ### Checkpoint: the file is the lesson

# %%
written = Path("../build/app_03.py").read_text()
for call in ('xray_recorder.configure(service="backend-flask", dynamic_naming=xray_url)',
             "XRayMiddleware(app, xray_recorder)", 'patch(["requests"])', "in_subsegment(", "put_annotation(",
             "put_metadata("):
    assert call in written, call
backend.stop()
notifications.stop()

# %% [markdown]
# ## Summary
# - The SDK sends segments over UDP to a daemon and asks the daemon (TCP) for sampling rules and targets.
# - `xray_recorder.configure(service=..., dynamic_naming=...)`, `XRayMiddleware(app, xray_recorder)` and
#   `patch(["requests"])`: the patched call links the two processes' segments into one trace through
#   `X-Amzn-Trace-Id`. Inside a request, open subsegments (`in_subsegment`), never a second segment.
# - Filter expressions (`fault`, `responsetime > 0.15`, `annotation.app_user = "..."`, `service("x") { ... }`)
#   run server-side; `lab_app.query.xray` turns the answers into typed DataFrames.
# - Annotations are indexed and filterable; metadata is not.
# - The service graph gives per-service and per-edge ok/error/fault counts; groups restrict it.
# - Centralized sampling = reservoir per second (borrowed, 1/s, until the first targets) + fixed rate beyond it,
#   and the numbers are predictable.
# - The X-Ray SDK and daemon are in maintenance mode since 2026-02-25: use OpenTelemetry for new work.
#
# ## What's next
# [04 CloudWatch Logs and Insights](04_cloudwatch_logs.ipynb): structured logs from the same services, queried
# with Logs Insights.
#
# ## Resources
# - AWS X-Ray SDK for Python (recorder, middleware, `patch`, subsegments, annotations and metadata, dynamic naming):
#   https://docs.aws.amazon.com/xray/latest/devguide/xray-sdk-python.html
# - X-Ray daemon command-line options (`-o` local mode, `-b` bind address):
#   https://docs.aws.amazon.com/xray/latest/devguide/xray-daemon-configuration.html
# - X-Ray SDK and daemon maintenance mode: https://docs.aws.amazon.com/xray/latest/devguide/xray-sdk-migration.html
# - AWS X-Ray developer guide: filter expressions, sampling rules, segment documents
# - AWS X-Ray API reference: GetTraceSummaries, BatchGetTraces, GetServiceGraph, GetSamplingTargets
# - AWS Distro for OpenTelemetry: sending traces to X-Ray with OpenTelemetry

# %% [markdown]
# <!-- navigation -->
# ← Previous: [OpenTelemetry and Honeycomb: instrument backend-flask yourself](02_opentelemetry_honeycomb.ipynb) · [Start here](00_start_here.ipynb) · Next: [CloudWatch Logs and Logs Insights: access logs you can query](04_cloudwatch_logs.ipynb) →
