"""OpenSearch SQL for StartQuery ``queryLanguage="SQL"``: ``grammar.lark`` -> :func:`parse` (log groups and the
Logs Insights AST, which ``insights.to_sql`` compiles for DuckDB)."""
from lab_app.localcloud.logs.sql.parser import ALL_GROUPS, SqlQuery, parse

__all__ = ["ALL_GROUPS", "SqlQuery", "parse"]
