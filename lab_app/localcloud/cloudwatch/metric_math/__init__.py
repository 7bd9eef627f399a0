"""CloudWatch metric math: ``grammar.lark`` -> :func:`parse` (:mod:`.ast`) -> :func:`evaluate` over pandas series."""
from lab_app.localcloud.cloudwatch.metric_math.evaluate import FUNCTIONS, Scope, evaluate
from lab_app.localcloud.cloudwatch.metric_math.parser import ExpressionError, parse

__all__ = ["parse", "evaluate", "Scope", "ExpressionError", "FUNCTIONS"]
