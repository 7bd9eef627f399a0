"""What Logs Insights discovers in stored events: GetLogGroupFields and GetLogFields.

GetLogGroupFields (API reference): the fields of the log group's events in a window, "8 minutes before and 8
minutes after" ``time`` (epoch seconds), or "the most recent 15 minutes" without it, each with the percentage
of those events that contain it, "sorted by the frequency percentage, starting with the highest". The generated
fields ``@timestamp``, ``@message``, ``@logStream``, ``@log`` and ``@ingestionTime`` are in every event; JSON
events add their keys flattened the way Insights names them (``http.status_code``, ``items.0.id``; at most
:data:`MAX_JSON_FIELDS` per event, Insights' documented extraction limit for JSON logs). Percentages are whole
numbers (the model's ``Percentage`` is an integer 0..100), rounded to the nearest; ties sort by name. At most the
:data:`MAX_SCANNED` newest events of the window are read (a bound of this stand-in).

GetLogFields (``dataSourceName``, ``dataSourceType``): the fields of a data source. For custom logs AWS
defines a data source with the log group tags ``cw:datasource:name`` and ``cw:datasource:type`` ("Custom
sources" in the CloudWatch Logs guide); the log groups tagged with both values are the source. An unknown source
is ``ResourceNotFoundException``. Fields are the top-level keys of the source's JSON events with a
``logFieldType`` per the model (``type``; ``fields`` for objects, ``element`` for arrays). The type names
(``string``, ``long``, ``double``, ``boolean``, ``timestamp``, ``struct``, ``array``) are this stand-in's: the
model leaves ``DataType`` a free string and the reference shows no example.
"""
from __future__ import annotations

import json
from typing import Any

from lab_app import config
from lab_app.localcloud.logs import exceptions as exc
from lab_app.localcloud.logs.insights.to_sql import EVENTS_TABLE

WINDOW_AROUND_MS = 8 * 60_000
RECENT_MS = 15 * 60_000
MAX_JSON_FIELDS = 200
MAX_SCANNED = 10_000
GENERATED = ("@timestamp", "@message", "@logStream", "@log", "@ingestionTime")
SOURCE_NAME_TAG = "cw:datasource:name"
SOURCE_TYPE_TAG = "cw:datasource:type"


def flatten(document: Any, limit: int = MAX_JSON_FIELDS) -> list[str]:
    """The Insights names of a JSON document's leaf fields, in document order (nulls are not fields)."""
    names: list[str] = []

    def walk(prefix: str, value: Any) -> None:
        if len(names) >= limit:
            return
        if isinstance(value, dict):
            for key, inner in value.items():
                walk(f"{prefix}.{key}" if prefix else str(key), inner)
        elif isinstance(value, list):
            for i, inner in enumerate(value):
                walk(f"{prefix}.{i}" if prefix else str(i), inner)
        elif value is not None and prefix:
            names.append(prefix)

    walk("", document)
    return names


def _json(message: str) -> Any:
    try:
        return json.loads(message)
    except (ValueError, RecursionError):    # RecursionError: nested deeper than Python parses
        return None


def _type_of(value: Any) -> dict:
    if isinstance(value, bool):
        return {"type": "boolean"}
    if isinstance(value, int):
        return {"type": "long"}
    if isinstance(value, float):
        return {"type": "double"}
    if isinstance(value, dict):
        return {"type": "struct", "fields": [{"logFieldName": k, "logFieldType": _type_of(v)}
                                             for k, v in value.items() if v is not None]}
    if isinstance(value, list):
        items = [v for v in value if v is not None]
        return {"type": "array", **({"element": _type_of(items[0])} if items else {})}
    return {"type": "string"}


def _merge(a: dict, b: dict) -> dict:
    """One type for values seen in several events: numbers widen to double, other conflicts become string."""
    if a["type"] != b["type"]:
        if {a["type"], b["type"]} == {"long", "double"}:
            return {"type": "double"}
        return {"type": "string"}
    if a["type"] == "struct":
        fields = {f["logFieldName"]: f["logFieldType"] for f in a["fields"]}
        for f in b["fields"]:
            name = f["logFieldName"]
            fields[name] = _merge(fields[name], f["logFieldType"]) if name in fields else f["logFieldType"]
        return {"type": "struct", "fields": [{"logFieldName": k, "logFieldType": v} for k, v in fields.items()]}
    if a["type"] == "array" and "element" in b:
        return {"type": "array", "element": _merge(a["element"], b["element"]) if "element" in a else b["element"]}
    return a


class Fields:
    def __init__(self, store, backend):
        self.store = store
        self.backend = backend

    def log_group_fields(self, region: str, body: dict) -> dict:
        group = self.backend._group_for(region, body.get("logGroupName"), body.get("logGroupIdentifier"))
        if body.get("time") is not None:
            center = int(body["time"]) * 1000
            start, end = center - WINDOW_AROUND_MS, center + WINDOW_AROUND_MS
        else:
            end = self.backend.now_ms()
            start = end - RECENT_MS
        rows = self.store.execute(
            f"SELECT message, is_json FROM {EVENTS_TABLE} WHERE region = ? AND grp = ? AND ts >= ? AND ts <= ? "
            "ORDER BY ts DESC, id DESC LIMIT ?", [region, group, start, end, MAX_SCANNED])
        if not rows:
            return {"logGroupFields": []}
        counts: dict[str, int] = dict.fromkeys(GENERATED, len(rows))
        for message, is_json in rows:
            if is_json:
                try:
                    names = dict.fromkeys(flatten(_json(message)))
                except RecursionError:
                    continue
                for name in names:
                    counts[name] = counts.get(name, 0) + 1
        total = len(rows)
        fields = [{"name": name, "percent": int(100 * n / total + 0.5)} for name, n in counts.items()]
        fields.sort(key=lambda f: (-f["percent"], f["name"]))
        return {"logGroupFields": fields}

    def log_fields(self, region: str, body: dict) -> dict:
        name, kind = body.get("dataSourceName"), body.get("dataSourceType")
        groups = [g for (g,) in self.store.execute(
            "SELECT n.grp FROM logs_tags n JOIN logs_tags t ON t.region = n.region AND t.grp = n.grp "
            "WHERE n.region = ? AND n.key = ? AND n.value = ? AND t.key = ? AND t.value = ? ORDER BY n.grp",
            [region, SOURCE_NAME_TAG, name, SOURCE_TYPE_TAG, kind])]
        if not groups:
            raise exc.ResourceNotFoundException(
                f"Data source {name}.{kind} does not exist: tag a log group with {SOURCE_NAME_TAG}={name} and "
                f"{SOURCE_TYPE_TAG}={kind} to make it one.")
        marks = ", ".join("?" for _ in groups)
        rows = self.store.execute(
            f"SELECT message FROM {EVENTS_TABLE} WHERE region = ? AND grp IN ({marks}) AND is_json "
            "ORDER BY ts DESC, id DESC LIMIT ?", [region, *groups, MAX_SCANNED])
        types: dict[str, dict] = {"@timestamp": {"type": "timestamp"}, "@message": {"type": "string"},
                                  "@logStream": {"type": "string"}, "@log": {"type": "string"},
                                  "@ingestionTime": {"type": "timestamp"}}
        for (message,) in rows:
            document = _json(message)
            if not isinstance(document, dict):
                continue
            for key, value in document.items():
                if value is None:
                    continue
                try:
                    seen = _type_of(value)
                    types[key] = _merge(types[key], seen) if key in types else seen
                except RecursionError:
                    continue
        return {"logFields": [{"logFieldName": k, "logFieldType": v} for k, v in types.items()]}


def group_arn(region: str, group: str) -> str:
    return f"arn:aws:logs:{region}:{config.ACCOUNT_ID}:log-group:{group}"
