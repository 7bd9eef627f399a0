"""Tags on X-Ray groups and sampling rules: TagResource, UntagResource, ListTagsForResource (and the ``Tags`` of
CreateGroup / CreateSamplingRule).

The rules are the ones botocore's model documents for ``Tags`` (xray-2016-04-12, TagResourceRequest):

* at most 50 user-applied tags per resource (more: ``TooManyTagsException`` with ``ResourceName``);
* keys 1 to 128 characters, values 0 to 256, made of Unicode letters, digits, separators (spaces) and
  ``_ . : / = + - @``; keys and values are case sensitive;
* the ``aws:`` prefix is reserved for AWS: a key starting with it can be neither added nor removed
  (``InvalidRequestException``);
* the resource is named by its ARN; an ARN that is not an existing group or sampling rule is
  ``ResourceNotFoundException`` (HTTP 404, ``ResourceName`` set to the ARN).

Tagging an existing key replaces its value; untagging a key the resource does not have is not an error.
"""
from __future__ import annotations

import unicodedata
from typing import Any

from lab_app.localcloud.xray.exceptions import InvalidRequestException, ResourceNotFoundException, TooManyTagsException

MAX_TAGS = 50
MAX_KEY = 128
MAX_VALUE = 256
RESERVED_PREFIX = "aws:"
SPECIAL = set("_.:/=+-@")
DDL = """CREATE TABLE IF NOT EXISTS xray_tags (
    arn VARCHAR, key VARCHAR, value VARCHAR, PRIMARY KEY (arn, key))"""


def _allowed(text: str) -> bool:
    return all(unicodedata.category(c)[0] in "LNZ" or c in SPECIAL for c in text)


def validate_tags(tags: Any) -> dict[str, str]:
    """``[{"Key": ..., "Value": ...}]`` checked as X-Ray checks it; returns key -> value (a repeated key: last wins)."""
    if tags is None:
        return {}
    if not isinstance(tags, list):
        raise InvalidRequestException("Tags must be a list of {Key, Value} objects")
    out: dict[str, str] = {}
    for tag in tags:
        if not isinstance(tag, dict) or not isinstance(tag.get("Key"), str) or not isinstance(tag.get("Value"), str):
            raise InvalidRequestException("Each tag needs a string Key and a string Value")
        key, value = tag["Key"], tag["Value"]
        if not 1 <= len(key) <= MAX_KEY or not _allowed(key):
            raise InvalidRequestException(
                f"Tag key '{key}' is not valid: 1 to {MAX_KEY} Unicode letters, digits, spaces or _ . : / = + - @")
        if len(value) > MAX_VALUE or not _allowed(value):
            raise InvalidRequestException(
                f"Tag value '{value}' is not valid: up to {MAX_VALUE} Unicode letters, digits, spaces or _ . : / = + - @")
        if key.lower().startswith(RESERVED_PREFIX):
            raise InvalidRequestException(f"Tag key '{key}' uses the reserved prefix '{RESERVED_PREFIX}'")
        out[key] = value
    if len(out) > MAX_TAGS:
        raise TooManyTagsException(f"A resource can have at most {MAX_TAGS} tags; the request has {len(out)}")
    return out


class Tags:
    """Tags of groups and sampling rules, keyed by the resource ARN."""

    def __init__(self, store):
        self.store = store

    def setup(self) -> None:
        self.store.ensure_table("xray_tags", DDL)

    def _exists(self, arn: str) -> bool:
        return bool(self.store.execute("SELECT 1 FROM xray_groups WHERE arn = ? UNION ALL "
                                       "SELECT 1 FROM xray_sampling_rules WHERE arn = ?", [arn, arn]))

    def _resource(self, arn: Any) -> str:
        if not isinstance(arn, str) or not arn:
            raise InvalidRequestException("ResourceARN is required")
        if not self._exists(arn):
            raise ResourceNotFoundException(f"Resource {arn} not found", ResourceName=arn)
        return arn

    def _current(self, arn: str) -> dict[str, str]:
        return dict(self.store.execute("SELECT key, value FROM xray_tags WHERE arn = ? ORDER BY key", [arn]))

    def replace(self, arn: str, tags: dict[str, str]) -> None:
        """The tags a resource is created with (a rule re-created under an old name starts without old tags)."""
        with self.store.transaction():
            self.store.execute("DELETE FROM xray_tags WHERE arn = ?", [arn])
            for key, value in tags.items():
                self.store.execute("INSERT INTO xray_tags VALUES (?, ?, ?)", [arn, key, value])

    def forget(self, arn: str) -> None:
        self.store.execute("DELETE FROM xray_tags WHERE arn = ?", [arn])

    def tag(self, arn: Any, tags: Any) -> None:
        new = validate_tags(tags)
        with self.store.lock:
            arn = self._resource(arn)
            merged = {**self._current(arn), **new}
            if len(merged) > MAX_TAGS:
                raise TooManyTagsException(f"Resource {arn} would have {len(merged)} tags; at most {MAX_TAGS} are "
                                           "allowed", ResourceName=arn)
            for key, value in new.items():
                self.store.execute("INSERT OR REPLACE INTO xray_tags VALUES (?, ?, ?)", [arn, key, value])

    def untag(self, arn: Any, keys: Any) -> None:
        if not isinstance(keys, list) or not all(isinstance(k, str) for k in keys):
            raise InvalidRequestException("TagKeys must be a list of strings")
        for key in keys:
            if key.lower().startswith(RESERVED_PREFIX):
                raise InvalidRequestException(f"Tag key '{key}' is a system tag ('{RESERVED_PREFIX}' prefix): it "
                                              "cannot be removed")
        with self.store.lock:
            arn = self._resource(arn)
            if keys:
                self.store.execute("DELETE FROM xray_tags WHERE arn = ? AND key IN (SELECT unnest(?::VARCHAR[]))",
                                   [arn, keys])

    def list(self, arn: Any, next_token: Any = None) -> dict:
        if next_token is not None:
            # every resource's tags fit in one page (at most 50): no token is ever handed out
            raise InvalidRequestException("The NextToken is not valid")
        arn = self._resource(arn)
        return {"Tags": [{"Key": k, "Value": v} for k, v in self._current(arn).items()]}
