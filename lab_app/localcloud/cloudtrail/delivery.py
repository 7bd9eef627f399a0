"""Trails deliver records to CloudWatch Logs.

When a trail created through the CloudTrail API (served by moto) has a ``CloudWatchLogsLogGroupArn``
and is logging, each record it selects is delivered to that log group through the logs component
(stream ``<account>_CloudTrail_<region>``), where metric filters turn it into metrics. A delivery
thread sends batches within a quarter of a second (AWS takes up to a few minutes); :meth:`drain`
waits for the queue to empty (the alarm evaluator's ``flush_pending`` and ``/_localcloud/cloudtrail/flush``
call it). Delivery is in-process, so it is never itself an API call that could be recorded.
"""
from __future__ import annotations

import logging
import threading
import time
from typing import Any, Callable

BATCH_WINDOW_S = 0.25   # how long the delivery thread gathers records before one delivery
MAX_PENDING = 50_000    # records waiting for delivery; past it (delivery stuck) new records are dropped, counted

# (trail name, log group, log stream, region, log event)
Pending = tuple[str, str, str, str, dict]


def logging_trails(account_id: str, event_region: str) -> list[Any]:
    """moto's trails that are logging to CloudWatch Logs and cover the event's region."""
    from moto.cloudtrail.models import cloudtrail_backends

    trails = []
    account = cloudtrail_backends.get(account_id) if hasattr(cloudtrail_backends, "get") else None
    if account is None:
        return trails
    for region, backend in list(account.items()):
        for trail in list(backend.trails.values()):
            if not trail.status.is_logging or not trail.cw_log_group_arn:
                continue
            if not (trail.is_multi_region or region == event_region):
                continue
            trails.append(trail)
    return trails


def selects(trail, record: dict) -> bool:
    """Whether a trail's event selectors take a (management) record."""
    selectors = getattr(trail, "event_selectors", None) or []
    if not selectors:
        return True
    for selector in selectors:
        if selector.get("IncludeManagementEvents", True) is False:
            continue
        rw = selector.get("ReadWriteType", "All")
        if rw == "All" or (rw == "ReadOnly") == bool(record["readOnly"]):
            return True
    return False


class TrailDelivery:
    """The queue of records on their way to log groups, and the thread that sends them in batches."""

    def __init__(self, logs: Callable[[], Any], log: logging.Logger):
        self._logs = logs              # the logs component (raises KeyError when the process has none)
        self.log = log
        self.delivered = 0
        self.errors: dict[str, str] = {}
        self._pending: list[Pending] = []
        self.dropped = 0
        self._cv = threading.Condition()
        self._in_flight = 0
        self._urgent = False
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name="cloudtrail-deliver", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self.drain(timeout=10)
        self._stop.set()
        with self._cv:
            self._cv.notify_all()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def queue(self, record: dict, text: str, epoch: float) -> None:
        """Queue the record for every logging trail that selects it (the API call does not wait)."""
        queued = []
        for trail in logging_trails(record["recipientAccountId"], record["awsRegion"]):
            if not selects(trail, record):
                continue
            arn = trail.cw_log_group_arn.split(":")
            if len(arn) < 7 or arn[2] != "logs":
                self.errors[trail.trail_name] = f"not a log group ARN: {trail.cw_log_group_arn}"
                continue
            stream = f"{record['recipientAccountId']}_CloudTrail_{record['awsRegion']}"
            queued.append((trail.trail_name, arn[6], stream, arn[3], {"timestamp": int(epoch * 1000), "message": text}))
        if queued:
            with self._cv:
                if len(self._pending) + len(queued) > MAX_PENDING:
                    self.dropped += len(queued)
                    self.errors["*"] = (f"delivery is {len(self._pending)} records behind: {self.dropped} records "
                                        "not delivered to their trails' log groups")
                    return
                self._pending.extend(queued)
                self._cv.notify_all()

    def _loop(self) -> None:
        while True:
            with self._cv:
                while not self._pending and not self._stop.is_set():
                    self._cv.wait(1.0)
                if not self._pending and self._stop.is_set():
                    return
                # gather a batch for a moment (a burst of calls -> one delivery), unless someone drains
                deadline = time.monotonic() + BATCH_WINDOW_S
                while not self._urgent and not self._stop.is_set() and time.monotonic() < deadline:
                    self._cv.wait(deadline - time.monotonic())
                self._urgent = False
                batch, self._pending = self._pending, []
                self._in_flight = len(batch)
            try:
                self._send(batch)
            except Exception:
                self.log.exception("CloudTrail delivery failed")
            finally:
                with self._cv:
                    self._in_flight = 0
                    self._cv.notify_all()

    def _send(self, batch: list[Pending]) -> None:
        try:
            logs = self._logs()
        except KeyError:
            self.errors["*"] = "no logs component in this local cloud"
            return
        groups: dict[tuple[str, str, str, str], list[dict]] = {}
        for trail_name, group, stream, region, event in batch:
            groups.setdefault((trail_name, group, stream, region), []).append(event)
        for (trail_name, group, stream, region), events in groups.items():
            try:
                self.delivered += logs.deliver(group, stream, events, region=region)
                self.errors.pop(trail_name, None)
            except Exception as exc:  # e.g. the log group was deleted: AWS reports a delivery error too
                self.errors[trail_name] = f"{type(exc).__name__}: {exc}"

    def drain(self, timeout: float = 10.0) -> bool:
        """Wait until every queued record is in its log group (True) or ``timeout`` s passed (False)."""
        deadline = time.monotonic() + timeout
        with self._cv:
            self._urgent = True
            self._cv.notify_all()
            while self._pending or self._in_flight:
                if self._thread is None or not self._thread.is_alive():
                    batch, self._pending = self._pending, []
                    self._send(batch)
                    continue
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cv.wait(min(left, 0.5))
        return True
