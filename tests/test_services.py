"""The Cruddur API: routes, validation codes, the cross-service call, fault injection."""
from __future__ import annotations

import json
from datetime import datetime

import pytest
import requests

from conftest import Cruddur
from lab_app import services
from lab_app.config import SEED_DATA_DIR
from lab_app.services import Fault, Faults
from lab_app.services.notifications import create_notifications_app

SEED_UUID = "68f126b0-1ceb-4a33-88be-d90fa7109eee"
USERS = {u["handle"] for u in json.loads((SEED_DATA_DIR / "users.json").read_text())["users"]}


@pytest.fixture(scope="module")
def stack():
    s = Cruddur()
    yield s
    s.stop()


def get(stack, path, **kw):
    return requests.get(stack.backend_url + path, timeout=5, **kw)


def post(stack, path, body, **kw):
    return requests.post(stack.backend_url + path, json=body, timeout=5, **kw)


def test_health_of_both_services(stack):
    assert get(stack, "/health").json() == {"ok": True, "service": "backend-flask"}
    assert requests.get(stack.downstream_url + "/health", timeout=5).json()["service"] == "notifications"


def test_home_activities_have_every_field_and_aware_timestamps(stack):
    items = get(stack, "/api/activities/home").json()
    assert len(items) >= 30
    fields = {"uuid", "handle", "display_name", "message", "created_at", "expires_at", "likes_count",
              "replies_count", "reposts_count", "replies"}
    for item in items:
        assert fields <= set(item)
        created, expires = datetime.fromisoformat(item["created_at"]), datetime.fromisoformat(item["expires_at"])
        assert created.tzinfo is not None and expires.tzinfo is not None
        assert expires > created
        assert item["replies_count"] == len(item["replies"])
    created = [i["created_at"] for i in items]
    assert created == sorted(created, reverse=True), "newest first"


def test_user_activities_only_that_user_and_404_for_unknown(stack):
    items = get(stack, "/api/activities/@worf").json()
    assert items and {i["handle"] for i in items} == {"worf"}
    resp = get(stack, "/api/activities/@nobody")
    assert resp.status_code == 404 and resp.json() == {"errors": ["handle_not_found"]}


def test_search_matches_case_insensitively_and_blank_is_422(stack):
    items = get(stack, "/api/activities/search", params={"term": "CLOUD"}).json()
    assert items and all("cloud" in i["message"].lower() for i in items)
    expected = sum("cloud" in i["message"].lower() for i in get(stack, "/api/activities/home").json())
    assert len(items) == expected
    resp = get(stack, "/api/activities/search", params={"term": "  "})
    assert resp.status_code == 422 and resp.json() == {"errors": ["search_term_blank"]}


@pytest.mark.parametrize("body, codes", [
    ({"message": "hi"}, ["ttl_blank"]),
    ({"message": "hi", "ttl": ""}, ["ttl_blank"]),
    ({"message": "hi", "ttl": "2-weeks"}, ["ttl_invalid"]),
    ({"message": "", "ttl": "7-days"}, ["message_blank"]),
    ({"message": "x" * 281, "ttl": "7-days"}, ["message_exceed_max_chars"]),
    ({"message": "   ", "ttl": "nope"}, ["ttl_invalid", "message_blank"]),
    ({}, ["ttl_blank", "message_blank"]),
])
def test_create_activity_reports_every_failing_code(stack, body, codes):
    resp = post(stack, "/api/activities", body)
    assert resp.status_code == 422
    assert resp.json() == {"errors": codes}


def test_create_activity_280_chars_is_fine_and_fans_out_downstream(stack):
    resp = post(stack, "/api/activities", {"message": "y" * 280, "ttl": "1-hour"}, headers={"X-Cruddur-User": "worf"})
    assert resp.status_code == 200
    body = resp.json()
    assert body["handle"] == "worf" and body["notified"] == len(USERS) - 1
    assert (datetime.fromisoformat(body["expires_at"]) - datetime.fromisoformat(body["created_at"])).total_seconds() == 3600
    # the downstream service really received the fanout
    notes = requests.get(stack.downstream_url + "/api/notifications/@garek", timeout=5).json()["notifications"]
    assert any(n["activity_uuid"] == body["uuid"] for n in notes)
    assert get(stack, f"/api/activities/{body['uuid']}").json()["message"] == "y" * 280


def test_show_activity_and_bad_uuid(stack):
    assert get(stack, f"/api/activities/{SEED_UUID}").json()["message"] == "Cloud is fun!"
    for bad in ("not-a-uuid", "00000000-0000-4000-8000-000000000000"):
        resp = get(stack, f"/api/activities/{bad}")
        assert resp.status_code == 404 and resp.json() == {"errors": ["activity_not_found"]}


def test_reply_validation_and_counts(stack):
    before = get(stack, f"/api/activities/{SEED_UUID}").json()["replies_count"]
    resp = post(stack, f"/api/activities/{SEED_UUID}/reply", {"message": ""})
    assert resp.status_code == 422 and resp.json() == {"errors": ["message_blank"]}
    resp = post(stack, f"/api/activities/{SEED_UUID}/reply", {"message": "Agreed"})
    assert resp.status_code == 200 and resp.json()["reply_to_activity_uuid"] == SEED_UUID
    assert get(stack, f"/api/activities/{SEED_UUID}").json()["replies_count"] == before + 1
    assert post(stack, "/api/activities/not-a-uuid/reply", {"message": "x"}).status_code == 404


def test_notifications_cross_the_service_boundary(stack):
    downstream = requests.get(stack.downstream_url + "/api/notifications/@andrewbrown", timeout=5).json()["notifications"]
    items = get(stack, "/api/activities/notifications").json()
    assert items and len(items) <= len(downstream)
    assert {i["uuid"] for i in items} <= {n["activity_uuid"] for n in downstream}
    assert all("notification_kind" in i for i in items)


def test_messages(stack):
    groups = get(stack, "/api/message_groups").json()
    assert {g["handle"] for g in groups} == {"worf", "garek", "bayko", "quark"}
    convo = get(stack, "/api/messages/@worf").json()
    assert convo and {m["handle"] for m in convo} <= {"andrewbrown", "worf"}
    assert get(stack, "/api/messages/@nobody").status_code == 404
    resp = post(stack, "/api/messages", {"handle": "", "message": ""})
    assert resp.status_code == 422 and resp.json() == {"errors": ["handle_blank", "message_blank"]}
    assert post(stack, "/api/messages", {"handle": "andrewbrown", "message": "me"}).json() == {"errors": ["handle_is_self"]}
    resp = post(stack, "/api/messages", {"handle": "worf", "message": "Qapla'"})
    assert resp.status_code == 200
    assert get(stack, "/api/messages/@worf").json()[-1]["message"] == "Qapla'"


def test_non_json_body_is_400(stack):
    resp = requests.post(stack.backend_url + "/api/activities", data="not json", timeout=5,
                         headers={"Content-Type": "application/json"})
    assert resp.status_code == 400 and resp.json() == {"errors": ["body_not_json"]}


def test_rollbar_test_route_and_request_id(stack):
    resp = get(stack, "/rollbar/test", headers={"X-Request-Id": "abc"})
    assert resp.text == "Hello World!" and resp.headers["X-Request-Id"] == "abc"


def test_rollbar_test_route_before_rollbar_is_initialised_is_quiet(stack, monkeypatch, caplog):
    import rollbar

    monkeypatch.setitem(rollbar.SETTINGS, "access_token", None)
    with caplog.at_level("DEBUG", logger="rollbar"):
        assert get(stack, "/rollbar/test").text == "Hello World!"
    assert not [r for r in caplog.records if r.name.startswith("rollbar")]


def test_downstream_down_gives_502_and_posts_still_stored():
    s = Cruddur()
    s.downstream.stop()
    try:
        resp = requests.get(s.backend_url + "/api/activities/notifications", timeout=5)
        assert resp.status_code == 502 and resp.json() == {"errors": ["notifications_unavailable"]}
        created = requests.post(s.backend_url + "/api/activities", json={"message": "m", "ttl": "1-day"}, timeout=5)
        assert created.status_code == 200 and created.json()["notified"] is None
    finally:
        s.stop()


def test_faults_are_off_by_default_and_deterministic():
    assert services.Faults.none().decide("backend-flask:GET /x") == (0.0, False, False)
    rule = {"notifications:GET /api/notifications/@<handle>": Fault(error_rate=0.3)}
    runs = []
    for _ in range(2):
        f = Faults(rule, seed=5)
        runs.append([f.decide("notifications:GET /api/notifications/@<handle>")[1] for _ in range(200)])
    assert runs[0] == runs[1]
    assert 40 <= sum(runs[0]) <= 80  # 30 % of 200, a wide band
    other = Faults(rule, seed=6)
    assert [other.decide("notifications:GET /api/notifications/@<handle>")[1] for _ in range(200)] != runs[0]
    with pytest.raises(ValueError):
        Fault(error_rate=1.5)


def test_injected_faults_reach_the_client():
    faults = Faults({"notifications:GET /api/notifications/@<handle>": Fault(error_rate=1.0),
                     "backend-flask:GET /api/message_groups": Fault(exception_rate=1.0),
                     "backend-flask:GET /api/activities/search": Fault(latency_ms=150)}, seed=1)
    with Cruddur(faults=faults) as s:
        assert requests.get(s.backend_url + "/api/activities/notifications", timeout=5).status_code == 502
        assert requests.get(s.backend_url + "/api/message_groups", timeout=5).status_code == 500
        resp = requests.get(s.backend_url + "/api/activities/search?term=cloud", timeout=5)
        assert resp.status_code == 200 and resp.elapsed.total_seconds() >= 0.15
        assert requests.get(s.backend_url + "/api/activities/home", timeout=5).status_code == 200
    summary = faults.summary().set_index("rule")
    assert summary.loc["backend-flask:GET /api/message_groups", "exceptions"] == 1


def test_every_answer_has_a_request_id_injected_faults_and_errors_included():
    faults = Faults({"notifications:GET /api/notifications/@<handle>": Fault(error_rate=1.0, error_status=503),
                     "backend-flask:GET /api/message_groups": Fault(exception_rate=1.0),
                     "backend-flask:GET /api/activities/search": Fault(error_rate=1.0, error_status=503)}, seed=1)
    notifications = create_notifications_app(faults=faults)
    backend = services.create_backend_app("http://127.0.0.1:9", faults=faults)
    answers = {
        "downstream 503 (injected)": notifications.test_client().get("/api/notifications/@andrewbrown"),
        "downstream 404": notifications.test_client().get("/no/such/route"),
        "backend 500 (injected exception)": backend.test_client().get("/api/message_groups"),
        "backend 503 (injected)": backend.test_client().get("/api/activities/search?term=x"),
        "backend 404 while routing": backend.test_client().get("/no/such/route"),
        "backend 502 (downstream down)": backend.test_client().get("/api/activities/notifications"),
    }
    codes = {name: answer.status_code for name, answer in answers.items()}
    assert codes == {"downstream 503 (injected)": 503, "downstream 404": 404, "backend 500 (injected exception)": 500,
                     "backend 503 (injected)": 503, "backend 404 while routing": 404,
                     "backend 502 (downstream down)": 502}
    ids = [answer.headers.get("X-Request-Id") for answer in answers.values()]
    assert all(ids) and len(set(ids)) == len(ids), ids
    kept = backend.test_client().get("/api/message_groups", headers={"X-Request-Id": "req-from-the-caller"})
    assert kept.status_code == 500 and kept.headers["X-Request-Id"] == "req-from-the-caller"
