"""Honeycomb query specifications: JSON -> :func:`parse` (:mod:`.ast` dataclasses) -> :func:`to_sql` (DuckDB,
bound parameters). The subset of Honeycomb's query spec the notebooks need, with Honeycomb's names and rules:

- ``calculations``: ``COUNT`` (no column), ``SUM``, ``AVG``, ``MIN``, ``MAX``, ``COUNT_DISTINCT``,
  percentiles ``P001 P01 P05 P10 P25 P50 P75 P90 P95 P99 P999`` and ``HEATMAP`` over a column.
  Result keys are Honeycomb's: ``COUNT``, ``P99(duration_ms)``, ``HEATMAP(duration_ms)``.
- ``filters`` with ``= != > >= < <= starts-with does-not-start-with contains does-not-contain exists
  does-not-exist in not-in`` and ``filter_combination`` ``AND`` (default) / ``OR``.
- ``breakdowns``, ``orders`` (by a calculation or a breakdown), ``havings``, ``limit``.
- Time: ``time_range`` (seconds, default 7200) ending now, or with ``start_time`` / ``end_time`` (epoch
  seconds) exactly as Honeycomb combines them; ``granularity`` (seconds) for the time series.

``HEATMAP`` values are ``{"buckets": [{"lower", "upper", "count"}, ...]}`` over 30 equal-width buckets
shared by every group of the query (Honeycomb draws its heatmap on one shared axis).
"""
from lab_app.localcloud.honeycomb.query.parser import parse
from lab_app.localcloud.honeycomb.query.to_sql import to_sql

__all__ = ["parse", "to_sql"]
