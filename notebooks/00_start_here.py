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
# # Start here: a tracing workbook you can run without a cloud account
#
# You are going to take a small Flask backend, **Cruddur** (the bootcamp's micro-blogging API), and make it
# observable the way an SRE would: traces with OpenTelemetry (sent to Honeycomb) and AWS X-Ray, structured logs in
# CloudWatch Logs queried with Logs Insights, errors in Rollbar, and the security side: audit trails, metric filters
# and alarms. Every result comes back into **pandas**, so you answer questions from data, not from screenshots.

# %% [markdown]
# ## Overview
# 1. What you will build, and the map of the notebooks
# 2. Check the environment: Python, packages, mode
# 3. The local cloud: what stands in for Honeycomb, X-Ray, CloudWatch Logs and Rollbar
# 4. What to do when something is missing

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
# ## 1. The map
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
#
# Two modes, the same cells. **local** (the default) runs a *local cloud* process on this machine that speaks
# the real wire protocols of Honeycomb (OTLP), X-Ray, CloudWatch Logs and Rollbar; [moto](https://github.com/getmoto/moto)
# covers the rest of AWS. **cloud** is for when you have real accounts: put `LAB_MODE=aws` and your keys in an
# ignored `.env` file (never in a cell), and the same notebooks talk to the real services.

# %% [markdown]
# ## Imports

# %%
import pandas as pd

import lab_app.localcloud as localcloud
from lab_app.notebook import package_versions, setup

# %% [markdown]
# ## 2. Check the environment
#
# `setup()` is the first call of every notebook. In local mode it starts the local cloud in the background (or
# attaches to the one already running) and points this kernel's AWS, OTLP and Rollbar clients at it.

# %%
lab = setup()
lab

# %%
package_versions()

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
# ## 3. The local cloud
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
pd.DataFrame([{"component": name, **counts} for name, counts in status["components"].items()])

# %% [markdown]
# ### Checkpoint: the local cloud answers

# %%
if lab.local:
    assert status is not None and status["service"] == "lab_app.localcloud"
    assert status["ports"]["aws"] == lab.cloud.aws_port
    assert os.environ["AWS_ENDPOINT_URL"] == lab.cloud.aws_url
    import boto3
    # moto answers for the AWS services we do not emulate ourselves
    assert boto3.client("sts").get_caller_identity()["Account"] == "123456789012"
else:
    print("cloud mode: the local cloud is not used")

# %% [markdown]
# ## 4. When something is missing
#
# | You see | Do this |
# | --- | --- |
# | `port 4566 (AWS gateway) ... is taken by another program` | another local AWS emulator is running: stop it, or set `LAB_AWS_PORT` (and `LAB_OTLP_PORT`, `LAB_XRAY_DAEMON_PORT`) in `.env` |
# | `LAB_MODE='...' is not understood` | use `LAB_MODE=local` (default) or `LAB_MODE=aws` |
# | `HONEYCOMB_API_KEY is not set` (cloud mode) | export it in `.env`; Honeycomb > Environment > API keys |
# | a package shows `None` above | run `make lab` from the repository root: it installs the pinned requirements into `.venv` |
# | the kernel is not Python 3.11 | choose the *Python 3 (workbook)* kernel, or start JupyterLab with `make lab` |
#
# Never paste a key into a cell or a shell command that is saved in history: the bootcamp journal this workbook grew
# from did, and notebook 08 shows what that costs.

# %% [markdown]
# ## Summary
# - The workbook runs in **local** mode by default: a local cloud process stands in for four services.
# - `setup()` starts or attaches to it, and configures this kernel. Secrets are read from the environment and masked.
#
# ## What's next
# [01 the Cruddur services](01_cruddur_services.ipynb): start the API, call it, and measure it before instrumenting it.

# %% [markdown]
# <!-- navigation -->
# Next: [The Cruddur services: an API worth tracing](01_cruddur_services.ipynb) →
