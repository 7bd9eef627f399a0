"""The first code cell of every notebook: ``from lab_app.notebook import setup; lab = setup()``.

Loads an ignored ``.env``, then in local mode starts the local cloud (or attaches to the running one)
and points this kernel's clients at it; in cloud mode checks that the real credentials are there and
says what is missing. Shows the configuration with secrets masked.
"""
from __future__ import annotations

import base64
import html
import importlib.metadata as md
import io
import logging
import os
import platform
import sys
from dataclasses import dataclass, field

import pandas as pd

from lab_app import config

PACKAGES = ["flask", "opentelemetry-sdk", "opentelemetry-exporter-otlp-proto-http", "opentelemetry-instrumentation-flask",
            "aws-xray-sdk", "watchtower", "rollbar", "boto3", "botocore", "awscli", "moto", "pandas", "duckdb", "lark"]


class SetupError(RuntimeError):
    pass


@dataclass
class Lab:
    mode: str
    settings: config.Settings
    cloud: object | None = None  # LocalCloudInfo in local mode
    problems: list[str] = field(default_factory=list)

    @property
    def local(self) -> bool:
        return self.mode == "local"

    def versions(self) -> pd.DataFrame:
        return package_versions()

    def configuration(self) -> pd.DataFrame:
        """Every variable the workbook reads, secrets masked."""
        return pd.DataFrame(sorted(self.settings.masked().items()), columns=["variable", "value"])

    def _repr_html_(self) -> str:
        where = (f"local cloud at {self.cloud.aws_url} (OTLP {self.cloud.otlp_url}, X-Ray daemon "
                 f"{self.cloud.host}:{self.cloud.daemon_port}), data in <code>{self.cloud.data_dir}</code>"
                 if self.cloud else "real AWS, Honeycomb and Rollbar")
        problems = "".join(f"<li>{p}</li>" for p in self.problems)
        return (f"<b>Mode: {self.mode}</b> &mdash; {where}"
                + (f"<br><b>Fix before continuing:</b><ul>{problems}</ul>" if problems else ""))

    def __repr__(self) -> str:
        return f"Lab(mode={self.mode!r}, cloud={getattr(self.cloud, 'aws_url', None)!r}, problems={len(self.problems)})"


def package_versions(names: list[str] = PACKAGES) -> pd.DataFrame:
    rows = [{"package": "python", "version": platform.python_version()}]
    for name in names:
        try:
            version = md.version(name)
        except md.PackageNotFoundError:
            version = None
        rows.append({"package": name, "version": version})
    return pd.DataFrame(rows)


def setup(start_local_cloud: bool = True, quiet_loggers: bool = True) -> Lab:
    """Prepare this kernel for the workbook. Idempotent: re-running the cell is safe."""
    config.load_dotenv_file()
    try:
        mode = config.mode()
    except ValueError as exc:
        raise SetupError(str(exc)) from None
    if quiet_loggers:
        for noisy in ("botocore", "urllib3", "aws_xray_sdk", "watchtower", "opentelemetry"):
            logging.getLogger(noisy).setLevel(logging.ERROR)
    cloud = None
    problems: list[str] = []
    if mode == "local" and start_local_cloud:
        import lab_app.localcloud as localcloud

        try:
            cloud = localcloud.start()
        except localcloud.LocalCloudError as exc:
            raise SetupError(f"{exc}\n\nThen re-run this cell.") from None
    os.environ.setdefault("OTEL_SERVICE_NAME", "backend-flask")  # the resource of this kernel's backend-flask
    settings = config.settings()
    problems = settings.missing()
    if sys.version_info[:2] != (3, 11):
        problems.append(f"this workbook is pinned for Python 3.11, this kernel runs {platform.python_version()}: "
                        "run `make lab` so JupyterLab uses the .venv kernel")
    return Lab(mode=mode, settings=settings, cloud=cloud, problems=problems)


def figure_bundle(fig, alt: str) -> tuple[dict, dict]:
    """The display bundle for a matplotlib figure with alternative text: an ``<img alt=...>`` (what JupyterLab and
    nbconvert's HTML show), the PNG itself and a text description for plain-text front ends."""
    if not alt or not alt.strip():
        raise ValueError("describe the figure in alt: what it shows and what the reader should notice")
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", bbox_inches="tight")
    png = base64.b64encode(buffer.getvalue()).decode("ascii")
    text = alt.strip()
    data = {"text/html": f'<img alt="{html.escape(text, quote=True)}" src="data:image/png;base64,{png}">',
            "image/png": png, "text/plain": f"[figure] {text}"}
    return data, {"image/png": {"alt": text}}


def show(alt: str, fig=None) -> None:
    """Show a figure with a description (``alt``) for screen readers and exported HTML, then close it.

    Used where a notebook would call ``plt.show()``: the picture is the same; the description is what someone who
    cannot see it reads instead.
    """
    import matplotlib.pyplot as plt
    from IPython.display import display

    fig = fig or plt.gcf()
    data, metadata = figure_bundle(fig, alt)
    display(data, raw=True, metadata=metadata)
    plt.close(fig)


def local_cloud_table(status: dict | None) -> pd.DataFrame:
    """``localcloud.status()`` as one readable row per component: what it holds, as counts.

    Nested counters (the X-Ray daemon's) are shown as ``daemon.datagrams``; ports are left to the address table.
    """
    if not status:
        return pd.DataFrame(columns=["component", "holds"])

    def flatten(counts: dict, prefix: str = ""):
        for key, value in counts.items():
            if key == "port":
                continue
            if isinstance(value, dict):
                yield from flatten(value, f"{prefix}{key}.")
            elif isinstance(value, bool) or not isinstance(value, (int, float)):
                if value not in (None, "", [], {}):
                    yield f"{prefix}{key} {value}"
            else:
                yield f"{prefix}{key} {value:,}"

    rows = [{"component": name, "holds": " · ".join(flatten(counts)) or "(nothing to count)"}
            for name, counts in status.get("components", {}).items()]
    return pd.DataFrame(rows).astype("string")
