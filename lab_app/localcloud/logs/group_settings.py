"""Log-group settings beside the core table: ListLogGroups (the newer listing: a regular-expression-like name
pattern, the log class, paging), PutLogGroupDeletionProtection (DeleteLogGroup is refused while it is on) and
AssociateKmsKey / DisassociateKmsKey (the key must exist in moto's KMS and be enabled; DescribeLogGroups shows
``kmsKeyId``).

ListLogGroups' ``logGroupNamePattern`` is a case-sensitive regular expression over the name (the model's
``LogGroupNameRegexPattern``), matched with RE2 like every other pattern of this stand-in.
"""
from __future__ import annotations

from typing import Any

from lab_app import config
from lab_app.localcloud.logs import exceptions as exc
from lab_app.localcloud.logs import re2

DDL = """CREATE TABLE IF NOT EXISTS logs_group_protection (
    region VARCHAR, grp VARCHAR, PRIMARY KEY (region, grp))"""


def _arn(region: str, group: str) -> str:
    return f"arn:aws:logs:{region}:{config.ACCOUNT_ID}:log-group:{group}"


class GroupSettings:
    def __init__(self, store, require_group, group_changed):
        self.store = store
        self.require_group = require_group
        self.group_changed = group_changed    # after writing a group's row (the backend keeps rows it read)

    def setup(self) -> None:
        self.store.ensure_table("logs_group_protection", DDL)

    # ---- ListLogGroups -----------------------------------------------------------------------------
    def list(self, region: str, pattern: str | None, log_class: str | None, limit: int,
             after: str) -> tuple[list[dict], str | None]:
        compiled = None
        if pattern:
            try:
                compiled = re2.compile(pattern)
            except Exception:
                raise exc.InvalidParameterException(f"Invalid logGroupNamePattern: {pattern}") from None
        sql = "SELECT name, log_class FROM logs_groups WHERE region = ? AND name > ?"
        params: list = [region, after]
        if log_class:
            sql += " AND log_class = ?"
            params.append(log_class)
        out, last = [], None
        for name, cls in self.store.execute(sql + " ORDER BY name", params):
            if compiled is not None and not compiled.search(name):
                continue
            if len(out) == limit:
                return out, last
            out.append({"logGroupName": name, "logGroupArn": _arn(region, name), "logGroupClass": cls})
            last = name
        return out, None

    # ---- deletion protection -----------------------------------------------------------------------
    def protect(self, region: str, group: str, enabled: bool) -> None:
        self.require_group(region, group)
        with self.store.lock:
            self.store.execute("DELETE FROM logs_group_protection WHERE region = ? AND grp = ?", [region, group])
            if enabled:
                self.store.execute("INSERT INTO logs_group_protection VALUES (?, ?)", [region, group])

    def protected(self, region: str) -> set[str]:
        return {r[0] for r in self.store.execute("SELECT grp FROM logs_group_protection WHERE region = ?", [region])}

    def check_delete(self, region: str, group: str) -> None:
        if self.store.execute("SELECT 1 FROM logs_group_protection WHERE region = ? AND grp = ?", [region, group]):
            # AWS's documented answer ("Protecting log groups from deletion", Error handling)
            raise exc.ValidationException("Cannot delete log group with deletion protection enabled. Disable "
                                          "deletion protection first.")

    def forget_group(self, region: str, group: str) -> None:
        self.store.execute("DELETE FROM logs_group_protection WHERE region = ? AND grp = ?", [region, group])

    # ---- KMS ---------------------------------------------------------------------------------------
    @staticmethod
    def _key(region: str, key_id: str) -> Any:
        """moto's KMS key for a key ARN (AWS requires the ARN here); AWS's InvalidParameterException otherwise."""
        from moto.kms.models import kms_backends

        parts = key_id.split(":")
        if len(parts) < 6 or parts[2] != "kms" or not parts[5].startswith("key/"):
            raise exc.InvalidParameterException(f"Specified KMS key ARN is not valid: {key_id}. Use the full ARN "
                                                "of a KMS key.")
        try:
            key = kms_backends[parts[4]][parts[3]].describe_key(parts[5].split("/", 1)[1])
        except Exception:
            raise exc.InvalidParameterException(f"Specified KMS key {key_id} does not exist or is not "
                                                "accessible.") from None
        # AssociateKmsKey docs: a key that does not exist or is disabled is an InvalidParameterException, and
        # CloudWatch Logs supports only symmetric encryption keys
        if getattr(key, "key_state", "Enabled") != "Enabled":
            raise exc.InvalidParameterException(f"Specified KMS key {key_id} is not enabled.")
        if getattr(key, "key_spec", "SYMMETRIC_DEFAULT") != "SYMMETRIC_DEFAULT":
            raise exc.InvalidParameterException(f"Specified KMS key {key_id} is not a symmetric encryption key.")
        return key

    def associate(self, region: str, group: str, key_id: str) -> None:
        self.require_group(region, group)
        self._key(region, key_id)
        self.store.execute("UPDATE logs_groups SET kms_key = ? WHERE region = ? AND name = ?", [key_id, region, group])
        self.group_changed(region, group)

    def disassociate(self, region: str, group: str) -> None:
        self.require_group(region, group)
        self.store.execute("UPDATE logs_groups SET kms_key = NULL WHERE region = ? AND name = ?", [region, group])
        self.group_changed(region, group)
