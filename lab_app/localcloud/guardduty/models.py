"""GuardDuty's state: detectors and findings per account and Region (DuckDB), sample finding generation, and
the hooks that publish each new finding (EventBridge, Security Hub)."""
from __future__ import annotations

import json
import threading
import uuid
from collections import Counter
from datetime import datetime, timezone
from typing import Any, Callable

from lab_app.localcloud.guardduty import catalog, criteria
from lab_app.localcloud.guardduty.exceptions import INVALID_VALUE, NOT_OWNED, BadRequestException, invalid_input

FREQUENCIES = ("FIFTEEN_MINUTES", "ONE_HOUR", "SIX_HOURS")
FEATURES = ("CLOUD_TRAIL", "DNS_LOGS", "FLOW_LOGS", "S3_DATA_EVENTS")

# (account id, region, finding in wire format) -> None; called for every new finding
FindingHook = Callable[[str, str, list[dict]], Any]     # (account, region, the findings of one call)


def iso_ms(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.") + \
        f"{int(epoch * 1000) % 1000:03d}Z"


class GuardDutyBackend:
    def __init__(self, store, clock: Callable[[], float]):
        self.store = store
        self.clock = clock
        self.hooks: list[FindingHook] = []          # new findings
        self.update_hooks: list[FindingHook] = []   # archived / unarchived (Security Hub follows; no event)
        self.lock = threading.RLock()

    def setup(self) -> None:
        self.store.ensure_table("guardduty_detectors", """CREATE TABLE IF NOT EXISTS guardduty_detectors (
            account VARCHAR, region VARCHAR, detector_id VARCHAR, doc VARCHAR)""")
        self.store.ensure_table("guardduty_findings", """CREATE TABLE IF NOT EXISTS guardduty_findings (
            account VARCHAR, region VARCHAR, detector_id VARCHAR, finding_id VARCHAR, seq BIGINT, doc VARCHAR)""")

    # detectors ------------------------------------------------------------------------------------
    def _detector_row(self, account: str, region: str, detector_id: str) -> dict:
        rows = self.store.execute("SELECT doc FROM guardduty_detectors WHERE account = ? AND region = ? AND "
                                  "detector_id = ?", [account, region, detector_id])
        if not rows:
            raise invalid_input(NOT_OWNED)
        return json.loads(rows[0][0])

    def create_detector(self, account: str, region: str, body: dict) -> str:
        with self.lock:
            if self.store.execute("SELECT 1 FROM guardduty_detectors WHERE account = ? AND region = ?",
                                  [account, region]):
                raise invalid_input("The request is rejected because a detector already exists for the current "
                                    "account.")
            now = iso_ms(self.clock())
            detector_id = uuid.uuid4().hex
            doc = {"createdAt": now, "updatedAt": now, "status": "ENABLED" if body["enable"] else "DISABLED",
                   "findingPublishingFrequency": body.get("findingPublishingFrequency") or "SIX_HOURS",
                   "serviceRole": f"arn:aws:iam::{account}:role/aws-service-role/guardduty.amazonaws.com/"
                                  f"AWSServiceRoleForAmazonGuardDuty",
                   "tags": body.get("tags") or {},
                   "features": [{"name": name, "status": "ENABLED", "updatedAt": now} for name in FEATURES]}
            self.store.execute("INSERT INTO guardduty_detectors VALUES (?, ?, ?, ?)",
                               [account, region, detector_id, json.dumps(doc)])
            return detector_id

    def get_detector(self, account: str, region: str, detector_id: str) -> dict:
        return self._detector_row(account, region, detector_id)

    def list_detectors(self, account: str, region: str) -> list[str]:
        return [r[0] for r in self.store.execute("SELECT detector_id FROM guardduty_detectors WHERE account = ? "
                                                 "AND region = ? ORDER BY detector_id", [account, region])]

    def update_detector(self, account: str, region: str, detector_id: str, body: dict) -> None:
        with self.lock:
            doc = self._detector_row(account, region, detector_id)
            if body.get("enable") is not None:
                doc["status"] = "ENABLED" if body["enable"] else "DISABLED"
            if body.get("findingPublishingFrequency") is not None:
                doc["findingPublishingFrequency"] = body["findingPublishingFrequency"]
            doc["updatedAt"] = iso_ms(self.clock())
            self.store.execute("UPDATE guardduty_detectors SET doc = ? WHERE account = ? AND region = ? AND "
                               "detector_id = ?", [json.dumps(doc), account, region, detector_id])

    def delete_detector(self, account: str, region: str, detector_id: str) -> None:
        with self.lock:
            self._detector_row(account, region, detector_id)
            params = [account, region, detector_id]
            self.store.execute("DELETE FROM guardduty_findings WHERE account = ? AND region = ? AND detector_id = ?",
                               params)
            self.store.execute("DELETE FROM guardduty_detectors WHERE account = ? AND region = ? AND "
                               "detector_id = ?", params)

    # findings -------------------------------------------------------------------------------------
    def create_sample_findings(self, account: str, region: str, detector_id: str, types: list[str] | None) -> list[dict]:
        self._detector_row(account, region, detector_id)
        names = list(types) if types else list(catalog.FINDING_TYPES)
        unknown = [n for n in names if n not in catalog.FINDING_TYPES]
        if unknown:
            raise invalid_input(INVALID_VALUE)
        now = self.clock()
        findings = [catalog.sample_finding(catalog.FINDING_TYPES[name], finding_id=uuid.uuid4().hex,
                                           detector_id=detector_id, account_id=account, region=region,
                                           now_iso=iso_ms(now))
                    for name in dict.fromkeys(names)]
        with self.lock:
            start = (self.store.execute("SELECT coalesce(max(seq), 0) FROM guardduty_findings")[0][0] or 0) + 1
            self.store.executemany("INSERT INTO guardduty_findings VALUES (?, ?, ?, ?, ?, ?)",
                                   [[account, region, detector_id, f["id"], start + i, json.dumps(f)]
                                    for i, f in enumerate(findings)])
        for hook in self.hooks:
            hook(account, region, findings)
        return findings

    def findings(self, account: str, region: str, detector_id: str) -> list[dict]:
        self._detector_row(account, region, detector_id)
        rows = self.store.execute("SELECT doc FROM guardduty_findings WHERE account = ? AND region = ? AND "
                                  "detector_id = ? ORDER BY seq", [account, region, detector_id])
        return [json.loads(r[0]) for r in rows]

    def list_findings(self, account: str, region: str, detector_id: str, criterion: dict,
                      sort: tuple[str, bool] | None) -> list[str]:
        found = [f for f in self.findings(account, region, detector_id) if criteria.holds(f, criterion)]
        return [f["id"] for f in criteria.sort_findings(found, sort)]

    def get_findings(self, account: str, region: str, detector_id: str, ids: list[str],
                     sort: tuple[str, bool] | None) -> list[dict]:
        wanted = set(ids)
        found = [f for f in self.findings(account, region, detector_id) if f["id"] in wanted]
        return criteria.sort_findings(found, sort)

    def set_archived(self, account: str, region: str, detector_id: str, ids: list[str], archived: bool) -> None:
        with self.lock:
            now = iso_ms(self.clock())
            changed = self.get_findings(account, region, detector_id, ids, None)
            for finding in changed:
                finding["service"]["archived"] = archived
                finding["updatedAt"] = now
                self.store.execute("UPDATE guardduty_findings SET doc = ? WHERE account = ? AND region = ? AND "
                                   "detector_id = ? AND finding_id = ?",
                                   [json.dumps(finding), account, region, detector_id, finding["id"]])
            for hook in self.update_hooks:
                hook(account, region, changed)

    def statistics(self, account: str, region: str, detector_id: str, criterion: dict, stat_types: list[str],
                   group_by: str | None, order_by: str, max_results: int) -> dict:
        found = [f for f in self.findings(account, region, detector_id) if criteria.holds(f, criterion)]
        out: dict[str, Any] = {}
        if "COUNT_BY_SEVERITY" in stat_types:
            out["countBySeverity"] = dict(Counter(str(float(f["severity"])) for f in found))
        if group_by:
            out.update(_grouped(found, group_by, order_by, max_results))
        return out


def _grouped(findings: list[dict], group_by: str, order_by: str, max_results: int) -> dict:
    groups: dict[Any, list[dict]] = {}
    for f in findings:
        if group_by == "SEVERITY":
            key: Any = float(f["severity"])
        elif group_by == "FINDING_TYPE":
            key = f["type"]
        elif group_by == "ACCOUNT":
            key = f["accountId"]
        elif group_by == "DATE":
            key = f["updatedAt"][:10]
        else:
            res = f["resource"]
            key = (res["resourceType"], (res.get("instanceDetails") or {}).get("instanceId")
                   or (res.get("accessKeyDetails") or {}).get("accessKeyId") or "")
        groups.setdefault(key, []).append(f)
    rows = []
    for key, members in groups.items():
        last = max(m["updatedAt"] for m in members)
        row: dict[str, Any] = {"totalFindings": len(members), "lastGeneratedAt": last}
        if group_by == "SEVERITY":
            row["severity"] = key
        elif group_by == "FINDING_TYPE":
            row["findingType"] = key
        elif group_by == "ACCOUNT":
            row["accountId"] = key
        elif group_by == "DATE":
            row["date"] = f"{key}T00:00:00.000Z"
            row["severity"] = max(float(m["severity"]) for m in members)
        else:
            row.update({"resourceType": key[0], "resourceId": key[1], "accountId": members[0]["accountId"]})
        rows.append(row)
    rows.sort(key=lambda r: r["totalFindings"], reverse=order_by == "DESC")
    name = {"SEVERITY": "groupedBySeverity", "FINDING_TYPE": "groupedByFindingType", "ACCOUNT": "groupedByAccount",
            "DATE": "groupedByDate", "RESOURCE": "groupedByResource"}[group_by]
    return {name: rows[:max_results]}


__all__ = ["GuardDutyBackend", "BadRequestException", "FREQUENCIES"]
