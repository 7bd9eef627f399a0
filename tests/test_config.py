"""Mode detection, endpoints and secret masking: the one place that knows about modes."""
from __future__ import annotations

import pytest

from lab_app import config


def test_mask_never_shows_a_usable_secret():
    secret = "abcd" + "S3cr3tValueThatIsLong"
    shown = config.mask(secret)
    assert secret not in shown and shown.startswith("abcd") and str(len(secret)) in shown
    assert config.mask("short") == "****" and config.mask("") == "(not set)"


def test_mode_defaults_to_local_and_rejects_nonsense(monkeypatch):
    monkeypatch.delenv("LAB_MODE", raising=False)
    assert config.mode() == "local"
    monkeypatch.setenv("LAB_MODE", "aws")
    assert config.mode() == "cloud"
    monkeypatch.setenv("LAB_MODE", "staging")
    with pytest.raises(ValueError, match="LAB_MODE=local"):
        config.mode()


def test_local_env_points_every_client_at_the_gateway():
    env = config.local_env(1111, 2222, 3333)
    assert env["AWS_ENDPOINT_URL"] == env["AWS_ENDPOINT_URL_XRAY"] == env["AWS_ENDPOINT_URL_CLOUDWATCH_LOGS"] \
        == "http://127.0.0.1:1111"
    assert "AWS_ENDPOINT_URL_LOGS" not in env  # botocore ignores it (FACTS.md)
    assert env["AWS_XRAY_DAEMON_ADDRESS"] == "127.0.0.1:3333"
    assert env["OTEL_EXPORTER_OTLP_ENDPOINT"] == "http://127.0.0.1:2222"
    assert env["OTEL_EXPORTER_OTLP_HEADERS"].startswith("x-honeycomb-team=")
    assert env["ROLLBAR_ENDPOINT"].endswith("/api/1/")


def test_settings_mask_secrets_and_list_what_cloud_mode_misses(monkeypatch):
    monkeypatch.setenv("LAB_MODE", "aws")
    monkeypatch.setenv("HONEYCOMB_API_KEY", "hcaik_" + "x" * 30)
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "ROLLBAR_ACCESS_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    s = config.settings()
    assert "x" * 30 not in str(s.masked())
    missing = s.missing()
    assert any(m.startswith("ROLLBAR_ACCESS_TOKEN is not set") for m in missing)
    assert not any("HONEYCOMB" in m for m in missing)


def test_bad_port_variable_says_what_to_do(monkeypatch):
    monkeypatch.setenv("LAB_AWS_PORT", "forty")
    with pytest.raises(ValueError, match="LAB_AWS_PORT"):
        config.aws_port()
