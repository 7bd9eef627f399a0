"""LookupEvents: validate the request, query the event history, serialise the page (no storage here)."""
from __future__ import annotations

import json
from typing import Any

from lab_app.localcloud.aws import paging
from lab_app.localcloud.aws.validate import epoch_seconds
from lab_app.localcloud.cloudtrail import exceptions as exc
from lab_app.localcloud.cloudtrail.models import LOOKUP_KEYS, PAGES, EventHistory, Lookup


def validate_lookup(params: dict) -> Lookup:
    """A LookupEvents request as AWS checks it, in AWS's order; raises the error AWS answers with."""
    attributes = params.get("LookupAttributes") or []
    if len(attributes) > 1:
        raise exc.InvalidLookupAttributesException("You cannot specify more than one lookup attribute.")
    query = Lookup()
    for attribute in attributes:
        key, value = attribute.get("AttributeKey"), attribute.get("AttributeValue")
        if key not in LOOKUP_KEYS:
            raise exc.InvalidLookupAttributesException(
                f"Lookup attribute key {key!r} is not valid: use one of {', '.join(LOOKUP_KEYS)}.")
        if not isinstance(value, str) or not value:
            raise exc.InvalidLookupAttributesException("The attribute value must not be empty.")
        query.attribute = (key, value)
    max_results = params.get("MaxResults", 50)
    if not isinstance(max_results, int) or not 1 <= max_results <= 50:
        raise exc.InvalidMaxResultsException("MaxResults must be between 1 and 50.")
    query.max_results = max_results
    start, end = (epoch_seconds(params[k]) if params.get(k) is not None else None for k in ("StartTime", "EndTime"))
    if start is not None and end is not None and start > end:
        raise exc.InvalidTimeRangeException("StartTime must be before EndTime.")
    query.start, query.end = start, end
    if params.get("EventCategory") not in (None, "insight"):
        raise exc.InvalidEventCategoryException("EventCategory must be insight.")
    query.insight = params.get("EventCategory") == "insight"
    query.next_token = params.get("NextToken") or None
    return query


def serialise_events(rows: list[tuple], max_results: int) -> dict[str, Any]:
    events = [{"EventId": r[0], "EventName": r[1], "ReadOnly": "true" if r[2] else "false",
               "AccessKeyId": r[3], "EventTime": r[4], "EventSource": r[5], "Username": r[6],
               "Resources": json.loads(r[7]), "CloudTrailEvent": r[8]} for r in rows[:max_results]]
    body: dict[str, Any] = {"Events": events}
    if len(rows) > max_results:
        last = rows[max_results - 1]
        body["NextToken"] = PAGES.token(last[4], last[0])
    return body


def lookup_events(history: EventHistory, account_id: str, region: str, params: dict) -> dict[str, Any]:
    query = validate_lookup(params)
    if query.insight:
        return {"Events": []}
    try:
        rows = history.lookup(account_id, region, query)
    except paging.InvalidToken:
        raise exc.InvalidNextTokenException("Invalid NextToken.") from None
    return serialise_events(rows, query.max_results)
