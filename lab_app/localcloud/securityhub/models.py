"""Security Hub's state: the hub per account and Region, findings in ASFF (DuckDB), imports from GuardDuty and
BatchImportFindings, BatchUpdateFindings, and the "Security Hub Findings - Imported" event for every import or
update."""
from __future__ import annotations

import json
import threading
from datetime import datetime, timezone
from typing import Any, Callable

from lab_app.localcloud.securityhub import asff, filters
from lab_app.localcloud.securityhub.exceptions import InvalidInputException, ResourceConflictException, not_subscribed

# (account id, region, ASFF finding) -> None, for each imported or updated finding
FindingHook = Callable[[str, str, dict], Any]
SORT_FIELDS = {"UpdatedAt", "CreatedAt", "SeverityNormalized", "SeverityLabel", "Title", "Id", "ProductArn",
               "SeverityProduct", "FirstObservedAt", "LastObservedAt", "WorkflowStatus", "RecordState"}
# Severity.Normalized for a Label alone (Security Hub user guide, ASFF "Severity"): 0, 1, 40, 70, 90.
NORMALIZED = {"INFORMATIONAL": 0, "LOW": 1, "MEDIUM": 40, "HIGH": 70, "CRITICAL": 90}
LABEL_RANK = {label: i for i, label in enumerate(asff.LABELS)}


def iso_ms(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.") + \
        f"{int(epoch * 1000) % 1000:03d}Z"


class SecurityHubBackend:
    def __init__(self, store, clock: Callable[[], float]):
        self.store = store
        self.clock = clock
        self.hooks: list[FindingHook] = []
        self.lock = threading.RLock()

    def setup(self) -> None:
        self.store.ensure_table("securityhub_hubs", """CREATE TABLE IF NOT EXISTS securityhub_hubs (
            account VARCHAR, region VARCHAR, doc VARCHAR)""")
        self.store.ensure_table("securityhub_findings", """CREATE TABLE IF NOT EXISTS securityhub_findings (
            account VARCHAR, region VARCHAR, product_arn VARCHAR, finding_id VARCHAR, seq BIGINT, doc VARCHAR)""")

    # the hub --------------------------------------------------------------------------------------
    def hub(self, account: str, region: str) -> dict | None:
        rows = self.store.execute("SELECT doc FROM securityhub_hubs WHERE account = ? AND region = ?",
                                  [account, region])
        return json.loads(rows[0][0]) if rows else None

    def require_hub(self, account: str, region: str) -> dict:
        hub = self.hub(account, region)
        if hub is None:
            raise not_subscribed(account)
        return hub

    def enable(self, account: str, region: str, body: dict) -> None:
        with self.lock:
            if self.hub(account, region) is not None:
                raise ResourceConflictException(f"Account {account} is already subscribed to Security Hub")
            doc = {"HubArn": f"arn:aws:securityhub:{region}:{account}:hub/default",
                   "SubscribedAt": iso_ms(self.clock()), "AutoEnableControls": True,
                   "ControlFindingGenerator": body.get("ControlFindingGenerator") or "SECURITY_CONTROL"}
            self.store.execute("INSERT INTO securityhub_hubs VALUES (?, ?, ?)", [account, region, json.dumps(doc)])

    def disable(self, account: str, region: str) -> None:
        with self.lock:
            self.require_hub(account, region)
            self.store.execute("DELETE FROM securityhub_hubs WHERE account = ? AND region = ?", [account, region])
            self.store.execute("DELETE FROM securityhub_findings WHERE account = ? AND region = ?", [account, region])

    # findings -------------------------------------------------------------------------------------
    def _row(self, account: str, region: str, product: str, finding_id: str) -> dict | None:
        rows = self.store.execute("SELECT doc FROM securityhub_findings WHERE account = ? AND region = ? AND "
                                  "product_arn = ? AND finding_id = ?", [account, region, product, finding_id])
        return json.loads(rows[0][0]) if rows else None

    def _stored(self, account: str, region: str, findings: list[dict]) -> dict[tuple[str, str], dict]:
        """The stored versions of ``findings`` (by ProductArn and Id), in one query."""
        ids = sorted({f["Id"] for f in findings})
        rows = self.store.execute("SELECT product_arn, finding_id, doc FROM securityhub_findings WHERE account = ? "
                                  "AND region = ? AND list_contains(?, finding_id)", [account, region, ids])
        return {(product, finding_id): json.loads(doc) for product, finding_id, doc in rows}

    def _save(self, account: str, region: str, findings: list[dict], stored: dict[tuple[str, str], dict]) -> None:
        """Update the stored ones, insert the rest in one statement (a finding is 2 statements, not 5: 200
        GuardDuty samples took ~1.5 s one by one), then tell the hooks."""
        with self.lock:
            new = []
            for finding in findings:
                key = (finding["ProductArn"], finding["Id"])
                if key in stored:
                    self.store.execute("UPDATE securityhub_findings SET doc = ? WHERE account = ? AND region = ? AND "
                                       "product_arn = ? AND finding_id = ?",
                                       [json.dumps(finding), account, region, *key])
                else:
                    new.append(finding)
            if new:
                seq = (self.store.execute("SELECT coalesce(max(seq), 0) FROM securityhub_findings")[0][0] or 0) + 1
                self.store.executemany("INSERT INTO securityhub_findings VALUES (?, ?, ?, ?, ?, ?)",
                                       [[account, region, f["ProductArn"], f["Id"], seq + i, json.dumps(f)]
                                        for i, f in enumerate(new)])
        for finding in findings:
            for hook in self.hooks:
                hook(account, region, finding)

    def _prepared(self, finding: dict, old: dict | None) -> dict:
        """A provider's finding as stored: defaults, both severity forms, and what a user set on ``old`` kept."""
        finding = dict(finding)
        finding.setdefault("WorkflowState", "NEW")
        finding.setdefault("Workflow", {"Status": "NEW"})
        finding.setdefault("RecordState", "ACTIVE")
        severity = dict(finding.get("Severity") or {})
        if "Label" in severity and "Normalized" not in severity:
            severity["Normalized"] = NORMALIZED[severity["Label"]]
        if "Normalized" in severity and "Label" not in severity:
            severity["Label"] = asff.label(severity["Normalized"] / 10)
        finding["Severity"] = severity
        finding["ProcessedAt"] = iso_ms(self.clock())
        if old is not None:
            for kept in ("Workflow", "WorkflowState", "Note", "VerificationState", "UserDefinedFields"):
                if kept in old:
                    finding[kept] = old[kept]
            # the API reference (Workflow.Status): NOTIFIED or RESOLVED go back to NEW when the record state
            # changes from ARCHIVED to ACTIVE
            if old.get("RecordState") == "ARCHIVED" and finding["RecordState"] == "ACTIVE" and \
                    (old.get("Workflow") or {}).get("Status") in ("NOTIFIED", "RESOLVED"):
                finding["Workflow"], finding["WorkflowState"] = {"Status": "NEW"}, "NEW"
        return finding

    def import_findings(self, account: str, region: str, findings: list[dict]) -> None:
        """Store providers' findings; the workflow, note and customer severity a user set survive a re-import.
        A finding sent twice in one batch is stored once, as its last copy."""
        if not findings:
            return
        latest = list({(f["ProductArn"], f["Id"]): f for f in findings}.values())
        with self.lock:
            stored = self._stored(account, region, latest)
            self._save(account, region, [self._prepared(f, stored.get((f["ProductArn"], f["Id"]))) for f in latest],
                       stored)

    def import_finding(self, account: str, region: str, finding: dict) -> None:
        self.import_findings(account, region, [finding])

    def import_guardduty(self, account: str, region: str, findings: list[dict]) -> bool:
        """GuardDuty findings (wire format) in ASFF, when the hub is on."""
        if self.hub(account, region) is None:
            return False
        now = iso_ms(self.clock())
        self.import_findings(account, region, [asff.from_guardduty(f, now) for f in findings])
        return True

    def batch_import(self, account: str, region: str, findings: list) -> dict:
        self.require_hub(account, region)
        failed, accepted = [], []
        for finding in findings:
            problem = asff.problems(finding)
            if problem is None and finding["AwsAccountId"] != account:
                problem = f"The finding's AwsAccountId {finding['AwsAccountId']} is not the caller's account"
            if problem is None and not self._may_import(account, region, finding["ProductArn"]):
                failed.append({"Id": finding["Id"], "ErrorCode": "AccessDeniedException",
                               "ErrorMessage": f"Not authorized to import findings for product "
                                               f"{finding['ProductArn']}"})
                continue
            if problem is not None:
                failed.append({"Id": finding.get("Id", "") if isinstance(finding, dict) else "",
                               "ErrorCode": "InvalidInput", "ErrorMessage": problem})
                continue
            accepted.append(finding)
        self.import_findings(account, region, accepted)
        return {"FailedCount": len(failed), "SuccessCount": len(findings) - len(failed), "FailedFindings": failed}

    @staticmethod
    def _may_import(account: str, region: str, product: str) -> bool:
        """A customer imports as its own default product (``product/<account>/default``); AWS products' ARNs
        (``product/aws/guardduty``) are for the integrated services."""
        return product == f"arn:aws:securityhub:{region}:{account}:product/{account}/default"

    def all_findings(self, account: str, region: str) -> list[dict]:
        rows = self.store.execute("SELECT doc FROM securityhub_findings WHERE account = ? AND region = ? "
                                  "ORDER BY seq", [account, region])
        return [json.loads(r[0]) for r in rows]

    def get_findings(self, account: str, region: str, filter_map: dict, sort: list[dict]) -> list[dict]:
        self.require_hub(account, region)
        now = self.clock()
        found = [f for f in self.all_findings(account, region) if filters.holds(f, filter_map, now)]
        order = sort or [{"Field": "UpdatedAt", "SortOrder": "desc"}]
        for criterion in reversed(order):
            field = criterion["Field"]

            def key(finding: dict, field=field):
                values = filters.values_at(finding, filters.field_path(field))
                value = values[0] if values else None
                if field == "SeverityLabel":
                    return LABEL_RANK.get(value, -1)
                if isinstance(value, (int, float)):
                    return value
                return "" if value is None else str(value)

            found.sort(key=key, reverse=criterion.get("SortOrder", "asc") == "desc")
        return found

    def batch_update(self, account: str, region: str, body: dict) -> dict:
        self.require_hub(account, region)
        processed, unprocessed = [], []
        now = iso_ms(self.clock())
        for ident in body["FindingIdentifiers"]:
            finding = self._row(account, region, ident.get("ProductArn", ""), ident.get("Id", ""))
            if finding is None:
                unprocessed.append({"FindingIdentifier": ident, "ErrorCode": "FindingNotFound",
                                    "ErrorMessage": "Finding Not Found"})
                continue
            if body.get("Workflow"):
                finding["Workflow"] = {"Status": body["Workflow"]["Status"]}
                finding["WorkflowState"] = {"NEW": "NEW", "NOTIFIED": "ASSIGNED", "RESOLVED": "RESOLVED",
                                            "SUPPRESSED": "DEFERRED"}[body["Workflow"]["Status"]]
            if body.get("Note"):
                finding["Note"] = {"Text": body["Note"]["Text"], "UpdatedBy": body["Note"]["UpdatedBy"],
                                   "UpdatedAt": now}
            if body.get("Severity"):
                severity = dict(finding.get("Severity") or {})
                severity.update({k: v for k, v in body["Severity"].items() if k in ("Label", "Normalized", "Product")})
                if "Label" in body["Severity"] and "Normalized" not in body["Severity"]:
                    severity["Normalized"] = NORMALIZED[body["Severity"]["Label"]]
                finding["Severity"] = severity
            for name in ("VerificationState", "Confidence", "Criticality", "Types", "UserDefinedFields",
                         "RelatedFindings"):
                if body.get(name) is not None:
                    finding[name] = body[name]
            self._save(account, region, [finding], {(finding["ProductArn"], finding["Id"]): finding})
            processed.append({"Id": finding["Id"], "ProductArn": finding["ProductArn"]})
        return {"ProcessedFindings": processed, "UnprocessedFindings": unprocessed}


def check_update(body: dict) -> None:
    """BatchUpdateFindings' request checks (InvalidInputException), before any finding is read."""
    idents = body.get("FindingIdentifiers")
    if not isinstance(idents, list) or not 1 <= len(idents) <= 100 or \
            not all(isinstance(i, dict) and isinstance(i.get("Id"), str) and isinstance(i.get("ProductArn"), str)
                    for i in idents):
        raise InvalidInputException("Invalid parameter 'FindingIdentifiers': 1-100 identifiers with Id and "
                                    "ProductArn")
    updates = ("Note", "Severity", "VerificationState", "Confidence", "Criticality", "Types", "UserDefinedFields",
               "Workflow", "RelatedFindings")
    if not any(body.get(u) is not None for u in updates):
        raise InvalidInputException("At least one of Note, Severity, VerificationState, Confidence, Criticality, "
                                    "Types, UserDefinedFields, Workflow or RelatedFindings must be specified")
    workflow = body.get("Workflow")
    if workflow is not None and (not isinstance(workflow, dict) or workflow.get("Status") not in asff.WORKFLOW):
        raise InvalidInputException("Invalid parameter 'Workflow.Status'")
    note = body.get("Note")
    if note is not None and (not isinstance(note, dict) or not isinstance(note.get("Text"), str)
                             or not isinstance(note.get("UpdatedBy"), str) or not note["Text"]
                             or len(note["Text"]) > 512):
        raise InvalidInputException("Invalid parameter 'Note': Text (1-512 characters) and UpdatedBy are required")
    severity = body.get("Severity")
    if severity is not None and (not isinstance(severity, dict)
                                 or ("Label" in severity and severity["Label"] not in asff.LABELS)):
        raise InvalidInputException("Invalid parameter 'Severity.Label'")
