"""Contract tests for the Rollbar stand-in: the real rollbar SDK, the Flask services, plain HTTP for bad input."""
from __future__ import annotations

import json
import random

import flask
import pytest
import requests
import rollbar
from flask import got_request_exception

from conftest import Cruddur
from lab_app import config, services
from lab_app.query import rollbar as rollbar_q

TOKEN = config.LOCAL_ROLLBAR_TOKEN


def init_rollbar(cloud, environment: str = "test") -> None:
    """rollbar.init once per process; a second init only merges keyword settings, so set them (SETTINGS) too."""
    settings = {"access_token": TOKEN, "environment": environment, "endpoint": cloud.aws_url + "/api/1/",
                "handler": "blocking"}
    rollbar.init(TOKEN, environment, endpoint=settings["endpoint"], handler="blocking",
                 allow_logging_basic_config=False)
    rollbar.SETTINGS.update(settings)


@pytest.fixture
def cloud_rb(module_cloud):
    module_cloud.reset()
    init_rollbar(module_cloud)
    return module_cloud


def item_url(cloud) -> str:
    return cloud.aws_url + "/api/1/item/"


def fail_here():
    raise KeyError("missing-key")


def fail_there():
    return {}["other"]


def test_sdk_reports_are_grouped_into_items(cloud_rb):
    for _ in range(3):
        try:
            fail_here()
        except KeyError:
            rollbar.report_exc_info()
    try:
        fail_there()  # same class, different location: its own item
    except KeyError:
        rollbar.report_exc_info()
    rollbar.report_message("Hello World!", "warning")
    rollbar.report_message("Hello World!", "warning")
    rollbar.report_message("something else", "info")
    rollbar.wait()
    frame = rollbar_q.items()
    assert len(frame) == 4
    by_title = {(t, n) for t, n in zip(frame.title, frame.total_occurrences)}
    assert by_title == {("KeyError: 'missing-key'", 3), ("KeyError: 'other'", 1), ("Hello World!", 2),
                        ("something else", 1)}
    assert sorted(frame.counter) == [1, 2, 3, 4]
    assert set(frame.environment) == {"test"}
    assert dict(zip(frame.title, frame.level))["Hello World!"] == "warning"
    assert (frame.first_seen <= frame.last_seen).all()
    assert str(frame.first_seen.dtype).startswith("datetime64")
    key_item = frame[frame.total_occurrences == 3].iloc[0]
    occ = rollbar_q.occurrences(key_item.id)
    assert len(occ) == 3 and set(occ.exception_class) == {"KeyError"}
    assert occ.top_frame.str.contains("fail_here").all()
    assert rollbar_q.item_by_counter(key_item.counter)["id"] == key_item.id  # 301 followed, like Rollbar
    one = requests.get(f"{cloud_rb.aws_url}/api/1/instance/{occ.id.iloc[0]}",
                       headers={"X-Rollbar-Access-Token": TOKEN}).json()
    assert one["err"] == 0 and one["result"]["data"]["body"]["trace"]["exception"]["class"] == "KeyError"
    assert cloud_rb.status()["components"]["rollbar"] == {"items": 4, "occurrences": 7}


def test_environments_get_separate_items_and_filters_work(cloud_rb):
    rollbar.report_message("same text", "error")
    init_rollbar(cloud_rb, "staging")
    try:
        rollbar.report_message("same text", "error")
    finally:
        init_rollbar(cloud_rb, "test")
    frame = rollbar_q.items()
    assert sorted(frame.environment) == ["staging", "test"]
    assert len(rollbar_q.items(environment="staging")) == 1
    assert len(rollbar_q.items(level="warning")) == 0


def test_flask_unhandled_exceptions_and_rollbar_test_route(cloud_rb):
    faults = services.Faults({"backend-flask:GET /api/message_groups": services.Fault(exception_rate=1.0)})
    stack = Cruddur(faults=faults)

    def report_exception(sender, exception, **extra):  # notebook 06's receiver: the request and custom data
        rollbar.report_exc_info((type(exception), exception, exception.__traceback__), flask.request,
                                payload_data={"custom": {"service": "backend-flask"}})

    got_request_exception.connect(report_exception, stack.app)
    try:
        statuses = [requests.get(stack.backend_url + "/api/message_groups", timeout=10).status_code for _ in range(4)]
        assert statuses == [500] * 4
        assert requests.get(stack.backend_url + "/rollbar/test", timeout=10).text == "Hello World!"
        assert requests.get(stack.backend_url + "/api/activities/home", timeout=10).status_code == 200
    finally:
        stack.stop()
    rollbar.wait()
    frame = rollbar_q.items()
    titles = dict(zip(frame.title, frame.total_occurrences))
    injected = [t for t in titles if t.startswith("InjectedException")]
    assert len(injected) == 1 and titles[injected[0]] == 4
    assert titles["Hello World!"] == 1
    occ = rollbar_q.occurrences(frame[frame.title == injected[0]].id.iloc[0])
    assert set(occ.request_method) == {"GET"} and occ.request_url.str.endswith("/api/message_groups").all()
    assert all(c == {"service": "backend-flask"} for c in occ.custom)


def post(cloud, body, token=TOKEN, content_type="application/json"):
    headers = {"Content-Type": content_type}
    if token:
        headers["X-Rollbar-Access-Token"] = token
    data = body if isinstance(body, (bytes, str)) else json.dumps(body)
    return requests.post(item_url(cloud), data=data, headers=headers, timeout=5)


MESSAGE = {"data": {"environment": "test", "level": "error", "body": {"message": {"body": "plain"}}}}


def test_token_in_body_is_accepted(cloud_rb):
    reply = post(cloud_rb, {"access_token": TOKEN, **MESSAGE}, token=None)
    assert reply.status_code == 200 and reply.json()["err"] == 0 and reply.json()["result"]["uuid"]


@pytest.mark.parametrize("body,token,status", [
    (MESSAGE, None, 401),
    (MESSAGE, "wrong-token", 401),
    ({"access_token": "wrong", **MESSAGE}, None, 401),
    (b"{not json", TOKEN, 400),
    (b"\xff\xfe", TOKEN, 400),
    ([1, 2], TOKEN, 400),
    ({"data": "x"}, TOKEN, 400),
    ({"data": {"body": {}}}, TOKEN, 422),
    ({"data": {"body": "text"}}, TOKEN, 422),
])
def test_bad_posts_get_rollbar_errors(cloud_rb, body, token, status):
    reply = post(cloud_rb, body, token=token)
    assert reply.status_code == status
    assert reply.json()["err"] == 1 and reply.json()["message"]
    assert post(cloud_rb, MESSAGE).status_code == 200  # still serving


def test_extra_tokens_from_environment(cloud_rb, monkeypatch):
    assert post(cloud_rb, MESSAGE, token="tok-2").status_code == 401
    monkeypatch.setenv("LAB_ROLLBAR_TOKENS", "tok-1,tok-2")
    assert post(cloud_rb, MESSAGE, token="tok-2").status_code == 200


def test_read_endpoints_need_a_token_and_know_404(cloud_rb):
    base = cloud_rb.aws_url + "/api/1/"
    assert requests.get(base + "items", timeout=5).status_code == 401
    assert requests.get(base + "items", params={"access_token": "nope"}, timeout=5).status_code == 401
    assert requests.get(base + "items", params={"access_token": TOKEN}, timeout=5).json()["result"]["items"] == []
    hdr = {"X-Rollbar-Access-Token": TOKEN}
    for path in ("item/123", "item/abc", "item_by_counter/9", "instance/1", "item/5/instances"):
        answer = requests.get(base + path, headers=hdr, timeout=5)
        assert answer.status_code == 404 and answer.json()["err"] == 1, path
    with pytest.raises(rollbar_q.RollbarAPIError):
        rollbar_q.item(42)


def test_payload_over_one_megabyte_is_413(cloud_rb):
    big = {"data": {"body": {"message": {"body": "x" * (1024 * 1024 + 10)}}}}
    assert post(cloud_rb, big).status_code == 413


def test_fuzz_random_bodies(cloud_rb):
    rng = random.Random(99)
    for i in range(120):
        choice = rng.random()
        if choice < 0.4:
            body = bytes(rng.getrandbits(8) for _ in range(rng.randint(0, 300)))
        elif choice < 0.8:
            body = json.dumps(rng.choice([
                {"data": {"body": {"trace": {"frames": rng.choice([[], "x", [1], [{"filename": 3}]]),
                                             "exception": rng.choice([{}, None, {"class": None}])}}}},
                {"data": {"body": {"trace_chain": rng.choice([[], [{}], "x"])}}},
                {"data": {"body": {"message": rng.choice([{}, {"body": None}, "x"])}, "level": rng.choice([1, "nope"]),
                          "timestamp": rng.choice(["x", 1.5, True, None])}},
                {"data": None}, {}, None, "s", 7])).encode()
        else:
            body = b'{"data": {"body": {"message": {"body": "' + bytes(rng.randrange(32, 127) for _ in range(20)) + b'"}}}}'
        reply = post(cloud_rb, body, token=rng.choice([TOKEN, TOKEN, None]))
        assert reply.status_code in (200, 400, 401, 422), (i, reply.status_code, body[:80])
        assert "err" in reply.json()
    assert post(cloud_rb, MESSAGE).status_code == 200
