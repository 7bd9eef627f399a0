"""The one place that knows about modes, ports, endpoints and secrets.

Local mode (the default) points every client at the bundled local cloud; cloud mode leaves the real
endpoints alone and reads real credentials from the environment (or an ignored ``.env`` file).
Nothing else in the workbook branches on the mode.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
# The seed data shipped with the workbook (users, activities, pricing, sample rule files): read-only.
SEED_DATA_DIR = REPO_ROOT / "data"

# Ports of the local cloud (DESIGN.md, "public contract"); each overridable by the variable beside it.
DEFAULT_AWS_PORT = 4566
DEFAULT_OTLP_PORT = 4318
DEFAULT_DAEMON_PORT = 2000
# The Cruddur services (the bootcamp's backend listened on 4567).
DEFAULT_BACKEND_PORT = 4567
DEFAULT_DOWNSTREAM_PORT = 4568
HOST = "127.0.0.1"

# Dummy values the local cloud accepts. They are not secrets: they are the documented placeholders.
LOCAL_AWS_ACCESS_KEY_ID = "AKIAIOSFODNN7EXAMPLE"
LOCAL_AWS_SECRET_ACCESS_KEY = "local-cloud-dummy-secret"  # pragma: allowlist secret
# Honeycomb: a configuration key with every permission (queries included) and an ingest key (events only),
# as a real environment has; the exporter sends with the ingest key, lab_app.query.spans queries with the other.
LOCAL_HONEYCOMB_KEY = "local-honeycomb-key"  # pragma: allowlist secret
LOCAL_HONEYCOMB_INGEST_KEY = "local-honeycomb-ingest-key"  # pragma: allowlist secret
# Rollbar project tokens by scope: one with post_server_item and read, one post_server_item only (what the
# services send with, like the bootcamp's), one read only (what lab_app.query.rollbar reads with).
LOCAL_ROLLBAR_TOKEN = "local-rollbar-token"  # pragma: allowlist secret
LOCAL_ROLLBAR_POST_TOKEN = "local-rollbar-post-token"  # pragma: allowlist secret
LOCAL_ROLLBAR_READ_TOKEN = "local-rollbar-read-token"  # pragma: allowlist secret
REGION = "us-east-1"
# The account the local cloud serves: moto's default, the one boto3 with dummy credentials talks to.
ACCOUNT_ID = "123456789012"

SECRET_NAMES = (
    "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_ACCESS_KEY_ID", "HONEYCOMB_API_KEY", "HONEYCOMB_CONFIG_KEY",
    "ROLLBAR_ACCESS_TOKEN", "ROLLBAR_READ_TOKEN", "OTEL_EXPORTER_OTLP_HEADERS", "OTEL_EXPORTER_OTLP_TRACES_HEADERS",
)


def load_dotenv_file() -> None:
    """Read an ignored ``.env`` at the repository root, never overriding what is already set."""
    env_file = REPO_ROOT / ".env"
    if env_file.exists():
        from dotenv import load_dotenv

        load_dotenv(env_file, override=False)


def _int_env(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw in (None, ""):
        return default
    try:
        return int(raw)
    except ValueError:
        raise ValueError(f"{name}={raw!r} is not a port number: unset it or give an integer such as {default}") from None


def state_dir() -> Path:
    """Where the local cloud keeps its state (the DuckDB store, its log, its pid): LAB_DATA_DIR or ``.lab/``."""
    return Path(os.environ.get("LAB_DATA_DIR") or (REPO_ROOT / ".lab")).resolve()


def aws_port() -> int:
    return _int_env("LAB_AWS_PORT", DEFAULT_AWS_PORT)


def otlp_port() -> int:
    return _int_env("LAB_OTLP_PORT", DEFAULT_OTLP_PORT)


def daemon_port() -> int:
    return _int_env("LAB_XRAY_DAEMON_PORT", DEFAULT_DAEMON_PORT)


def backend_port() -> int:
    return _int_env("LAB_BACKEND_PORT", DEFAULT_BACKEND_PORT)


def downstream_port() -> int:
    return _int_env("LAB_DOWNSTREAM_PORT", DEFAULT_DOWNSTREAM_PORT)


def local_env(aws_port: int, otlp_port: int, daemon_port: int, host: str = HOST) -> dict[str, str]:
    """The environment local mode sets: every client pointed at the local cloud (DESIGN.md)."""
    aws = f"http://{host}:{aws_port}"
    return {
        "LAB_MODE": "local",
        "LAB_AWS_PORT": str(aws_port),
        "LAB_OTLP_PORT": str(otlp_port),
        "LAB_XRAY_DAEMON_PORT": str(daemon_port),
        "AWS_ENDPOINT_URL": aws,
        "AWS_ENDPOINT_URL_XRAY": aws,
        # botocore reads ..._CLOUDWATCH_LOGS for the "logs" client; ..._LOGS is ignored.
        "AWS_ENDPOINT_URL_CLOUDWATCH_LOGS": aws,
        "AWS_ENDPOINT_URL_EVENTBRIDGE": aws,
        # botocore prepends a model's host prefix (StartLiveTail: "stream-") to the endpoint's host, which for
        # 127.0.0.1 names no host at all: local mode turns the injection off (real AWS needs it, so cloud mode not).
        "AWS_DISABLE_HOST_PREFIX_INJECTION": "true",
        "AWS_XRAY_DAEMON_ADDRESS": f"{host}:{daemon_port}",
        "AWS_ACCESS_KEY_ID": LOCAL_AWS_ACCESS_KEY_ID,
        "AWS_SECRET_ACCESS_KEY": LOCAL_AWS_SECRET_ACCESS_KEY,
        "AWS_DEFAULT_REGION": REGION,
        "AWS_REGION": REGION,
        "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://{host}:{otlp_port}",
        "OTEL_EXPORTER_OTLP_HEADERS": f"x-honeycomb-team={LOCAL_HONEYCOMB_INGEST_KEY}",
        "HONEYCOMB_API_KEY": LOCAL_HONEYCOMB_KEY,
        "HONEYCOMB_CONFIG_KEY": LOCAL_HONEYCOMB_KEY,
        "HONEYCOMB_API_ENDPOINT": f"http://{host}:{otlp_port}",
        "ROLLBAR_ACCESS_TOKEN": LOCAL_ROLLBAR_POST_TOKEN,
        "ROLLBAR_READ_TOKEN": LOCAL_ROLLBAR_READ_TOKEN,
        "ROLLBAR_ENDPOINT": f"{aws}/api/1/",
        "ROLLBAR_API_ENDPOINT": f"{aws}/api/1/",
    }


def mode() -> str:
    """``local`` unless LAB_MODE says ``aws``/``cloud`` (then real credentials are expected)."""
    value = (os.environ.get("LAB_MODE") or "local").strip().lower()
    if value in ("aws", "cloud"):
        return "cloud"
    if value != "local":
        raise ValueError(f"LAB_MODE={value!r} is not understood: use LAB_MODE=local (default) or LAB_MODE=aws")
    return "local"


def mask(value: str | None) -> str:
    """Show enough of a secret to recognise it, never enough to use it."""
    if not value:
        return "(not set)"
    if len(value) <= 8:
        return "****"
    return value[:4] + "…" + "*" * 4 + f" ({len(value)} chars)"


def _is_secret(name: str) -> bool:
    upper = name.upper()
    return upper in SECRET_NAMES or any(word in upper for word in ("SECRET", "TOKEN", "PASSWORD", "API_KEY"))


@dataclass
class Settings:
    mode: str
    values: dict[str, str] = field(default_factory=dict)

    def masked(self) -> dict[str, str]:
        return {k: (mask(v) if _is_secret(k) else v) for k, v in self.values.items()}

    def missing(self) -> list[str]:
        """What cloud mode needs that is not set, with the fix (empty in local mode)."""
        if self.mode == "local":
            return []
        needs = {
            "AWS_ACCESS_KEY_ID": "export AWS credentials (or use an AWS profile) for X-Ray and CloudWatch Logs",
            "AWS_SECRET_ACCESS_KEY": "export AWS credentials (or use an AWS profile)",
            "HONEYCOMB_API_KEY": "export HONEYCOMB_API_KEY=<your key> (Honeycomb > Environment > API keys)",
            "ROLLBAR_ACCESS_TOKEN": "export ROLLBAR_ACCESS_TOKEN=<post_server_item token>",
        }
        return [f"{k} is not set: {fix}" for k, fix in needs.items() if not os.environ.get(k)]

    def _repr_html_(self) -> str:  # a readable table in a notebook, secrets masked
        rows = "".join(f"<tr><td><code>{k}</code></td><td><code>{v}</code></td></tr>" for k, v in self.masked().items())
        return f"<b>mode: {self.mode}</b><table>{rows}</table>"


# What lab.configuration() shows (secrets masked): the variables local mode sets, and what cloud mode needs most.
WATCHED = (
    "LAB_MODE", "LAB_DATA_DIR", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_XRAY", "AWS_ENDPOINT_URL_CLOUDWATCH_LOGS",
    "AWS_XRAY_DAEMON_ADDRESS", "AWS_DEFAULT_REGION", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY",
    "OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_HEADERS", "OTEL_SERVICE_NAME", "HONEYCOMB_API_KEY",
    "HONEYCOMB_CONFIG_KEY", "ROLLBAR_ACCESS_TOKEN", "ROLLBAR_READ_TOKEN", "ROLLBAR_ENDPOINT",
)
# The rest of what .env.example lists for cloud mode (tests/test_open_and_run.py checks): shown, masked where secret,
# when set; a learner who does not use one sees no row for it.
SHOWN_WHEN_SET = (
    "AWS_PROFILE", "AWS_REGION", "AWS_SESSION_TOKEN", "LAB_CLOUDTRAIL_ROLE_ARN",
    "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_HEADERS", "OTEL_SDK_DISABLED",
    "HONEYCOMB_API_ENDPOINT", "ROLLBAR_API_ENDPOINT",
)


def settings() -> Settings:
    load_dotenv_file()
    values = {k: os.environ.get(k, "") for k in WATCHED}
    values.update({k: os.environ[k] for k in SHOWN_WHEN_SET if os.environ.get(k)})
    return Settings(mode=mode(), values=values)
