"""EventBridge for the local cloud: routing events to the default bus's rule targets (SNS, SQS, CloudWatch Logs)."""
from lab_app.localcloud.events.component import EventBridge

__all__ = ["EventBridge"]
