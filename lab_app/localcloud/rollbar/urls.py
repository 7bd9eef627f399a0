"""Routing table: Rollbar API v1 paths (under ``/api/1/``) -> the handler in ``responses``.

``POST /api/1/item/`` is the write side; the rest are GETs that need a read token.
"""
from __future__ import annotations

import re

PREFIX = "/api/1/"

read_paths = [
    (re.compile(r"items"), "list_items"),
    (re.compile(r"item/(?P<item_id>[^/]+)"), "get_item"),
    (re.compile(r"item/(?P<item_id>[^/]+)/instances"), "list_instances"),
    (re.compile(r"item_by_counter/(?P<counter>[^/]+)"), "item_by_counter"),
    (re.compile(r"instance/(?P<instance_id>[^/]+)"), "get_instance"),
]


def route(path: str) -> tuple[str, dict[str, str]] | None:
    """(handler name, path parameters) of a read path, or None."""
    rest = "/".join(p for p in path.split("/") if p)[len("api/1/"):]
    for pattern, name in read_paths:
        match = pattern.fullmatch(rest)
        if match:
            return name, match.groupdict()
    return None


def is_item_post_path(path: str) -> bool:
    return [p for p in path.split("/") if p] == ["api", "1", "item"]
