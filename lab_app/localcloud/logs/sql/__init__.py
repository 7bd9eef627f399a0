"""OpenSearch SQL for StartQuery ``queryLanguage="SQL"``: ``grammar.lark`` -> :func:`parse` (log groups and the
Logs Insights AST, which ``insights.to_sql`` compiles for DuckDB)."""
from lab_app.localcloud.logs.sql.parser import SqlQuery, parse

__all__ = ["SqlQuery", "parse"]
