"""CloudWatch Logs Insights: ``grammar.lark`` -> :func:`parse` (:mod:`.ast`) -> :func:`to_sql` (one DuckDB statement,
bound parameters)."""
from lab_app.localcloud.logs.insights.parser import index_fields, parse
from lab_app.localcloud.logs.insights.to_sql import to_sql

__all__ = ["index_fields", "parse", "to_sql"]
