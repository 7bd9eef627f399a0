"""Parse Rollbar API requests and serialise the answers (storage and grouping live in ``models``).

Write side (what the rollbar SDK calls): ``POST /api/1/item/`` with the token in the
``X-Rollbar-Access-Token`` header or ``access_token`` in the body. Answers ``{"err": 0, "result":
{"id": null, "uuid": ...}}``; 401 ``{"err": 1, "message": ...}`` when the token is missing or unknown,
400 for a body that is not a JSON item, 413 over the size limit, as Rollbar does.

Read side, Rollbar API v1 shapes (token as header or ``?access_token=``):
``GET /api/1/items`` (``status``, ``level``, ``environment``, ``page`` filters; 100 per page),
``GET /api/1/item/<id>``, ``GET /api/1/item_by_counter/<counter>`` (301 to the item, like Rollbar),
``GET /api/1/item/<id>/instances`` (occurrences, newest first, 20 per page), ``GET /api/1/instance/<id>``.

Project access tokens and their scopes, as on rollbar.com: :data:`lab_app.config.LOCAL_ROLLBAR_POST_TOKEN`
(``post_server_item``: may POST items, cannot read), :data:`lab_app.config.LOCAL_ROLLBAR_READ_TOKEN` (``read``:
may read, cannot POST items) and :data:`lab_app.config.LOCAL_ROLLBAR_TOKEN` plus any listed (comma-separated) in
``LAB_ROLLBAR_TOKENS`` (both scopes). A known token without the scope gets 403 ``{"err": 1, "message":
"insufficient privileges: <scope> scope is required but the access token only has <scopes>."}``, Rollbar's
wording for a token of the wrong scope.
"""
from __future__ import annotations

import os

from werkzeug.wrappers import Request, Response

from lab_app import config
from lab_app.localcloud import strict_json
from lab_app.localcloud.component import json_response
from lab_app.localcloud.rollbar import urls
from lab_app.localcloud.rollbar.exceptions import PayloadError, RollbarError, Unauthorized
from lab_app.localcloud.rollbar.models import MAX_BODY_BYTES, RollbarBackend

POST_SCOPE, READ_SCOPE = "post_server_item", "read"


def token_scopes() -> dict[str, tuple[str, ...]]:
    """Every token the stand-in knows and its scopes."""
    extra = {t.strip() for t in os.environ.get("LAB_ROLLBAR_TOKENS", "").split(",") if t.strip()}
    tokens = {t: (POST_SCOPE, READ_SCOPE) for t in extra | {config.LOCAL_ROLLBAR_TOKEN}}
    tokens[config.LOCAL_ROLLBAR_POST_TOKEN] = (POST_SCOPE,)
    tokens[config.LOCAL_ROLLBAR_READ_TOKEN] = (READ_SCOPE,)
    return tokens


def valid_tokens() -> set[str]:
    return set(token_scopes())


def _check_token(token: str | None, scope: str) -> None:
    if not token:
        raise Unauthorized("access token required")
    scopes = token_scopes().get(token)
    if scopes is None:
        raise Unauthorized("invalid access token")
    if scope not in scopes:
        raise RollbarError(f"insufficient privileges: {scope} scope is required but the access token only has "
                           f"{', '.join(scopes)}.", status=403)


def _page(request: Request) -> int:
    try:
        return max(1, int(request.args.get("page", 1)))
    except ValueError:
        raise RollbarError("page must be an integer") from None


def _ok(result, status: int = 200, headers: dict | None = None) -> Response:
    return json_response({"err": 0, "result": result}, status=status, headers=headers)


class RollbarResponses:
    def __init__(self, backend: RollbarBackend):
        self.backend = backend

    def dispatch(self, request: Request) -> Response:
        """Raises RollbarError for every answer that is not a success."""
        if urls.is_item_post_path(request.path):
            if request.method != "POST":
                raise RollbarError("method not allowed: POST an item to /api/1/item/", status=405)
            return self.post_item(request)
        if request.method != "GET":
            raise RollbarError("method not allowed", status=405)
        _check_token(request.headers.get("X-Rollbar-Access-Token") or request.args.get("access_token"), READ_SCOPE)
        found = urls.route(request.path)
        if found is None:
            raise RollbarError("not found", status=404)
        name, params = found
        return getattr(self, name)(request, **params)

    # write side -------------------------------------------------------------------------------
    def post_item(self, request: Request) -> Response:
        if (request.content_length or 0) > MAX_BODY_BYTES:
            raise RollbarError("request entity too large (max 1 MB)", status=413)
        raw = request.get_data(cache=False)
        if len(raw) > MAX_BODY_BYTES:
            raise RollbarError("request entity too large (max 1 MB)", status=413)
        try:
            payload = strict_json.loads(raw) if raw else None
        except ValueError:
            payload = "invalid"
        header_token = request.headers.get("X-Rollbar-Access-Token")
        body_token = payload.get("access_token") if isinstance(payload, dict) else None
        _check_token(header_token or (body_token if isinstance(body_token, str) else None), POST_SCOPE)
        if payload == "invalid":
            raise RollbarError("invalid JSON in request body")
        if not isinstance(payload, dict) or not isinstance(payload.get("data"), dict):
            raise RollbarError("invalid item: the body must be a JSON object with a 'data' object")
        try:
            occurrence_uuid = self.backend.record(payload["data"])
        except PayloadError as exc:
            raise RollbarError(f"invalid item: {exc}", status=422) from None
        return _ok({"id": None, "uuid": occurrence_uuid})

    # read side --------------------------------------------------------------------------------
    def list_items(self, request: Request) -> Response:
        filters = {name: request.args.get(name) for name in ("status", "level", "environment")}
        return _ok(self.backend.list_items(filters, _page(request)))

    def get_item(self, request: Request, item_id: str) -> Response:
        return _ok(self.backend.get_item(item_id))

    def item_by_counter(self, request: Request, counter: str) -> Response:
        item_id = self.backend.item_id_by_counter(counter)
        path = f"/api/1/item/{item_id}"
        return _ok({"itemId": item_id, "path": path, "uri": path}, status=301, headers={"Location": path})

    def list_instances(self, request: Request, item_id: str) -> Response:
        self.backend.get_item(item_id)
        page = _page(request)
        return _ok({"instances": self.backend.list_instances(item_id, page), "page": page})

    def get_instance(self, request: Request, instance_id: str) -> Response:
        return _ok(self.backend.get_instance(instance_id))
