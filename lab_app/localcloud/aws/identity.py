"""Who an access key belongs to, read from moto's IAM and STS state (the same process).

An IAM user's key, an assumed role's temporary key, or, for any other key (the local dummy key
included), the account root: ``config.ACCOUNT_ID``, the account moto serves dummy credentials in.
"""
from __future__ import annotations

from typing import Any

from lab_app import config


def access_keys() -> dict[str, tuple[str, Any]]:
    """access key id -> (account id, moto AccessKey) for every IAM user key and role session key."""
    from moto.iam.models import iam_backends

    index = {}
    for account_id, account in list(iam_backends.items()):
        backend = dict.get(account, "aws")
        if backend is None:
            continue
        for key_id, key in list(backend.access_keys.items()):
            index[key_id] = (account_id, key)
    return index


def identify(access_key_id: str) -> tuple[str, dict[str, Any]]:
    """(account id, CloudTrail ``userIdentity``) for an access key."""
    from moto.iam.models import iam_backends

    for account_id, account in list(iam_backends.items()):
        backend = account.get("aws") if hasattr(account, "get") else None
        if backend is None:
            continue
        access_key = backend.access_keys.get(access_key_id)
        if access_key is None:
            user = backend.get_user_from_access_key_id(access_key_id)
            if user is None:
                continue
            return account_id, _user_identity(account_id, user, access_key_id)
        if getattr(access_key, "role_arn", None):
            return account_id, _role_identity(account_id, access_key.role_arn, access_key_id)
        user = backend.get_user_from_access_key_id(access_key_id)
        if user is not None:
            return account_id, _user_identity(account_id, user, access_key_id)
    return config.ACCOUNT_ID, {
        "type": "Root",
        "principalId": config.ACCOUNT_ID,
        "arn": f"arn:aws:iam::{config.ACCOUNT_ID}:root",
        "accountId": config.ACCOUNT_ID,
        "accessKeyId": access_key_id,
    }


def _user_identity(account_id: str, user, access_key_id: str) -> dict[str, Any]:
    return {
        "type": "IAMUser",
        "principalId": user.id,
        "arn": user.arn,
        "accountId": account_id,
        "accessKeyId": access_key_id,
        "userName": user.name,
    }


def _role_identity(account_id: str, role_arn: str, access_key_id: str) -> dict[str, Any]:
    from moto.sts.models import sts_backends

    session_name, created = "session", None
    try:
        for assumed in sts_backends[account_id]["aws"].assumed_roles:
            if assumed.access_key_id == access_key_id:
                session_name = assumed.session_name
                created = getattr(assumed.access_key, "create_date", None)
                break
    except Exception:  # STS state missing: still describe the role
        pass
    role_name = role_arn.split("/")[-1]
    role_id = "AROA" + role_name.upper()[:17]
    try:
        from moto.iam.models import iam_backends

        role_id = iam_backends[account_id]["aws"].get_role_by_arn(role_arn).id
    except Exception:
        pass
    return {
        "type": "AssumedRole",
        "principalId": f"{role_id}:{session_name}",
        "arn": f"arn:aws:sts::{account_id}:assumed-role/{role_name}/{session_name}",
        "accountId": account_id,
        "accessKeyId": access_key_id,
        "sessionContext": {
            "sessionIssuer": {"type": "Role", "principalId": role_id, "arn": role_arn, "accountId": account_id,
                              "userName": role_name},
            "attributes": {"creationDate": created.strftime("%Y-%m-%dT%H:%M:%SZ") if created else None,
                           "mfaAuthenticated": "false"},
        },
    }
