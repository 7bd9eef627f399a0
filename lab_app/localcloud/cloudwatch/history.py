"""Alarm history (moto does not keep it): one table, written by the evaluator and the request interception,
read by DescribeAlarmHistory."""
from __future__ import annotations

import itertools
from typing import Any

from lab_app.localcloud.aws import paging
from lab_app.localcloud.cloudwatch.exceptions import InvalidNextToken, ValidationError
from lab_app.localcloud.cloudwatch.models import epoch
from lab_app.localcloud.store import Store

HISTORY_TABLE = "alarm_history"
HISTORY_TYPES = ("ConfigurationUpdate", "StateUpdate", "Action", "AlarmContributorStateUpdate",
                 "AlarmContributorAction")
SCAN_BY = ("TimestampDescending", "TimestampAscending")
HISTORY_DDL = """
CREATE TABLE IF NOT EXISTS alarm_history (
    seq BIGINT,
    account_id VARCHAR,
    region VARCHAR,
    alarm_name VARCHAR,
    alarm_type VARCHAR,
    ts DOUBLE,
    item_type VARCHAR,
    summary VARCHAR,
    data VARCHAR
)"""
NEWEST_FIRST = paging.Keyset("ts", "seq", descending=True, tie_descending=True, tie_key="seq", tie_type=int)
OLDEST_FIRST = paging.Keyset("ts", "seq", descending=False, tie_descending=False, tie_key="seq", tie_type=int)


class AlarmHistory:
    def __init__(self, store: Store):
        self.store = store
        self._seq = itertools.count(1)

    def setup(self) -> float | None:
        """Create the table and continue its numbering; returns the newest item's time (for the clock)."""
        self.store.ensure_table(HISTORY_TABLE, HISTORY_DDL)
        top, latest = self.store.execute(f"SELECT coalesce(max(seq), 0), max(ts) FROM {HISTORY_TABLE}")[0]
        self._seq = itertools.count(int(top) + 1)
        return latest

    def reset(self) -> None:
        self._seq = itertools.count(1)

    def count(self) -> int:
        return self.store.count(HISTORY_TABLE)

    def record(self, account_id: str, region: str, alarm_name: str, at: float, item_type: str, summary: str,
               data: str, alarm_type: str = "MetricAlarm") -> None:
        self.store.execute(
            f"INSERT INTO {HISTORY_TABLE} VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [next(self._seq), account_id, region, alarm_name, alarm_type, at, item_type, summary, data],
        )

    def describe(self, account_id: str, region: str, params: dict) -> dict[str, Any]:
        """DescribeAlarmHistory: validated like CloudWatch, newest first unless ScanBy says otherwise."""
        item_type = params.get("HistoryItemType")
        if item_type is not None and item_type not in HISTORY_TYPES:
            raise ValidationError.enum(item_type, "historyItemType", HISTORY_TYPES)
        scan_by = params.get("ScanBy", "TimestampDescending")
        if scan_by not in SCAN_BY:
            raise ValidationError.enum(scan_by, "scanBy", SCAN_BY)
        max_records = params.get("MaxRecords", 100)
        if not isinstance(max_records, int) or not 1 <= max_records <= 100:
            raise ValidationError(f"1 validation error detected: Value '{max_records}' at 'maxRecords' "
                                  "failed to satisfy constraint: Member must have value between 1 and 100")
        pages = NEWEST_FIRST if scan_by == "TimestampDescending" else OLDEST_FIRST
        where, args = ["account_id = ?", "region = ?"], [account_id, region]
        if params.get("NextToken"):
            try:
                condition, values = pages.after(params["NextToken"])
            except paging.InvalidToken:
                raise InvalidNextToken("The service couldn't process your request because the next token is "
                                       "invalid.") from None
            where.append(condition)
            args.extend(values)
        if params.get("AlarmName"):
            where.append("alarm_name = ?")
            args.append(params["AlarmName"])
        if item_type:
            where.append("item_type = ?")
            args.append(item_type)
        types = params.get("AlarmTypes")
        if types:
            where.append("alarm_type IN (" + ", ".join("?" for _ in types) + ")")
            args.extend(types)
        for key, op in (("StartDate", ">="), ("EndDate", "<=")):
            if params.get(key) is not None:
                where.append(f"ts {op} ?")
                args.append(epoch(params[key]))
        rows = self.store.execute(
            f"SELECT alarm_name, alarm_type, ts, item_type, summary, data, seq FROM {HISTORY_TABLE} "
            f"WHERE {' AND '.join(where)} ORDER BY {pages.order_by()} LIMIT ?",
            [*args, max_records + 1],
        )
        items = [{"AlarmName": r[0], "AlarmType": r[1], "Timestamp": r[2], "HistoryItemType": r[3],
                  "HistorySummary": r[4], "HistoryData": r[5]} for r in rows[:max_records]]
        body: dict[str, Any] = {"AlarmHistoryItems": items}
        if len(rows) > max_records:
            last = rows[max_records - 1]
            body["NextToken"] = pages.token(last[2], last[6])
        return body
