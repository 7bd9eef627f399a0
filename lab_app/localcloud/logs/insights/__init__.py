"""CloudWatch Logs Insights: ``grammar.lark`` -> :mod:`parser` (AST) -> :mod:`compiler` (DuckDB SQL, bound parameters)."""
from lab_app.localcloud.logs.insights.parser import parse_query

__all__ = ["parse_query"]
