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


def find_spans(pattern: str, texts: list[str]) -> list[list[tuple[int, int]]]:
    """Every non-overlapping match of ``pattern`` in each text, as (start, end) character offsets, with RE2's
    semantics (DuckDB runs it, one statement for the whole batch).

    ``regexp_extract_all(t, '(?s)(.*?)(P)', g)`` walks the matches left to right: group 1 is the text between
    the previous match and this one, group 2 the match, so the offsets follow by adding lengths. ``pattern`` must
    not match the empty string (the engine then skips a character that neither group covers).
    """
    global _conn
    if not texts:
        return []
    wrapped = f"(?s)(.*?)({pattern})"
    with _lock:
        if _conn is None:
            _conn = duckdb.connect(":memory:")
        gaps, hits = _conn.execute(
            "SELECT list_transform($t, lambda x: regexp_extract_all(x, $p, 1)), "
            "list_transform($t, lambda x: regexp_extract_all(x, $p, 2))", {"t": texts, "p": wrapped}).fetchall()[0]
    out = []
    for gap_list, hit_list in zip(gaps, hits):
        spans, pos = [], 0
        for gap, hit in zip(gap_list, hit_list):
            start = pos + len(gap)
            pos = start + len(hit)
            spans.append((start, pos))
        out.append(spans)
    return out


@functools.lru_cache(maxsize=512)
def matches_empty(pattern: str) -> bool:
    """Does ``pattern`` match the empty string (anywhere)?"""
    global _conn
    with _lock:
        if _conn is None:
            _conn = duckdb.connect(":memory:")
        return bool(_conn.execute("SELECT regexp_matches('', $p)", {"p": pattern}).fetchall()[0][0])
