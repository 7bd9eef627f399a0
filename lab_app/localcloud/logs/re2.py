"""Is a regular expression acceptable to DuckDB's RE2 engine (which runs our regex matches)?

Python's ``re`` accepts things RE2 does not (look-arounds, back-references); checking both at parse
time turns them into the service's parse error instead of a failed query later.
"""
from __future__ import annotations

import functools
import threading

import duckdb

_lock = threading.Lock()
_conn: duckdb.DuckDBPyConnection | None = None


@functools.lru_cache(maxsize=512)
def re2_error(pattern: str) -> str | None:
    """None when RE2 compiles ``pattern``, else RE2's message."""
    global _conn
    with _lock:
        if _conn is None:
            _conn = duckdb.connect(":memory:")
        try:
            _conn.execute("SELECT regexp_matches('', ?)", [pattern]).fetchall()
        except duckdb.Error as exc:
            return str(exc).split("Error: ", 1)[-1]
    return None
