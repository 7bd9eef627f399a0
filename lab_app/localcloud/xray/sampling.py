"""X-Ray sampling semantics: rule validation and ordering, and the reservoir handed out per client.

* A rule named ``Default`` (1 request/s reservoir, 5 % fixed rate, matches everything) always exists; it can be
  updated (FixedRate, ReservoirSize only) but not deleted.
* Rules are evaluated in (Priority, RuleName) order.
* GetSamplingTargets: each rule's ReservoirSize (requests per second) is split among the clients that reported
  statistics for it recently; each gets ReservoirQuota for ReservoirQuotaTTL, and samples FixedRate beyond it.
"""
from __future__ import annotations

import re
import threading
from dataclasses import dataclass, field

from lab_app.localcloud.xray.exceptions import InvalidRequestException

DEFAULT_RULE_NAME = "Default"
DEFAULT_RULE = {
    "RuleName": DEFAULT_RULE_NAME, "ResourceARN": "*", "Priority": 10000, "FixedRate": 0.05, "ReservoirSize": 1,
    "ServiceName": "*", "ServiceType": "*", "Host": "*", "HTTPMethod": "*", "URLPath": "*", "Version": 1,
    "Attributes": {},
}
MAX_RULES = 25  # custom rules per account and region (the Default rule does not count)
TARGET_INTERVAL_S = 10  # how often clients should report (seconds)
QUOTA_TTL_S = 15  # how long a handed-out quota is valid (covers one 10 s reporting interval plus jitter)
ACTIVE_WINDOW_S = 30  # a client counts towards the split while it reported within this window
RULE_NAME = re.compile(r"^[A-Za-z0-9_-]{1,32}$")
STRING_LIMITS = {"ServiceName": 64, "ServiceType": 64, "Host": 64, "HTTPMethod": 10, "URLPath": 128, "ResourceARN": 500}
UPDATABLE = ("ResourceARN", "Priority", "FixedRate", "ReservoirSize", "Host", "ServiceName", "ServiceType",
             "HTTPMethod", "URLPath", "Attributes")


def sort_key(rule: dict) -> tuple:
    return (int(rule["Priority"]), rule["RuleName"])


def validate_rule(rule: dict, *, creating: bool) -> dict:
    """Check a SamplingRule the way X-Ray does; returns the normalised rule."""
    name = rule.get("RuleName")
    if not isinstance(name, str) or not RULE_NAME.match(name):
        raise InvalidRequestException("RuleName must be 1 to 32 characters: letters, digits, '-' and '_'")
    if creating and name == DEFAULT_RULE_NAME:
        raise InvalidRequestException("The Default sampling rule already exists; update it instead")
    if creating and rule.get("Version") != 1:
        raise InvalidRequestException("Version must be 1")
    priority = rule.get("Priority")
    if not isinstance(priority, int) or not 1 <= priority <= 9999:
        raise InvalidRequestException("Priority must be an integer from 1 to 9999")
    rate = rule.get("FixedRate")
    if not isinstance(rate, (int, float)) or not 0 <= rate <= 1:
        raise InvalidRequestException("FixedRate must be between 0 and 1")
    size = rule.get("ReservoirSize")
    if not isinstance(size, int) or size < 0:
        raise InvalidRequestException("ReservoirSize must be a non-negative integer")
    for key, limit in STRING_LIMITS.items():
        value = rule.get(key)
        if not isinstance(value, str) or not value or len(value) > limit:
            raise InvalidRequestException(f"{key} must be a string of 1 to {limit} characters")
    if rule.get("ResourceARN") != "*":
        raise InvalidRequestException("ResourceARN must be '*' (X-Ray does not support resource-specific rules yet)")
    attributes = rule.get("Attributes") or {}
    if not isinstance(attributes, dict) or len(attributes) > 5:
        raise InvalidRequestException("Attributes is a map of at most 5 string pairs")
    out = {k: rule[k] for k in DEFAULT_RULE if k in rule}
    out["FixedRate"] = float(rate)
    out["Attributes"] = attributes
    out["Version"] = 1
    return out


def apply_update(current: dict, update: dict) -> dict:
    if current["RuleName"] == DEFAULT_RULE_NAME:
        extra = [k for k in UPDATABLE if k in update and k not in ("FixedRate", "ReservoirSize")]
        if extra:
            raise InvalidRequestException(f"The Default rule only accepts FixedRate and ReservoirSize updates, not {extra}")
        merged = {**current, **{k: update[k] for k in ("FixedRate", "ReservoirSize") if k in update}}
        rate, size = merged["FixedRate"], merged["ReservoirSize"]
        if not isinstance(rate, (int, float)) or not 0 <= rate <= 1:
            raise InvalidRequestException("FixedRate must be between 0 and 1")
        if not isinstance(size, int) or size < 0:
            raise InvalidRequestException("ReservoirSize must be a non-negative integer")
        merged["FixedRate"] = float(rate)
        return merged
    merged = {**current, **{k: update[k] for k in UPDATABLE if k in update}}
    return validate_rule(merged, creating=False)


@dataclass
class _RuleClients:
    last_seen: dict[str, float] = field(default_factory=dict)


class ReservoirAllocator:
    """Splits each rule's per-second reservoir among the clients reporting for it."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._rules: dict[str, _RuleClients] = {}

    def reset(self) -> None:
        with self._lock:
            self._rules.clear()

    def quota(self, rule_name: str, reservoir_size: int, client_id: str, now: float) -> int:
        with self._lock:
            clients = self._rules.setdefault(rule_name, _RuleClients())
            clients.last_seen[client_id] = now
            active = sorted(c for c, seen in clients.last_seen.items() if now - seen <= ACTIVE_WINDOW_S)
            for gone in [c for c in clients.last_seen if c not in active]:
                del clients.last_seen[gone]
            n = len(active)
            base, extra = divmod(int(reservoir_size), n)
            return base + (1 if active.index(client_id) < extra else 0)

    def clients(self, rule_name: str) -> list[str]:
        with self._lock:
            return sorted(self._rules.get(rule_name, _RuleClients()).last_seen)
