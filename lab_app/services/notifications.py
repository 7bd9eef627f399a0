"""notifications: the downstream service backend-flask calls over HTTP (what makes tracing distributed)."""
from __future__ import annotations

import json
import threading

from flask import Blueprint, Flask, current_app, jsonify, request

from lab_app.config import DATA_DIR
from lab_app.services.faults import Faults
from lab_app.services.tracing import activity_span

SERVICE_NAME = "notifications"
api = Blueprint("notifications", __name__)


class NotificationStore:
    def __init__(self):
        with open(DATA_DIR / "notifications.json", encoding="utf-8") as fh:
            self.items = json.load(fh)["notifications"]
        with open(DATA_DIR / "users.json", encoding="utf-8") as fh:
            self.handles = [u["handle"] for u in json.load(fh)["users"]]
        self.lock = threading.Lock()

    def for_user(self, handle: str) -> list[dict] | None:
        if handle not in self.handles:
            return None
        with self.lock:
            return [n for n in self.items if n["recipient"] == handle]

    def fanout(self, activity_uuid: str, author: str, kind: str) -> int:
        """Notify every other user (everyone follows everyone in the mock)."""
        recipients = [h for h in self.handles if h != author]
        with self.lock:
            self.items.extend({"recipient": r, "activity_uuid": activity_uuid, "kind": kind} for r in recipients)
        return len(recipients)


def _store() -> NotificationStore:
    return current_app.extensions["notifications"]


@api.get("/health")
def health():
    return jsonify({"ok": True, "service": SERVICE_NAME})


@api.get("/api/notifications/@<handle>")
def for_user(handle: str):
    with activity_span("notifications-lookup", **{"app.user": handle}) as span:
        notes = _store().for_user(handle)
        if notes is None:
            return jsonify({"errors": ["handle_not_found"]}), 404
        span.set_attribute("app.result_length", len(notes))
    return jsonify({"handle": handle, "notifications": notes})


@api.post("/api/notifications/fanout")
def fanout():
    payload = request.get_json(silent=True) or {}
    missing = [k for k in ("activity_uuid", "handle") if not payload.get(k)]
    if missing:
        return jsonify({"errors": [f"{k}_blank" for k in missing]}), 422
    delivered = _store().fanout(payload["activity_uuid"], payload["handle"], payload.get("kind", "post"))
    return jsonify({"delivered": delivered})


def create_notifications_app(faults: Faults | None = None, quiet: bool = True) -> Flask:
    app = Flask(SERVICE_NAME)
    app.logger.disabled = quiet
    app.extensions["notifications"] = NotificationStore()
    (faults or Faults.none()).attach(app, SERVICE_NAME)
    app.register_blueprint(api)
    return app
