"""Security Hub for the local cloud: the hub, GuardDuty findings in ASFF, BatchImportFindings, GetFindings with
filters, BatchUpdateFindings, and "Security Hub Findings - Imported" events on EventBridge."""
from lab_app.localcloud.securityhub.component import SecurityHub

__all__ = ["SecurityHub"]
