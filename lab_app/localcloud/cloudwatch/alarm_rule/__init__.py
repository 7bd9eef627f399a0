"""Composite alarms' AlarmRule: ``grammar.lark`` -> :func:`parse` (:mod:`.ast`) -> :func:`evaluate`."""
from lab_app.localcloud.cloudwatch.alarm_rule.evaluate import evaluate
from lab_app.localcloud.cloudwatch.alarm_rule.parser import AlarmRuleError, parse

__all__ = ["parse", "evaluate", "AlarmRuleError"]
