"""GetSamplingStatisticSummaries: what the SDKs reported for each sampling rule, per reporting window.

Every ``SamplingStatisticsDocument`` an SDK sends with GetSamplingTargets (every ~10 s, through the daemon or
the API: ``RuleName``, ``ClientID``, ``Timestamp``, ``RequestCount``, ``SampledCount``, ``BorrowCount``) is
kept when X-Ray processed it (a known rule, a 24-character ClientID). The summary adds the counts of all clients
per rule and reporting window: the window is the :data:`WINDOW_SECONDS` interval (the reporting interval X-Ray
hands to the SDKs, ``Interval`` = 10 s) that holds the document's ``Timestamp``, and ``Timestamp`` in the summary
is that window's start ("The start time of the reporting window"). Only recent windows are summarised ("recent
sampling results"): AWS does not document how far back; the local cloud answers the last
:data:`RECENT_SECONDS`. Summaries are sorted by rule name, then window, 100 per page.
"""
from __future__ import annotations

import hashlib
from typing import Any, Callable

from lab_app.localcloud.aws import paging
from lab_app.localcloud.xray import sampling
from lab_app.localcloud.xray.exceptions import InvalidRequestException
from lab_app.localcloud.xray.telemetry import epoch

WINDOW_SECONDS = sampling.TARGET_INTERVAL_S
RECENT_SECONDS = 3600
PAGE_SIZE = 100
DDL = """CREATE TABLE IF NOT EXISTS xray_sampling_statistics (
    rule_name VARCHAR, client_id VARCHAR, ts DOUBLE, request_count BIGINT, sampled_count BIGINT,
    borrow_count BIGINT, received_at DOUBLE)"""


class SamplingStatistics:
    def __init__(self, store, clock: Callable[[], float]):
        self.store = store
        self.now = clock

    def setup(self) -> None:
        self.store.ensure_table("xray_sampling_statistics", DDL)

    def record(self, documents: list[Any]) -> None:
        """Keep the documents of a GetSamplingTargets call that X-Ray processed: a known rule and a 24-character
        ClientID (what :meth:`XRayBackend.get_sampling_targets` accepts; the rest come back as unprocessed)."""
        known = {name for (name,) in self.store.execute("SELECT name FROM xray_sampling_rules")}
        rows = []
        received = self.now()
        for doc in documents:
            if not isinstance(doc, dict) or doc.get("RuleName") not in known:
                continue
            if not isinstance(doc.get("ClientID"), str) or len(doc["ClientID"]) != 24:
                continue
            try:
                ts = epoch(doc.get("Timestamp"), "Timestamp")
            except InvalidRequestException:
                continue
            rows.append([doc["RuleName"], doc["ClientID"], ts, int(doc.get("RequestCount") or 0),
                         int(doc.get("SampledCount") or 0), int(doc.get("BorrowCount") or 0), received])
        self.store.executemany("INSERT INTO xray_sampling_statistics VALUES (?, ?, ?, ?, ?, ?, ?)", rows)

    def summaries(self, next_token: Any = None) -> dict:
        since = self.now() - RECENT_SECONDS
        fingerprint = hashlib.sha1(b"sampling-statistic-summaries").hexdigest()[:8]
        offset = 0
        if next_token:
            try:
                data = paging.decode(next_token)
                offset = int(data["o"])
                assert data.get("f") == fingerprint and offset >= 0
            except Exception:
                raise InvalidRequestException("The NextToken is not valid") from None
        rows = self.store.execute(
            """SELECT rule_name, floor(ts / ?) * ? AS win_start, sum(request_count), sum(borrow_count), sum(sampled_count)
               FROM xray_sampling_statistics WHERE ts >= ? GROUP BY rule_name, win_start ORDER BY rule_name, win_start
               LIMIT ? OFFSET ?""", [WINDOW_SECONDS, WINDOW_SECONDS, since, PAGE_SIZE + 1, offset])
        out: dict = {"SamplingStatisticSummaries": [
            {"RuleName": name, "Timestamp": float(window), "RequestCount": int(req), "BorrowCount": int(borrow),
             "SampledCount": int(sampled)} for name, window, req, borrow, sampled in rows[:PAGE_SIZE]]}
        if len(rows) > PAGE_SIZE:
            out["NextToken"] = paging.encode({"o": offset + PAGE_SIZE, "f": fingerprint})
        return out
