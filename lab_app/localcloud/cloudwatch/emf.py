"""CloudWatch embedded metric format (EMF): the metrics a structured log event carries.

CloudWatch Logs extracts them when the event is ingested ("Specification: Embedded metric format"):

* the message is one JSON object whose ``_aws`` member holds ``Timestamp`` (milliseconds since the epoch)
  and ``CloudWatchMetrics``, an array of metric directives;
* a directive has ``Namespace``, ``Dimensions`` (an array of dimension sets, each an array of at most 30
  keys of root members whose values are strings) and ``Metrics`` (at most 100 definitions: ``Name``,
  optional ``Unit`` and ``StorageResolution`` 1 or 60);
* every referenced member must be in the root: a dimension's value a string, a metric's value a number or
  an array of at most 100 numbers;
* each dimension set gives its own metric (the same values under each set; an empty set, no dimensions).

An event that is not valid EMF is stored as a plain log event and produces no metric (:func:`extract`
returns ``None``); the log event itself is stored either way.
"""
from __future__ import annotations

import json
import math
from typing import Any

from lab_app.localcloud.cloudwatch.metrics import UNITS

MAX_DIMENSIONS_PER_SET = 30
MAX_METRICS_PER_DIRECTIVE = 100
MAX_VALUES_PER_METRIC = 100
MAX_NAME = 1024


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _name_ok(value: Any) -> bool:
    return isinstance(value, str) and 0 < len(value) <= MAX_NAME and bool(value.strip())


def extract(message: str) -> list[tuple[str, list[dict]]] | None:
    """[(namespace, PutMetricData-shaped data)] for an EMF event, ``None`` when the event is not valid EMF."""
    if '"_aws"' not in message:
        return None
    try:
        root = json.loads(message)
    except ValueError:
        return None
    if not isinstance(root, dict):
        return None
    meta = root.get("_aws")
    if not isinstance(meta, dict):
        return None
    timestamp, directives = meta.get("Timestamp"), meta.get("CloudWatchMetrics")
    if not _is_number(timestamp) or not isinstance(directives, list):
        return None
    out: list[tuple[str, list[dict]]] = []
    for directive in directives:
        if not isinstance(directive, dict):
            return None
        namespace, dimension_sets, metrics = (directive.get("Namespace"), directive.get("Dimensions"),
                                              directive.get("Metrics"))
        if not _name_ok(namespace) or not isinstance(dimension_sets, list) or not isinstance(metrics, list):
            return None
        if len(metrics) > MAX_METRICS_PER_DIRECTIVE:
            return None
        sets = dimension_sets or [[]]
        resolved_sets = []
        for keys in sets:
            if not isinstance(keys, list) or len(keys) > MAX_DIMENSIONS_PER_SET:
                return None
            pairs = []
            for key in keys:
                if not isinstance(key, str) or not isinstance(root.get(key), str) or not root[key]:
                    return None
                pairs.append({"Name": key, "Value": root[key]})
            if len({p["Name"] for p in pairs}) != len(pairs):
                return None
            resolved_sets.append(pairs)
        data: list[dict] = []
        for definition in metrics:
            if not isinstance(definition, dict) or not _name_ok(definition.get("Name")):
                return None
            name = definition["Name"]
            unit = definition.get("Unit")
            if unit is not None and unit not in UNITS:
                return None
            resolution = definition.get("StorageResolution", 60)
            if resolution not in (1, 60) or isinstance(resolution, bool):
                return None
            value = root.get(name)
            if _is_number(value):
                values = [float(value)]
            elif isinstance(value, list) and 0 < len(value) <= MAX_VALUES_PER_METRIC \
                    and all(_is_number(v) for v in value):
                values = [float(v) for v in value]
            else:
                return None
            for pairs in resolved_sets:
                datum: dict[str, Any] = {"MetricName": name, "Dimensions": pairs, "Timestamp": float(timestamp) / 1000,
                                         "StorageResolution": int(resolution)}
                if len(values) == 1:
                    datum["Value"] = values[0]
                else:
                    datum["Values"] = values
                if unit:
                    datum["Unit"] = unit
                data.append(datum)
        out.append((namespace, data))
    return out
