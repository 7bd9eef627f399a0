"""The doctor: all ok on a healthy stack, and the right fix for each way the seed lost its data.

Probes run against an in-process local cloud (the ``module_cloud`` fixture). Cloud-mode cases need no internet:
either they fail at the config step (environment variables only), or the cloud-mode code paths are pointed at the
local cloud's endpoints, which speak the real services' protocols.
"""
from __future__ import annotations

import os
import re
import subprocess
import sys

import boto3
import pytest

from lab_app import config, doctor
from lab_app.query import rollbar as rollbar_q
from lab_app.query import spans as spans_q
from lab_app.runner import free_port
from tests.conftest import free_udp_tcp_port

# Every variable the doctor reads, cleared before a cloud-mode case sets its own.
READ = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_DEFAULT_REGION", "AWS_REGION",
        "AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_XRAY", "AWS_ENDPOINT_URL_CLOUDWATCH_LOGS",
        "AWS_ENDPOINT_URL_LOGS", "AWS_ENDPOINT_URL_EVENTBRIDGE", "AWS_XRAY_DAEMON_ADDRESS", "AWS_XRAY_SDK_ENABLED",
        "OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_HEADERS",
        "OTEL_EXPORTER_OTLP_TRACES_HEADERS", "OTEL_SDK_DISABLED", "HONEYCOMB_API_KEY", "HONEYCOMB_API_ENDPOINT",
        "ROLLBAR_ACCESS_TOKEN", "ROLLBAR_READ_TOKEN", "ROLLBAR_ENDPOINT", "ROLLBAR_API_ENDPOINT")
DUMMY_AWS = {"AWS_ACCESS_KEY_ID": config.LOCAL_AWS_ACCESS_KEY_ID, "AWS_SECRET_ACCESS_KEY": config.LOCAL_AWS_SECRET_ACCESS_KEY,
             "AWS_DEFAULT_REGION": "us-east-1"}
A_KEY = "hcaik_01doctortestkeyvalue0123456789"  # pragma: allowlist secret
TEMPORARY_KEY_ID = "ASIA" + config.LOCAL_AWS_ACCESS_KEY_ID[4:]      # the documented example key, temporary kind
A_TOKEN = "0123456789abcdef" * 2                                   # shaped like a Rollbar project token


def cloud_mode(monkeypatch, tmp_path, **values):
    """LAB_MODE=aws with only ``values`` set (no ~/.aws files, no instance metadata lookups)."""
    for name in READ:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("LAB_MODE", "aws")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    for name, value in values.items():
        monkeypatch.setenv(name, value)


def cloud_mode_at(cloud, monkeypatch, tmp_path, **values):
    """Cloud mode, every endpoint pointed at the local cloud: the cloud code paths, without internet."""
    env = cloud.env()
    cloud_mode(monkeypatch, tmp_path, **{
        **DUMMY_AWS, "AWS_ENDPOINT_URL": env["AWS_ENDPOINT_URL"],
        "AWS_ENDPOINT_URL_CLOUDWATCH_LOGS": env["AWS_ENDPOINT_URL_CLOUDWATCH_LOGS"],
        "AWS_XRAY_DAEMON_ADDRESS": env["AWS_XRAY_DAEMON_ADDRESS"],
        "OTEL_EXPORTER_OTLP_ENDPOINT": env["OTEL_EXPORTER_OTLP_ENDPOINT"],
        "OTEL_EXPORTER_OTLP_HEADERS": env["OTEL_EXPORTER_OTLP_HEADERS"],
        "HONEYCOMB_API_KEY": env["HONEYCOMB_API_KEY"], "HONEYCOMB_API_ENDPOINT": env["HONEYCOMB_API_ENDPOINT"],
        "ROLLBAR_ACCESS_TOKEN": env["ROLLBAR_ACCESS_TOKEN"], "ROLLBAR_ENDPOINT": env["ROLLBAR_ENDPOINT"],
        "ROLLBAR_API_ENDPOINT": env["ROLLBAR_API_ENDPOINT"], **values})


def by_step(report) -> dict[tuple[str, str], doctor.Check]:
    return {(c.pillar, c.check): c for c in report}


def run_main(capsys, *args) -> tuple[int, str]:
    code = doctor.main(list(args))
    return code, capsys.readouterr().out


@pytest.fixture
def local(module_cloud, monkeypatch):
    """Local mode against the module's local cloud (its environment, as setup() leaves it)."""
    for key, value in module_cloud.env().items():
        monkeypatch.setenv(key, value)
    for name in ("AWS_ENDPOINT_URL_LOGS", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_HEADERS",
                 "AWS_PROFILE", "OTEL_SDK_DISABLED", "AWS_XRAY_SDK_ENABLED"):
        monkeypatch.delenv(name, raising=False)
    return module_cloud


# --- a healthy stack ----------------------------------------------------------------------------
def test_healthy_local_stack_every_check_ok_and_the_probes_are_stored(local, capsys):
    code, out = run_main(capsys)
    lines = out.strip().splitlines()
    assert code == 0, out
    assert len(lines) == 1 + 4 * 4 + 1, out       # the local cloud, four steps per pillar, the summary
    assert all(line.startswith("ok  ") for line in lines[:-1]), out
    seconds = re.fullmatch(r"17 checks in local mode, all ok \((\d+\.\d) s\)", lines[-1])
    assert seconds and float(seconds.group(1)) < 10, lines[-1]         # the budget, in process
    assert all(pillar in out for pillar in doctor.PILLARS)
    assert "read back" in out and "fix:" not in out
    assert config.LOCAL_HONEYCOMB_KEY not in out and config.LOCAL_ROLLBAR_TOKEN not in out   # masked

    # what each probe sent is really there, read with the workbook's own readers
    trace_id = re.search(r"span ([0-9a-f]{32}) accepted", out).group(1)
    assert trace_id in set(spans_q.local_spans(dataset=doctor.SERVICE)["trace_id"])
    xray_trace = re.search(r"of trace (1-[0-9a-f]{8}-[0-9a-f]{24})", out).group(1)
    traces = boto3.client("xray").batch_get_traces(TraceIds=[xray_trace])["Traces"]
    assert [t["Id"] for t in traces] == [xray_trace]
    events = boto3.client("logs").get_log_events(logGroupName=doctor.LOG_GROUP, logStreamName=doctor.LOG_STREAM)
    assert events["events"] and '"doctor": "probe"' in events["events"][-1]["message"]
    groups = boto3.client("logs").describe_log_groups(logGroupNamePrefix=doctor.LOG_GROUP)["logGroups"]
    assert groups[0]["retentionInDays"] == 1
    occurrence = re.search(r"occurrence ([0-9a-f-]{36})", out).group(1)
    items = rollbar_q.items(environment=doctor.ROLLBAR_ENVIRONMENT)
    assert list(items["title"]) == [doctor.ROLLBAR_TITLE]
    assert occurrence in set(rollbar_q.occurrences(items["id"].iloc[0])["uuid"])


def test_a_second_run_reuses_the_log_group_and_the_rollbar_item(local):
    first, second = doctor.run(), doctor.run()
    assert first.ok and second.ok, second.failed
    assert len(rollbar_q.items(environment=doctor.ROLLBAR_ENVIRONMENT)) == 1       # one item, more occurrences
    logs = boto3.client("logs")
    assert [g["logGroupName"] for g in logs.describe_log_groups(logGroupNamePrefix=doctor.LOG_GROUP)["logGroups"]] \
        == [doctor.LOG_GROUP]


def test_python_m_lab_app_doctor_exits_0_and_prints_its_time(local):
    answer = subprocess.run([sys.executable, "-m", "lab_app.doctor"], capture_output=True, text=True, timeout=120,
                            env=dict(os.environ), cwd=config.REPO_ROOT)
    assert answer.returncode == 0, answer.stdout + answer.stderr
    assert re.search(r"all ok \(\d+\.\d s\)$", answer.stdout.strip()), answer.stdout


def test_frame_and_html_show_every_check(local):
    report = doctor.run(pillars=["Rollbar"])
    table = doctor.frame(report)
    assert list(table.columns) == ["pillar", "check", "status", "ok", "detail", "fix"]
    assert str(table["ok"].dtype) == "bool" and table["ok"].all()
    assert list(table["check"]) == ["running", *doctor.STEPS]
    html = report._repr_html_()
    assert html.count("<tr>") == 1 + len(report) and "all ok" in html


def test_healthy_cloud_mode_reads_back_through_the_real_apis(module_cloud, monkeypatch, tmp_path):
    cloud_mode_at(module_cloud, monkeypatch, tmp_path, ROLLBAR_READ_TOKEN=config.LOCAL_ROLLBAR_TOKEN)
    report = doctor.run()
    checks = by_step(report)
    assert report.ok, [(c.pillar, c.check, c.detail) for c in report.failed]
    assert report[0].pillar == "mode" and report.mode == "cloud"
    assert checks["Honeycomb", "probe"].detail.endswith("read back with the Query Data API")
    assert "read with ROLLBAR_READ_TOKEN" in checks["Rollbar", "config"].detail
    assert checks["Rollbar", "probe"].detail.startswith("item accepted") and "read back" in checks["Rollbar",
                                                                                                    "probe"].detail


def test_cloud_mode_without_a_read_token_says_the_item_was_accepted_and_how_to_verify(module_cloud, monkeypatch,
                                                                                       tmp_path):
    cloud_mode_at(module_cloud, monkeypatch, tmp_path)
    report = doctor.run(pillars=["Rollbar"])
    probe = by_step(report)["Rollbar", "probe"]
    assert report.ok and probe.ok
    assert "item accepted" in probe.detail and "not read back: export ROLLBAR_READ_TOKEN=" in probe.detail


def test_cloud_mode_with_a_key_that_may_not_query_links_the_trace_in_the_ui(module_cloud, monkeypatch, tmp_path):
    cloud_mode_at(module_cloud, monkeypatch, tmp_path)
    honeycomb = doctor.Honeycomb(doctor._Context("cloud"))
    assert all(c.ok for c in honeycomb.run())
    honeycomb.can_query = False
    detail = honeycomb.probe()
    assert "not read back: set HONEYCOMB_API_KEY to a configuration key with 'Run Queries'" in detail
    assert re.search(r"/local-cloud/environments/local/datasets/doctor/trace\?trace_id=[0-9a-f]{32}", detail), detail


# --- the local cloud is down ----------------------------------------------------------------------
def test_local_cloud_down_first_line_says_start_it_and_the_rest_are_skipped(monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("LAB_MODE", "local")
    monkeypatch.setenv("LAB_AWS_PORT", str(free_port()))
    code, out = run_main(capsys)
    lines = out.strip().splitlines()
    assert code == 1
    assert lines[0].startswith("FAIL  local cloud") and "python -m lab_app.localcloud start" in lines[1], out
    assert lines[1].strip().startswith("fix: python -m lab_app.localcloud start")
    skipped = lines[2:-1]
    assert len(skipped) == 16 and all(line.startswith("skip") and line.endswith("skipped: the local cloud is not "
                                                                               "running") for line in skipped), out


# --- Honeycomb: the header and the endpoint -------------------------------------------------------
@pytest.mark.parametrize("headers, seen", [
    (f"x-honeycomb-api-key={A_KEY}", "names x-honeycomb-api-key, not x-honeycomb-team"),
    (f"X-Honeycomb-Team: {A_KEY}", "written with a colon"),
    (f"x-honeycomb-team:{A_KEY}", "written with a colon"),
    ("x-honeycomb-team=", "x-honeycomb-team with no key"),
    (f"x-honeycomb-dataset=cruddur,honeycomb-team={A_KEY}", "names honeycomb-team, x-honeycomb-dataset"),
], ids=["api-key-name", "colon-with-space", "colon", "empty", "other-names"])
def test_wrong_honeycomb_header_names_the_right_one(monkeypatch, tmp_path, capsys, headers, seen):
    cloud_mode(monkeypatch, tmp_path, OTEL_EXPORTER_OTLP_ENDPOINT="https://api.honeycomb.io",
               OTEL_EXPORTER_OTLP_HEADERS=headers)
    code, out = run_main(capsys, "--pillar", "Honeycomb")
    checks = by_step(doctor.run(pillars=["Honeycomb"]))
    assert code == 1
    assert not checks["Honeycomb", "config"].ok and seen in checks["Honeycomb", "config"].detail
    assert "fix: header must be x-honeycomb-team=<key>" in out
    assert all(checks["Honeycomb", step].skipped for step in ("reachable", "key", "probe"))
    assert A_KEY not in out


def test_traces_headers_replace_the_general_ones(monkeypatch, tmp_path):
    cloud_mode(monkeypatch, tmp_path, OTEL_EXPORTER_OTLP_ENDPOINT="https://api.honeycomb.io",
               OTEL_EXPORTER_OTLP_HEADERS=f"x-honeycomb-team={A_KEY}",
               OTEL_EXPORTER_OTLP_TRACES_HEADERS="x-honeycomb-dataset=cruddur")
    check = by_step(doctor.run(pillars=["Honeycomb"]))["Honeycomb", "config"]
    assert "replaces OTEL_EXPORTER_OTLP_HEADERS (they are not merged)" in check.detail
    assert check.fix.startswith("header must be x-honeycomb-team=<key>")


def test_headers_unset_but_honeycomb_api_key_set(monkeypatch, tmp_path):
    cloud_mode(monkeypatch, tmp_path, OTEL_EXPORTER_OTLP_ENDPOINT="https://api.honeycomb.io", HONEYCOMB_API_KEY=A_KEY)
    check = by_step(doctor.run(pillars=["Honeycomb"]))["Honeycomb", "config"]
    assert "the exporter does not read HONEYCOMB_API_KEY" in check.detail
    assert check.fix.startswith("export OTEL_EXPORTER_OTLP_HEADERS=x-honeycomb-team=<your ingest key>")


@pytest.mark.parametrize("endpoint", ["https://api.honeycomb.io/v1/traces", "https://api.honeycomb.io/v1/traces/"])
def test_endpoint_with_v1_traces_is_told_the_sdk_appends_it(monkeypatch, tmp_path, capsys, endpoint):
    cloud_mode(monkeypatch, tmp_path, OTEL_EXPORTER_OTLP_ENDPOINT=endpoint,
               OTEL_EXPORTER_OTLP_HEADERS=f"x-honeycomb-team={A_KEY}")
    code, out = run_main(capsys, "--pillar", "Honeycomb")
    assert code == 1
    assert "spans are POSTed to https://api.honeycomb.io/v1/traces/v1/traces" in out
    assert "fix: the SDK appends /v1/traces: drop it (OTEL_EXPORTER_OTLP_ENDPOINT=https://api.honeycomb.io)" in out


@pytest.mark.parametrize("values, seen, fix", [
    ({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "https://api.honeycomb.io"}, "is used as-is", "end it with /v1/traces"),
    ({}, "OTEL_EXPORTER_OTLP_ENDPOINT is not set, so the SDK sends spans to http://localhost:4318/v1/traces",
     "export OTEL_EXPORTER_OTLP_ENDPOINT=https://api.honeycomb.io"),
    ({"OTEL_EXPORTER_OTLP_ENDPOINT": "api.honeycomb.io"}, "is not an http(s) URL", "write the whole URL"),
    ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://localhost:4317"}, "port 4317, which is OTLP/gRPC", "use port 4318"),
    ({"OTEL_EXPORTER_OTLP_ENDPOINT": "https://api.honeycomb.io", "OTEL_SDK_DISABLED": "true"},
     "OTEL_SDK_DISABLED=true", "unset OTEL_SDK_DISABLED"),
], ids=["traces-endpoint-as-is", "unset-in-cloud-mode", "no-scheme", "grpc-port", "sdk-disabled"])
def test_other_endpoint_mistakes(monkeypatch, tmp_path, values, seen, fix):
    cloud_mode(monkeypatch, tmp_path, OTEL_EXPORTER_OTLP_HEADERS=f"x-honeycomb-team={A_KEY}", **values)
    check = by_step(doctor.run(pillars=["Honeycomb"]))["Honeycomb", "config"]
    assert not check.ok and seen in check.detail and fix in check.fix, check


def test_a_key_honeycomb_does_not_know_fails_the_key_check(module_cloud, monkeypatch, tmp_path, capsys):
    cloud_mode_at(module_cloud, monkeypatch, tmp_path, OTEL_EXPORTER_OTLP_HEADERS=f"x-honeycomb-team={A_KEY}")
    code, out = run_main(capsys, "--pillar", "Honeycomb")
    checks = by_step(doctor.run(pillars=["Honeycomb"]))
    assert code == 1 and checks["Honeycomb", "reachable"].ok and not checks["Honeycomb", "key"].ok
    assert "does not accept the key" in checks["Honeycomb", "key"].detail and "(401" in checks["Honeycomb", "key"].detail
    assert "a key works only in its own region" in checks["Honeycomb", "key"].fix
    assert checks["Honeycomb", "probe"].skipped and A_KEY not in out


def test_local_mode_traces_headers_that_replace_the_local_key(local, monkeypatch):
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_TRACES_HEADERS", f"x-honeycomb-team={A_KEY}")
    check = by_step(doctor.run(pillars=["Honeycomb"]))["Honeycomb", "key"]
    assert not check.ok and "unset OTEL_EXPORTER_OTLP_TRACES_HEADERS" in check.fix


def test_nothing_listening_on_the_otlp_endpoint(module_cloud, monkeypatch, tmp_path):
    cloud_mode_at(module_cloud, monkeypatch, tmp_path, OTEL_EXPORTER_OTLP_ENDPOINT=f"http://127.0.0.1:{free_port()}")
    check = by_step(doctor.run(pillars=["Honeycomb"]))["Honeycomb", "reachable"]
    assert not check.ok and "nothing answers on 127.0.0.1:" in check.detail
    assert "check OTEL_EXPORTER_OTLP_ENDPOINT" in check.fix


# --- AWS: region, credentials, the daemon, the logs endpoint ---------------------------------------
def test_region_unset_names_the_variable_for_xray_and_logs(monkeypatch, tmp_path, capsys):
    cloud_mode(monkeypatch, tmp_path, AWS_ACCESS_KEY_ID=DUMMY_AWS["AWS_ACCESS_KEY_ID"],
               AWS_SECRET_ACCESS_KEY=DUMMY_AWS["AWS_SECRET_ACCESS_KEY"])
    code, out = run_main(capsys, "--pillar", "X-Ray", "--pillar", "CloudWatch Logs")
    checks = by_step(doctor.run(pillars=["X-Ray", "CloudWatch Logs"]))
    assert code == 1
    for pillar in ("X-Ray", "CloudWatch Logs"):
        assert "no AWS region: AWS_DEFAULT_REGION is not set" in checks[pillar, "config"].detail
        assert checks[pillar, "config"].fix.startswith("export AWS_DEFAULT_REGION=us-east-1")
        assert checks[pillar, "probe"].skipped
    assert out.count("fix: export AWS_DEFAULT_REGION=us-east-1") == 2


def test_aws_region_alone_is_not_read_by_boto3(monkeypatch, tmp_path):
    cloud_mode(monkeypatch, tmp_path, AWS_ACCESS_KEY_ID=DUMMY_AWS["AWS_ACCESS_KEY_ID"],
               AWS_SECRET_ACCESS_KEY=DUMMY_AWS["AWS_SECRET_ACCESS_KEY"], AWS_REGION="eu-west-1")
    check = by_step(doctor.run(pillars=["X-Ray"]))["X-Ray", "config"]
    assert "boto3 reads AWS_DEFAULT_REGION" in check.detail and check.fix == "export AWS_DEFAULT_REGION=eu-west-1"


@pytest.mark.parametrize("values, seen, fix", [
    ({}, "no AWS credentials", "export AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"),
    ({"AWS_ACCESS_KEY_ID": config.LOCAL_AWS_ACCESS_KEY_ID}, "missing: AWS_SECRET_ACCESS_KEY", "set both AWS_ACCESS_KEY_ID"),
    ({"AWS_ACCESS_KEY_ID": TEMPORARY_KEY_ID, "AWS_SECRET_ACCESS_KEY": "x"}, "AWS_SESSION_TOKEN is not set",
     "export AWS_SESSION_TOKEN"),
    ({"AWS_PROFILE": "nosuchprofile"}, "AWS_PROFILE=nosuchprofile is not a profile", "aws configure --profile"),
], ids=["none", "partial", "temporary-without-token", "unknown-profile"])
def test_credential_mistakes(monkeypatch, tmp_path, values, seen, fix):
    cloud_mode(monkeypatch, tmp_path, AWS_DEFAULT_REGION="us-east-1", **values)
    check = by_step(doctor.run(pillars=["CloudWatch Logs"]))["CloudWatch Logs", "config"]
    assert not check.ok and seen in check.detail and fix in check.fix, check


def test_daemon_not_running_says_how_to_start_one(monkeypatch, tmp_path, capsys):
    port = free_udp_tcp_port()
    cloud_mode(monkeypatch, tmp_path, **DUMMY_AWS, AWS_XRAY_DAEMON_ADDRESS=f"127.0.0.1:{port}")
    code, out = run_main(capsys, "--pillar", "X-Ray")
    checks = by_step(doctor.run(pillars=["X-Ray"]))
    assert code == 1 and checks["X-Ray", "config"].ok
    reachable = checks["X-Ray", "reachable"]
    assert f"nothing answers on 127.0.0.1:{port} (TCP): the X-Ray daemon is not running" in reachable.detail
    assert "python -m lab_app.localcloud.xray.daemon --forward --region us-east-1" in reachable.fix
    assert "amazon/aws-xray-daemon" in reachable.fix and "fix: start an X-Ray daemon" in out


def test_daemon_address_with_a_scheme_is_refused(monkeypatch, tmp_path):
    cloud_mode(monkeypatch, tmp_path, **DUMMY_AWS, AWS_XRAY_DAEMON_ADDRESS="http://127.0.0.1:2000")
    check = by_step(doctor.run(pillars=["X-Ray"]))["X-Ray", "config"]
    assert not check.ok and "without http://" in check.fix


def test_xray_sdk_disabled(monkeypatch, tmp_path):
    cloud_mode(monkeypatch, tmp_path, **DUMMY_AWS, AWS_XRAY_SDK_ENABLED="false")
    check = by_step(doctor.run(pillars=["X-Ray"]))["X-Ray", "config"]
    assert not check.ok and check.fix == "unset AWS_XRAY_SDK_ENABLED"


def test_logs_endpoint_in_the_ignored_variable(monkeypatch, tmp_path, capsys):
    cloud_mode(monkeypatch, tmp_path, **DUMMY_AWS, AWS_ENDPOINT_URL_LOGS="http://127.0.0.1:4566")
    code, out = run_main(capsys, "--pillar", "CloudWatch Logs")
    check = by_step(doctor.run(pillars=["CloudWatch Logs"]))["CloudWatch Logs", "config"]
    assert code == 1
    assert "AWS_ENDPOINT_URL_LOGS=http://127.0.0.1:4566 is set, but the logs client goes to " \
           "https://logs.us-east-1.amazonaws.com" in check.detail
    assert "fix: botocore reads AWS_ENDPOINT_URL_CLOUDWATCH_LOGS" in out


def test_logs_endpoint_in_the_ignored_variable_in_local_mode(local, monkeypatch):
    monkeypatch.setenv("AWS_ENDPOINT_URL_LOGS", "http://127.0.0.1:9")
    report = doctor.run(pillars=["CloudWatch Logs"])
    check = by_step(report)["CloudWatch Logs", "config"]
    assert not report.ok and check.fix.startswith("botocore reads AWS_ENDPOINT_URL_CLOUDWATCH_LOGS")
    monkeypatch.setenv("AWS_ENDPOINT_URL_LOGS", local.aws_url)     # the same endpoint as the right variable: harmless
    assert doctor.run(pillars=["CloudWatch Logs"]).ok


# --- Rollbar ------------------------------------------------------------------------------------
@pytest.mark.parametrize("values, seen, fix", [
    ({"ROLLBAR_ACCESS_TOKEN": ""}, "ROLLBAR_ACCESS_TOKEN is not set", "the post_server_item token"),
    ({"ROLLBAR_ENDPOINT": "https://api.rollbar.com/api/1"}, "does not end with /", "ROLLBAR_ENDPOINT=https://api."
                                                                                   "rollbar.com/api/1/"),
    ({"ROLLBAR_ENDPOINT": "https://api.rollbar.com/api/1/item/"}, "pyrollbar appends item/ itself", "drop item/"),
], ids=["token-unset", "no-trailing-slash", "item-path"])
def test_rollbar_config_mistakes(monkeypatch, tmp_path, values, seen, fix):
    cloud_mode(monkeypatch, tmp_path, **{"ROLLBAR_ACCESS_TOKEN": A_TOKEN, **values})
    check = by_step(doctor.run(pillars=["Rollbar"]))["Rollbar", "config"]
    assert not check.ok and seen in check.detail and fix in check.fix, check


def test_rollbar_token_refused_by_the_post(module_cloud, monkeypatch, tmp_path):
    cloud_mode_at(module_cloud, monkeypatch, tmp_path, ROLLBAR_ACCESS_TOKEN="not-this-projects-token")
    check = by_step(doctor.run(pillars=["Rollbar"]))["Rollbar", "probe"]
    assert not check.ok and "Rollbar refuses ROLLBAR_ACCESS_TOKEN" in check.detail
    assert "copy the post_server_item token" in check.fix and "not-this-projects-token" not in check.detail


def test_local_mode_with_a_cloud_read_token_left_in_the_environment(local, monkeypatch):
    # local mode sets its own read token (config.local_env), as setup() does: the cloud one is not sent to
    # the local cloud, and it is back in the environment after the run
    monkeypatch.setenv("ROLLBAR_READ_TOKEN", A_TOKEN)
    check = by_step(doctor.run(pillars=["Rollbar"]))["Rollbar", "key"]
    assert check.ok and check.detail == "ROLLBAR_READ_TOKEN may read items"
    assert os.environ["ROLLBAR_READ_TOKEN"] == A_TOKEN


# --- the run itself -------------------------------------------------------------------------------
def test_an_unknown_mode_is_one_failing_check(monkeypatch, capsys):
    monkeypatch.setenv("LAB_MODE", "staging")
    code, out = run_main(capsys)
    assert code == 1 and out.startswith("FAIL  mode") and "LAB_MODE='staging' is not understood" in out


def test_the_environment_is_restored_after_a_local_run(local, monkeypatch):
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://example.invalid:4318")
    report = doctor.run(pillars=["Honeycomb"])
    assert report.ok                                               # checked with what setup() would set
    assert os.environ["OTEL_EXPORTER_OTLP_ENDPOINT"] == "http://example.invalid:4318"
