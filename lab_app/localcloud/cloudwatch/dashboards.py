"""CloudWatch dashboards: PutDashboard / GetDashboard / ListDashboards / DeleteDashboards, one DuckDB table.

The body is checked as CloudWatch checks it (the dashboard body structure and syntax reference): a JSON
object with a ``widgets`` array; each widget has a known ``type``, integer ``x``/``y`` >= 0, ``width`` 1-24,
``height`` 1-1000 and the ``properties`` its type needs (``metrics`` or ``alarms`` for a metric widget,
``markdown`` for text, ``alarms`` for alarm, ``query`` for log). A rejected body answers
``InvalidParameterInput`` with ``dashboardValidationMessages`` (``dataPath``, ``message``); nothing is stored.
Dashboards are global to the account (their ARN has no region).
"""
from __future__ import annotations

import json
import re
from typing import Any

from lab_app.localcloud.aws import paging
from lab_app.localcloud.cloudwatch.exceptions import (
    DashboardInvalidInputError,
    InvalidNextToken,
    InvalidParameterValue,
    ResourceNotFound,
)
from lab_app.localcloud.store import Store

DASHBOARDS_TABLE = "cw_dashboards"
DASHBOARDS_DDL = f"""
CREATE TABLE IF NOT EXISTS {DASHBOARDS_TABLE} (
    account_id VARCHAR,
    name VARCHAR,
    body VARCHAR,
    modified DOUBLE,
    PRIMARY KEY (account_id, name)
)"""
NAME = re.compile(r"^[A-Za-z0-9_-]{1,255}$")
WIDGET_TYPES = ("metric", "text", "log", "alarm", "explorer", "custom")
VIEWS = ("timeSeries", "singleValue", "gauge", "bar", "pie", "table")
PAGE = 1000


def validate_body(text: Any) -> list[dict]:
    """The validation messages for a dashboard body ([] when CloudWatch accepts it)."""
    if not isinstance(text, str):
        return [{"dataPath": "", "message": "Should be string"}]
    try:
        body = json.loads(text)
    except ValueError:
        return [{"dataPath": "", "message": "Invalid JSON"}]
    if not isinstance(body, dict):
        return [{"dataPath": "", "message": "Should be object"}]
    messages: list[dict] = []
    if "widgets" not in body:
        messages.append({"dataPath": "", "message": "Should have required property 'widgets'"})
        return messages
    widgets = body["widgets"]
    if not isinstance(widgets, list):
        return [{"dataPath": "/widgets", "message": "Should be array"}]
    for key in ("start", "end"):
        if key in body and not isinstance(body[key], str):
            messages.append({"dataPath": f"/{key}", "message": "Should be string"})
    if "periodOverride" in body and body["periodOverride"] not in ("auto", "inherit"):
        messages.append({"dataPath": "/periodOverride", "message": "Should be equal to one of the allowed values"})
    for i, widget in enumerate(widgets):
        path = f"/widgets/{i}"
        if not isinstance(widget, dict):
            messages.append({"dataPath": path, "message": "Should be object"})
            continue
        kind = widget.get("type")
        if kind is None:
            messages.append({"dataPath": path, "message": "Should have required property 'type'"})
            continue
        if kind not in WIDGET_TYPES:
            messages.append({"dataPath": f"{path}/type", "message": "Should be equal to one of the allowed values"})
            continue
        for key, low, high in (("x", 0, None), ("y", 0, None), ("width", 1, 24), ("height", 1, 1000)):
            if key not in widget:
                continue
            value = widget[key]
            if not isinstance(value, int) or isinstance(value, bool):
                messages.append({"dataPath": f"{path}/{key}", "message": "Should be integer"})
            elif value < low:
                messages.append({"dataPath": f"{path}/{key}", "message": f"Should be >= {low}"})
            elif high is not None and value > high:
                messages.append({"dataPath": f"{path}/{key}", "message": f"Should be <= {high}"})
        props = widget.get("properties")
        if props is None:
            messages.append({"dataPath": path, "message": "Should have required property 'properties'"})
            continue
        if not isinstance(props, dict):
            messages.append({"dataPath": f"{path}/properties", "message": "Should be object"})
            continue
        messages.extend(_properties(kind, props, f"{path}/properties"))
    return messages


def _properties(kind: str, props: dict, path: str) -> list[dict]:
    out: list[dict] = []
    if kind == "metric":
        if "metrics" not in props and "alarms" not in props:
            out.append({"dataPath": path, "message": "Should have required property 'metrics'"})
        metrics = props.get("metrics", [])
        if not isinstance(metrics, list):
            out.append({"dataPath": f"{path}/metrics", "message": "Should be array"})
        else:
            for j, line in enumerate(metrics):
                if not isinstance(line, list) or not line:
                    out.append({"dataPath": f"{path}/metrics/{j}", "message": "Should be array"})
                    continue
                options = line[-1] if isinstance(line[-1], dict) else None
                names = line[:-1] if options is not None else line
                if any(not isinstance(x, str) for x in names):
                    out.append({"dataPath": f"{path}/metrics/{j}", "message": "Should be string"})
                elif options is None and len(names) < 2 and names != ["..."]:
                    out.append({"dataPath": f"{path}/metrics/{j}",
                                "message": "Should NOT have fewer than 2 items"})
                elif options is not None and not names and "expression" not in options:
                    out.append({"dataPath": f"{path}/metrics/{j}/0", "message": "Should have required property "
                                "'expression'"})
                if options is not None and "id" in options and not re.fullmatch(r"[a-z][a-zA-Z0-9_]*",
                                                                              str(options["id"])):
                    out.append({"dataPath": f"{path}/metrics/{j}/{len(line) - 1}/id",
                                "message": 'Should match pattern "^[a-z][a-zA-Z0-9_]*$"'})
        if "view" in props and props["view"] not in VIEWS:
            out.append({"dataPath": f"{path}/view", "message": "Should be equal to one of the allowed values"})
        if "period" in props and (not isinstance(props["period"], int) or props["period"] < 1):
            out.append({"dataPath": f"{path}/period", "message": "Should be integer >= 1"})
        if "region" in props and not isinstance(props["region"], str):
            out.append({"dataPath": f"{path}/region", "message": "Should be string"})
    elif kind == "text" and not isinstance(props.get("markdown"), str):
        out.append({"dataPath": path, "message": "Should have required property 'markdown'"})
    elif kind == "alarm" and not isinstance(props.get("alarms"), list):
        out.append({"dataPath": path, "message": "Should have required property 'alarms'"})
    elif kind == "log" and not isinstance(props.get("query"), str):
        out.append({"dataPath": path, "message": "Should have required property 'query'"})
    return out


class Dashboards:
    def __init__(self, store: Store, clock):
        self.store = store
        self.clock = clock

    def setup(self) -> float | None:
        self.store.ensure_table(DASHBOARDS_TABLE, DASHBOARDS_DDL)
        return self.store.execute(f"SELECT max(modified) FROM {DASHBOARDS_TABLE}")[0][0]

    def count(self) -> int:
        return self.store.count(DASHBOARDS_TABLE)

    @staticmethod
    def arn(account_id: str, name: str) -> str:
        return f"arn:aws:cloudwatch::{account_id}:dashboard/{name}"

    def put(self, account_id: str, params: dict) -> dict:
        name, body = params.get("DashboardName"), params.get("DashboardBody")
        if not isinstance(name, str) or not NAME.match(name):
            raise DashboardInvalidInputError(
                "The value for field DashboardName contains invalid characters. It can only contain "
                "alphanumerics, dash (-) and underscore (_).", [])
        messages = validate_body(body)
        if messages:
            detail = ", ".join(json.dumps(m) for m in messages)
            raise DashboardInvalidInputError(
                f"The dashboard body is invalid, there {'is' if len(messages) == 1 else 'are'} {len(messages)} "
                f"validation error{'' if len(messages) == 1 else 's'}: [ {detail} ]",
                [{"DataPath": m["dataPath"], "Message": m["message"]} for m in messages])
        with self.store.lock:
            self.store.execute(f"DELETE FROM {DASHBOARDS_TABLE} WHERE account_id = ? AND name = ?", [account_id, name])
            self.store.execute(f"INSERT INTO {DASHBOARDS_TABLE} VALUES (?, ?, ?, ?)",
                               [account_id, name, body, self.clock.now()])
        return {"DashboardValidationMessages": []}

    def get(self, account_id: str, params: dict) -> dict:
        name = params.get("DashboardName")
        if not name:
            raise InvalidParameterValue("The parameter DashboardName is required.")
        rows = self.store.execute(f"SELECT body FROM {DASHBOARDS_TABLE} WHERE account_id = ? AND name = ?",
                                  [account_id, name])
        if not rows:
            raise ResourceNotFound(f"Dashboard {name} does not exist")
        return {"DashboardArn": self.arn(account_id, name), "DashboardBody": rows[0][0], "DashboardName": name}

    def list(self, account_id: str, params: dict) -> dict:
        prefix = params.get("DashboardNamePrefix") or ""
        if prefix and not NAME.match(prefix):
            raise InvalidParameterValue("The value for field DashboardNamePrefix contains invalid characters. It "
                                        "can only contain alphanumerics, dash (-) and underscore (_).")
        offset = 0
        if params.get("NextToken"):
            try:
                offset = int(paging.decode(params["NextToken"])["offset"])
            except (paging.InvalidToken, KeyError, TypeError, ValueError):
                raise InvalidNextToken("The service couldn't process your request because the next token is "
                                       "invalid.") from None
        rows = self.store.execute(
            f"SELECT name, modified, octet_length(encode(body)) FROM {DASHBOARDS_TABLE} WHERE account_id = ? "
            "AND starts_with(name, ?) ORDER BY name LIMIT ? OFFSET ?", [account_id, prefix, PAGE + 1, offset])
        entries = [{"DashboardName": r[0], "DashboardArn": self.arn(account_id, r[0]), "LastModified": r[1],
                    "Size": int(r[2])} for r in rows[:PAGE]]
        body: dict[str, Any] = {"DashboardEntries": entries}
        if len(rows) > PAGE:
            body["NextToken"] = paging.encode({"offset": offset + PAGE})
        return body

    def delete(self, account_id: str, params: dict) -> dict:
        names = params.get("DashboardNames")
        if not names:
            raise InvalidParameterValue("The parameter DashboardNames is required.")
        with self.store.lock:
            for name in names:
                if not self.store.execute(f"SELECT 1 FROM {DASHBOARDS_TABLE} WHERE account_id = ? AND name = ?",
                                          [account_id, name]):
                    raise ResourceNotFound(f"Dashboard {name} does not exist")
            for name in names:
                self.store.execute(f"DELETE FROM {DASHBOARDS_TABLE} WHERE account_id = ? AND name = ?",
                                   [account_id, name])
        return {}
