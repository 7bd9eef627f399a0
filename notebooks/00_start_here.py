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
# # Start here: a tracing workbook you can run without a cloud account
#
# You are going to take a small Flask backend, **Cruddur** (the bootcamp's micro-blogging API), and make it
# observable the way an SRE would: traces with OpenTelemetry (sent to Honeycomb) and AWS X-Ray, structured logs in
# CloudWatch Logs queried with Logs Insights, errors in Rollbar, and the security side: audit trails, metric filters
# and alarms. Every result comes back into **pandas**, so you answer questions from data, not from screenshots.

# %% [markdown]
# ## Overview
# 1. Monitoring, observability and the three pillars
# 2. What you will build, and the map of the notebooks
# 3. Check the environment: Python, packages, mode
# 4. The local cloud: what stands in for Honeycomb, X-Ray, CloudWatch Logs and Rollbar
# 5. What to do when something is missing

# %% [markdown]
# ## Prerequisites
#
# | Concept | Importance | Notes |
# | --- | --- | --- |
# | Python and HTTP APIs | Necessary | you can read a Flask route |
# | pandas basics | Helpful | `groupby`, `quantile` |
# | AWS, Honeycomb or Rollbar accounts | **Not needed** | local mode stands in for all of them |
#
# - **Time to learn**: 10 minutes

# %% [markdown]
# ## 1. Monitoring, observability and the three pillars
#
# **Monitoring** asks questions you chose in advance: is `/health` answering, is the error rate under 1 %, is the
# disk 90 % full? A health check every 30 seconds and an alarm on a threshold are monitoring. It tells you *that*
# something is wrong, and only for the failures you thought of; a noisy check that fires for nothing teaches
# people to ignore it, so part of the work is telling signal from noise.
#
# **Observability** is how well you can answer questions you did *not* think of in advance, from the data the
# system already emits: *why* are searches slow for this user since 14:05, and which service is it? The journal
# this workbook grew from puts it plainly: logs alone let you find and fix problems, but in a distributed system
# they take time to analyse and there are loads of them; what you need is a view of the whole system.
#
# The data comes in three kinds, the **three pillars**:
#
# | Pillar | What it is | Good at | In this workbook |
# | --- | --- | --- | --- |
# | **Metrics** | numbers aggregated over time (requests/s, p99 latency, 5xx count per minute) | cheap to keep for long, alarms and trends | CloudWatch metrics from metric filters (04, 08); OpenTelemetry metrics, embedded metric format and SLOs (09) |
# | **Logs** | one timestamped record per event, ideally structured (JSON) | the detail of one event | CloudWatch Logs + Logs Insights (04) |
# | **Traces** | one request followed across services as a tree of timed spans | *where* the time went and *which* call failed | OpenTelemetry + Honeycomb (02), AWS X-Ray (03) |
#
# Errors are not a fourth pillar: an error report (Rollbar, 05) is an event, a log record with a stack trace,
# grouped and counted. What makes the pillars worth more together is a shared key: every log line and error
# carries the trace id, so one request can be followed from a metric spike to its trace to its log lines
# (notebook 06).

# %% [markdown]
# ## 2. The map
#
# | Notebook | You will |
# | --- | --- |
# | 00 start here | check the environment and start the local cloud |
# | 01 the Cruddur services | start backend-flask and its downstream `notifications` service, generate traffic, measure latency |
# | 02 OpenTelemetry + Honeycomb | spans on the console, then OTLP to Honeycomb; span trees across two services |
# | 03 AWS X-Ray | daemon, middleware, sampling rules, groups, annotations, filter expressions, the service graph |
# | 04 CloudWatch Logs | watchtower, structured access logs, Logs Insights into pandas, metric filters |
# | 05 Rollbar | errors and messages, items and occurrences |
# | 06 correlate the pillars | join spans, segments, logs and errors by trace id; find the injected faults from data alone |
# | 07 sampling and cost | what each strategy keeps, what it costs |
# | 08 security for observability | audit trail, alarms, notifications, secrets and PII |
# | 09 metrics and SLOs | RED metrics with OpenTelemetry and CloudWatch EMF, metric math, an SLO and burn-rate alarms, a dashboard |
# | 10 threat detection | GuardDuty findings routed by EventBridge to an auto-remediation, Security Hub triage, log data protection |
#
# Two modes, the same cells. **local** (the default) runs a *local cloud* process on this machine that speaks
# the real wire protocols of Honeycomb (OTLP), X-Ray, CloudWatch Logs and Rollbar; [moto](https://github.com/getmoto/moto)
# covers the rest of AWS. **cloud** is for when you have real accounts: put `LAB_MODE=aws` and your keys in an
# ignored `.env` file (never in a cell), and the same notebooks talk to the real services.

# %% [markdown]
# ## Imports

# %%

import lab_app.localcloud as localcloud
from lab_app.notebook import local_cloud_table, package_versions, setup

# %% [markdown]
# ## 3. Check the environment
#
# `setup()` is the first call of every notebook. In local mode it starts the local cloud in the background (or
# attaches to the one already running) and points this kernel's AWS, OTLP and Rollbar clients at it.

# %%
lab = setup()
lab

# %%
package_versions()

# %% [markdown]
# Every version above comes from one hand-written, pinned `requirements.txt` (`package==version` for each package
# the workbook imports), mirrored in `environment.yml`. The journal instead ran `pip freeze >> requirements.txt`
# after each install. That has two problems. `>>` *appends*: run it twice and every line is there twice, and once
# a package was upgraded in between, the file pins two versions of it and `pip install -r` stops with
# `ResolutionImpossible`. And `freeze` writes down *everything* installed in that environment, whatever put it
# there (dependencies of dependencies, tools you tried once), so nobody can tell what the app actually needs. Pin
# what you import, let pip resolve the rest, and test the file on a fresh environment (CI does: `make test` on a
# fresh clone).
# %% [markdown]
# The configuration the workbook reads. Secrets are masked: you can recognise a key, never copy it from here.

# %%
lab.configuration()

# %% [markdown]
# ### Checkpoint: a complete environment

# %%
import os
import sys

versions = package_versions()
assert sys.version_info[:2] == (3, 11), "run the workbook with the .venv kernel (make lab)"
assert versions["version"].notna().all(), versions[versions["version"].isna()]
assert lab.problems == [], lab.problems
shown = lab.configuration().set_index("variable")["value"]
secret = os.environ.get("AWS_SECRET_ACCESS_KEY", "")
assert secret and secret not in shown.to_string(), "secrets must be masked"
print(f"mode: {lab.mode}; {len(versions)} packages checked")

# %% [markdown]
# ## 4. The local cloud
#
# One process, started once and shared by every notebook (restarting a kernel does not lose its data). Its
# components store what they receive in one DuckDB file under `.lab/`.
#
# | Stand-in for | Address | Speaks |
# | --- | --- | --- |
# | AWS (X-Ray API, CloudWatch Logs, and moto for everything else) | `http://127.0.0.1:4566` | the AWS APIs boto3 and the awscli use |
# | X-Ray daemon | `127.0.0.1:2000` UDP + TCP | segment documents; the SDK's sampling calls |
# | Honeycomb | `http://127.0.0.1:4318` | OTLP/HTTP `POST /v1/traces`, `GET /1/auth`, the Query Data API |
# | Rollbar | `http://127.0.0.1:4566/api/1/` | `POST /api/1/item/` and the read API |
#
# From a terminal: `python -m lab_app.localcloud status` (also `start`, `stop`, `env`, `reset`).

# %%
status = localcloud.status()
local_cloud_table(status)

# %% [markdown]
# ### Checkpoint: the local cloud answers

# %%
if lab.local:
    assert status is not None and status["service"] == "lab_app.localcloud"
    table = local_cloud_table(status)
    assert len(table) == len(status["components"]) and table.notna().all().all()   # one readable row each
    assert status["ports"]["aws"] == lab.cloud.aws_port
    assert os.environ["AWS_ENDPOINT_URL"] == lab.cloud.aws_url
    import boto3
    # moto answers for the AWS services we do not emulate ourselves
    assert boto3.client("sts").get_caller_identity()["Account"] == "123456789012"
else:
    print("cloud mode: the local cloud is not used")

# %% [markdown]
# ## 5. When something is missing
#
# | You see | Do this |
# | --- | --- |
# | `port 4566 (AWS gateway) ... is taken by another program` | another local AWS emulator is running: stop it, or set `LAB_AWS_PORT` (and `LAB_OTLP_PORT`, `LAB_XRAY_DAEMON_PORT`) in `.env` |
# | `LAB_MODE='...' is not understood` | use `LAB_MODE=local` (default) or `LAB_MODE=aws` |
# | `HONEYCOMB_API_KEY is not set` (cloud mode) | export it in `.env`; Honeycomb > Environment > API keys |
# | a package shows `None` above | run `make lab` from the repository root: it installs the pinned requirements into `.venv` |
# | the kernel is not Python 3.11 | choose the *Python 3 (workbook)* kernel, or start JupyterLab with `make lab` |
# | `Kernel is running over TCP without encryption` in a terminal or log | Jupyter was started some other way (an editor's built-in Jupyter, a global `jupyter lab`). The kernel's ports listen on 127.0.0.1 only, so nothing leaves your machine; `make lab` configures kernels to use local sockets instead (`jupyter/jupyter_config.py`) and the warning goes away |
#
# Never paste a key into a cell or a shell command that is saved in history: the bootcamp journal this workbook grew
# from did, and notebook 08 shows what that costs.

# %% [markdown]
# When data does not arrive, ask the doctor (`make doctor` in a terminal): it checks each pillar end to end and
# prints the fix for each failure.

# %%
from lab_app import doctor

report = doctor.run()
report

# %% [markdown]
# ### Checkpoint: every pillar works end to end

# %%
if lab.local:
    assert all(check.ok for check in report), [(c.pillar, c.check, c.detail, c.fix) for c in report if not c.ok]
    assert {c.pillar for c in report} >= {"Honeycomb", "X-Ray", "CloudWatch Logs", "Rollbar"}
else:
    print(f"cloud mode: {len(report.failed)} check(s) failed; each line above says how to fix it")

# %% [markdown]
# ## Summary
# - Monitoring checks what you decided to check; observability lets you ask new questions of the metrics, logs and
#   traces the system emits. Errors are events; the trace id joins the pillars.
# - The workbook runs in **local** mode by default: a local cloud process stands in for four services.
# - `setup()` starts or attaches to it, and configures this kernel. Secrets are read from the environment and masked.
#
# ## What's next
# [01 the Cruddur services](01_cruddur_services.ipynb): start the API, call it, and measure it before instrumenting it.
#
# ## Resources
# - Observability and monitoring: [OpenTelemetry: observability primer](https://opentelemetry.io/docs/concepts/observability-primer/)
#   (signals, traces, spans), [AWS Observability Best Practices](https://aws-observability.github.io/observability-best-practices/)
#   (the AWS view of logs, metrics and traces), [Honeycomb: observability vs monitoring](https://www.honeycomb.io/blog/observability-whats-in-a-name)
# - [pip freeze](https://pip.pypa.io/en/stable/cli/pip_freeze/) ("output installed packages in requirements format")
#   and [requirements files](https://pip.pypa.io/en/stable/reference/requirements-file-format/);
#   [pip's dependency resolution and `ResolutionImpossible`](https://pip.pypa.io/en/stable/topics/dependency-resolution/)
# - [moto](https://docs.getmoto.org/) (the AWS services the local cloud does not emulate itself)
# - [Jupyter kernel transport (`KernelManager.transport`)](https://jupyter-client.readthedocs.io/en/stable/api/jupyter_client.html)

# %% [markdown]
# <!-- navigation -->
# Next: [The Cruddur services: an API worth tracing](01_cruddur_services.ipynb) →
