"""The ``events`` component: EventBridge routing for the events the local cloud emits (moto serves the
EventBridge API: rules, targets, PutEvents)."""
from __future__ import annotations

from typing import Any

from lab_app.localcloud.component import Component
from lab_app.localcloud.events.models import EventRouter


class EventBridge(Component):
    name = "events"

    def __init__(self, ctx):
        super().__init__(ctx)
        self.router = EventRouter(self._to_logs, lambda: int(self.clock.now() * 1000), self.log)

    def _to_logs(self, group: str, stream: str, events: list[dict], region: str) -> int:
        return self.ctx.component("logs").deliver(group, stream, events, region=region)

    def route_event(self, account_id: str, region: str, event: dict) -> int:
        return self.router.route_event(account_id, region, event)

    def status(self) -> dict[str, Any]:
        return {"delivered": self.router.delivered}
