"""Contract tests for what a free account can and cannot do, as Honeycomb and Rollbar answer it.

Honeycomb: an ingest key sends events and answers ``/1/auth`` but cannot query; a configuration key can; a free
team (``LAB_HONEYCOMB_PLAN=free``) has no Query Data API; an enterprise team gets 10 query results a minute over
the last 7 days. Rollbar: a post_server_item token cannot read, a read token cannot post.
Real clients: the OTLP exporter, urllib3 and requests against the API, pyrollbar for posting.
"""
from __future__ import annotations

import json
import time
import urllib.parse

import pytest
import requests
import rollbar
import urllib3
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from lab_app import config
from lab_app.localcloud.honeycomb.responses import plan_from_env
from lab_app.localcloud.server import LocalCloud
from lab_app.query import rollbar as rollbar_q
from lab_app.query import spans as spans_q

CONFIG_KEY, INGEST_KEY = config.LOCAL_HONEYCOMB_KEY, config.LOCAL_HONEYCOMB_INGEST_KEY
DATASET = "free-account-test"
DAY = 24 * 3600


def export_spans(cloud, key: str, n: int) -> SpanExportResult:
    """``n`` spans of service DATASET through the real OTLP/HTTP exporter, sent with ``key``."""
    memory = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource.create({"service.name": DATASET}))
    provider.add_span_processor(SimpleSpanProcessor(memory))
    tracer = provider.get_tracer("free-account")
    for i in range(n):
        with tracer.start_as_current_span(f"work-{i % 2}"):
            pass
    exporter = OTLPSpanExporter(endpoint=f"http://127.0.0.1:{cloud.ports['otlp']}/v1/traces",
                                headers={"x-honeycomb-team": key})
    return exporter.export(memory.get_finished_spans())


def auth(cloud, key: str) -> tuple[int, dict]:
    reply = urllib3.request("GET", f"http://127.0.0.1:{cloud.ports['otlp']}/1/auth",
                            headers={"X-Honeycomb-Team": key}, timeout=10)
    return reply.status, json.loads(reply.data)


def api(cloud, method: str, path: str, body=None, key: str = CONFIG_KEY) -> requests.Response:
    return requests.request(method, f"http://127.0.0.1:{cloud.ports['otlp']}{path}", json=body,
                            headers={"X-Honeycomb-Team": key}, timeout=30)


def create(cloud, spec: dict, key: str = CONFIG_KEY) -> str:
    reply = api(cloud, "POST", f"/1/queries/{DATASET}", spec, key)
    assert reply.status_code == 200, reply.text
    return reply.json()["id"]


def assert_problem(reply: requests.Response, status: int, problem: str, needle: str) -> None:
    assert reply.status_code == status, reply.text
    body = reply.json()
    assert body["status"] == status and body["type"] == f"https://api.honeycomb.io/problems/{problem}"
    assert needle in body["error"] and body["title"]


@pytest.fixture
def free_cloud(tmp_path, monkeypatch):
    monkeypatch.setenv("LAB_HONEYCOMB_PLAN", "free")
    lc = LocalCloud(tmp_path / "lab", aws_port=0, otlp_port=0, daemon_port=0).start()
    for key, value in lc.env().items():
        monkeypatch.setenv(key, value)
    yield lc
    lc.stop()


# --- Honeycomb: key types ---------------------------------------------------------------------------
def test_ingest_key_sends_and_authenticates_but_cannot_query(cloud):
    assert export_spans(cloud, INGEST_KEY, 3) is SpanExportResult.SUCCESS
    status, body = auth(cloud, INGEST_KEY)
    assert status == 200 and body["type"] == "ingest"
    assert body["api_key_access"]["events"] is True and body["api_key_access"]["queries"] is False
    assert body["team"]["slug"] and body["environment"]["slug"]
    assert_problem(api(cloud, "POST", f"/1/queries/{DATASET}", {"calculations": [{"op": "COUNT"}]}, INGEST_KEY),
                   403, "forbidden", "ingest key does not have the Manage Queries and Columns and Run Queries")
    query_id = create(cloud, {"calculations": [{"op": "COUNT"}]})
    assert_problem(api(cloud, "POST", f"/1/query_results/{DATASET}", {"query_id": query_id}, INGEST_KEY),
                   403, "forbidden", "ingest key")
    assert "ingest key" in spans_q.query_unavailable(api_key=INGEST_KEY)


def test_configuration_key_queries_what_the_ingest_key_sent(cloud):
    assert export_spans(cloud, INGEST_KEY, 5) is SpanExportResult.SUCCESS
    status, body = auth(cloud, CONFIG_KEY)
    assert status == 200 and body["type"] == "configuration" and body["api_key_access"]["queries"] is True
    assert spans_q.query_unavailable() is None            # HONEYCOMB_CONFIG_KEY from the local environment
    frame = spans_q.query(DATASET, calculations=[{"op": "COUNT"}], breakdowns=["name"], time_range=600)
    assert dict(zip(frame["name"], frame["COUNT"])) == {"work-0": 3, "work-1": 2}


def test_an_unknown_key_is_401_everywhere(cloud):
    assert auth(cloud, "not-a-key")[0] == 401
    assert export_spans(cloud, "not-a-key", 1) is SpanExportResult.FAILURE


# --- Honeycomb: plans and limits ----------------------------------------------------------------------
def test_free_team_ingests_but_has_no_query_data_api(free_cloud):
    assert free_cloud.status()["components"]["honeycomb"]["plan"] == "free"
    assert export_spans(free_cloud, INGEST_KEY, 2) is SpanExportResult.SUCCESS
    for key in (CONFIG_KEY, INGEST_KEY):
        status, body = auth(free_cloud, key)
        assert status == 200 and body["api_key_access"]["queries"] is False
    assert_problem(api(free_cloud, "POST", f"/1/queries/{DATASET}", {"calculations": [{"op": "COUNT"}]}),
                   403, "forbidden", "Enterprise feature")
    assert_problem(api(free_cloud, "POST", f"/1/query_results/{DATASET}", {"query_id": "any"}),
                   403, "forbidden", "Enterprise feature")
    assert "Enterprise feature" in spans_q.query_unavailable()
    with pytest.raises(spans_q.HoneycombQueryError) as refused:
        spans_q.query(DATASET, time_range=600)
    assert refused.value.status == 403


def test_the_plan_must_be_one_honeycomb_has(monkeypatch):
    monkeypatch.setenv("LAB_HONEYCOMB_PLAN", "platinum")
    with pytest.raises(ValueError, match="free or enterprise"):
        plan_from_env()
    monkeypatch.delenv("LAB_HONEYCOMB_PLAN")
    assert plan_from_env() == "enterprise"


def test_eleventh_query_result_in_a_minute_is_429_without_retry_after(cloud):
    assert export_spans(cloud, INGEST_KEY, 1) is SpanExportResult.SUCCESS
    query_ids = [create(cloud, {"calculations": [{"op": "COUNT"}], "time_range": 600}) for _ in range(12)]
    started = time.monotonic()
    for query_id in query_ids[:10]:                      # creating queries does not count; results do
        reply = api(cloud, "POST", f"/1/query_results/{DATASET}", {"query_id": query_id})
        assert reply.status_code == 201, reply.text
    eleventh = api(cloud, "POST", f"/1/query_results/{DATASET}", {"query_id": query_ids[10]})
    assert time.monotonic() - started < 60
    assert_problem(eleventh, 429, "rate-limited", "rate limit")
    assert "Retry-After" not in eleventh.headers
    assert api(cloud, "GET", f"/1/queries/{DATASET}/{query_ids[11]}").status_code == 200   # other calls still work


def test_query_results_cover_only_the_last_seven_days(cloud):
    assert export_spans(cloud, INGEST_KEY, 1) is SpanExportResult.SUCCESS
    now = int(time.time())
    eight_days = create(cloud, {"calculations": [{"op": "COUNT"}], "start_time": now - 8 * DAY,
                                "end_time": now - 8 * DAY + 3600})
    assert_problem(api(cloud, "POST", f"/1/query_results/{DATASET}", {"query_id": eight_days}),
                   400, "validation-failed", "within the past 7 days")
    six_days = create(cloud, {"calculations": [{"op": "COUNT"}], "start_time": now - 6 * DAY,
                              "end_time": now - 6 * DAY + 3600})
    assert api(cloud, "POST", f"/1/query_results/{DATASET}", {"query_id": six_days}).status_code == 201


def test_query_template_link_carries_the_spec():
    spec = {"calculations": [{"op": "P99", "column": "duration_ms"}], "breakdowns": ["http.route"],
            "time_range": 600}
    who = {"team": {"slug": "my-team"}, "environment": {"slug": "test env"}}
    url = urllib.parse.urlsplit(spans_q.query_template_url("backend-flask", spec, who,
                                                           ui_base="https://ui.honeycomb.io"))
    assert (url.scheme, url.netloc) == ("https", "ui.honeycomb.io")
    assert url.path == "/my-team/environments/test%20env/datasets/backend-flask"
    assert json.loads(urllib.parse.parse_qs(url.query)["query"][0]) == spec
    classic = spans_q.query_template_url("d", spec, {"team": {"slug": "t"}, "environment": {"slug": ""}}, "https://x")
    assert urllib.parse.urlsplit(classic).path == "/t/datasets/d"


# --- Rollbar: token scopes --------------------------------------------------------------------------
def test_post_token_posts_but_cannot_read(cloud):
    endpoint = cloud.aws_url + "/api/1/"
    post_token = config.LOCAL_ROLLBAR_POST_TOKEN
    rollbar.init(post_token, "free-account", endpoint=endpoint, handler="blocking", allow_logging_basic_config=False)
    rollbar.SETTINGS.update({"access_token": post_token, "environment": "free-account", "endpoint": endpoint,
                             "handler": "blocking"})
    rollbar.report_message("posted with the post_server_item token", "warning")
    refused = requests.get(endpoint + "items", headers={"X-Rollbar-Access-Token": post_token}, timeout=10)
    assert refused.status_code == 403
    assert refused.json() == {"err": 1, "message": "insufficient privileges: read scope is required but the "
                                                   "access token only has post_server_item."}
    read = requests.get(endpoint + "items", headers={"X-Rollbar-Access-Token": config.LOCAL_ROLLBAR_READ_TOKEN},
                        params={"environment": "free-account"}, timeout=10)
    assert read.status_code == 200
    assert [i["title"] for i in read.json()["result"]["items"]] == ["posted with the post_server_item token"]
    assert list(rollbar_q.items(environment="free-account")["title"]) == ["posted with the post_server_item token"]


def test_read_token_cannot_post(cloud):
    reply = requests.post(cloud.aws_url + "/api/1/item/", timeout=10,
                          headers={"X-Rollbar-Access-Token": config.LOCAL_ROLLBAR_READ_TOKEN},
                          json={"data": {"environment": "x", "body": {"message": {"body": "hi"}}}})
    assert reply.status_code == 403
    assert reply.json()["message"] == ("insufficient privileges: post_server_item scope is required but the access "
                                       "token only has read.")
    assert requests.get(cloud.aws_url + "/api/1/items", timeout=10,
                        headers={"X-Rollbar-Access-Token": config.LOCAL_ROLLBAR_READ_TOKEN}
                        ).json()["result"]["total_count"] == 0


# --- local mode sets both keys and both tokens, masked and redacted -------------------------------------
def test_local_env_sends_with_the_ingest_key_and_reads_with_the_others(monkeypatch):
    env = config.local_env(4566, 4318, 2000)
    assert env["OTEL_EXPORTER_OTLP_HEADERS"] == f"x-honeycomb-team={INGEST_KEY}"
    assert env["HONEYCOMB_CONFIG_KEY"] == CONFIG_KEY
    assert (env["ROLLBAR_ACCESS_TOKEN"], env["ROLLBAR_READ_TOKEN"]) == (config.LOCAL_ROLLBAR_POST_TOKEN,
                                                                       config.LOCAL_ROLLBAR_READ_TOKEN)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    masked = config.settings().masked()
    assert CONFIG_KEY not in masked["HONEYCOMB_CONFIG_KEY"]
    assert config.LOCAL_ROLLBAR_READ_TOKEN not in masked["ROLLBAR_READ_TOKEN"]
    from lab_app.instrument.redact import Redactor

    text = Redactor.from_environment().text(f"read {config.LOCAL_ROLLBAR_READ_TOKEN} query {CONFIG_KEY}")
    assert config.LOCAL_ROLLBAR_READ_TOKEN not in text and CONFIG_KEY not in text
