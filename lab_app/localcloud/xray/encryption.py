"""X-Ray's encryption configuration: GetEncryptionConfig / PutEncryptionConfig.

* A new account answers ``{"Type": "NONE", "Status": "ACTIVE"}`` (X-Ray's default encryption, no key).
* ``PutEncryptionConfig(Type="KMS", KeyId=...)`` takes the key as an alias (``alias/aws/xray``), a key id, or a
  key or alias ARN, and answers the key's ARN with ``Status: UPDATING`` (as the awscli's documented example
  shows); the configuration reads ``ACTIVE`` :data:`UPDATING_SECONDS` later (AWS documents no duration). The key is
  looked up in the local cloud's KMS (moto): an unknown key, a disabled one or an asymmetric one (X-Ray "does not
  support asymmetric KMS keys") is ``InvalidRequestException``. ``alias/aws/xray`` is the AWS managed key, which
  exists in every account.
* ``Type="NONE"`` goes back to default encryption (a ``KeyId`` with it is refused: the model says "Omit this key
  if you set Type to NONE"), also through ``UPDATING``.
"""
from __future__ import annotations

import json
from typing import Any, Callable

from lab_app import config
from lab_app.localcloud.xray.exceptions import InvalidRequestException

NONE, KMS = "NONE", "KMS"
UPDATING, ACTIVE = "UPDATING", "ACTIVE"
UPDATING_SECONDS = 2.0
SETTING = "encryption_config"   # the row in xray_settings (the table Transaction Search keeps its state in)


def _kms_key(key_id: str, region: str):
    """The moto KMS key ``key_id`` names (alias, id, ARN), or None when there is none."""
    from moto.kms.models import kms_backends

    backend = kms_backends[config.ACCOUNT_ID][region]
    try:
        return backend.describe_key(key_id)
    except Exception:   # moto raises KeyError / NotFoundException for unknown ids and aliases
        return None


class EncryptionConfig:
    def __init__(self, store, clock: Callable[[], float], region: str = config.REGION):
        self.store = store
        self.now = clock
        self.region = region

    def setup(self) -> None:
        """Nothing of its own: the state is one row of ``xray_settings`` (created by Transaction Search)."""

    def _load(self) -> dict:
        rows = self.store.execute("SELECT value FROM xray_settings WHERE name = ?", [SETTING])
        return json.loads(rows[0][0]) if rows else {"type": NONE, "key_id": None, "active_at": 0.0}

    @staticmethod
    def _out(state: dict, now: float) -> dict:
        out = {"Type": state["type"], "Status": ACTIVE if now >= state["active_at"] else UPDATING}
        if state.get("key_id"):
            out["KeyId"] = state["key_id"]
        return out

    def get(self) -> dict:
        return {"EncryptionConfig": self._out(self._load(), self.now())}

    def put(self, type_: Any, key_id: Any = None) -> dict:
        if type_ == NONE:
            if key_id is not None:
                raise InvalidRequestException("KeyId must be omitted when Type is NONE")
            resolved = None
        elif type_ == KMS:
            if not isinstance(key_id, str) or not key_id:
                raise InvalidRequestException("KeyId is required when Type is KMS")
            key = _kms_key(key_id, self.region)
            if key is None:
                raise InvalidRequestException(f"The KMS key {key_id} does not exist")
            if getattr(key, "key_spec", "SYMMETRIC_DEFAULT") != "SYMMETRIC_DEFAULT":
                raise InvalidRequestException(f"The KMS key {key_id} is asymmetric: X-Ray supports symmetric keys only")
            if getattr(key, "key_state", "Enabled") != "Enabled":
                raise InvalidRequestException(f"The KMS key {key_id} is not enabled ({key.key_state})")
            resolved = key.arn
        else:
            raise InvalidRequestException("Type must be NONE or KMS")
        now = self.now()
        state = {"type": type_, "key_id": resolved, "active_at": now + UPDATING_SECONDS}
        self.store.execute("INSERT OR REPLACE INTO xray_settings VALUES (?, ?)", [SETTING, json.dumps(state)])
        return {"EncryptionConfig": self._out(state, now)}
