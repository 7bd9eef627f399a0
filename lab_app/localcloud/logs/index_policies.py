"""Field index policies: PutIndexPolicy / DescribeIndexPolicies / DeleteIndexPolicy / DescribeFieldIndexes, and
which log groups an Insights ``filterIndex`` reads.

The PutIndexPolicy reference, implemented here:

* The document is JSON with ``Fields`` (a list of names) and/or ``FieldsV2`` (name -> ``{"type": "FIELD_INDEX"
  | "FACET"}``); names in the two must be mutually exclusive; at least one field; "As many as 20 fields" (one
  more is ``LimitExceededException``, the limit error the model lists; the reference does not say which code);
  "Each field name can include as many as 100 characters"; matching is case-sensitive. The messages are ours.
* "Only log groups in the Standard log class support field index policies."
* Default field indexes exist for every Standard log group without a policy (:data:`DEFAULT_INDEXES`; the ones
  of this stand-in's events are ``@logStream`` and a JSON ``traceId``) and do not count towards the 20.
* A log-group policy answers ``source: LOG_GROUP`` and no ``policyName`` ("log group-level field index policies
  don't have names"). Account-level index policies (PutAccountPolicy FIELD_INDEX_POLICY) are not implemented by
  the local cloud, so DescribeIndexPolicies shows only log-group policies.
* DeleteIndexPolicy of a group without one is ``ResourceNotFoundException``.

DescribeFieldIndexes lists the indexes "discovered in log data": a policy field once an event ingested after the
policy was put carries it (``firstEventTime`` / ``lastEventTime`` are those events' timestamps), a default index
once any event carries it; ``lastScanTime`` is the time of the call (the stand-in indexes at query time).
"""
from __future__ import annotations

import json
from typing import Any

from lab_app.localcloud.aws import paging
from lab_app.localcloud.logs import exceptions as exc
from lab_app.localcloud.logs.fields import group_arn
from lab_app.localcloud.logs.insights.to_sql import EVENTS_TABLE, _json_path

MAX_FIELDS = 20
MAX_FIELD_CHARS = 100
TYPES = ("FIELD_INDEX", "FACET")
DEFAULT_INDEXES = ("@logStream", "@aws.region", "@aws.account", "@source.log", "traceId")
PAGE = 100
DDL = """CREATE TABLE IF NOT EXISTS logs_index_policies (
    region VARCHAR, grp VARCHAR, document VARCHAR, updated BIGINT, PRIMARY KEY (region, grp))"""


def parse_policy(document: str) -> dict[str, str]:
    """field name -> index type, or InvalidParameterException with what is wrong."""
    try:
        parsed = json.loads(document)
    except (ValueError, RecursionError):
        raise exc.InvalidParameterException("Invalid index policy document: it is not JSON.") from None
    if not isinstance(parsed, dict):
        raise exc.InvalidParameterException("Invalid index policy document: it must be a JSON object.")
    unknown = sorted(set(parsed) - {"Fields", "FieldsV2"})
    if unknown:
        raise exc.InvalidParameterException(f"Invalid index policy document: unknown key {unknown[0]}; use Fields "
                                            "and/or FieldsV2.")
    fields: dict[str, str] = {}
    plain = parsed.get("Fields", [])
    if not isinstance(plain, list) or not all(isinstance(f, str) for f in plain):
        raise exc.InvalidParameterException("Invalid index policy document: Fields must be a list of field names.")
    for name in plain:
        fields[name] = "FIELD_INDEX"
    typed = parsed.get("FieldsV2", {})
    if not isinstance(typed, dict):
        raise exc.InvalidParameterException("Invalid index policy document: FieldsV2 must map field names to "
                                            '{"type": "FIELD_INDEX" | "FACET"}.')
    for name, spec in typed.items():
        kind = spec.get("type") if isinstance(spec, dict) else None
        if kind not in TYPES:
            raise exc.InvalidParameterException(f"Invalid index policy document: the type of {name} must be one "
                                                f"of {', '.join(TYPES)}.")
        if name in fields:
            raise exc.InvalidParameterException(f"Invalid index policy document: {name} is in both Fields and "
                                                "FieldsV2; field names within them must be mutually exclusive.")
        fields[name] = kind
    if not fields:
        raise exc.InvalidParameterException("Invalid index policy document: it must include at least one field "
                                            "index.")
    if len(fields) > MAX_FIELDS:
        raise exc.LimitExceededException(f"An index policy can include at most {MAX_FIELDS} fields, not "
                                         f"{len(fields)}.")
    for name in fields:
        if not name or len(name) > MAX_FIELD_CHARS:
            raise exc.InvalidParameterException(f"Invalid index policy document: a field name must have 1 to "
                                                f"{MAX_FIELD_CHARS} characters: {name[:40]!r}.")
    return fields


def _token_offset(token: Any) -> int:
    if not token:
        return 0
    try:
        return int(paging.decode(token)["offset"])
    except (paging.InvalidToken, KeyError, TypeError, ValueError):
        raise exc.InvalidParameterException("The specified nextToken is invalid.") from None


class IndexPolicies:
    def __init__(self, store, backend):
        self.store = store
        self.backend = backend

    def setup(self) -> None:
        self.store.ensure_table("logs_index_policies", DDL)
        self.backend.group_tables.append("logs_index_policies")

    def _group(self, region: str, identifier: str) -> str:
        group = self.backend._validate_identifier(identifier)
        self.backend._require_group(region, group)
        return group

    def put(self, region: str, identifier: str, document: str) -> dict:
        group = self._group(region, identifier)
        log_class = self.backend._require_group(region, group)[4]
        if log_class != "STANDARD":
            raise exc.InvalidParameterException(
                f"Only log groups in the Standard log class support field index policies; {group} is {log_class}.")
        parse_policy(document)
        now = self.backend.now_ms()
        with self.store.transaction() as conn:
            conn.execute("DELETE FROM logs_index_policies WHERE region = ? AND grp = ?", [region, group])
            conn.execute("INSERT INTO logs_index_policies VALUES (?, ?, ?, ?)", [region, group, document, now])
        return {"indexPolicy": self._out(region, group, document, now)}

    @staticmethod
    def _out(region: str, group: str, document: str, updated: int) -> dict:
        return {"logGroupIdentifier": group_arn(region, group), "lastUpdateTime": int(updated),
                "policyDocument": document, "source": "LOG_GROUP"}

    def describe(self, region: str, identifiers: list[str], token: Any = None) -> dict:
        offset = _token_offset(token)
        out = []
        for identifier in identifiers:
            group = self._group(region, identifier)
            rows = self.store.execute("SELECT document, updated FROM logs_index_policies WHERE region = ? AND grp = ?",
                                      [region, group])
            out += [self._out(region, group, d, u) for d, u in rows]
        return self._page("indexPolicies", out, offset)

    @staticmethod
    def _page(key: str, items: list, offset: int) -> dict:
        result: dict = {key: items[offset:offset + PAGE]}
        if len(items) > offset + PAGE:
            result["nextToken"] = paging.encode({"offset": offset + PAGE})
        return result

    def delete(self, region: str, identifier: str) -> None:
        group = self._group(region, identifier)
        with self.store.lock:
            if not self.store.execute("SELECT 1 FROM logs_index_policies WHERE region = ? AND grp = ?", [region, group]):
                raise exc.ResourceNotFoundException(f"The log group {group} does not have a field index policy.")
            self.store.execute("DELETE FROM logs_index_policies WHERE region = ? AND grp = ?", [region, group])

    def policy(self, region: str, group: str) -> tuple[dict[str, str], int] | None:
        rows = self.store.execute("SELECT document, updated FROM logs_index_policies WHERE region = ? AND grp = ?",
                                  [region, group])
        return (parse_policy(rows[0][0]), int(rows[0][1])) if rows else None

    def indexed_on(self, region: str, group: str, field: str) -> bool:
        """Whether ``filterIndex`` reads this group for ``field``: a field of its policy, or a default index."""
        if field in DEFAULT_INDEXES:
            return True
        policy = self.policy(region, group)
        return policy is not None and field in policy[0]

    def field_indexes(self, region: str, identifiers: list[str], token: Any = None) -> dict:
        offset = _token_offset(token)
        now = self.backend.now_ms()
        out = []
        for identifier in identifiers:
            group = self._group(region, identifier)
            policy = self.policy(region, group)
            wanted: list[tuple[str, str, int]] = []  # (field, type, events ingested from)
            if policy is not None:
                wanted += [(name, kind, policy[1]) for name, kind in policy[0].items()]
            wanted += [(name, "FIELD_INDEX", 0) for name in DEFAULT_INDEXES if policy is None or name not in policy[0]]
            for name, kind, since in wanted:
                if name == "@logStream":
                    present = "TRUE"
                    params: list = []
                elif name.startswith("@"):
                    continue  # @aws.region, @aws.account, @source.log: not fields of this stand-in's events
                else:
                    present = "is_json AND json_extract_string(message, ?) IS NOT NULL"
                    params = [_json_path(name)]
                first, last = self.store.execute(
                    f"SELECT min(ts), max(ts) FROM {EVENTS_TABLE} WHERE region = ? AND grp = ? AND ingest >= ? "
                    f"AND {present}", [region, group, since, *params])[0]
                if first is None:
                    continue
                out.append({"logGroupIdentifier": group_arn(region, group), "fieldIndexName": name,
                            "lastScanTime": now, "firstEventTime": int(first), "lastEventTime": int(last),
                            "type": kind})
        return self._page("fieldIndexes", out, offset)
