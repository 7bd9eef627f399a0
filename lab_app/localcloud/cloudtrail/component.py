"""The ``cloudtrail`` component: records every API call on the gateway (an observer), keeps the event
history, delivers to logging trails' log groups, puts write calls on the default EventBridge bus ("AWS API Call
via CloudTrail"), and answers LookupEvents on the AWS port."""
from __future__ import annotations

import threading
from typing import Any, Callable

from lab_app.localcloud.aws import request, validate
from lab_app.localcloud.aws.errors import AwsError
from lab_app.localcloud.cloudtrail import responses
from lab_app.localcloud.cloudtrail.delivery import TrailDelivery
from lab_app.localcloud.cloudtrail.exceptions import CloudTrailError
from lab_app.localcloud.cloudtrail.models import DATA_EVENTS, EventHistory, RecordBuilder
from lab_app.localcloud.cloudtrail.urls import operation_of
from lab_app.localcloud.component import Component, json_response

JSON_11 = "application/x-amz-json-1.1"


class CloudTrail(Component):
    name = "cloudtrail"

    def __init__(self, ctx):
        super().__init__(ctx)
        self.builder = RecordBuilder()
        self.history = EventHistory(self.store)
        self.delivery = TrailDelivery(lambda: self.ctx.component("logs"), self.log)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # lifecycle ---------------------------------------------------------------------------------
    def setup(self) -> None:
        self.clock.not_before(self.history.setup())

    def start(self) -> None:
        if self.observe not in self.ctx.observers:
            self.ctx.observers.append(self.observe)
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="cloudtrail-flush", daemon=True)
        self._thread.start()
        self.delivery.start()

    def stop(self) -> None:
        if self.observe in self.ctx.observers:
            self.ctx.observers.remove(self.observe)
        self.delivery.stop()
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        self.history.flush()

    def reset(self) -> None:
        self.history.reset()
        self.delivery.errors.clear()

    def flush_pending(self, timeout: float) -> bool:
        return self.drain(timeout)

    def drain(self, timeout: float = 10.0) -> bool:
        """Wait until every queued record is in its trail's log group (False after ``timeout`` s)."""
        return self.delivery.drain(timeout)

    def control(self, action: str, payload: dict) -> dict | None:
        if action == "flush":  # LOCAL ONLY: finish pending deliveries now (AWS delivers within minutes)
            return {"drained": self.drain(), "recorded": self.history.flush()}
        return None

    def status(self) -> dict[str, Any]:
        self.history.flush()
        return {"events": self.history.count(), "delivered": self.delivered,
                "delivery_errors": dict(self.delivery.errors)}

    @property
    def delivered(self) -> int:
        return self.delivery.delivered

    def _run(self) -> None:
        while not self._stop.wait(1.0):
            try:
                self.history.flush()
            except Exception:
                self.log.exception("cloudtrail flush failed")

    # recording (a gateway observer) ----------------------------------------------------------------
    def observe(self, environ: dict, status: int, headers: list, body: bytes) -> None:
        call = request.parse(environ)
        if call is None or not call.operation:
            return
        if call.operation in DATA_EVENTS.get(call.signing_name, ()):
            return
        now = self.clock.now()
        record = self.builder.build(call, environ, status, headers, body, now)
        text = self.history.add(record, now)
        self.delivery.queue(record, text, now)
        self._to_eventbridge(call, record)

    def _to_eventbridge(self, call, record: dict) -> None:
        """CloudTrail's management events that change something reach the default bus as "AWS API Call via
        CloudTrail" events (source ``aws.<service>``; read-only calls are not sent), as on AWS."""
        if record.get("readOnly"):
            return
        try:
            events = self.ctx.component("events")
        except KeyError:
            return
        source = "aws." + record["eventSource"].split(".", 1)[0]
        events.emit(source, "AWS API Call via CloudTrail", record, record["recipientAccountId"], record["awsRegion"])

    # LookupEvents on the AWS port ------------------------------------------------------------------
    def matches(self, environ: dict) -> bool:
        return operation_of(environ) is not None

    def __call__(self, environ: dict, start_response: Callable):
        try:
            params = request.json_body(request.read_body(environ))
            validate.check_types("cloudtrail", "LookupEvents", params)
            account_id, region = request.caller(environ)
            response = json_response(responses.lookup_events(self.history, account_id, region, params),
                                     content_type=JSON_11)
        except AwsError as error:
            response = error.response(CloudTrailError.wire)
        return response(environ, start_response)
