"""EventBridge routing: an event meets its bus's rules (stored by moto, matched with our
:mod:`~lab_app.localcloud.events.pattern`) and goes to their targets.

Every event the local cloud emits (CloudWatch alarm state changes, GuardDuty findings, Security Hub imports) and
every PutEvents call comes through here. moto's own PutEvents cannot deliver to SNS targets and writes log-group
targets into moto's logs backend, not the local CloudWatch Logs; so SNS, SQS and CloudWatch Logs targets are
delivered here, with Input, InputPath and InputTransformer shaping the payload as EventBridge does
(:mod:`~lab_app.localcloud.events.transform`).
"""
from __future__ import annotations

import logging
import uuid
from datetime import datetime, timezone
from typing import Any, Callable

from lab_app.localcloud.events import pattern as patterns
from lab_app.localcloud.events.transform import target_payload

# (log group name, log stream name, log events, region) -> events stored
DeliverToLogs = Callable[[str, str, list[dict], str], Any]

__all__ = ["EventRouter", "event_bus", "make_event", "target_payload"]


def event_bus(account_id: str, region: str, name: str = "default"):
    """moto's event bus (by name or ARN), or None."""
    from moto.events.models import events_backends

    name = (name or "default").rsplit("/", 1)[-1] if str(name).startswith("arn:") else (name or "default")
    try:
        backend = dict.get(events_backends[account_id], region)
        return backend.event_buses.get(name) if backend is not None else None
    except Exception:
        return None


def iso_time(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def make_event(source: str, detail_type: str, detail: dict, account_id: str, region: str, now: float,
               resources: list[str] | None = None) -> dict:
    """An EventBridge event envelope as AWS services send them (version 0)."""
    return {"version": "0", "id": str(uuid.uuid4()), "detail-type": detail_type, "source": source,
            "account": account_id, "time": iso_time(now), "region": region, "resources": resources or [],
            "detail": detail}


def rule_matches(rule, event: dict) -> bool:
    raw = rule.event_pattern.dump() if rule.event_pattern is not None else None
    if not raw:
        return False  # scheduled rules match no events
    try:
        return patterns.matches(patterns.compiled(raw), event)
    except patterns.InvalidEventPattern:  # stored before we validated; matches nothing, as it could not be saved
        return False


class EventRouter:
    def __init__(self, deliver_to_logs: DeliverToLogs, now_ms: Callable[[], int], log: logging.Logger):
        self.deliver_to_logs = deliver_to_logs
        self.now_ms = now_ms
        self.log = log
        self.delivered = 0
        self.failed = 0

    def route_event(self, account_id: str, region: str, event: dict, bus_name: str = "default") -> int:
        """Deliver an event to the targets of the bus's matching, enabled rules. Returns the deliveries made."""
        bus = event_bus(account_id, region, bus_name)
        if bus is None:
            return 0
        delivered = 0
        for rule in list(bus.rules.values()):
            if rule.state != "ENABLED" or not rule_matches(rule, event):
                continue
            for target in list(rule.targets):
                try:
                    self.deliver(target, event, rule.name, rule.arn)
                    delivered += 1
                except Exception as exc:  # AWS retries and then drops (or dead-letters); we log and drop
                    self.failed += 1
                    self.log.warning("EventBridge rule %s: target %s failed: %s", rule.name, target.get("Arn"), exc)
        self.delivered += delivered
        return delivered

    def deliver(self, target: dict, event: dict, rule_name: str = "", rule_arn: str = "") -> None:
        arn = target["Arn"]
        parts = arn.split(":")
        service, target_region, target_account = parts[2], parts[3], parts[4]
        body = target_payload(target, event, rule_name, rule_arn)
        if service == "sns":
            from moto.sns.models import sns_backends

            sns_backends[target_account][target_region].publish(body, arn=arn)
        elif service == "sqs":
            from moto.sqs.models import sqs_backends

            group = (target.get("SqsParameters") or {}).get("MessageGroupId")
            sqs_backends[target_account][target_region].send_message(queue_name=parts[5], message_body=body,
                                                                     group_id=group)
        elif service == "logs":
            group_name = arn.split(":log-group:", 1)[1].split(":", 1)[0]
            self.deliver_to_logs(group_name, event["id"], [{"timestamp": self.now_ms(), "message": body}],
                                 target_region)
        else:
            raise ValueError(f"the local cloud delivers EventBridge events to SNS, SQS and CloudWatch Logs "
                             f"targets only, not {service}")
