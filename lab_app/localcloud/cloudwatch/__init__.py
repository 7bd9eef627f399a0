"""CloudWatch alarms for the local cloud: rules (pure), evaluator (the timer), history, request interception."""
from lab_app.localcloud.cloudwatch.component import CloudWatch

__all__ = ["CloudWatch"]
