"""CloudWatch Logs resource policies (PutResourcePolicy / DescribeResourcePolicies / DeleteResourcePolicy).

A resource policy lets an AWS service write to log groups. Enabling CloudWatch Transaction Search with the API
starts with one that allows ``xray.amazonaws.com`` to ``logs:PutLogEvents`` into ``aws/spans`` (AWS's "Enable
Transaction Search" guide); the X-Ray stand-in asks :meth:`ResourcePolicies.allows` before it switches the trace
segment destination to CloudWatch Logs.

Account-level policies only (no ``resourceArn`` / log-group-scoped policies), at most 10 per region as AWS
documents; revision ids are checked when ``expectedRevisionId`` is given.
"""
from __future__ import annotations

import fnmatch
import json
import uuid
from typing import Any

from lab_app import config
from lab_app.localcloud.logs import exceptions as exc

MAX_POLICIES = 10
MAX_DOCUMENT_CHARS = 5120   # PutResourcePolicy: "Maximum length of 5120" for the policy document
DDL = """CREATE TABLE IF NOT EXISTS logs_resource_policies (
    region VARCHAR, name VARCHAR, document VARCHAR, updated BIGINT, revision VARCHAR, PRIMARY KEY (region, name))"""


def _as_list(value: Any) -> list:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


class ResourcePolicies:
    def __init__(self, store, now_ms):
        self.store = store
        self.now_ms = now_ms

    def setup(self) -> None:
        self.store.ensure_table("logs_resource_policies", DDL)

    @staticmethod
    def _out(row: tuple) -> dict:
        name, document, updated, revision = row
        return {"policyName": name, "policyDocument": document, "lastUpdatedTime": int(updated),
                "policyScope": "ACCOUNT", "revisionId": revision}

    def put(self, region: str, name: Any, document: Any, resource_arn: Any = None,
            expected_revision: Any = None) -> dict:
        if not isinstance(name, str) or not name:
            raise exc.InvalidParameterException("1 validation error detected: Value null at 'policyName' failed to "
                                                "satisfy constraint: Member must not be null")
        if not isinstance(document, str) or not document:
            raise exc.InvalidParameterException("1 validation error detected: Value null at 'policyDocument' failed "
                                                "to satisfy constraint: Member must not be null")
        if len(document) > MAX_DOCUMENT_CHARS:
            raise exc.InvalidParameterException.constraint("policyDocument", "...", "Member must have length less "
                                                           f"than or equal to {MAX_DOCUMENT_CHARS}")
        if resource_arn:
            raise exc.InvalidParameterException("The local cloud keeps account-level resource policies only: "
                                                "leave out resourceArn")
        try:
            parsed = json.loads(document)
        except ValueError:
            raise exc.InvalidParameterException("Invalid policy document: it is not JSON") from None
        if not isinstance(parsed, dict) or not _as_list(parsed.get("Statement")):
            raise exc.InvalidParameterException("Invalid policy document: it needs a Statement")
        with self.store.lock:
            rows = self.store.execute("SELECT revision FROM logs_resource_policies WHERE region = ? AND name = ?",
                                      [region, name])
            if expected_revision is not None and (not rows or rows[0][0] != expected_revision):
                raise exc.LogsError("The expected revision id does not match the policy's", code="OperationAbortedException")
            if not rows and self.store.execute("SELECT count(*) FROM logs_resource_policies WHERE region = ?",
                                               [region])[0][0] >= MAX_POLICIES:
                raise exc.LimitExceededException(f"Resource limit exceeded: at most {MAX_POLICIES} resource policies "
                                                 "per Region")
            revision = uuid.uuid4().hex
            self.store.execute("INSERT OR REPLACE INTO logs_resource_policies VALUES (?, ?, ?, ?, ?)",
                               [region, name, document, self.now_ms(), revision])
            row = self.store.execute("SELECT name, document, updated, revision FROM logs_resource_policies "
                                     "WHERE region = ? AND name = ?", [region, name])[0]
        return {"resourcePolicy": self._out(row), "revisionId": revision}

    def describe(self, region: str, limit: Any = None, next_token: Any = None) -> dict:
        if limit is not None and (not isinstance(limit, int) or isinstance(limit, bool) or not 1 <= limit <= 50):
            raise exc.InvalidParameterException.constraint("limit", limit, "Member must have value between 1 and 50")
        rows = self.store.execute("SELECT name, document, updated, revision FROM logs_resource_policies "
                                  "WHERE region = ? ORDER BY name", [region])
        return {"resourcePolicies": [self._out(r) for r in rows[: limit or 50]]}

    def delete(self, region: str, name: Any, expected_revision: Any = None) -> None:
        if not isinstance(name, str) or not name:
            raise exc.InvalidParameterException("1 validation error detected: Value null at 'policyName' failed to "
                                                "satisfy constraint: Member must not be null")
        with self.store.lock:
            rows = self.store.execute("SELECT revision FROM logs_resource_policies WHERE region = ? AND name = ?",
                                      [region, name])
            if not rows:
                raise exc.ResourceNotFoundException("Policy with name [%s] does not exist" % name)
            if expected_revision is not None and rows[0][0] != expected_revision:
                raise exc.LogsError("The expected revision id does not match the policy's", code="OperationAbortedException")
            self.store.execute("DELETE FROM logs_resource_policies WHERE region = ? AND name = ?", [region, name])

    def allows(self, region: str, service_principal: str, action: str, log_group: str) -> bool:
        """Whether some policy has an Allow statement for ``service_principal`` doing ``action`` on ``log_group``
        (Resource ARN patterns with ``*`` matched the way IAM matches them). Conditions are not evaluated."""
        group_arn = f"arn:aws:logs:{region}:{config.ACCOUNT_ID}:log-group:{log_group}"
        for (document,) in self.store.execute("SELECT document FROM logs_resource_policies WHERE region = ?",
                                              [region]):
            for statement in _as_list(json.loads(document).get("Statement")):
                if not isinstance(statement, dict) or statement.get("Effect") != "Allow":
                    continue
                principal = statement.get("Principal") or {}
                services = _as_list(principal.get("Service")) if isinstance(principal, dict) else []
                if service_principal not in services:
                    continue
                actions = [str(a).lower() for a in _as_list(statement.get("Action"))]
                if not any(fnmatch.fnmatchcase(action.lower(), a) for a in actions):
                    continue
                for resource in map(str, _as_list(statement.get("Resource"))):
                    if fnmatch.fnmatchcase(group_arn + ":*", resource) or fnmatch.fnmatchcase(group_arn, resource):
                        return True
        return False
