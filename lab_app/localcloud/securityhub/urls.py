"""The Security Hub REST paths served here (botocore's securityhub-2018-10-26 model); other Security Hub
operations go to moto."""
from __future__ import annotations

url_paths = {
    ("POST", "/accounts"): "EnableSecurityHub",
    ("DELETE", "/accounts"): "DisableSecurityHub",
    ("GET", "/accounts"): "DescribeHub",
    ("POST", "/findings/import"): "BatchImportFindings",
    ("POST", "/findings"): "GetFindings",
    ("PATCH", "/findings/batchupdate"): "BatchUpdateFindings",
}


def operation_of(method: str, path: str) -> str | None:
    return url_paths.get((method, path.rstrip("/") or "/"))
