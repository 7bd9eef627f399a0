"""CloudWatch metrics -> pandas: a GetMetricData answer (or its pages) as one tidy DataFrame.

    answer = boto3.client("cloudwatch").get_metric_data(MetricDataQueries=[...], StartTime=..., EndTime=...)
    cloudwatch.metric_frame(answer)          # one row per (query, timestamp): id, label, timestamp, value, status
    cloudwatch.wide(cloudwatch.metric_frame(answer))   # one column per label, one row per timestamp

The GetMetricData call itself stays in the notebook cell (it is the lesson); this is only the reshaping.
"""
from __future__ import annotations

from typing import Any, Iterable

import pandas as pd

COLUMNS = ["id", "label", "timestamp", "value", "status"]


def metric_frame(answers: dict | Iterable[dict]) -> pd.DataFrame:
    """Rows of every ``MetricDataResults`` entry (several pages: pass the list), oldest first per query."""
    pages = [answers] if isinstance(answers, dict) else list(answers)
    rows: list[dict[str, Any]] = []
    for page in pages:
        for result in page.get("MetricDataResults", []):
            for ts, value in zip(result.get("Timestamps", []), result.get("Values", [])):
                rows.append({"id": result["Id"], "label": result.get("Label", result["Id"]), "timestamp": ts,
                             "value": float(value), "status": result.get("StatusCode")})
    frame = pd.DataFrame(rows, columns=COLUMNS)
    frame["timestamp"] = pd.to_datetime(frame["timestamp"], utc=True)
    frame["value"] = frame["value"].astype("float64")
    return frame.sort_values(["id", "timestamp"], kind="stable").reset_index(drop=True)


def wide(frame: pd.DataFrame, by: str = "label") -> pd.DataFrame:
    """One column per query (``label`` or ``id``), indexed by timestamp; NaN where a query has no datapoint."""
    return frame.pivot_table(index="timestamp", columns=by, values="value", aggfunc="first").sort_index()
