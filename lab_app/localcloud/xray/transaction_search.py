"""CloudWatch Transaction Search, X-Ray's side: the trace segment destination and the indexing rules.

The four operations of botocore's xray-2016-04-12 model (all ``POST``, rest-json):

* ``GetTraceSegmentDestination`` -> ``{"Destination": "XRay"|"CloudWatchLogs", "Status": "PENDING"|"ACTIVE"}``.
* ``UpdateTraceSegmentDestination(Destination=...)`` -> the same shape. Switching answers ``PENDING`` and the
  new destination becomes ``ACTIVE`` a little later (AWS takes minutes; the local cloud
  :data:`PENDING_SECONDS`); until then the previous destination applies. Asking for the destination that is
  already active answers ``ACTIVE`` at once.
* ``GetIndexingRules`` -> ``{"IndexingRules": [{"Name": "Default", "ModifiedAt": ..., "Rule": {"Probabilistic":
  {"DesiredSamplingPercentage": 1.0, "ActualSamplingPercentage": 1.0}}}]}``: one rule, ``Default``, 1 % (AWS:
  "By default you will also index 1% of ingested spans for free as trace summary").
* ``UpdateIndexingRule(Name, Rule={"Probabilistic": {"DesiredSamplingPercentage": p}})``, ``0 <= p <= 100``;
  another name is ``ResourceNotFoundException`` (404), anything else ``InvalidRequestException`` (400).

The local default is what a **new account** has: destination ``XRay`` (``ACTIVE``), so the OTLP endpoint refuses
spans until Transaction Search is enabled, exactly as on AWS. Enabling it takes what AWS's "Enable Transaction
Search" guide (API path) takes: a CloudWatch Logs resource policy that lets ``xray.amazonaws.com``
``logs:PutLogEvents`` into ``aws/spans`` (PutResourcePolicy), then ``UpdateTraceSegmentDestination``. Without
that policy the update is refused with ``InvalidRequestException`` (AWS documents the policy as required; the
exact refusal AWS gives is not documented, so the message here is the local cloud's). When the destination turns
``ACTIVE`` the local X-Ray creates the ``aws/spans`` log group, as the service does.

Which traces are indexed (become trace summaries): a trace is indexed when the last 8 hex digits of its id, read
as a number, are below ``percentage / 100 * 2**32``. W3C and X-Ray trace ids end in random digits, so this
indexes the configured share; it is deterministic by trace id so tests can compute the answer by hand (AWS
documents the share, not how it picks).

Scope: the OTLP endpoint honours the destination. Segments sent with PutTraceSegments or through the daemon are
stored in X-Ray whatever the destination (on AWS they too would go to ``aws/spans``).
"""
from __future__ import annotations

import json
import threading
from typing import Any, Callable

from lab_app import config
from lab_app.localcloud.xray.exceptions import InvalidRequestException, ResourceNotFoundException

XRAY = "XRay"
CLOUDWATCH_LOGS = "CloudWatchLogs"
DESTINATIONS = (XRAY, CLOUDWATCH_LOGS)
PENDING, ACTIVE = "PENDING", "ACTIVE"
PENDING_SECONDS = 2.0
SPANS_LOG_GROUP = "aws/spans"
SPANS_LOG_STREAM = "default"
DEFAULT_RULE = "Default"
DEFAULT_PERCENTAGE = 1.0
XRAY_PRINCIPAL = "xray.amazonaws.com"
DDL = "CREATE TABLE IF NOT EXISTS xray_settings (name VARCHAR PRIMARY KEY, value VARCHAR)"


def indexed(trace_id_hex: str, percentage: float) -> bool:
    """Whether a trace (32 hex digits, or ``1-xxxxxxxx-yyyy...``) is indexed at ``percentage`` (0 to 100)."""
    digits = trace_id_hex.replace("-", "")[-8:]
    return int(digits, 16) < percentage / 100.0 * 2 ** 32


class TransactionSearch:
    """The destination and indexing state of one account, kept in the store so it survives restarts."""

    def __init__(self, store, clock: Callable[[], float], region: str = config.REGION,
                 may_write_spans: Callable[[str], bool] | None = None,
                 on_active: Callable[[str], None] | None = None):
        self.store = store
        self.now = clock
        self.region = region
        self.may_write_spans = may_write_spans   # region -> does a logs resource policy let X-Ray write aws/spans?
        self.on_active = on_active               # region -> create aws/spans when CloudWatchLogs turns ACTIVE
        self._lock = threading.Lock()
        self._saved: str | None = None

    def setup(self) -> None:
        self.store.ensure_table("xray_settings", DDL)

    # --- state -------------------------------------------------------------------------------------------------
    def reset(self) -> None:
        """The store was wiped: forget the copy of the state kept in memory."""
        self._saved = None

    def _load(self) -> dict:
        """The state, a fresh dict each time. Every OTLP request reads it twice, so the row is read from the store
        once and kept (as its JSON text) beside it; :meth:`_save` writes both."""
        saved = self._saved
        if saved is None:
            rows = self.store.execute("SELECT value FROM xray_settings WHERE name = 'transaction_search'")
            saved = self._saved = rows[0][0] if rows else json.dumps(
                {"destination": XRAY, "previous": XRAY, "active_at": 0.0, "announced": True,
                 "rules": {DEFAULT_RULE: {"percentage": DEFAULT_PERCENTAGE, "modified_at": 0.0}}})
        return json.loads(saved)

    def _save(self, state: dict) -> None:
        text = json.dumps(state)
        self.store.execute("INSERT OR REPLACE INTO xray_settings VALUES ('transaction_search', ?)", [text])
        self._saved = text

    def _settle(self, state: dict) -> dict:
        """Turn a PENDING destination ACTIVE once its time has come (and tell the logs side once)."""
        if self.now() >= state["active_at"] and not state.get("announced"):
            state["announced"] = True
            state["previous"] = state["destination"]
            self._save(state)
            if state["destination"] == CLOUDWATCH_LOGS and self.on_active is not None:
                self.on_active(self.region)
        return state

    def state(self) -> dict:
        with self._lock:
            return self._settle(self._load())

    def destination(self) -> dict:
        state = self.state()
        return {"Destination": state["destination"], "Status": ACTIVE if state.get("announced") else PENDING}

    def effective_destination(self) -> str:
        """Where spans go now: the new destination once ACTIVE, the previous one while PENDING."""
        state = self.state()
        return state["destination"] if state.get("announced") else state["previous"]

    def percentage(self, rule: str = DEFAULT_RULE) -> float:
        return float(self.state()["rules"][rule]["percentage"])

    # --- operations ----------------------------------------------------------------------------------------------
    def update_destination(self, destination: Any) -> dict:
        if destination is None:
            return self.destination()
        if not isinstance(destination, str) or destination not in DESTINATIONS:
            raise InvalidRequestException(f"1 validation error detected: Value '{destination}' at 'destination' "
                                          "failed to satisfy constraint: Member must satisfy enum value set: "
                                          "[XRay, CloudWatchLogs]")
        with self._lock:
            state = self._settle(self._load())
            if not state.get("announced"):
                raise InvalidRequestException(f"An update of the trace segment destination to {state['destination']} "
                                              "is still PENDING: wait until GetTraceSegmentDestination says ACTIVE")
            if state["destination"] == destination:
                return {"Destination": destination, "Status": ACTIVE}
            if destination == CLOUDWATCH_LOGS and self.may_write_spans is not None \
                    and not self.may_write_spans(self.region):
                raise InvalidRequestException(
                    "X-Ray is not allowed to write spans to CloudWatch Logs: add a CloudWatch Logs resource policy "
                    f"(PutResourcePolicy) that allows the service principal {XRAY_PRINCIPAL} logs:PutLogEvents on "
                    f"arn:aws:logs:{self.region}:{config.ACCOUNT_ID}:log-group:{SPANS_LOG_GROUP}:*, then retry")
            state.update(previous=state["destination"], destination=destination,
                         active_at=self.now() + PENDING_SECONDS, announced=False)
            self._save(state)
        return {"Destination": destination, "Status": PENDING}

    @staticmethod
    def _rule_out(name: str, rule: dict) -> dict:
        value = float(rule["percentage"])
        return {"Name": name, "ModifiedAt": float(rule["modified_at"]),
                "Rule": {"Probabilistic": {"DesiredSamplingPercentage": value, "ActualSamplingPercentage": value}}}

    def get_indexing_rules(self, next_token: Any = None) -> dict:
        if next_token is not None and not isinstance(next_token, str):
            raise InvalidRequestException("NextToken must be a string")
        state = self.state()
        return {"IndexingRules": [self._rule_out(n, r) for n, r in sorted(state["rules"].items())]}

    def update_indexing_rule(self, name: Any, rule: Any) -> dict:
        if name is None:
            raise InvalidRequestException("1 validation error detected: Value null at 'name' failed to satisfy "
                                          "constraint: Member must not be null")
        if rule is None:
            raise InvalidRequestException("1 validation error detected: Value null at 'rule' failed to satisfy "
                                          "constraint: Member must not be null")
        if not isinstance(name, str) or not 1 <= len(name) <= 32:
            raise InvalidRequestException("Name must be a string of 1 to 32 characters")
        if not isinstance(rule, dict) or set(rule) != {"Probabilistic"} or not isinstance(rule["Probabilistic"], dict):
            raise InvalidRequestException("Rule must set exactly one rule type: Probabilistic")
        value = rule["Probabilistic"].get("DesiredSamplingPercentage")
        if value is None:
            raise InvalidRequestException("1 validation error detected: Value null at 'rule.probabilistic."
                                          "desiredSamplingPercentage' failed to satisfy constraint: Member must not "
                                          "be null")
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 100:
            raise InvalidRequestException(f"DesiredSamplingPercentage must be a number from 0 to 100, not {value!r}")
        with self._lock:
            state = self._settle(self._load())
            if name not in state["rules"]:
                raise ResourceNotFoundException(f"Indexing rule {name} does not exist", ResourceName=name)
            state["rules"][name] = {"percentage": float(value), "modified_at": self.now()}
            self._save(state)
            return {"IndexingRule": self._rule_out(name, state["rules"][name])}
