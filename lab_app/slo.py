"""Plumbing for notebook 09 (metrics and SLOs); the lesson's SDK calls stay in the notebook's cells.

* :func:`cloud_now` / :func:`advance_clock`: the alarms' notion of now. LOCAL ONLY: the local cloud's clock can be
  moved forward (``POST /_localcloud/clock``), and every alarm evaluation the jump crosses runs before the call
  returns. A real account has no such control: there :func:`advance_clock` does nothing and returns ``False``.
* :class:`CloudClock`: what the instrumented app stamps its embedded-metric-format lines with, so that metrics land
  at the local cloud's time after a jump (in cloud mode the offset is 0: the wall clock).
* :func:`dashboard_metrics`: MetricDataQueries written as a dashboard widget's ``metrics`` array (the same queries
  the notebook sends to GetMetricData, so the dashboard and the matplotlib drawing show the same thing).
"""
from __future__ import annotations

import time
from typing import Any

import pandas as pd

from lab_app import config
from lab_app.security import cloud_now

__all__ = ["cloud_now", "advance_clock", "CloudClock", "dashboard_metrics"]


def advance_clock(seconds: float) -> bool:
    """LOCAL ONLY: move the local cloud's clock ``seconds`` forward (alarms evaluate every boundary crossed).
    Cloud mode: nothing happens (time passes at its own pace on AWS); returns False."""
    if config.mode() != "local":
        return False
    import lab_app.localcloud as localcloud

    localcloud.advance_clock(seconds)
    return True


class CloudClock:
    """``now()``: the wall clock plus the local cloud's offset, read again by :meth:`sync` after each jump."""

    def __init__(self) -> None:
        self.offset = 0.0
        self.sync()

    def sync(self) -> float:
        self.offset = cloud_now().timestamp() - time.time() if config.mode() == "local" else 0.0
        return self.offset

    def now(self) -> float:
        return time.time() + self.offset

    def timestamp(self) -> pd.Timestamp:
        return pd.Timestamp(self.now(), unit="s", tz="UTC")


def dashboard_metrics(queries: list[dict]) -> list[list[Any]]:
    """A metric widget's ``metrics`` array for GetMetricData-style queries (MetricStat and Expression)."""
    lines: list[list[Any]] = []
    for q in queries:
        options: dict[str, Any] = {"id": q["Id"]}
        if q.get("Label"):
            options["label"] = q["Label"]
        if not q.get("ReturnData", True):
            options["visible"] = False
        if "Expression" in q:
            lines.append([{"expression": q["Expression"], **options}])
            continue
        stat = q["MetricStat"]
        metric = stat["Metric"]
        line: list[Any] = [metric["Namespace"], metric["MetricName"]]
        for d in metric.get("Dimensions", []):
            line += [d["Name"], d["Value"]]
        options.update({"stat": stat["Stat"], "period": stat["Period"]})
        lines.append(line + [options])
    return lines
