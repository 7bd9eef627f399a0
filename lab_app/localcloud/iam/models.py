"""IAM policy evaluation over moto's IAM state.

The identity's policies (inline and attached, user groups included; for a role session the role's)
are read from moto's IAM state; an explicit ``Deny`` matching the action wins, otherwise an ``Allow``
matching the action is needed (AWS's evaluation order). Actions match with IAM wildcards,
case-insensitively; ``NotAction`` is honoured. Simplifications, stated plainly: resource ARNs and
conditions in statements are not evaluated (a statement applies to every resource), and signatures
are not verified.
"""
from __future__ import annotations

import re
from typing import Any


def _action_matches(pattern: str, action: str) -> bool:
    regex = "^" + re.escape(pattern).replace(r"\*", ".*").replace(r"\?", ".") + "$"
    return re.match(regex, action, flags=re.IGNORECASE) is not None


def _as_list(value: Any) -> list:
    return value if isinstance(value, list) else [value]


def evaluate(policies: list[dict], action: str) -> str:
    """``"allow"``, ``"explicit-deny"`` or ``"implicit-deny"`` for an action under identity policies."""
    allowed = False
    for document in policies:
        for statement in _as_list(document.get("Statement", [])):
            if not isinstance(statement, dict):
                continue
            if "NotAction" in statement:
                concerned = not any(_action_matches(p, action) for p in _as_list(statement["NotAction"]))
            else:
                concerned = any(_action_matches(p, action) for p in _as_list(statement.get("Action", [])))
            if not concerned:
                continue
            if statement.get("Effect") == "Deny":
                return "explicit-deny"
            if statement.get("Effect") == "Allow":
                allowed = True
    return "allow" if allowed else "implicit-deny"


def identity_policies(account_id: str, key_id: str, session_token: str | None) -> tuple[str, list[dict]] | None:
    """(the identity's ARN, its policy documents), or None when the key or the session token is not valid."""
    from moto.iam.access_control import CreateAccessKeyFailure, IAMPolicy, create_access_key

    headers = {"X-Amz-Security-Token": session_token} if session_token else {}
    try:
        key = create_access_key(account_id=account_id, partition="aws", access_key_id=key_id, headers=headers)
    except CreateAccessKeyFailure:
        return None
    documents = []
    for policy in key.collect_policies():
        try:
            documents.append(IAMPolicy(policy)._policy_json)
        except Exception:  # an unreadable policy grants nothing
            continue
    return key.arn, documents
