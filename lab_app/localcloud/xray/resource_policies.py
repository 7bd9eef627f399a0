"""X-Ray resource policies: PutResourcePolicy / ListResourcePolicies / DeleteResourcePolicy.

What botocore's model documents (xray-2016-04-12), and what the local cloud does with it:

* at most 5 policies per account (a 6th name: ``PolicyCountLimitExceededException``), names unique per account;
* a policy document is at most 5 KB (more than 5120 bytes of UTF-8: ``PolicySizeLimitExceededException``);
* the document must be an IAM policy: a JSON object with ``Statement`` (an object or a non-empty list), each
  statement with ``Effect`` Allow or Deny, a ``Principal`` (resource policies name who they grant),
  ``Action``/``NotAction`` and ``Resource``/``NotResource``, ``Version`` if given ``2012-10-17`` or
  ``2008-10-17``; otherwise ``MalformedPolicyDocumentException``;
* revision ids: a new policy gets revision ``"1"`` and each update increments it ("updated with an incremented
  revision id"); ``PolicyRevisionId`` on Put must equal the current revision, ``"0"`` means "create only" (fails
  if the policy exists), a mismatch is ``InvalidPolicyRevisionIdException``; on Delete a mismatch is the same
  error; deleting a policy that does not exist succeeds (the model lists no not-found error for it);
* ``NextToken`` of ListResourcePolicies is "Not currently supported": all policies come in one page.

Not implemented: ``LockoutPreventionException``. AWS does not document which statements its lockout safety check
rejects, so the local cloud accepts ``BypassPolicyLockoutCheck`` and never raises it rather than guess.
"""
from __future__ import annotations

import json
from typing import Any, Callable

from lab_app.localcloud.xray.exceptions import (
    InvalidPolicyRevisionIdException,
    InvalidRequestException,
    MalformedPolicyDocumentException,
    PolicyCountLimitExceededException,
    PolicySizeLimitExceededException,
)

MAX_POLICIES = 5
MAX_DOCUMENT_BYTES = 5 * 1024
VERSIONS = ("2012-10-17", "2008-10-17")
DDL = """CREATE TABLE IF NOT EXISTS xray_resource_policies (
    name VARCHAR PRIMARY KEY, document VARCHAR, revision BIGINT, updated DOUBLE)"""


def _as_list(value: Any) -> list:
    return value if isinstance(value, list) else [value]


def check_document(document: str) -> None:
    """Raise ``MalformedPolicyDocumentException`` unless ``document`` is a well-formed IAM resource policy."""
    def bad(why: str) -> MalformedPolicyDocumentException:
        return MalformedPolicyDocumentException(f"Invalid policy document: {why}")

    try:
        policy = json.loads(document)
    except ValueError:
        raise bad("it is not valid JSON") from None
    if not isinstance(policy, dict):
        raise bad("it must be a JSON object")
    if "Version" in policy and policy["Version"] not in VERSIONS:
        raise bad(f"Version must be one of {', '.join(VERSIONS)}")
    statements = policy.get("Statement")
    if statements is None or statements == []:
        raise bad("it needs a Statement")
    for statement in _as_list(statements):
        if not isinstance(statement, dict):
            raise bad("each Statement must be an object")
        if statement.get("Effect") not in ("Allow", "Deny"):
            raise bad("each Statement needs an Effect of Allow or Deny")
        if "Principal" not in statement and "NotPrincipal" not in statement:
            raise bad("a resource policy Statement needs a Principal")
        if ("Action" in statement) == ("NotAction" in statement):
            raise bad("each Statement needs exactly one of Action and NotAction")
        if ("Resource" in statement) == ("NotResource" in statement):
            raise bad("each Statement needs exactly one of Resource and NotResource")
        for key in ("Action", "NotAction", "Resource", "NotResource"):
            if key in statement and not all(isinstance(v, str) and v for v in _as_list(statement[key])):
                raise bad(f"{key} must be a string or a list of strings")


class ResourcePolicies:
    def __init__(self, store, clock: Callable[[], float]):
        self.store = store
        self.now = clock

    def setup(self) -> None:
        self.store.ensure_table("xray_resource_policies", DDL)

    @staticmethod
    def _out(row: tuple) -> dict:
        name, document, revision, updated = row
        return {"PolicyName": name, "PolicyDocument": document, "PolicyRevisionId": str(revision),
                "LastUpdatedTime": float(updated)}

    def _row(self, name: str) -> tuple | None:
        rows = self.store.execute("SELECT name, document, revision, updated FROM xray_resource_policies "
                                  "WHERE name = ?", [name])
        return rows[0] if rows else None

    def put(self, name: Any, document: Any, revision_id: Any = None, bypass_lockout_check: Any = False) -> dict:
        if not isinstance(name, str) or not isinstance(document, str):
            raise InvalidRequestException("PolicyName and PolicyDocument are required strings")
        if len(document.encode()) > MAX_DOCUMENT_BYTES:
            raise PolicySizeLimitExceededException(
                f"The policy document is {len(document.encode())} bytes; the maximum is {MAX_DOCUMENT_BYTES}")
        check_document(document)
        with self.store.lock:
            current = self._row(name)
            if revision_id is not None:
                if revision_id == "0" and current is not None:
                    raise InvalidPolicyRevisionIdException(
                        f"A resource policy named {name} already exists (PolicyRevisionId 0 creates only)")
                if revision_id != "0" and (current is None or str(current[2]) != revision_id):
                    raise InvalidPolicyRevisionIdException(
                        f"PolicyRevisionId {revision_id} does not match the latest revision of {name}")
            if current is None and self.store.execute("SELECT count(*) FROM xray_resource_policies")[0][0] \
                    >= MAX_POLICIES:
                raise PolicyCountLimitExceededException(
                    f"An account can have at most {MAX_POLICIES} resource policies")
            revision = 1 if current is None else int(current[2]) + 1
            self.store.execute("INSERT OR REPLACE INTO xray_resource_policies VALUES (?, ?, ?, ?)",
                               [name, document, revision, self.now()])
            return {"ResourcePolicy": self._out(self._row(name))}

    def list(self, next_token: Any = None) -> dict:
        if next_token is not None:
            raise InvalidRequestException("NextToken is not currently supported by ListResourcePolicies")
        rows = self.store.execute("SELECT name, document, revision, updated FROM xray_resource_policies ORDER BY name")
        return {"ResourcePolicies": [self._out(r) for r in rows]}

    def delete(self, name: Any, revision_id: Any = None) -> dict:
        if not isinstance(name, str):
            raise InvalidRequestException("PolicyName is required")
        with self.store.lock:
            current = self._row(name)
            if revision_id is not None and (current is None or str(current[2]) != revision_id):
                raise InvalidPolicyRevisionIdException(
                    f"PolicyRevisionId {revision_id} does not match the latest revision of {name}")
            self.store.execute("DELETE FROM xray_resource_policies WHERE name = ?", [name])
        return {}
