"""AlarmRule text -> AST (lark LALR grammar + Transformer)."""
from __future__ import annotations

import functools
import re
from pathlib import Path

from lark import Lark, Transformer, UnexpectedInput

from lab_app.localcloud.cloudwatch.alarm_rule import ast

GRAMMAR = (Path(__file__).with_name("grammar.lark")).read_text()
MAX_RULE_CHARS = 10240        # AlarmRule: 1-10240 characters (botocore's model)
MAX_ALARMS = 100              # "you can specify as many as 100 alarms" in one rule


class AlarmRuleError(ValueError):
    pass


@functools.lru_cache(maxsize=1)
def _parser() -> Lark:
    return Lark(GRAMMAR, parser="lalr", maybe_placeholders=False)


class _ToAst(Transformer):
    def state(self, items):
        target = str(items[1])
        if target.startswith('"'):
            target = re.sub(r"\\(.)", r"\1", target[1:-1])
        return ast.State(str(items[0]), target)

    def true(self, _items):
        return ast.Constant(True)

    def false(self, _items):
        return ast.Constant(False)

    def not_(self, items):
        return ast.Not(items[1])

    def or_expr(self, items):
        return ast.BoolOp("OR", tuple(items[0::2]))

    def and_expr(self, items):
        return ast.BoolOp("AND", tuple(items[0::2]))


@functools.lru_cache(maxsize=256)
def parse(text: str) -> ast.Rule:
    if not isinstance(text, str) or not text.strip() or len(text) > MAX_RULE_CHARS:
        raise AlarmRuleError(f"AlarmRule must be between 1 and {MAX_RULE_CHARS} characters.")
    try:
        rule = _ToAst().transform(_parser().parse(text))
    except UnexpectedInput as error:
        raise AlarmRuleError(f"Error in alarm rule at position {getattr(error, 'column', '?')}: the rule must "
                             "combine ALARM(), OK(), INSUFFICIENT_DATA(), TRUE and FALSE with AND, OR and NOT.") \
            from None
    if len(ast.alarms(rule)) > MAX_ALARMS:
        raise AlarmRuleError(f"An alarm rule can reference at most {MAX_ALARMS} alarms.")
    return rule
