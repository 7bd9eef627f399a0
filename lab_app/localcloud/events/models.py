"""EventBridge routing: an event meets the default bus's rules (stored by moto, matched with moto's pattern
matcher) and goes to their targets.

moto's own PutEvents cannot deliver to SNS targets and writes log-group targets into moto's logs backend,
not the local CloudWatch Logs; so for the events the local cloud emits itself (CloudWatch alarm state
changes) the rules are matched here and SNS, SQS and CloudWatch Logs targets are delivered here. Input,
InputPath and InputTransformer shape the payload as EventBridge does.
"""
from __future__ import annotations

import json
import logging
from typing import Any, Callable

# (log group name, event id, log events, region) -> events stored
DeliverToLogs = Callable[[str, str, list[dict], str], Any]


def default_bus(account_id: str, region: str):
    from moto.events.models import events_backends

    try:
        backend = dict.get(events_backends[account_id], region)
        return backend.event_buses.get("default") if backend is not None else None
    except Exception:
        return None


def target_payload(target: dict, event: dict) -> str:
    """The text a target receives: the event, or what its Input / InputPath / InputTransformer make of it."""
    if target.get("Input"):
        payload: Any = json.loads(target["Input"])
    elif target.get("InputPath"):
        from jsonpath_ng.ext import parse as jsonpath

        found = jsonpath(target["InputPath"]).find(event)
        payload = found[0].value if found else None
    elif target.get("InputTransformer"):
        from moto.events.utils import EventTemplateParser

        transformer = target["InputTransformer"]
        payload = EventTemplateParser.parse(input_template=transformer.get("InputTemplate"),
                                            input_paths_map=transformer.get("InputPathsMap", {}),
                                            event={**event, "ingestion-time": event["time"]})
    else:
        payload = event
    return payload if isinstance(payload, str) else json.dumps(payload)


class EventRouter:
    def __init__(self, deliver_to_logs: DeliverToLogs, now_ms: Callable[[], int], log: logging.Logger):
        self.deliver_to_logs = deliver_to_logs
        self.now_ms = now_ms
        self.log = log
        self.delivered = 0

    def route_event(self, account_id: str, region: str, event: dict) -> int:
        """Deliver an event to the targets of the default bus's matching rules. Returns the deliveries made."""
        bus = default_bus(account_id, region)
        if bus is None:
            return 0
        delivered = 0
        for rule in list(bus.rules.values()):
            try:
                if rule.state != "ENABLED" or not rule.event_pattern.matches_event(event):
                    continue
            except Exception:  # a pattern moto cannot evaluate matches nothing
                continue
            for target in list(rule.targets):
                try:
                    self.deliver(target, event)
                    delivered += 1
                except Exception as exc:
                    self.log.warning("EventBridge rule %s: target %s failed: %s", rule.name, target.get("Arn"), exc)
        self.delivered += delivered
        return delivered

    def deliver(self, target: dict, event: dict) -> None:
        arn = target["Arn"]
        parts = arn.split(":")
        service, target_region, target_account = parts[2], parts[3], parts[4]
        body = target_payload(target, event)
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
