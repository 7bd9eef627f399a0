"""CloudWatch Logs filter patterns: ``grammar.lark`` -> :func:`parse` (:mod:`.ast`) -> :mod:`.evaluate` (Python)
and :func:`to_sql` (term patterns pushed down to DuckDB)."""
from lab_app.localcloud.logs.filter_pattern.evaluate import evaluate, matches, metric_value
from lab_app.localcloud.logs.filter_pattern.parser import FilterPatternError, parse
from lab_app.localcloud.logs.filter_pattern.to_sql import to_sql

__all__ = ["parse", "FilterPatternError", "evaluate", "matches", "metric_value", "to_sql"]
