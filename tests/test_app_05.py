"""Notebook 05's "your app.py now" runs verbatim and its reports reach the Rollbar stand-in."""
from __future__ import annotations

import os
import subprocess
import sys

import requests
from app_files import ROOT, app_source, run_app
from xray_helpers import wait_for

from lab_app.query import rollbar as rollbar_q
from lab_app.runner import free_port

NOTEBOOK = "05_rollbar"
ENVIRONMENT = "test-app-05"  # only this test's reports are filed under it


def test_the_file_is_the_whole_set_up():
    name, source = app_source(NOTEBOOK)
    assert name == "app_05.py"
    compile(source, name, "exec")
    for call in ("with app.app_context():", "allow_logging_basic_config=False", 'handler="thread"',
                 "got_request_exception.connect(rollbar.contrib.flask.report_exception, app)",
                 "rollbar.events.add_payload_handler(add_request_context)"):
        assert call in source
    assert "@app.before_first_request" not in source


def _item(title: str) -> dict | None:
    listing = rollbar_q.items(environment=ENVIRONMENT)
    found = listing[listing["title"] == title].to_dict("records")
    return found[0] if found else None


def test_app_05_reports_the_rollbar_test_message(cloud, tmp_path):
    env = {**cloud.env(), "ROLLBAR_ENVIRONMENT": ENVIRONMENT}
    with run_app(NOTEBOOK, tmp_path, env, free_port()) as (url, _proc):
        answer = requests.get(url + "/rollbar/test", timeout=5)
        assert answer.status_code == 200 and answer.text == "Hello World!"
        item = wait_for(lambda: _item("Hello World!"), timeout=10)
    assert item["level"] == "warning" and item["total_occurrences"] == 1
    [occurrence] = rollbar_q.occurrences(item["id"]).to_dict("records")
    assert occurrence["environment"] == ENVIRONMENT
    assert occurrence["custom"] == {"service": "backend-flask", "request_id": answer.headers["X-Request-Id"]}
    assert len(rollbar_q.items(environment=ENVIRONMENT)) == 1, "nothing else was reported"


DRIVER = """
import runpy, sys
import rollbar
app = runpy.run_path(sys.argv[1], run_name="app_05")["app"]   # the file as written; not __main__, so no app.run
app.add_url_rule("/boom", "boom", lambda: 1 / 0)               # a route with a bug
print(app.test_client().get("/boom", headers={"X-Request-Id": "req-boom-1"}).status_code)
rollbar.wait()
"""


def test_app_05_reports_unhandled_exceptions_through_the_signal(cloud, tmp_path):
    name, source = app_source(NOTEBOOK)
    path = tmp_path / name
    path.write_text(source, encoding="utf-8")
    env = {**os.environ, **cloud.env(), "ROLLBAR_ENVIRONMENT": ENVIRONMENT}
    done = subprocess.run([sys.executable, "-c", DRIVER, str(path)], cwd=str(ROOT), env=env, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.strip().splitlines()[-1] == "500"
    item = wait_for(lambda: _item("ZeroDivisionError: division by zero"), timeout=10)
    assert item["level"] == "error" and item["total_occurrences"] == 1
    [occurrence] = rollbar_q.occurrences(item["id"]).to_dict("records")
    assert occurrence["request_method"] == "GET" and occurrence["request_url"].endswith("/boom")
    assert occurrence["custom"] == {"service": "backend-flask", "request_id": "req-boom-1"}
