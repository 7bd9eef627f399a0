"""Deterministic fault injection: added latency, error responses and exceptions, where real faults live.

Off by default. Rules are keyed ``"<service>:<METHOD> <route template>"`` (the Flask rule, e.g.
``"backend-flask:GET /api/activities/search"``). Each rule draws from its own random stream seeded
with ``(seed, key)``, so how many requests of a route get a fault is the same on every run with
the same seed and the same number of requests, whatever the thread interleaving.

The faults are not a hook in front of the app: the service code calls :meth:`Faults.inject` at the
place the fault belongs (the search service's slow code, the notifications handler that fails, the
buggy message-groups view), so every tracer, logger and error tracker sees them the way it would see
a real one, whatever order they were installed in. The notifications process receives its rules as
JSON in ``CRUDDUR_FAULTS`` (:meth:`Faults.to_json` / :meth:`Faults.from_json`).
"""
from __future__ import annotations

import json
import random
import threading
import time
from dataclasses import asdict, dataclass, field

from flask import abort, jsonify


class InjectedException(RuntimeError):
    """Raised on a route to simulate a code bug (a 500 that Rollbar and X-Ray see as a fault)."""


@dataclass(frozen=True)
class Fault:
    latency_ms: float = 0.0        # added to every matching request
    jitter_ms: float = 0.0         # uniform 0..jitter added on top
    error_rate: float = 0.0        # fraction answered with `error_status` instead of running the view
    error_status: int = 503
    exception_rate: float = 0.0    # fraction that raise InjectedException inside the view

    def __post_init__(self):
        for name in ("error_rate", "exception_rate"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name}={value} must be between 0 and 1")
        if self.latency_ms < 0 or self.jitter_ms < 0:
            raise ValueError("latency_ms and jitter_ms must be >= 0")


@dataclass
class Faults:
    rules: dict[str, Fault] = field(default_factory=dict)
    seed: int = 0

    def __post_init__(self):
        self._lock = threading.Lock()
        self._streams = {key: random.Random(f"{self.seed}:{key}") for key in self.rules}
        self.counts: dict[str, dict[str, int]] = {key: {"requests": 0, "errors": 0, "exceptions": 0} for key in self.rules}

    @classmethod
    def none(cls) -> "Faults":
        return cls({})

    @classmethod
    def lesson(cls, seed: int = 42) -> "Faults":
        """The workbook's standard scenario: a slow search, a flaky downstream call, a buggy route."""
        return cls({
            "backend-flask:GET /api/activities/search": Fault(latency_ms=180, jitter_ms=60),
            "notifications:GET /api/notifications/@<handle>": Fault(error_rate=0.25, error_status=503),
            "backend-flask:GET /api/message_groups": Fault(exception_rate=0.2),
        }, seed=seed)

    def decide(self, key: str) -> tuple[float, bool, bool]:
        """(added latency in s, answer with an error?, raise an exception?) for one request of ``key``."""
        rule = self.rules.get(key)
        if rule is None:
            return 0.0, False, False
        with self._lock:
            rng = self._streams[key]
            delay = (rule.latency_ms + rng.uniform(0, rule.jitter_ms)) / 1000.0
            error = rng.random() < rule.error_rate
            exception = (not error) and rng.random() < rule.exception_rate
            counts = self.counts[key]
            counts["requests"] += 1
            counts["errors"] += error
            counts["exceptions"] += exception
        return delay, error, exception

    def summary(self):
        import pandas as pd

        rows = [{"rule": key, **vars(rule), **self.counts[key]} for key, rule in self.rules.items()]
        return pd.DataFrame(rows)

    def inject(self, key: str) -> None:
        """Apply the rule ``key`` to the request being served: sleep, answer with an error, or raise."""
        rule = self.rules.get(key)
        if rule is None:
            return
        delay, error, exception = self.decide(key)
        if delay:
            time.sleep(delay)
        if error:
            response = jsonify({"errors": ["service_unavailable"]})
            response.status_code = rule.error_status
            abort(rule.error_status, response=response)
        if exception:
            raise InjectedException(f"simulated bug in {key.split(' ', 1)[-1]}")

    def to_json(self) -> str:
        return json.dumps({"seed": self.seed, "rules": {key: asdict(rule) for key, rule in self.rules.items()}})

    @classmethod
    def from_json(cls, text: str | None) -> "Faults":
        if not text:
            return cls.none()
        try:
            spec = json.loads(text)
            return cls({key: Fault(**rule) for key, rule in spec.get("rules", {}).items()}, seed=int(spec.get("seed", 0)))
        except (ValueError, TypeError, AttributeError) as exc:
            raise ValueError(f"CRUDDUR_FAULTS is not a fault specification ({exc}): unset it or use "
                             f"Faults.to_json()") from None
