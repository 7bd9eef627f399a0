"""CloudWatch Logs filter patterns: ``grammar.lark`` -> :mod:`parser` -> :mod:`ast` -> :mod:`evaluator`."""
from lab_app.localcloud.logs.filter_pattern.evaluate import evaluate, matches, metric_value, to_sql
from lab_app.localcloud.logs.filter_pattern.parser import FilterPatternError, parse_filter_pattern

__all__ = ["parse_filter_pattern", "FilterPatternError", "evaluate", "matches", "metric_value", "to_sql"]
