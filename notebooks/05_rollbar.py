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
# # Rollbar: errors grouped into items you can count
#
# Traces tell you *where* time goes; an error tracker tells you *what broke*, how often, and since when. In this
# notebook you add Rollbar to **backend-flask** with pyrollbar's own calls, the lines that go into its `app.py`:
# `rollbar.init` the Flask 3 way, Flask's `got_request_exception` signal, the seed's `/rollbar/test` message and a
# handled error. You choose how reports are sent, keep secrets in local variables out of Rollbar, and read the
# items and occurrences back into pandas to check them against the errors the workbook injected.

# %% [markdown]
# ## Overview
# 1. The services, and why the seed's `@app.before_first_request` fails on Flask 3
# 2. `rollbar.init` in the app context, and the signal that reports unhandled exceptions
# 3. `/rollbar/test`: a message
# 4. A handled error, and the local variables Rollbar records
# 5. How reports are sent: `thread` or `blocking` (measured), and what a second `rollbar.init` does
# 6. Your turn 1: predict the occurrences, then send the traffic
# 7. Items and occurrences in pandas
# 8. Your turn 2: request context on every report
# 9. Your app.py now

# %% [markdown]
# ## Prerequisites
#
# | Concept | Importance | Notes |
# | --- | --- | --- |
# | [01 the Cruddur services](01_cruddur_services.ipynb) | Necessary | fault injection, the traffic generator |
# | Python exceptions and tracebacks | Necessary | what a frame and its local variables are |
# | Rollbar vocabulary | Helpful | item = a group of occurrences with the same fingerprint |
#
# - **Time to learn**: 35 minutes

# %% [markdown]
# ## Set-up
# `setup()` starts the local cloud (or finds your real keys in `.env`) and sets the environment variables the SDKs
# read: `ROLLBAR_ACCESS_TOKEN` (a project token with the `post_server_item` scope), `ROLLBAR_READ_TOKEN` (one
# with the `read` scope, for reading items back: section 2 shows how to create it) and, in local mode,
# `ROLLBAR_ENDPOINT` (the stand-in's `/api/1/`). Run it before anything imports an SDK.

# %%
from lab_app.notebook import setup

lab = setup()
lab

# %% [markdown]
# ## Imports
# The first block is what backend-flask's `app.py` imports; the second is the workbook's plumbing (processes,
# traffic, reading Rollbar's API back into pandas).

# %%
import os
import statistics
import sys
import time
import unittest
from pathlib import Path

import pandas as pd
import rollbar
import rollbar.contrib.flask
from flask import Flask, g, got_request_exception, has_request_context

from lab_app import config, services, traffic
from lab_app.query import rollbar as rollbar_q
from lab_app.services import Faults

# %% [markdown]
# ## 1. The services, and the seed's set-up on Flask 3
#
# **notifications** runs in a process of its own (no tracing in this notebook). **backend-flask** is created by
# its app factory and runs in a thread of this kernel, after you have added Rollbar to it. `Faults.lesson()` is
# the workbook's standard scenario: among other things, `GET /api/message_groups` raises an `InjectedException`
# in 20 % of requests, a stand-in for a real bug.

# %%
faults = Faults.lesson()
notifications = services.downstream.start(otel=False, xray=False, faults=faults)
app = services.create_backend_app(notifications.url, faults=faults)
notifications

# %% [markdown]
# The seed initialised Rollbar in a function decorated with `@app.before_first_request`, so that it ran inside the
# app's context, just before the first request. Flask deprecated that hook in 2.2 and removed it in 2.3 (pyrollbar
# removed it from its own Flask example for the same reason). On Flask 3 the decorator itself fails:

# %% tags=["raises-exception"]
seed_app = Flask("seed")


@seed_app.before_first_request
def init_rollbar():
    rollbar.init(os.environ["ROLLBAR_ACCESS_TOKEN"], "production")


# %% [markdown]
# ## 2. `rollbar.init` in the app context, and the signal
#
# The replacement is "run set-up code when you create the app": the same `rollbar.init` call, made once at start-up
# inside `with app.app_context():` (where `before_first_request` ran it; `rollbar.init` itself does not need the
# context, code that reads `current_app.config` would), followed by
# `got_request_exception.connect(rollbar.contrib.flask.report_exception, app)`. Flask sends that signal for every
# unhandled exception in a view, before it answers 500; `report_exception` reports it with the request attached.
#
# The arguments:
#
# | argument | what it does | here |
# | --- | --- | --- |
# | access token, environment | which project, and the environment the items are filed under | `ROLLBAR_ACCESS_TOKEN`; `ROLLBAR_ENVIRONMENT` or `development` |
# | `root` | the directory of your code: its frames get their **local variables** recorded (section 4) | the workbook's `lab_app/` |
# | `allow_logging_basic_config=False` | do not let pyrollbar call `logging.basicConfig()`: Flask already configures logging | |
# | `endpoint` | where items are POSTed (`<endpoint>item/`, so it must end with `/`) | `ROLLBAR_ENDPOINT`, or Rollbar's `https://api.rollbar.com/api/1/` |
# | `handler` | how a report is sent: in a background thread, or inside the failing request (section 5) | `thread`, the default, written out |
# | `scrub_fields` | names whose values are replaced by `*` in request data **and local variables** | the defaults plus `card_number` and `api_key` |
#
# **Once per process.** A second `rollbar.init` is ignored, except that its keyword settings are merged into the
# old ones (section 5 shows it). So the cell checks first, with a public value: `rollbar.SETTINGS["access_token"]`
# is `None` until `init` has run in this process. On a re-run the settings stay as they were; restart the kernel to
# change the token, the environment or `scrub_fields`. The signal, on the other hand, belongs to the app: every new
# `app` (a re-run makes one) is connected again.
#
# pyrollbar 1.5 also has `rollbar.contrib.flask.init(app, token, environment, **settings)`, which makes the same two
# calls (plus hooks that attach the request headers to reports); the two lines are written out here so you see
# what is wired.

# %%
ENV = os.environ.get("ROLLBAR_ENVIRONMENT", "development")
if rollbar.SETTINGS.get("access_token"):      # rollbar.init ran in this kernel: a second one would be ignored
    print("rollbar is already initialised in this kernel; keeping its settings")
else:
    with app.app_context():
        rollbar.init(
            os.environ["ROLLBAR_ACCESS_TOKEN"],
            ENV,
            root=str(Path.cwd().parent / "lab_app"),
            allow_logging_basic_config=False,
            endpoint=os.environ.get("ROLLBAR_ENDPOINT", "https://api.rollbar.com/api/1/"),
            handler="thread",
            scrub_fields=[*rollbar.SETTINGS["scrub_fields"], "card_number", "api_key"],
        )
got_request_exception.connect(rollbar.contrib.flask.report_exception, app)
shown = ("access_token", "environment", "endpoint", "handler", "root")
pd.Series({k: config.mask(rollbar.SETTINGS[k]) if k == "access_token" else rollbar.SETTINGS[k] for k in shown},
          name="rollbar.SETTINGS")

# %% [markdown]
# Now serve the app. What is already in Rollbar (from earlier runs) is the baseline: the checkpoints count what
# is new since this cell.

# %%
backend = services.serve_backend(app)
before = rollbar_q.occurrence_counts(environment=ENV)
backend

# %% [markdown]
# ### Checkpoint: initialised once, the signal connected to this app

# %%
assert rollbar.SETTINGS["access_token"] == os.environ["ROLLBAR_ACCESS_TOKEN"], "rollbar.init did not run"
assert rollbar.SETTINGS["endpoint"].endswith("/api/1/"), "the endpoint must end with /api/1/"
assert got_request_exception.has_receivers_for(app), "connect got_request_exception to this app"
assert traffic.send("GET", backend.url + "/health").status_code == 200

# %% [markdown]
# ### Two tokens: one posts, one reads
# The SDK posts with `ROLLBAR_ACCESS_TOKEN`, a `post_server_item` token: it may report items, not read them.
# Everything this notebook reads back (`rollbar_q.items()`, `rollbar_q.occurrences()`, Rollbar's `GET /api/1/items`) uses
# `ROLLBAR_READ_TOKEN`, a project token with the `read` scope. To create one on rollbar.com: open the project,
# **Settings > Project Access Tokens**, add a token (name it, say, `workbook-read`), tick only the **read** scope,
# create it and copy its value (Rollbar shows it once), then put `ROLLBAR_READ_TOKEN=<the value>` in `.env`. Local
# mode sets both; the stand-in's post token cannot read either. The next cell asks for the item list with the post
# token: Rollbar answers 403, "insufficient privileges".

# %%
try:
    rollbar_q.get("items", {"environment": ENV}, token=os.environ["ROLLBAR_ACCESS_TOKEN"])
    refusal = None
except rollbar_q.RollbarAPIError as exc:
    refusal = exc
print(refusal)

# %% [markdown]
# ### Checkpoint: the post token is refused for reading, the read token is set

# %%
assert refusal is not None and refusal.status == 403, "a post_server_item token must not read: use another token"
assert os.environ.get("ROLLBAR_READ_TOKEN"), "export ROLLBAR_READ_TOKEN=<a project token with the read scope>"
assert os.environ["ROLLBAR_READ_TOKEN"] != os.environ["ROLLBAR_ACCESS_TOKEN"]

# %% [markdown]
# ## 3. `/rollbar/test`: a message
#
# The seed's smoke test is a route that calls `rollbar.report_message('Hello World!', 'warning')`: not an error, a
# message at `warning` level. With the `thread` handler the report leaves in a background thread, so the request
# answers at once; `rollbar.wait()` joins those threads, and every cell that reads Rollbar calls it first.

# %%
hello = traffic.send("GET", backend.url + "/rollbar/test")
rollbar.wait()
hello.status_code, hello.text

# %% [markdown]
# ## 4. A handled error, and the local variables Rollbar records
#
# Code that catches an exception can still report it: `rollbar.report_exc_info(sys.exc_info(), extra_data=...,
# level=...)` inside the `except` block. `extra_data` becomes the occurrence's `custom` section; the level says how
# bad it is (a handled failure is often a `warning`).
#
# pyrollbar also records the **local variables** of the frames (`locals` setting, on by default): of the last frame
# always, and of every frame from files under `root`. Without a `root` it records them for every frame. That is
# what makes a Rollbar traceback useful, and it is also how a secret held in a local variable reaches Rollbar.
# `scrub_fields` matches names (of locals, arguments, request fields and headers), not values: a local called
# `api_key` is masked, the same value in a variable called `note` is not. `locals={"enabled": False}` in `init`
# records none at all.

# %%
def charge_card(card_number, amount, api_key):
    fee = round(amount * 0.029, 2)
    raise ValueError(f"card declined (fee {fee})")


try:
    charge_card("4111 1111 1111 1111", 12.5, api_key=os.urandom(8).hex())
except ValueError:
    rollbar.report_exc_info(sys.exc_info(), extra_data={"order_id": "demo-42"}, level="warning")
rollbar.wait()

listing = rollbar_q.items(environment=ENV)
declined = listing[listing["title"].str.startswith("ValueError: card declined")].sort_values("last_seen").iloc[-1]
occurrence = rollbar_q.get(f"item/{declined['id']}/instances")["instances"][0]["data"]   # the newest, as Rollbar stores it
frame = occurrence["body"]["trace"]["frames"][-1]
pd.Series(frame["locals"], name=f"locals of {frame['method']}()")

# %% [markdown]
# ### Checkpoint: reported as a warning, with its context, and no secret in the locals

# %%
assert occurrence["level"] == "warning" and occurrence["custom"] == {"order_id": "demo-42"}
assert set(frame["locals"]["api_key"]) == {"*"}, "api_key must be scrubbed (scrub_fields)"
assert set(frame["locals"]["card_number"]) == {"*"}, "card_number is not a default scrub field: add it in init"
assert frame["locals"]["amount"] == 12.5 and frame["locals"]["fee"] == 0.36, "other locals are recorded as they are"

# %% [markdown]
# ## 5. How reports are sent: `thread` or `blocking`
#
# | handler | what happens when an error is reported | `rollbar.wait()` |
# | --- | --- | --- |
# | `thread` (default) | the payload is built in the request, then sent by a new background thread | joins those threads |
# | `blocking` | the payload is sent inside the failing request; the response waits for Rollbar (timeout 3 s) | nothing to wait for |
# | `thread_pool` | sent by a pool of worker threads | does **not** cover it |
# | `async`, `httpx` | for asyncio code; from a synchronous Flask view the reports can be lost | |
#
# `blocking` puts Rollbar's network round trip inside every failing request: the user waits for it, and with
# OpenTelemetry or X-Ray instrumenting `requests`, this project found that POST traced as a child of the request (a
# phantom dependency in the trace) adding about 100 ms. `thread` keeps the request fast, at the price that a report
# may still be on its way when the next line runs, which is why this notebook calls `rollbar.wait()` before it
# reads anything back. That pair (`thread` and `rollbar.wait()`) is the choice here: counts that are exact without
# slowing the requests down.
#
# First, what a second `rollbar.init` does. It logs a warning and keeps the token and the environment, but merges
# its keyword settings: this is how the cell below switches the handler for the measurement, and how a re-run cell
# with a changed `endpoint=` would silently change where reports go.

# %%
def switch_handler(name):
    """A second rollbar.init: ignored, except that its keyword settings (here `handler`) are merged."""
    with unittest.TestCase().assertLogs("rollbar", level="WARNING") as seen:
        rollbar.init(os.environ["ROLLBAR_ACCESS_TOKEN"], "staging", handler=name)
    return seen.output


reinit = switch_handler("blocking")
reinit, rollbar.SETTINGS["environment"], rollbar.SETTINGS["handler"]

# %% [markdown]
# ### Checkpoint: the second `init` kept the environment and changed the handler

# %%
assert "Ignoring re-init" in reinit[0], reinit
assert rollbar.SETTINGS["environment"] == ENV, "the environment of the first init stays"
assert rollbar.SETTINGS["handler"] == "blocking", "keyword settings are merged"

# %% [markdown]
# Now the measurement: a throw-away app whose only route divides by zero, called in-process with Flask's test
# client, ten times with each handler (and ten times without Rollbar, for comparison). Locally the round trip goes to
# the stand-in on this machine, a few milliseconds; to rollbar.com it is an internet round trip.

# %%
CRASH = "ZeroDivisionError: division by zero"


def crashing_client(report):
    crashy = Flask("crashy")
    crashy.logger.disabled = True                       # no traceback printed for each of the 30 crashes
    crashy.add_url_rule("/crash", "crash", lambda: 1 / 0)
    if report:
        got_request_exception.connect(rollbar.contrib.flask.report_exception, crashy)
    return crashy.test_client()


def median_ms(client, n=10):
    times = []
    for _ in range(n):
        start = time.perf_counter()
        assert client.get("/crash").status_code == 500
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


reported = crashing_client(report=True)
latency = {"no Rollbar": median_ms(crashing_client(report=False))}
stored_before = rollbar_q.occurrence_counts(environment=ENV).get(CRASH, 0)
latency["blocking"] = median_ms(reported)
stored_blocking = rollbar_q.occurrence_counts(environment=ENV).get(CRASH, 0) - stored_before   # no rollbar.wait() first
switch_handler("thread")
latency["thread"] = median_ms(reported)
rollbar.wait()
stored_both = rollbar_q.occurrence_counts(environment=ENV).get(CRASH, 0) - stored_before
pd.Series(latency, name="median ms per crashing request").round(2)

# %% [markdown]
# Both handlers build the payload (traceback, locals, request, scrubbing) inside the request: that is most of the
# cost over "no Rollbar". `blocking` adds the POST on top.
#
# ### Checkpoint: `blocking` had stored every report before its request returned; `thread` needed `wait()`

# %%
assert stored_blocking == 10, f"blocking: {stored_blocking} of 10 reports stored when the requests returned"
assert stored_both == 20, f"after rollbar.wait() all 20 reports are stored, found {stored_both}"
assert rollbar.SETTINGS["handler"] == "thread", "switch back to the thread handler"
assert latency["thread"] > latency["no Rollbar"], "building the report happens inside the request"

# %% [markdown]
# ## Your turn 1: predict the occurrences, then send the traffic
#
# The next section sends `traffic.generate(backend.url, n=400, concurrency=4, seed=5)`. How many occurrences will
# the `InjectedException` item get? Predict it **before** you send, without Rollbar: the traffic and the faults
# are deterministic.
#
# - `traffic.plan(n=400, seed=5)` yields the requests `generate` will send (same seed, same requests); each has
#   `.method` and `.route`.
# - `faults.rules` is keyed `"backend-flask:GET /api/message_groups"`; `Faults.decide(key)` returns
#   `(delay, error, exception)` for the next request of that route, and a **fresh** `Faults.lesson()` (same seed)
#   makes the same decisions in the same order as the app's, whatever the threads do.
#
# Put your number in `predicted_occurrences`. Try it first; the solution is in the collapsed cell below (click the
# dots to open it).

# %%
predicted_occurrences = None  # your prediction (the solution below fills it in if you leave it)

# %% jupyter={"source_hidden": true}
BUG = "backend-flask:GET /api/message_groups"
planned = [p for p in traffic.plan(n=400, seed=5) if f"{p.method} {p.route}" == "GET /api/message_groups"]
replay = Faults.lesson()
predicted_occurrences = sum(replay.decide(BUG)[2] for _ in planned)
len(planned), predicted_occurrences

# %% [markdown]
# Now the traffic. Flask turns each `InjectedException` into a 500 and sends the signal; Rollbar files the
# occurrence with the request attached.

# %%
requests_df = traffic.generate(backend.url, n=400, concurrency=4, seed=5, progress=False)
rollbar.wait()
injected = faults.counts["backend-flask:GET /api/message_groups"]["exceptions"]
server_errors = int((requests_df["status"] == 500).sum())
injected, server_errors

# %% [markdown]
# ## 7. Items and occurrences in pandas
#
# An **item** groups occurrences with the same fingerprint: the exception class and where it was raised, or the
# message text. `rollbar_q.items()` reads Rollbar's `GET /api/1/items` (on rollbar.com that needs a token with the `read`
# scope, `ROLLBAR_READ_TOKEN`); subtracting the baseline keeps the counts right when you re-run the notebook.

# %%
items = rollbar_q.items(environment=ENV)
items[["counter", "title", "level", "total_occurrences", "first_seen", "last_seen"]].head(10)

# %% [markdown]
# One title can be several items. The fingerprint is the class **and the place** it was raised: the
# `InjectedException` is always raised in `lab_app/services/faults.py`, so all its occurrences, from every run, are
# one item; the crashes of section 5's throw-away app were raised in a notebook cell, whose file name changes with
# every kernel, so each kernel made a new `ZeroDivisionError` item. Counting by title, new since the baseline:

# %%
new = rollbar_q.occurrence_counts(environment=ENV).sub(before, fill_value=0).astype(int)
new = new[new > 0]
new

# %% [markdown]
# ### Checkpoint: your prediction

# %%
injected_titles = [t for t in new.index if t.startswith("InjectedException")]
assert predicted_occurrences is not None, "put your prediction in predicted_occurrences"
assert len(injected_titles) == 1, injected_titles
assert predicted_occurrences == new[injected_titles[0]], \
    (f"you predicted {predicted_occurrences}, Rollbar got {new[injected_titles[0]]}: count the message_groups "
     f"requests in the plan, then the exceptions a fresh Faults.lesson() decides for that many")

# %% [markdown]
# Each occurrence keeps its request. The newest occurrences of the bug:

# %%
bug = items[items["title"].str.startswith("InjectedException")].sort_values("last_seen").iloc[-1]
occurrences = rollbar_q.occurrences(bug["id"], max_pages=5)
occurrences[["timestamp", "exception_class", "request_method", "request_url", "top_frame"]].head()

# %% [markdown]
# ### Checkpoint: the counts equal the errors injected

# %%
assert injected > 0 and server_errors == injected, (injected, server_errors)
assert new[injected_titles[0]] == injected, "one occurrence per unhandled exception"
assert new["Hello World!"] == 1, "the /rollbar/test message"
assert new[[t for t in new.index if t.startswith("ValueError: card declined")]].sum() == 1, "the handled error"
assert new[CRASH] == 20, "the measurement's crashes"
assert len(new) == 4, new  # nothing else went wrong
assert occurrences.head(injected)["request_url"].str.endswith("/api/message_groups").all()
levels = items.groupby("title")["level"].agg(set)  # one title can be several items (other code paths, other kernels)
assert levels["Hello World!"] == {"warning"} and levels[injected_titles[0]] == {"error"}

# %% [markdown]
# ## Your turn 2: request context on every report
#
# An occurrence tells you the URL, but not *which* request: the backend gives each request an id (`g.request_id`,
# echoed in the `X-Request-Id` response header, the `request_id` column of the traffic DataFrame). Put it, and the
# service name, into the `custom` section of **every** report, so that an occurrence can be joined with logs and
# traces.
#
# pyrollbar calls each **payload handler** with the finished payload just before it is sent:
# `rollbar.events.add_payload_handler(fn)`, where `fn(payload, **kw)` returns the payload (or `False` to drop it).
# Write `add_request_context(payload, **kw)` that, when there is a request (`has_request_context()`), sets
# `payload["data"]["custom"]["service"] = "backend-flask"` and `["request_id"] = g.get("request_id")` (keeping what
# is already in `custom`), and returns the payload. Try it first; the solution is collapsed below. The cell after it
# registers your function.

# %%
# def add_request_context(payload, **kw):
#     ...
#     return payload

# %% jupyter={"source_hidden": true}
def add_request_context(payload, **kw):
    """Solution: the service and the request id in `custom`, for reports made while serving a request."""
    if has_request_context():
        custom = payload["data"].setdefault("custom", {})
        custom.update({"service": services.BACKEND, "request_id": g.get("request_id")})
    return payload


# %% [markdown]
# Registering is once per process too: a re-run defines a new function, so the cell removes the one it registered
# last time before adding the new one.

# %%
previous = globals().get("registered_context")     # a re-run: the function this cell registered last time
if previous is not None:
    rollbar.events.remove_payload_handler(previous)
rollbar.events.add_payload_handler(add_request_context)
registered_context = add_request_context

context_df = traffic.generate(backend.url, n=60, concurrency=4, seed=11, mix={"GET /api/message_groups": 1},
                              progress=False)
rollbar.wait()
crashed = context_df[context_df["status"] == 500]
recent = rollbar_q.occurrences(bug["id"], max_pages=5)
recent[["timestamp", "request_url", "custom"]].head()

# %% [markdown]
# ### Checkpoint: every crash can be found by its request id

# %%
by_request = {c.get("request_id"): c for c in recent["custom"] if isinstance(c, dict)}
missing = set(crashed["request_id"]) - set(by_request)
assert len(crashed) > 0, "the traffic should have hit the bug"
assert not missing, (f"{len(missing)} of {len(crashed)} crashing requests have no occurrence with their request_id "
                     f"in custom: set payload['data']['custom']['request_id'] = g.get('request_id')")
assert all(by_request[r].get("service") == "backend-flask" for r in crashed["request_id"]), \
    "set custom['service'] to 'backend-flask'"

# %% [markdown]
# Stop the services (the next notebook starts its own).

# %%
backend.stop()
notifications.stop()

# %% [markdown]
# ## 9. Your app.py now
#
# Everything above, as backend-flask's `app.py` (the workbook's `create_backend_app` stands for the bootcamp's
# routes, `/rollbar/test` included). Running the cell writes it to `build/app_05.py`; a test runs that file as its
# own process against the local cloud and checks that the "Hello World!" warning and an unhandled exception arrive
# in Rollbar, so this is code that works verbatim: `python build/app_05.py`.

# %%
Path("../build").mkdir(exist_ok=True)

# %%
# %%writefile ../build/app_05.py
"""backend-flask after notebook 05: unhandled exceptions and the /rollbar/test message go to Rollbar."""
import os

import rollbar
import rollbar.contrib.flask
from flask import g, got_request_exception, has_request_context

from lab_app.services import create_backend_app

app = create_backend_app(os.environ.get("NOTIFICATIONS_URL", "http://127.0.0.1:4568"))


def add_request_context(payload, **kw):
    if has_request_context():
        payload["data"].setdefault("custom", {}).update({"service": "backend-flask",
                                                         "request_id": g.get("request_id")})
    return payload


# Set-up code runs when the app is created (Flask 3 has no before_first_request); once per process.
with app.app_context():
    rollbar.init(
        os.environ["ROLLBAR_ACCESS_TOKEN"],
        os.environ.get("ROLLBAR_ENVIRONMENT", "development"),
        root=os.path.dirname(os.path.realpath(__file__)),
        allow_logging_basic_config=False,
        endpoint=os.environ.get("ROLLBAR_ENDPOINT", "https://api.rollbar.com/api/1/"),
        handler="thread",
        scrub_fields=[*rollbar.SETTINGS["scrub_fields"], "card_number", "api_key"],
    )
    rollbar.events.add_payload_handler(add_request_context)
    # send exceptions from `app` to rollbar, using flask's signal system.
    got_request_exception.connect(rollbar.contrib.flask.report_exception, app)

if __name__ == "__main__":
    app.run(host="127.0.0.1", port=int(os.environ.get("PORT", "4567")))

# %% [markdown]
# ### Checkpoint: the file is the lesson

# %%
written = Path("../build/app_05.py").read_text()
for call in ("with app.app_context():", 'os.environ["ROLLBAR_ACCESS_TOKEN"]', "allow_logging_basic_config=False",
             'os.environ.get("ROLLBAR_ENDPOINT"', 'handler="thread"', '"card_number"',
             "got_request_exception.connect(rollbar.contrib.flask.report_exception, app)",
             "rollbar.events.add_payload_handler(add_request_context)"):
    assert call in written, call
assert "before_first_request" not in written.replace("no before_first_request", "")
compiled = compile(written, "app_05.py", "exec")

# %% [markdown]
# ## Summary
# - Flask 3 has no `before_first_request`: call `rollbar.init` once when the app is created (inside
#   `app.app_context()`), and connect `got_request_exception` to `rollbar.contrib.flask.report_exception` for the app.
# - `rollbar.init` works once per process; a second call only merges keyword settings. Guard it visibly
#   (`rollbar.SETTINGS["access_token"]`) and restart the kernel to change the token or the environment.
# - Handled errors: `rollbar.report_exc_info(sys.exc_info(), extra_data=..., level=...)`; messages:
#   `rollbar.report_message(...)`.
# - pyrollbar records local variables: `scrub_fields` masks them by name (add your own names), `root` limits them
#   to your code's frames, `locals={"enabled": False}` turns them off.
# - `thread` keeps Rollbar's round trip out of the request; `rollbar.wait()` makes the counts exact. `blocking`
#   makes the user wait for Rollbar (and, traced, adds a phantom child span).
# - Rollbar groups occurrences into items by exception class and location (or message text); the read API gives
#   items and occurrences, which pandas counts against what was injected. A payload handler adds the request id to
#   every report, the key for joining errors with logs and traces.
#
# ## What's next
# [06 correlate the pillars](06_correlate_the_pillars.ipynb): join spans, segments, logs and errors by trace id.
#
# ## Resources
# - pyrollbar, the Python SDK: [docs](https://docs.rollbar.com/docs/python) ·
#   [Flask integration](https://docs.rollbar.com/docs/flask) · [source](https://github.com/rollbar/pyrollbar)
#   (`rollbar/__init__.py` holds the `SETTINGS` defaults: handlers, `scrub_fields`, `locals`; `rollbar/contrib/flask`
#   the signal receiver and `init`) · [PR #428](https://github.com/rollbar/pyrollbar/pull/428): its Flask example
#   without `before_first_request`
# - [Flask 2.3.0 changelog](https://flask.palletsprojects.com/en/stable/changes/#version-2-3-0):
#   `app.before_first_request` removed · [Flask signals](https://flask.palletsprojects.com/en/stable/signals/)
# - [Rollbar API reference](https://docs.rollbar.com/reference): "List all items" (`GET /api/1/items`, 100 per
#   page) and "List all occurrences of an item" (`GET /api/1/item/<id>/instances`, 20 per page; the item `id` is not
#   the counter in the UI's URLs) · [project access tokens](https://docs.rollbar.com/docs/access-tokens)
#   (`post_server_item` to send, `read` to list)
# - Cost: the seed (March 2023) noted a free tier of 5,000 events a month, kept for 30 days; check
#   [rollbar.com/pricing](https://rollbar.com/pricing/) and [billing](https://docs.rollbar.com/docs/billing-in-rollbar)
#   for today's plans. Every occurrence counts as an event: a bug in a busy route spends the quota fast, which is
#   what Rollbar's per-token rate limits and on-demand settings are for.

# %% [markdown]
# <!-- navigation -->
# ← Previous: [CloudWatch Logs and Logs Insights: access logs you can query](04_cloudwatch_logs.ipynb) · [Start here](00_start_here.ipynb) · Next: [Correlate the pillars: one request across spans, segments, logs and errors](06_correlate_the_pillars.ipynb) →
