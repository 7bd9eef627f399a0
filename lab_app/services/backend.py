"""backend-flask: the Cruddur API (the bootcamp's routes), created by an app factory."""
from __future__ import annotations

import logging
from datetime import datetime, timezone

import requests
from flask import Blueprint, Flask, current_app, jsonify, request

from lab_app.services import request_id
from lab_app.services.data import TTLS, CruddurData, is_uuid, validate_message
from lab_app.services.faults import Faults

SERVICE_NAME = "backend-flask"
DEFAULT_USER = "andrewbrown"
log = logging.getLogger("cruddur.backend")
logging.getLogger("cruddur").addHandler(logging.NullHandler())  # no stray stderr lines in notebooks

api = Blueprint("api", __name__)


class DownstreamError(RuntimeError):
    pass


def _data() -> CruddurData:
    return current_app.extensions["cruddur"]["data"]


def _errors(codes: list[str], status: int = 422):
    return jsonify({"errors": codes}), status


def _current_user() -> str:
    """The signed-in user: the X-Cruddur-User header (the bootcamp has no auth in week 2)."""
    handle = request.headers.get("X-Cruddur-User", DEFAULT_USER)
    return handle if handle in _data().users else DEFAULT_USER


def _downstream(method: str, path: str, **kwargs) -> dict:
    """Call the notifications service; any failure becomes DownstreamError (a 502 for the client)."""
    ext = current_app.extensions["cruddur"]
    url = ext["downstream_url"] + path
    try:
        response = ext["http"].request(method, url, timeout=ext["downstream_timeout_s"], **kwargs)
    except requests.RequestException as exc:
        raise DownstreamError(f"{method} {path}: {exc.__class__.__name__}") from exc
    if response.status_code >= 400:
        raise DownstreamError(f"{method} {path}: HTTP {response.status_code}")
    return response.json()


@api.get("/health")
def health():
    return jsonify({"ok": True, "service": SERVICE_NAME})


class HomeActivities:
    """backend-flask/services/home_activities.py: the home timeline. Notebook 02 writes its own, with a span."""

    def run(self, data: CruddurData, user: str) -> list[dict]:
        return data.home(datetime.now(timezone.utc))


class UserActivities:
    """backend-flask/services/user_activities.py: one user's posts (None: no such user). Notebook 03 adds X-Ray."""

    def run(self, data: CruddurData, handle: str) -> list[dict] | None:
        return data.by_handle(handle)


class SearchActivities:
    """backend-flask/services/search_activities.py: the slow one (its latency is injected here, in the search)."""

    def run(self, data: CruddurData, term: str) -> list[dict]:
        _faults().inject(f"{SERVICE_NAME}:GET /api/activities/search")
        return data.search(term)


def _faults() -> Faults:
    return current_app.extensions["cruddur"]["faults"]


def _service(name: str):
    return current_app.extensions["cruddur"]["services"][name]


@api.get("/api/activities/home")
def home_activities():
    return jsonify(_service("home").run(_data(), _current_user()))


@api.get("/api/activities/notifications")
def notifications_activities():
    user = _current_user()
    try:
        notes = _downstream("GET", f"/api/notifications/@{user}")["notifications"]
    except DownstreamError as exc:
        log.warning("notifications unavailable: %s", exc)
        return _errors(["notifications_unavailable"], 502)
    data = _data()
    results = []
    for note in notes:
        activity = data.get(note["activity_uuid"])
        if activity is not None:
            results.append({**activity, "notification_kind": note["kind"]})
    return jsonify(results)


@api.get("/api/activities/@<handle>")
def user_activities(handle: str):
    results = _service("user").run(_data(), handle)
    if results is None:
        return _errors(["handle_not_found"], 404)
    return jsonify(results)


@api.get("/api/activities/search")
def search_activities():
    term = request.args.get("term", "")
    if not term.strip():
        return _errors(["search_term_blank"])
    return jsonify(_service("search").run(_data(), term))


def _validate_activity(payload: dict) -> list[str]:
    errors = []
    ttl = payload.get("ttl")
    if ttl is None or (isinstance(ttl, str) and not ttl.strip()):
        errors.append("ttl_blank")
    elif ttl not in TTLS:
        errors.append("ttl_invalid")
    return errors + validate_message(payload.get("message"))


@api.post("/api/activities")
def create_activity():
    payload = request.get_json(silent=True)
    if not isinstance(payload, dict):
        return _errors(["body_not_json"], 400)
    errors = _validate_activity(payload)
    if errors:
        return _errors(errors)
    user = _current_user()
    activity = _data().create(user, payload["message"], payload["ttl"])
    # Fan out to followers. Degrade gracefully: the post is stored even when notifications are down,
    # and the trace still shows the failed downstream call.
    try:
        fanout = _downstream("POST", "/api/notifications/fanout",
                             json={"activity_uuid": activity["uuid"], "handle": user, "kind": "post"})
        activity["notified"] = fanout.get("delivered", 0)
    except DownstreamError as exc:
        log.warning("fanout failed: %s", exc)
        activity["notified"] = None
    return jsonify(activity), 200


@api.get("/api/activities/<activity_uuid>")
def show_activity(activity_uuid: str):
    activity = _data().get(activity_uuid) if is_uuid(activity_uuid) else None
    if activity is None:
        return _errors(["activity_not_found"], 404)
    return jsonify(activity)


@api.post("/api/activities/<activity_uuid>/reply")
def reply_activity(activity_uuid: str):
    if not is_uuid(activity_uuid) or _data().get(activity_uuid) is None:
        return _errors(["activity_not_found"], 404)
    payload = request.get_json(silent=True)
    if not isinstance(payload, dict):
        return _errors(["body_not_json"], 400)
    errors = validate_message(payload.get("message"))
    if errors:
        return _errors(errors)
    user = _current_user()
    reply = _data().reply(activity_uuid, user, payload["message"])
    try:
        _downstream("POST", "/api/notifications/fanout",
                    json={"activity_uuid": activity_uuid, "handle": user, "kind": "reply"})
    except DownstreamError as exc:
        log.warning("reply notification failed: %s", exc)
    return jsonify(reply), 200


@api.get("/api/message_groups")
def message_groups():
    _faults().inject(f"{SERVICE_NAME}:GET /api/message_groups")  # the route with a bug (now and then)
    return jsonify(_data().groups_for(_current_user()))


@api.get("/api/messages/@<handle>")
def messages(handle: str):
    if handle not in _data().users:
        return _errors(["handle_not_found"], 404)
    return jsonify(_data().conversation(_current_user(), handle))


@api.post("/api/messages")
def create_message():
    payload = request.get_json(silent=True)
    if not isinstance(payload, dict):
        return _errors(["body_not_json"], 400)
    handle = payload.get("handle")
    errors = ([] if isinstance(handle, str) and handle.strip() else ["handle_blank"]) + validate_message(payload.get("message"))
    if errors:
        return _errors(errors)
    if handle not in _data().users:
        return _errors(["handle_not_found"], 404)
    user = _current_user()
    if handle == user:
        return _errors(["handle_is_self"])
    return jsonify(_data().send_message(user, handle, payload["message"])), 200


@api.get("/rollbar/test")
def rollbar_test():
    """The seed's Rollbar smoke test: one warning-level message, once Rollbar is initialised (notebook 05).

    Before that there is nowhere to send it: the route still answers, without pyrollbar's
    "No access_token provided" complaint on every call.
    """
    import rollbar

    if rollbar.SETTINGS.get("access_token"):
        rollbar.report_message("Hello World!", "warning")
    return "Hello World!"


def create_backend_app(downstream_url: str, faults: Faults | None = None, data: CruddurData | None = None,
                       downstream_timeout_s: float = 2.0, quiet: bool = True, home_activities=None,
                       user_activities=None, search_activities=None) -> Flask:
    """backend-flask's app factory. ``*_activities``: your own version of that service class (an object with
    the same ``run`` method), e.g. the home timeline with a custom span (notebook 02)."""
    app = Flask(SERVICE_NAME)
    if quiet:  # unhandled errors still reach the tracers and Rollbar; they just don't flood the notebook
        app.logger.disabled = True
    app.json.sort_keys = False
    app.extensions["cruddur"] = {
        "data": data or CruddurData(), "downstream_url": downstream_url.rstrip("/"),
        "http": requests.Session(), "downstream_timeout_s": downstream_timeout_s,
        "faults": faults or Faults.none(),
        "services": {"home": home_activities or HomeActivities(), "user": user_activities or UserActivities(),
                     "search": search_activities or SearchActivities()},
    }

    request_id.install(app)
    app.register_blueprint(api)
    return app
