"""The AlarmRule syntax tree."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Union


@dataclass(frozen=True)
class State:
    state: str       # ALARM, OK or INSUFFICIENT_DATA
    alarm: str       # a name or an ARN, as written


@dataclass(frozen=True)
class Constant:
    value: bool


@dataclass(frozen=True)
class Not:
    operand: "Rule"


@dataclass(frozen=True)
class BoolOp:
    op: str          # AND or OR
    items: tuple["Rule", ...]


Rule = Union[State, Constant, Not, BoolOp]


def alarms(rule: Rule) -> list[str]:
    """The alarms a rule names, in order of appearance."""
    if isinstance(rule, State):
        return [rule.alarm]
    if isinstance(rule, Not):
        return alarms(rule.operand)
    if isinstance(rule, BoolOp):
        return [a for item in rule.items for a in alarms(item)]
    return []
