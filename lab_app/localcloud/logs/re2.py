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
        # one cheap pass says which texts match at all; only those are walked match by match
        hit = _conn.execute("SELECT list_transform($t, lambda x: regexp_matches(x, $p))",
                            {"t": texts, "p": pattern}).fetchall()[0][0]
        which = [i for i, h in enumerate(hit) if h]
        if not which:
            return [[] for _ in texts]
        subset = [texts[i] for i in which]
        gaps, hits = _conn.execute(
            "SELECT list_transform($t, lambda x: regexp_extract_all(x, $p, 1)), "
            "list_transform($t, lambda x: regexp_extract_all(x, $p, 2))", {"t": subset, "p": wrapped}).fetchall()[0]
    out: list[list[tuple[int, int]]] = [[] for _ in texts]
    for i, gap_list, hit_list in zip(which, gaps, hits):
        spans, pos = [], 0
        for gap, match in zip(gap_list, hit_list):
            start = pos + len(gap)
            pos = start + len(match)
            spans.append((start, pos))
        out[i] = spans
    return out

def which_match(pattern: str, texts: list[str]) -> list[bool]:
    """For each text, whether ``pattern`` matches somewhere in it (RE2, one statement for the batch)."""
    global _conn
    if not texts:
        return []
    with _lock:
        if _conn is None:
            _conn = duckdb.connect(":memory:")
        return list(_conn.execute("SELECT list_transform($t, lambda x: regexp_matches(x, $p))",
                                  {"t": texts, "p": pattern}).fetchall()[0][0])


@functools.lru_cache(maxsize=512)
def matches_empty(pattern: str) -> bool:
    """Does ``pattern`` match the empty string (anywhere)?"""
    global _conn
    with _lock:
        if _conn is None:
            _conn = duckdb.connect(":memory:")
        return bool(_conn.execute("SELECT regexp_matches('', $p)", {"p": pattern}).fetchall()[0][0])
