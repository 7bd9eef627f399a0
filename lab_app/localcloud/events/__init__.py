"""EventBridge for the local cloud: every source's events (alarms, CloudTrail, GuardDuty, Security Hub, PutEvents)
matched with EventBridge's pattern semantics (``pattern``) and delivered to the rule targets (SNS, SQS, CloudWatch
Logs) as ``transform`` shapes them; TestEventPattern and PutRule's pattern check answered here, the rest by moto."""
from lab_app.localcloud.events.component import EventBridge

__all__ = ["EventBridge"]
