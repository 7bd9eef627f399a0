"""X-Ray filter expressions: ``grammar.lark`` -> :func:`parse` (:mod:`.ast`) -> :func:`to_sql` (DuckDB, bound parameters)."""
from lab_app.localcloud.xray.filter_expr.parser import parse
from lab_app.localcloud.xray.filter_expr.to_sql import to_sql

__all__ = ["parse", "to_sql"]
