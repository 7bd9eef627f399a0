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
# # Rollbar: errors grouped into items you can count
#
# Traces tell you *where* time goes; an error tracker tells you *what broke*, how often, and since when. This
# notebook wires Rollbar into backend-flask the Flask 3 way, triggers the seed's `/rollbar/test` message, an
# unhandled exception and a handled one, and reads Rollbar's items and occurrences back into pandas.

# %% [markdown]
# ## Overview
# 1. Set-up: token, endpoint, environment, and why `before_first_request` is gone
# 2. `/rollbar/test`: a message
# 3. Unhandled errors from traffic with an injected bug
# 4. A handled error
# 5. Items and occurrences in pandas

# %% [markdown]
# ## Prerequisites
#
# | Concept | Importance | Notes |
# | --- | --- | --- |
# | [01 the Cruddur services](01_cruddur_services.ipynb) | Necessary | fault injection, the traffic generator |
# | Python exceptions and tracebacks | Necessary | what a frame is |
# | Rollbar vocabulary | Helpful | item = a group of occurrences with the same fingerprint |
#
# - **Time to learn**: 20 minutes

# %% [markdown]
# ## Imports

# %%
import requests

from lab_app import services, traffic
from lab_app.instrument import rollbar as rollbar_setup
from lab_app.notebook import setup
from lab_app.query import rollbar as rb
from lab_app.services import Faults

# %%
lab = setup()

# %% [markdown]
# ## 1. Set-up
#
# The seed initialised Rollbar in `@app.before_first_request`. Flask 2.3 removed that hook and Flask 3 raises
# `AttributeError`, so `rollbar_setup.init()` runs once before the app serves, and `instrument_app` connects Flask's
# `got_request_exception` signal for each app (what `rollbar.contrib.flask` does). The token comes from
# `ROLLBAR_ACCESS_TOKEN`, the endpoint from `ROLLBAR_ENDPOINT` (locally, the stand-in on the AWS port).
#
# Delivery is made **deterministic** for notebooks: the SDK's default `thread` handler sends in the background, so a
# cell reading items right after an error could miss it. We use the `blocking` handler, and `flush()` before reading.

# %%
settings = rollbar_setup.init()
settings

# %%
ENV = settings["environment"]
faults = Faults.lesson()
stack = services.start(instrument=[rollbar_setup.instrument_app], faults=faults)
before = rb.occurrence_counts(environment=ENV)

# %% [markdown]
# ## 2. `/rollbar/test`
#
# The seed's smoke test reports one `warning`-level message, "Hello World!".

# %%
answer = requests.get(stack.backend_url + "/rollbar/test")
rollbar_setup.flush()
answer.status_code, answer.text

# %% [markdown]
# ## 3. Unhandled errors
#
# `Faults.lesson()` makes `GET /api/message_groups` raise an `InjectedException` in 20 % of requests (a stand-in for
# a real bug). Flask turns each into a 500, and the signal hands it to Rollbar with the request attached.

# %%
requests_df = traffic.generate(stack.backend_url, n=400, concurrency=4, seed=5, progress=False)
rollbar_setup.flush()
injected = faults.counts["backend-flask:GET /api/message_groups"]["exceptions"]
server_errors = int((requests_df["status"] == 500).sum())
injected, server_errors

# %% [markdown]
# ## 4. A handled error
#
# Code that catches an exception can still report it. Here a lookup of an unknown user fails with 404; the caller
# handles it and reports it at `warning` level, with context in `custom`.

# %%
try:
    requests.get(stack.backend_url + "/api/activities/@nobody").raise_for_status()
except requests.HTTPError as exc:
    rollbar_setup.report_handled(exc, level="warning", lookup="@nobody")
rollbar_setup.flush()

# %% [markdown]
# ## 5. Items and occurrences in pandas
#
# An **item** groups occurrences with the same fingerprint: the exception class and where it was raised, or the
# message text. Counting what is new since the start of this notebook keeps the checkpoint right when you re-run it.

# %%
items = rb.items(environment=ENV)
items[["counter", "title", "level", "total_occurrences", "first_seen", "last_seen"]]

# %%
new = rb.occurrence_counts(environment=ENV).sub(before, fill_value=0).astype(int)
new = new[new > 0]
new

# %%
bug = items[items["title"].str.startswith("InjectedException")].iloc[0]
occurrences = rb.occurrences(bug["id"])
occurrences[["timestamp", "exception_class", "request_method", "request_url", "top_frame"]].head()

# %% [markdown]
# ### Checkpoint: the counts equal the errors injected

# %%
injected_titles = [t for t in new.index if t.startswith("InjectedException")]
assert injected > 0 and server_errors == injected
assert len(injected_titles) == 1 and new[injected_titles[0]] == injected
assert new["Hello World!"] == 1
handled = [t for t in new.index if t.startswith("HTTPError")]
assert len(handled) == 1 and new[handled[0]] == 1
assert len(new) == 3, new  # nothing else went wrong
assert (occurrences["request_url"].str.endswith("/api/message_groups")).all()
levels = items.groupby("title")["level"].agg(set)  # one title can be several items (other code paths, other checkouts)
assert levels["Hello World!"] == {"warning"} and levels[injected_titles[0]] == {"error"}
stack.stop()

# %% [markdown]
# ## Summary
# - Flask 3: `rollbar.init` once before serving, `got_request_exception.connect(...)` per app.
# - Deterministic delivery (`blocking` handler, `flush()` before reading) makes error counts checkable.
# - Rollbar groups occurrences into items by exception class and location (or message text); the read API gives
#   items and their occurrences, which pandas counts and compares with what was injected.
#
# ## What's next
# [06 correlate the pillars](06_correlate.ipynb): join spans, segments, logs and errors by trace id.

# %% [markdown]
# <!-- navigation -->
# ← Previous: [CloudWatch Logs and Logs Insights: access logs you can query](04_cloudwatch_logs.ipynb) · [Start here](00_start_here.ipynb) · Next: [Correlate the pillars: one request across spans, segments, logs and errors](06_correlate_the_pillars.ipynb) →
