"""The DuckDB store: one file under the data directory holds everything the stand-ins keep.

One connection and one lock (the localstack pattern). Every statement takes bound parameters;
user text is never pasted into SQL. DuckDB commits each statement (autocommit) to its write-ahead
log before returning, so data a stand-in has acknowledged survives ``kill -9``.
"""
from __future__ import annotations

import re
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator, Sequence

import duckdb
import pandas as pd

INSERT_CHUNK = 200
_INSERT_VALUES = re.compile(r"(INSERT(?: OR REPLACE)? INTO [\w.\"]+(?: \([\w, \"]+\))?) VALUES (\((?:\?, )*\?\))",
                            re.IGNORECASE)


class Store:
    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._conn = duckdb.connect(str(self.path))
        self.lock = threading.RLock()
        self._tables: dict[str, str] = {}

    # --- schema -------------------------------------------------------------------------------
    def ensure_table(self, name: str, ddl: str) -> None:
        """Create a table (``ddl`` is our own CREATE TABLE IF NOT EXISTS statement) and remember it for reset."""
        with self.lock:
            self._conn.execute(ddl)
            self._tables[name] = ddl

    # --- statements ---------------------------------------------------------------------------
    def execute(self, sql: str, params: Sequence[Any] | dict | None = None) -> list[tuple]:
        with self.lock:
            cursor = self._conn.execute(sql, params) if params is not None else self._conn.execute(sql)
            try:
                return cursor.fetchall()
            except duckdb.InvalidInputException:  # statements without a result set
                return []

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        """Run ``sql`` once per row. An ``INSERT ... VALUES (?, ...)`` becomes one multi-row statement per
        ``INSERT_CHUNK`` rows: DuckDB's executemany runs row by row (300 CloudTrail records held the lock ~0.5 s;
        as multi-row VALUES, 0.05 s), and every other request waits on this lock meanwhile."""
        if not rows:
            return
        match = _INSERT_VALUES.fullmatch(sql.strip())
        with self.lock:
            if match is None:
                self._conn.executemany(sql, rows)
                return
            head, values = match.group(1), match.group(2)
            for start in range(0, len(rows), INSERT_CHUNK):
                part = rows[start:start + INSERT_CHUNK]
                self._conn.execute(f"{head} VALUES " + ", ".join([values] * len(part)),
                                   [value for row in part for value in row])

    def query_df(self, sql: str, params: Sequence[Any] | dict | None = None) -> pd.DataFrame:
        with self.lock:
            cursor = self._conn.execute(sql, params) if params is not None else self._conn.execute(sql)
            return cursor.df()

    def query_arrow(self, sql: str, params: Sequence[Any] | dict | None = None):
        with self.lock:
            cursor = self._conn.execute(sql, params) if params is not None else self._conn.execute(sql)
            return cursor.fetch_arrow_table()

    def insert_frame(self, table: str, frame, columns: Sequence[str] | None = None) -> int:
        """Append a pandas DataFrame, a pyarrow Table or a dict of equal-length numpy arrays (column name ->
        values) in one statement (much faster than executemany)."""
        if table not in self._tables:
            raise KeyError(f"unknown table {table!r}")
        n = len(next(iter(frame.values()), ())) if isinstance(frame, dict) else len(frame)
        if n == 0:
            return 0
        cols = list(columns or frame.columns)
        col_sql = ", ".join(f'"{c}"' for c in cols)
        with self.lock:
            self._conn.register("_incoming", frame)
            try:
                self._conn.execute(f'INSERT INTO "{table}" ({col_sql}) SELECT {col_sql} FROM _incoming')
            finally:
                self._conn.unregister("_incoming")
        return n

    def cursor(self) -> duckdb.DuckDBPyConnection:
        """A second connection to the same database, for long read-only queries that must not hold the lock."""
        with self.lock:
            return self._conn.cursor()

    @contextmanager
    def transaction(self) -> Iterator[duckdb.DuckDBPyConnection]:
        with self.lock:
            self._conn.execute("BEGIN TRANSACTION")
            try:
                yield self._conn
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            else:
                self._conn.execute("COMMIT")

    # --- lifecycle ----------------------------------------------------------------------------
    def count(self, table: str) -> int:
        return self.execute(f'SELECT count(*) FROM "{table}"')[0][0] if table in self._tables else 0

    def reset(self) -> None:
        with self.lock:
            for name in self._tables:
                self._conn.execute(f'DELETE FROM "{name}"')
            self._conn.execute("CHECKPOINT")

    def close(self) -> None:
        with self.lock:
            try:
                self._conn.execute("CHECKPOINT")
            finally:
                self._conn.close()
