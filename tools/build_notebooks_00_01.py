"""Builds notebooks/00_start_here.ipynb and notebooks/01_cruddur_services.ipynb."""
from nbbuild import code, md, write

NB00 = [
md("""
# Start here: a tracing workbook you can run without a cloud account

You are going to take a small Flask backend, **Cruddur** (the bootcamp's micro-blogging API), and make it
observable the way an SRE would: traces with OpenTelemetry (sent to Honeycomb) and AWS X-Ray, structured logs in
CloudWatch Logs queried with Logs Insights, errors in Rollbar, and the security side: audit trails, metric filters
and alarms. Every result comes back into **pandas**, so you answer questions from data, not from screenshots.
"""),
md("""
## Overview
1. What you will build, and the map of the notebooks
2. Check the environment: Python, packages, mode
3. The local cloud: what stands in for Honeycomb, X-Ray, CloudWatch Logs and Rollbar
4. What to do when something is missing
"""),
md("""
## Prerequisites

| Concept | Importance | Notes |
| --- | --- | --- |
| Python and HTTP APIs | Necessary | you can read a Flask route |
| pandas basics | Helpful | `groupby`, `quantile` |
| AWS, Honeycomb or Rollbar accounts | **Not needed** | local mode stands in for all of them |

- **Time to learn**: 10 minutes
"""),
md("""
## 1. The map

| Notebook | You will |
| --- | --- |
| 00 start here | check the environment and start the local cloud |
| 01 the Cruddur services | start backend-flask and its downstream `notifications` service, generate traffic, measure latency |
| 02 OpenTelemetry + Honeycomb | spans on the console, then OTLP to Honeycomb; span trees across two services |
| 03 AWS X-Ray | daemon, middleware, sampling rules, groups, annotations, filter expressions, the service graph |
| 04 CloudWatch Logs | watchtower, structured access logs, Logs Insights into pandas, metric filters |
| 05 Rollbar | errors and messages, items and occurrences |
| 06 correlate the pillars | join spans, segments, logs and errors by trace id; find the injected faults from data alone |
| 07 sampling and cost | what each strategy keeps, what it costs |
| 08 security for observability | audit trail, alarms, notifications, secrets and PII |

Two modes, the same cells. **local** (the default) runs a *local cloud* process on this machine that speaks
the real wire protocols of Honeycomb (OTLP), X-Ray, CloudWatch Logs and Rollbar; [moto](https://github.com/getmoto/moto)
covers the rest of AWS. **cloud** is for when you have real accounts: put `LAB_MODE=aws` and your keys in an
ignored `.env` file (never in a cell), and the same notebooks talk to the real services.
"""),
md("## Imports"),
code("""
from lab_app.notebook import setup, package_versions
import lab_app.localcloud as localcloud
import pandas as pd
"""),
md("""
## 2. Check the environment

`setup()` is the first call of every notebook. In local mode it starts the local cloud in the background (or
attaches to the one already running) and points this kernel's AWS, OTLP and Rollbar clients at it.
"""),
code("""
lab = setup()
lab
"""),
code("package_versions()"),
md("""
The configuration the workbook reads. Secrets are masked: you can recognise a key, never copy it from here.
"""),
code("lab.configuration()"),
md("### Checkpoint: a complete environment"),
code("""
import os, sys

versions = package_versions()
assert sys.version_info[:2] == (3, 11), "run the workbook with the .venv kernel (make lab)"
assert versions["version"].notna().all(), versions[versions["version"].isna()]
assert lab.problems == [], lab.problems
shown = lab.configuration().set_index("variable")["value"]
secret = os.environ.get("AWS_SECRET_ACCESS_KEY", "")
assert secret and secret not in shown.to_string(), "secrets must be masked"
print(f"mode: {lab.mode}; {len(versions)} packages checked")
"""),
md("""
## 3. The local cloud

One process, started once and shared by every notebook (restarting a kernel does not lose its data). Its
components store what they receive in one DuckDB file under `.lab/`.

| Stand-in for | Address | Speaks |
| --- | --- | --- |
| AWS (X-Ray API, CloudWatch Logs, and moto for everything else) | `http://127.0.0.1:4566` | the AWS APIs boto3 and the awscli use |
| X-Ray daemon | `127.0.0.1:2000` UDP + TCP | segment documents; the SDK's sampling calls |
| Honeycomb | `http://127.0.0.1:4318` | OTLP/HTTP `POST /v1/traces`, `GET /1/auth`, the Query Data API |
| Rollbar | `http://127.0.0.1:4566/api/1/` | `POST /api/1/item/` and the read API |

From a terminal: `python -m lab_app.localcloud status` (also `start`, `stop`, `env`, `reset`).
"""),
code("""
status = localcloud.status()
pd.DataFrame([{"component": name, **counts} for name, counts in status["components"].items()])
"""),
md("### Checkpoint: the local cloud answers"),
code("""
if lab.local:
    assert status is not None and status["service"] == "lab_app.localcloud"
    assert status["ports"]["aws"] == lab.cloud.aws_port
    assert os.environ["AWS_ENDPOINT_URL"] == lab.cloud.aws_url
    import boto3
    # moto answers for the AWS services we do not emulate ourselves
    assert boto3.client("sts").get_caller_identity()["Account"] == "123456789012"
else:
    print("cloud mode: the local cloud is not used")
"""),
md("""
## 4. When something is missing

| You see | Do this |
| --- | --- |
| `port 4566 (AWS gateway) ... is taken by another program` | another local AWS emulator is running: stop it, or set `LAB_AWS_PORT` (and `LAB_OTLP_PORT`, `LAB_XRAY_DAEMON_PORT`) in `.env` |
| `LAB_MODE='...' is not understood` | use `LAB_MODE=local` (default) or `LAB_MODE=aws` |
| `HONEYCOMB_API_KEY is not set` (cloud mode) | export it in `.env`; Honeycomb > Environment > API keys |
| a package shows `None` above | run `make lab` from the repository root: it installs the pinned requirements into `.venv` |
| the kernel is not Python 3.11 | choose the *Python 3 (workbook)* kernel, or start JupyterLab with `make lab` |

Never paste a key into a cell or a shell command that is saved in history: the bootcamp journal this workbook grew
from did, and notebook 08 shows what that costs.
"""),
md("""
## Summary
- The workbook runs in **local** mode by default: a local cloud process stands in for four services.
- `setup()` starts or attaches to it, and configures this kernel. Secrets are read from the environment and masked.

## What's next
[01 the Cruddur services](01_cruddur_services.ipynb): start the API, call it, and measure it before instrumenting it.
"""),
]

NB01 = [
md("""
# The Cruddur services: an API worth tracing

Before adding any instrumentation you need something to observe. This notebook starts **backend-flask** (the
Cruddur API) and the downstream **notifications** service it calls over HTTP, exercises every endpoint, then
generates 2,000 requests and measures latency and errors per route with nothing but the client's stopwatch.
"""),
md("""
## Overview
1. Start both services in background threads
2. Call every endpoint; see a validation error and a cross-service call
3. Turn on fault injection and generate 2,000 requests
4. Per-route p50/p95/p99 and error rate; a latency histogram
"""),
md("""
## Prerequisites

| Concept | Importance | Notes |
| --- | --- | --- |
| [00 start here](00_start_here.ipynb) | Necessary | environment checked |
| HTTP status codes | Necessary | 2xx, 4xx (client's fault), 5xx (server's fault) |
| Percentiles | Helpful | why p99 matters more than the mean |

- **Time to learn**: 20 minutes
"""),
md("## Imports"),
code("""
from lab_app.notebook import setup
from lab_app import services, traffic
from lab_app.services import Faults
import matplotlib.pyplot as plt
import pandas as pd
import requests
"""),
code("lab = setup()"),
md("""
## 1. Start both services

`services.start()` builds each Flask app with an app factory and serves it from a daemon thread. Re-running the
cell replaces the running services on the same ports, so the notebook stays re-runnable.
"""),
code("""
stack = services.start()
stack
"""),
md("""
## 2. Call every endpoint

The home timeline: each activity carries its author, timestamps (timezone-aware), counters and replies.
"""),
code("""
api = stack.backend_url
home = requests.get(f"{api}/api/activities/home").json()
pd.json_normalize(home)[["handle", "message", "created_at", "expires_at", "likes_count", "replies_count"]].head()
"""),
code("""
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
    resp = requests.request(method, api + path, json=body)
    rows.append({"method": method, "path": path, "status": resp.status_code, "bytes": len(resp.content)})
pd.DataFrame(rows)
"""),
md("""
### A validation error

Bad input gets **422** with *every* failing code at once, so a client can show them all. Unknown handles and
activity ids get **404**.
"""),
code("""
bad = requests.post(f"{api}/api/activities", json={"message": "x" * 281, "ttl": "2-weeks"})
missing = requests.get(f"{api}/api/activities/@nobody")
bad.status_code, bad.json(), missing.status_code, missing.json()
"""),
md("""
### A call that crosses two services

`GET /api/activities/notifications` asks the **notifications** service (a separate Flask app on its own port)
which activities concern the user, then enriches them with its own data. One user request, two services:
that is what makes tracing *distributed*, and what notebooks 02 and 03 will draw.
"""),
code("""
downstream = requests.get(f"{stack.downstream_url}/api/notifications/@andrewbrown").json()["notifications"]
enriched = requests.get(f"{api}/api/activities/notifications").json()
pd.DataFrame(enriched)[["notification_kind", "handle", "message"]].head()
"""),
md("### Checkpoint: every endpoint answered as documented"),
code("""
statuses = pd.DataFrame(rows).set_index("path")["status"]
assert (statuses == 200).all(), statuses
assert bad.status_code == 422 and bad.json() == {"errors": ["ttl_invalid", "message_exceed_max_chars"]}
assert missing.status_code == 404
assert enriched and {a["uuid"] for a in enriched} <= {n["activity_uuid"] for n in downstream}
"""),
md("""
## 3. Faults, and 2,000 requests

Real systems are slow and flaky in places. `Faults.lesson()` injects three problems, deterministically with a
seed: extra latency on one route, a downstream call that sometimes fails, and a route with a bug. Later
notebooks find them from traces and logs alone; here you only measure them from the outside.

The traffic generator plans the requests from a seed (same seed, same requests), sends them with 8 concurrent
workers and returns one row per request.
"""),
code("""
stack = services.start(faults=Faults.lesson(seed=42))
df = traffic.generate(stack.backend_url, n=2000, concurrency=8, seed=7)
df.head()
"""),
md("""
## 4. Latency and errors per route

`route_summary` groups by route template and computes percentiles. The mean hides the slow tail; p95 and p99 show it.
An *error* here is a 5xx or no answer; 4xx are the client's fault and counted apart.
"""),
code("""
summary = traffic.route_summary(df)
summary.style.format({"p50_ms": "{:.1f}", "p95_ms": "{:.1f}", "p99_ms": "{:.1f}", "error_rate": "{:.1%}"})
"""),
code("""
fig, ax = plt.subplots(figsize=(9, 4))
ax.hist(df["latency_ms"], bins=[x / 2 for x in range(0, 600)], log=True)
ax.set_xlabel("latency (ms)")
ax.set_ylabel("requests (log scale)")
ax.set_title("2,000 requests: most are fast, one cluster is not")
plt.show()
"""),
md("""
### Checkpoint: the numbers match what was sent and injected
"""),
code("""
planned = list(traffic.plan(2000, seed=7))
assert len(df) == 2000 and df["error"].isna().all(), "every request got an answer"
assert int(((df["status"] >= 400) & (df["status"] < 500)).sum()) == sum(p.invalid for p in planned)
by_route = summary.set_index("route")
assert by_route["p50_ms"].idxmax() == "/api/activities/search", "the injected slow route is the slowest"
assert by_route.loc["/api/activities/search", "p50_ms"] >= 180
counts = stack.faults.summary().set_index("rule")
assert int((df["status"] == 500).sum()) == counts.loc["backend-flask:GET /api/message_groups", "exceptions"]
assert int((df["status"] == 502).sum()) == counts.loc["notifications:GET /api/notifications/@<handle>", "errors"]
assert 0.15 < by_route.loc["/api/activities/notifications", "error_rate"] < 0.35  # 25 % injected
"""),
md("""
From the outside you can see *that* search is slow and notifications fail, not *why*: is the time spent in
backend-flask, in the downstream service, or in the network between them? That is what traces answer.
"""),
code("stack.stop()"),
md("""
## Summary
- Two Flask services run in background threads; one request can cross both.
- Validation errors are 422 with every failing code; unknown resources are 404.
- A seeded traffic generator gives repeatable load, and pandas turns it into per-route percentiles.

## What's next
[02 OpenTelemetry and Honeycomb](02_opentelemetry_honeycomb.ipynb): the same traffic, seen from the inside.
"""),
]

write("notebooks/00_start_here.ipynb", NB00)
write("notebooks/01_cruddur_services.ipynb", NB01)
