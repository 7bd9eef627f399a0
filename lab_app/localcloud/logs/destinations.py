"""CloudWatch Logs destinations (PutDestination / DescribeDestinations / DeleteDestination / PutDestinationPolicy).

A destination is the receiving end of cross-account log delivery: a named wrapper around a Kinesis data stream
or Firehose delivery stream (``targetArn``) plus the role CloudWatch Logs assumes to write to it. A subscription
filter whose ``destinationArn`` is ``arn:aws:logs:<region>:<account>:destination:<name>`` delivers to the
destination's target (``subscriptions``). The access policy says which accounts may subscribe; it is validated
(JSON with a ``Statement``) and stored. The local cloud serves one account, so every subscriber is the
destination's owner, who needs no policy (as on AWS).
"""
from __future__ import annotations

import json
from typing import Any

from lab_app import config
from lab_app.localcloud.logs import exceptions as exc

MAX_POLICY_CHARS = 5120
DDL = """CREATE TABLE IF NOT EXISTS logs_destinations (
    region VARCHAR, name VARCHAR, target VARCHAR, role VARCHAR, policy VARCHAR, created BIGINT, tags VARCHAR,
    PRIMARY KEY (region, name))"""
MAX_TAGS = 50


def destination_arn(region: str, name: str) -> str:
    return f"arn:aws:logs:{region}:{config.ACCOUNT_ID}:destination:{name}"


class Destinations:
    def __init__(self, store, now_ms, check_target):
        self.store = store
        self.now_ms = now_ms
        self.check_target = check_target    # (target ARN, role ARN) -> None, raises AWS's error when unusable

    def setup(self) -> None:
        self.store.ensure_table("logs_destinations", DDL)

    @staticmethod
    def _out(region: str, row: tuple) -> dict:
        name, target, role, policy, created = row
        item = {"destinationName": name, "targetArn": target, "roleArn": role, "arn": destination_arn(region, name),
                "creationTime": int(created)}
        if policy:
            item["accessPolicy"] = policy
        return item

    def _row(self, region: str, name: str) -> tuple | None:
        rows = self.store.execute("SELECT name, target, role, policy, created FROM logs_destinations "
                                  "WHERE region = ? AND name = ?", [region, name])
        return rows[0] if rows else None

    def put(self, region: str, name: str, target: str, role: str, tags: Any = None) -> dict:
        service = target.split(":")[2] if target.count(":") >= 5 else ""
        if service not in ("kinesis", "firehose"):
            raise exc.InvalidParameterException(f"Invalid targetArn: {target}. A destination's target must be a "
                                                "Kinesis data stream or a Firehose delivery stream.")
        self.check_target(target, role)
        if tags is not None and (not isinstance(tags, dict) or len(tags) > MAX_TAGS):
            raise exc.InvalidParameterException(f"A resource can have at most {MAX_TAGS} tags.")
        with self.store.lock:
            existing = self._row(region, name)
            old_tags = self.store.execute("SELECT tags FROM logs_destinations WHERE region = ? AND name = ?",
                                          [region, name])
            merged = {**(json.loads(old_tags[0][0]) if old_tags and old_tags[0][0] else {}), **(tags or {})}
            self.store.execute("INSERT OR REPLACE INTO logs_destinations VALUES (?, ?, ?, ?, ?, ?, ?)",
                               [region, name, target, role, existing[3] if existing else None,
                                existing[4] if existing else self.now_ms(), json.dumps(merged)])
            return {"destination": self._out(region, self._row(region, name))}

    def describe(self, region: str, prefix: str | None, limit: int, offset: int) -> tuple[list[dict], bool]:
        sql = "SELECT name, target, role, policy, created FROM logs_destinations WHERE region = ?"
        params: list = [region]
        if prefix:
            sql += " AND starts_with(name, ?)"
            params.append(prefix)
        rows = self.store.execute(sql + " ORDER BY name LIMIT ? OFFSET ?", params + [limit + 1, offset])
        return [self._out(region, r) for r in rows[:limit]], len(rows) > limit

    def delete(self, region: str, name: str) -> None:
        with self.store.lock:
            if self._row(region, name) is None:
                raise exc.ResourceNotFoundException("The specified destination does not exist.")
            self.store.execute("DELETE FROM logs_destinations WHERE region = ? AND name = ?", [region, name])

    def put_policy(self, region: str, name: str, policy: str) -> None:
        if len(policy) > MAX_POLICY_CHARS:
            raise exc.InvalidParameterException.constraint("accessPolicy", "...", "Member must have length less "
                                                           f"than or equal to {MAX_POLICY_CHARS}")
        try:
            document = json.loads(policy)
        except ValueError:
            raise exc.InvalidParameterException("Invalid access policy: it is not valid JSON.") from None
        statements = document.get("Statement") if isinstance(document, dict) else None
        if isinstance(statements, dict):
            statements = [statements]
        if not statements or not all(isinstance(s, dict) and s.get("Effect") in ("Allow", "Deny")
                                     and s.get("Action") and s.get("Principal") for s in statements):
            raise exc.InvalidParameterException("Invalid access policy: each Statement needs Effect (Allow or "
                                                "Deny), Principal and Action.")
        with self.store.lock:
            if self._row(region, name) is None:
                raise exc.ResourceNotFoundException("The specified destination does not exist.")
            self.store.execute("UPDATE logs_destinations SET policy = ? WHERE region = ? AND name = ?",
                               [policy, region, name])

    # ---- tags (TagResource / UntagResource / ListTagsForResource with a destination ARN) -------------
    def _by_arn(self, arn: str) -> tuple[str, str]:
        parts = arn.split(":", 6)
        if not (len(parts) == 7 and parts[2] == "logs" and parts[5] == "destination"
                and parts[4] == config.ACCOUNT_ID and self._row(parts[3], parts[6]) is not None):
            raise exc.ResourceNotFoundException("The specified destination does not exist.")
        return parts[3], parts[6]

    def tags(self, arn: str) -> dict:
        region, name = self._by_arn(arn)
        (raw,), = self.store.execute("SELECT tags FROM logs_destinations WHERE region = ? AND name = ?",
                                     [region, name])
        return json.loads(raw) if raw else {}

    def tag(self, arn: str, tags: dict) -> None:
        with self.store.lock:
            merged = {**self.tags(arn), **tags}
            if len(merged) > MAX_TAGS:
                raise exc.InvalidParameterException(f"A resource can have at most {MAX_TAGS} tags.")
            region, name = self._by_arn(arn)
            self.store.execute("UPDATE logs_destinations SET tags = ? WHERE region = ? AND name = ?",
                               [json.dumps(merged), region, name])

    def untag(self, arn: str, keys: list[str]) -> None:
        with self.store.lock:
            kept = {k: v for k, v in self.tags(arn).items() if k not in set(keys)}
            region, name = self._by_arn(arn)
            self.store.execute("UPDATE logs_destinations SET tags = ? WHERE region = ? AND name = ?",
                               [json.dumps(kept), region, name])

    def target_of(self, arn: str) -> tuple[str, str]:
        """(target ARN, role ARN) of a destination ARN; ResourceNotFoundException when it does not exist."""
        parts = arn.split(":", 6)
        row = None
        if len(parts) == 7 and parts[2] == "logs" and parts[5] == "destination" and parts[4] == config.ACCOUNT_ID:
            row = self._row(parts[3], parts[6])
        if row is None:
            raise exc.ResourceNotFoundException("The specified destination does not exist.")
        return row[1], row[2]
