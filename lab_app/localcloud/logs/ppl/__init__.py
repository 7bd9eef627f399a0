"""OpenSearch PPL for StartQuery ``queryLanguage="PPL"``: ``grammar.lark`` -> :func:`parse` (the Logs Insights AST,
which ``insights.to_sql`` compiles for DuckDB)."""
from lab_app.localcloud.logs.ppl.parser import parse

__all__ = ["parse"]
