"""A small local webhook that receives SNS http(s) notifications (the alert an alarm sends).

    hook = Webhook().start()                  # a werkzeug server in a daemon thread (lab_app.runner)
    sns.subscribe(TopicArn=arn, Protocol="http", Endpoint=hook.url)
    ...
    hook.frame()                              # one row per notification, the alarm message decoded

SNS POSTs a JSON document (``Type``, ``MessageId``, ``TopicArn``, ``Subject``, ``Message``,
``Timestamp``, signature fields). For CloudWatch alarm actions ``Message`` is itself JSON
(``AlarmName``, ``NewStateValue``, ``OldStateValue``, ``NewStateReason``, ``Trigger``...).
A real SNS topic first sends a ``SubscriptionConfirmation``; the webhook records it and, when
``confirm=True``, visits its ``SubscribeURL`` (only useful when AWS can reach the webhook).
"""
from __future__ import annotations

import json
import threading
from typing import Any

import pandas as pd
from werkzeug.wrappers import Request, Response

from lab_app.config import HOST
from lab_app.runner import ServerThread, serve


class Webhook:
    def __init__(self, port: int = 0, host: str = HOST, path: str = "/sns", confirm: bool = False):
        self.host = host
        self.port = port
        self.path = path
        self.confirm = confirm
        self._lock = threading.Lock()
        self.received: list[dict[str, Any]] = []
        self._server: ServerThread | None = None

    # WSGI -------------------------------------------------------------------------------------
    def __call__(self, environ, start_response):
        request = Request(environ)
        if request.method != "POST" or request.path != self.path:
            return Response("not found", status=404)(environ, start_response)
        try:
            document = json.loads(request.get_data(as_text=True) or "{}")
        except ValueError:
            return Response("body is not JSON", status=400)(environ, start_response)
        if not isinstance(document, dict):
            return Response("body is not a JSON object", status=400)(environ, start_response)
        with self._lock:
            self.received.append({"headers": dict(request.headers), **document})
        if document.get("Type") == "SubscriptionConfirmation" and self.confirm and document.get("SubscribeURL"):
            import requests

            requests.get(document["SubscribeURL"], timeout=10)
        return Response("ok", status=200)(environ, start_response)

    # lifecycle ----------------------------------------------------------------------------------
    def start(self) -> "Webhook":
        if self.port:
            self._server = serve(self, self.port, self.host, name="sns-webhook")
        else:
            self._server = ServerThread(self, port=0, host=self.host, name="sns-webhook").start()
            self.port = self._server.port
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None

    def __enter__(self) -> "Webhook":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}{self.path}"

    def clear(self) -> None:
        with self._lock:
            self.received.clear()

    # results ------------------------------------------------------------------------------------
    def notifications(self) -> list[dict[str, Any]]:
        """The ``Notification`` documents, each with ``Message`` decoded when it is JSON (alarms)."""
        with self._lock:
            docs = [dict(d) for d in self.received if d.get("Type") == "Notification"]
        for doc in docs:
            try:
                doc["Message"] = json.loads(doc.get("Message", ""))
            except (TypeError, ValueError):
                pass
        return docs

    def frame(self) -> pd.DataFrame:
        """One row per notification: time, topic, subject, and the alarm fields when it is an alarm."""
        rows = []
        for doc in self.notifications():
            message = doc.get("Message") if isinstance(doc.get("Message"), dict) else {}
            rows.append({
                "timestamp": doc.get("Timestamp"),
                "topic_arn": doc.get("TopicArn"),
                "subject": doc.get("Subject"),
                "alarm_name": message.get("AlarmName"),
                "old_state": message.get("OldStateValue"),
                "new_state": message.get("NewStateValue"),
                "reason": message.get("NewStateReason"),
                "state_change_time": message.get("StateChangeTime"),
            })
        frame = pd.DataFrame(rows, columns=["timestamp", "topic_arn", "subject", "alarm_name", "old_state",
                                            "new_state", "reason", "state_change_time"])
        frame["timestamp"] = pd.to_datetime(frame["timestamp"], utc=True)
        frame["state_change_time"] = pd.to_datetime(frame["state_change_time"], utc=True, format="%Y-%m-%dT%H:%M:%S.%f%z")
        return frame
