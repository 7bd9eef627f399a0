"""Cruddur's seed data (``data/*.json``) as in-memory, thread-safe models.

Ages in the JSON are relative ("posted 48 hours ago"), so every run shows fresh timestamps,
all timezone-aware (UTC).
"""
from __future__ import annotations

import json
import threading
import uuid as uuidlib
from copy import deepcopy
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from lab_app.config import SEED_DATA_DIR

MAX_MESSAGE_CHARS = 280
TTLS = {"30-days": timedelta(days=30), "7-days": timedelta(days=7), "3-days": timedelta(days=3),
        "1-day": timedelta(days=1), "12-hours": timedelta(hours=12), "3-hours": timedelta(hours=3),
        "1-hour": timedelta(hours=1)}


def _load(name: str, data_dir: Path) -> Any:
    with open(data_dir / name, encoding="utf-8") as fh:
        return json.load(fh)


def is_uuid(value: str) -> bool:
    try:
        uuidlib.UUID(value)
    except (ValueError, AttributeError, TypeError):
        return False
    return True


def validate_message(message: Any) -> list[str]:
    if not isinstance(message, str) or not message.strip():
        return ["message_blank"]
    if len(message) > MAX_MESSAGE_CHARS:
        return ["message_exceed_max_chars"]
    return []


class CruddurData:
    def __init__(self, data_dir: Path = SEED_DATA_DIR, now: datetime | None = None):
        now = now or datetime.now(timezone.utc)
        self.lock = threading.Lock()
        self.users = {u["handle"]: u for u in _load("users.json", data_dir)["users"]}
        self.activities: dict[str, dict] = {}
        for raw in _load("activities.json", data_dir)["activities"]:
            created = now - timedelta(hours=raw["age_hours"])
            activity = self._activity(raw["uuid"], raw["handle"], raw["message"], created,
                                      created + timedelta(days=raw["ttl_days"]), raw["likes_count"], raw["reposts_count"])
            for reply in raw["replies"]:
                rc = now - timedelta(hours=reply["age_hours"])
                activity["replies"].append(self._activity(reply["uuid"], reply["handle"], reply["message"], rc,
                                                          activity["expires_at_dt"], 0, 0, reply_to=raw["uuid"]))
            activity["replies_count"] = len(activity["replies"])
            self.activities[activity["uuid"]] = activity
        self.message_groups = []
        for group in _load("messages.json", data_dir)["message_groups"]:
            messages = [{"uuid": m["uuid"], "handle": m["handle"], "display_name": self.users[m["handle"]]["display_name"],
                         "message": m["message"], "created_at": (now - timedelta(hours=m["age_hours"])).isoformat()}
                        for m in group["messages"]]
            self.message_groups.append({"uuid": group["uuid"], "members": group["members"], "messages": messages})

    def _activity(self, uuid: str, handle: str, message: str, created: datetime, expires: datetime,
                  likes: int, reposts: int, reply_to: str | None = None) -> dict:
        return {"uuid": uuid, "handle": handle, "display_name": self.users[handle]["display_name"], "message": message,
                "created_at": created.isoformat(), "expires_at": expires.isoformat(), "expires_at_dt": expires,
                "likes_count": likes, "replies_count": 0, "reposts_count": reposts, "reply_to_activity_uuid": reply_to,
                "replies": []}

    @staticmethod
    def public(activity: dict) -> dict:
        out = {k: v for k, v in activity.items() if k != "expires_at_dt"}
        out["replies"] = [CruddurData.public(r) for r in activity["replies"]]
        return out

    # --- queries ------------------------------------------------------------------------------
    def home(self, now: datetime | None = None) -> list[dict]:
        now = now or datetime.now(timezone.utc)
        with self.lock:
            items = [a for a in self.activities.values() if a["expires_at_dt"] > now]
            items.sort(key=lambda a: a["created_at"], reverse=True)
            return [self.public(a) for a in items]

    def by_handle(self, handle: str) -> list[dict] | None:
        if handle not in self.users:
            return None
        return [a for a in self.home() if a["handle"] == handle]

    def search(self, term: str) -> list[dict]:
        needle = term.lower()
        return [a for a in self.home() if needle in a["message"].lower()]

    def get(self, activity_uuid: str) -> dict | None:
        with self.lock:
            activity = self.activities.get(activity_uuid)
            return self.public(activity) if activity else None

    # --- writes ---------------------------------------------------------------------------------
    def create(self, handle: str, message: str, ttl: str) -> dict:
        now = datetime.now(timezone.utc)
        activity = self._activity(str(uuidlib.uuid4()), handle, message, now, now + TTLS[ttl], 0, 0)
        with self.lock:
            self.activities[activity["uuid"]] = activity
        return self.public(activity)

    def reply(self, activity_uuid: str, handle: str, message: str) -> dict | None:
        now = datetime.now(timezone.utc)
        with self.lock:
            parent = self.activities.get(activity_uuid)
            if parent is None:
                return None
            reply = self._activity(str(uuidlib.uuid4()), handle, message, now, parent["expires_at_dt"], 0, 0,
                                   reply_to=activity_uuid)
            parent["replies"].append(reply)
            parent["replies_count"] = len(parent["replies"])
            return self.public(reply)

    def groups_for(self, handle: str) -> list[dict]:
        out = []
        for group in self.message_groups:
            others = [m for m in group["members"] if m != handle]
            if handle in group["members"] and others:
                other = others[0]
                last = group["messages"][-1]
                out.append({"uuid": group["uuid"], "handle": other, "display_name": self.users[other]["display_name"],
                            "message": last["message"], "created_at": last["created_at"]})
        return out

    def conversation(self, handle: str, other: str) -> list[dict]:
        for group in self.message_groups:
            if set(group["members"]) == {handle, other}:
                return deepcopy(group["messages"])
        return []

    def send_message(self, handle: str, other: str, message: str) -> dict:
        now = datetime.now(timezone.utc)
        entry = {"uuid": str(uuidlib.uuid4()), "handle": handle, "display_name": self.users[handle]["display_name"],
                 "message": message, "created_at": now.isoformat()}
        with self.lock:
            for group in self.message_groups:
                if set(group["members"]) == {handle, other}:
                    group["messages"].append(entry)
                    break
            else:
                self.message_groups.append({"uuid": str(uuidlib.uuid4()), "members": [handle, other], "messages": [entry]})
        return entry
