"""CloudWatch Logs Insights: ``grammar.lark`` -> :func:`parse` (:mod:`.ast`) -> :func:`to_sql` (one DuckDB statement,
bound parameters)."""
from lab_app.localcloud.logs.insights.parser import parse
from lab_app.localcloud.logs.insights.to_sql import to_sql

__all__ = ["parse", "to_sql"]
