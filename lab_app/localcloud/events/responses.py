"""PutEvents, TestEventPattern and PutRule's pattern check: validate, then route or answer (no storage here;
rules and targets stay moto's)."""
from __future__ import annotations

import json
from typing import Any

from lab_app.localcloud.events import exceptions as exc
from lab_app.localcloud.events import pattern as patterns
from lab_app.localcloud.events.models import EventRouter, iso_time, make_event

EVENT_FIELDS = ("id", "account", "source", "time", "region", "resources", "detail-type")
MAX_ENTRIES = 10


def checked_pattern(text: Any) -> dict:
    if not isinstance(text, str):
        raise exc.ValidationException("1 validation error detected: Value null at 'eventPattern' failed to satisfy "
                                      "constraint: Member must not be null")
    if len(text) > 4096:
        raise exc.ValidationException("1 validation error detected: Value at 'eventPattern' failed to satisfy "
                                      "constraint: Member must have length less than or equal to 4096")
    try:
        return patterns.parse(text)
    except patterns.InvalidEventPattern as error:
        raise exc.InvalidEventPatternException(f"Event pattern is not valid. Reason: {error}") from None


def test_event_pattern(params: dict) -> dict:
    pattern = checked_pattern(params.get("EventPattern"))
    raw = params.get("Event")
    if not isinstance(raw, str):
        raise exc.ValidationException("1 validation error detected: Value null at 'event' failed to satisfy "
                                      "constraint: Member must not be null")
    try:
        event = json.loads(raw)
    except ValueError:
        raise exc.InvalidEventPatternException("Parameter Event is not valid. Reason: not valid JSON") from None
    if not isinstance(event, dict):
        raise exc.InvalidEventPatternException("Parameter Event is not valid. Reason: not a JSON object")
    missing = [f for f in EVENT_FIELDS if f not in event]
    if missing:
        raise exc.InvalidEventPatternException(f"Parameter Event is not valid. Reason: missing {', '.join(missing)}")
    return {"Result": patterns.matches(pattern, event)}


def check_put_rule(params: dict) -> None:
    """PutRule's pattern as EventBridge validates it (moto then stores the rule)."""
    if params.get("EventPattern") is not None:
        checked_pattern(params["EventPattern"])


def put_events(router: EventRouter, account_id: str, region: str, now: float, params: dict) -> dict:
    entries = params.get("Entries")
    if not isinstance(entries, list) or not entries:
        raise exc.ValidationException("1 validation error detected: Value null at 'entries' failed to satisfy "
                                      "constraint: Member must not be null")
    if len(entries) > MAX_ENTRIES:
        raise exc.ValidationException("1 validation error detected: Value '[PutEventsRequestEntry]' at 'entries' "
                                      "failed to satisfy constraint: Member must have length less than or equal "
                                      "to 10")
    results: list[dict] = []
    for entry in entries:
        entry = entry if isinstance(entry, dict) else {}
        failure = _entry_failure(entry)
        if failure:
            results.append({"ErrorCode": failure[0], "ErrorMessage": failure[1]})
            continue
        event = make_event(entry["Source"], entry["DetailType"], json.loads(entry["Detail"]), account_id, region,
                           now, entry.get("Resources") or [])
        if entry.get("Time") is not None:
            event["time"] = iso_time(float(entry["Time"]))
        router.route_event(account_id, region, event, entry.get("EventBusName") or "default")
        results.append({"EventId": event["id"]})
    return {"FailedEntryCount": sum("ErrorCode" in r for r in results), "Entries": results}


def _entry_failure(entry: dict) -> tuple[str, str] | None:
    for field in ("Source", "DetailType", "Detail"):
        if not entry.get(field):
            return "InvalidArgument", f"Parameter {field} is not valid. Reason: {field} is a required argument."
    if str(entry["Source"]).startswith("aws."):   # AWS services' sources are theirs alone
        return "NotAuthorizedForSourceException", "Not authorized for the source."
    try:
        detail = json.loads(entry["Detail"])
    except (TypeError, ValueError):
        return "MalformedDetail", "Detail is malformed."
    if not isinstance(detail, dict):
        return "MalformedDetail", "Detail is malformed."
    return None
