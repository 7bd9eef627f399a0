"""Evaluate an AlarmRule against the current states of the alarms it names."""
from __future__ import annotations

from typing import Callable

from lab_app.localcloud.cloudwatch.alarm_rule import ast


def evaluate(rule: ast.Rule, state_of: Callable[[str], str | None]) -> bool:
    """True when the rule holds. ``state_of(name_or_arn)`` is the alarm's state (None: no such alarm, which
    matches no state)."""
    if isinstance(rule, ast.Constant):
        return rule.value
    if isinstance(rule, ast.State):
        return state_of(rule.alarm) == rule.state
    if isinstance(rule, ast.Not):
        return not evaluate(rule.operand, state_of)
    if rule.op == "AND":
        return all(evaluate(item, state_of) for item in rule.items)
    return any(evaluate(item, state_of) for item in rule.items)
