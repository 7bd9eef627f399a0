"""CloudWatch alarm evaluation for the local cloud (moto stores alarms but never evaluates them).

PutMetricAlarm, DescribeAlarms and the metric data stay in moto's ``cloudwatch`` backend; this
component reads them in-process and does what CloudWatch does with them:

* a new alarm starts in ``INSUFFICIENT_DATA`` (moto says ``OK``); updating an alarm keeps its state;
* every minute boundary of the local cloud's clock (every 10 s for high-resolution periods) each
  metric alarm is evaluated with CloudWatch's rules: ``Period``, ``EvaluationPeriods`` (N),
  ``DatapointsToAlarm`` (M of N), ``Threshold``, ``ComparisonOperator`` and ``TreatMissingData``,
  over an evaluation range a little longer than N periods (see :func:`evaluate_datapoints`);
* a state change is written back to moto's alarm (so DescribeAlarms shows it), kept as alarm
  history (DescribeAlarmHistory is served here: moto does not implement it), fires the alarm's
  actions to SNS (moto's SNS really POSTs to http subscriptions) and emits the EventBridge
  ``CloudWatch Alarm State Change`` event: the default bus's rules (stored by moto, matched with
  moto's pattern matcher) route it to SNS, SQS and CloudWatch Logs targets.

Not evaluated: metric-math alarms (``Metrics=[...]``) and anomaly-detection comparison operators
(they stay INSUFFICIENT_DATA), and composite alarms (PutCompositeAlarm is left to moto). Only the JSON protocol that boto3/awscli use is intercepted.

LOCAL ONLY: ``POST /_localcloud/clock {"advance_seconds": n}`` moves the clock; every evaluation
boundary crossed is evaluated before the call returns, so a notebook sees INSUFFICIENT_DATA ->
ALARM -> OK in seconds instead of minutes. AWS has no such control.
"""
from __future__ import annotations

import base64
import io
import itertools
import json
import math
import threading
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Callable, Iterable

from werkzeug.wrappers import Response

from lab_app.localcloud import apicall
from lab_app.localcloud.component import Component

TARGET_PREFIX = "GraniteServiceVersion20100801."
JSON_10 = "application/x-amz-json-1.0"
STATES = ("OK", "ALARM", "INSUFFICIENT_DATA")
HISTORY_TYPES = ("ConfigurationUpdate", "StateUpdate", "Action", "AlarmContributorStateUpdate",
                 "AlarmContributorAction")
TREAT_MISSING = ("breaching", "notBreaching", "ignore", "missing")

COMPARISONS: dict[str, tuple[Callable[[float, float], bool], str]] = {
    "GreaterThanOrEqualToThreshold": (lambda v, t: v >= t, "greater than or equal to"),
    "GreaterThanThreshold": (lambda v, t: v > t, "greater than"),
    "LessThanThreshold": (lambda v, t: v < t, "less than"),
    "LessThanOrEqualToThreshold": (lambda v, t: v <= t, "less than or equal to"),
}

TICK_S = 10            # high-resolution alarms (Period 10/20/30) are evaluated every 10 s
MAX_CATCH_UP_TICKS = 8640   # one day of 10-second ticks per clock advance; older ticks are skipped
ACTION_TIMEOUT_S = 10.0

HISTORY_DDL = """
CREATE TABLE IF NOT EXISTS alarm_history (
    seq BIGINT,
    account_id VARCHAR,
    region VARCHAR,
    alarm_name VARCHAR,
    alarm_type VARCHAR,
    ts DOUBLE,
    item_type VARCHAR,
    summary VARCHAR,
    data VARCHAR
)"""


# --- the evaluation rules (pure) -----------------------------------------------------------------
def evaluation_range(evaluation_periods: int) -> int:
    """How many periods CloudWatch looks back: a few more than N, in case recent ones are missing.

    AWS documents the behaviour with N=3 and a range of 5 ("Configuring how CloudWatch alarms treat
    missing data"); the exact number is not published. We use N + max(2, N // 3).
    """
    return evaluation_periods + max(2, evaluation_periods // 3)


@dataclass
class Evaluation:
    state: str | None            # None: keep the current state (TreatMissingData=ignore)
    reason: str
    used: list[int] = field(default_factory=list)   # indexes (into the range) of real datapoints used
    breaching: int = 0
    filled: int = 0


def evaluate_datapoints(values: list[float | None], *, threshold: float, comparison: str,
                        evaluation_periods: int, datapoints_to_alarm: int | None = None,
                        treat_missing_data: str | None = "missing") -> Evaluation:
    """The state an alarm goes to for one evaluation, following CloudWatch's documented rules.

    ``values`` holds one aggregated value per period over the evaluation range, oldest first,
    ``None`` where the period has no data.

    * No datapoint in the whole range: missing -> INSUFFICIENT_DATA, breaching -> ALARM,
      notBreaching -> OK, ignore -> keep the state.
    * At least N real datapoints: the N most recent real ones decide (M of them breaching ->
      ALARM, else OK); TreatMissingData is not used.
    * Fewer than N real datapoints: breaching/notBreaching fill the N - k gaps with breaching /
      non-breaching values. missing/ignore evaluate the real ones, except the "premature alarm"
      rule: when the oldest real datapoint of the range breaches, is at least M periods old,
      and every more recent real datapoint breaches, the alarm goes to ALARM (missing) or keeps
      its state (ignore).
    """
    n = int(evaluation_periods)
    m = int(datapoints_to_alarm or n)
    tmd = treat_missing_data or "missing"
    breaches, _text = COMPARISONS[comparison]
    real = [(i, v) for i, v in enumerate(values) if v is not None]
    if not real:
        noun = "period" if n == 1 else "periods"
        if tmd == "missing":
            return Evaluation("INSUFFICIENT_DATA", f"Insufficient Data: {n} datapoint{'s were' if n > 1 else ' was'} unknown.")
        if tmd == "ignore":
            return Evaluation(None, "no datapoints: state kept (TreatMissingData=ignore)")
        label = "Breaching" if tmd == "breaching" else "NonBreaching"
        return Evaluation("ALARM" if tmd == "breaching" else "OK",
                          f"Threshold Crossed: no datapoints were received for {n} {noun} and {n} missing "
                          f"datapoint{'s were' if n > 1 else ' was'} treated as [{label}].", filled=n)
    if len(real) >= n:
        used = real[-n:]
        count = sum(1 for _, v in used if breaches(v, threshold))
        return Evaluation("ALARM" if count >= m else "OK", "", [i for i, _ in used], count)
    k = len(real)
    count = sum(1 for _, v in real if breaches(v, threshold))
    if tmd in ("missing", "ignore"):
        oldest_index, oldest_value = real[0]
        age = len(values) - oldest_index          # the newest period has age 1
        if breaches(oldest_value, threshold) and age >= m and all(breaches(v, threshold) for _, v in real):
            if tmd == "ignore":
                return Evaluation(None, "premature alarm: state kept (TreatMissingData=ignore)",
                                  [i for i, _ in real], len(real))
            return Evaluation("ALARM", "", [i for i, _ in real], len(real))
        return Evaluation("ALARM" if count >= m else "OK", "", [i for i, _ in real], count)
    filled = n - k
    if tmd == "breaching":
        return Evaluation("ALARM" if count + filled >= m else "OK", "", [i for i, _ in real], count + filled, filled)
    return Evaluation("ALARM" if count >= m else "OK", "", [i for i, _ in real], count, filled)


def aggregate(values: list[float], aggregated: list[tuple[float, float, float, float]], statistic: str | None,
              extended_statistic: str | None = None) -> float | None:
    """One period's statistic from raw values and (sum, min, max, sample count) statistic sets."""
    sample_count = len(values) + sum(a[3] for a in aggregated)
    if sample_count == 0:
        return None
    if extended_statistic:
        if not values:
            return None
        pct = float(extended_statistic[1:])
        ordered = sorted(values)
        rank = max(0, min(len(ordered) - 1, math.ceil(pct / 100 * len(ordered)) - 1))
        return ordered[rank]
    total = sum(values) + sum(a[0] for a in aggregated)
    if statistic == "Sum":
        return total
    if statistic == "SampleCount":
        return float(sample_count)
    if statistic == "Average":
        return total / sample_count
    if statistic == "Minimum":
        return min([*values, *(a[1] for a in aggregated)])
    if statistic == "Maximum":
        return max([*values, *(a[2] for a in aggregated)])
    raise ValueError(f"unknown statistic {statistic!r}")


# --- time helpers ------------------------------------------------------------------------------
def _epoch(value: Any) -> float:
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        import pandas as pd

        value = pd.Timestamp(value).to_pydatetime()
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=timezone.utc)
        return value.timestamp()
    raise TypeError(f"not a timestamp: {value!r}")


def _naive_utc(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, tz=timezone.utc).replace(tzinfo=None)


def _iso(epoch: float) -> str:
    """``2026-11-25T06:45:00.123+0000``: how CloudWatch writes times in alarm payloads."""
    return datetime.fromtimestamp(epoch, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "+0000"


def _short(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, tz=timezone.utc).strftime("%d/%m/%y %H:%M:%S")


def _region_name(region: str) -> str:
    try:
        import botocore.session

        for partition in botocore.session.get_session().get_data("endpoints")["partitions"]:
            if region in partition["regions"]:
                return partition["regions"][region]["description"]
    except Exception:
        pass
    return region


def _fmt(value: float) -> str:
    return repr(float(value))


# --- the component ------------------------------------------------------------------------------
class AlarmsComponent(Component):
    name = "alarms"
    OPERATIONS = ("DescribeAlarmHistory", "PutMetricAlarm", "SetAlarmState", "DeleteAlarms")

    def __init__(self, cloud):
        super().__init__(cloud)
        self._lock = threading.RLock()
        self._seq = itertools.count(1)
        self._last_tick: int | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.evaluations = 0
        self.transitions = 0

    # lifecycle -----------------------------------------------------------------------------
    def setup(self) -> None:
        self.store.ensure_table("alarm_history", HISTORY_DDL)
        top, latest = self.store.execute("SELECT coalesce(max(seq), 0), max(ts) FROM alarm_history")[0]
        self._seq = itertools.count(int(top) + 1)
        keep_clock_monotonic(self.cloud.clock, latest)

    def start(self) -> None:
        self._last_tick = self._tick(self.cloud.clock.now())
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="alarm-evaluator", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def reset(self) -> None:
        with self._lock:
            self._seq = itertools.count(1)

    def status(self) -> dict[str, Any]:
        return {"alarms": sum(1 for _ in self._alarms()), "evaluations": self.evaluations,
                "transitions": self.transitions, "history_items": self.store.count("alarm_history")}

    def control(self, action: str, payload: dict) -> dict | None:
        if action == "clock":  # the gateway moved the clock: evaluate every boundary crossed
            return {"evaluated_ticks": self.catch_up()}
        if action == "evaluate":
            return {"evaluated_ticks": self.catch_up()}
        return None

    # the timer -------------------------------------------------------------------------------
    @staticmethod
    def _tick(epoch: float) -> int:
        return int(epoch // TICK_S) * TICK_S

    def _run(self) -> None:
        while not self._stop.is_set():
            now = self.cloud.clock.now()
            wait = min(1.0, TICK_S - (now % TICK_S) + 0.05)
            if self._stop.wait(wait):
                return
            try:
                self.catch_up()
            except Exception:  # keep evaluating; a bad alarm must not stop the timer
                self.log.exception("alarm evaluation failed")

    def catch_up(self) -> int:
        """Evaluate every tick between the last evaluated one and now (bounded). Returns the count."""
        with self._lock:
            current = self._tick(self.cloud.clock.now())
            if current > (self._last_tick or current):
                self._drain_trail()
            if self._last_tick is None:
                self._last_tick = current
                return 0
            ticks = list(range(self._last_tick + TICK_S, current + 1, TICK_S))[-MAX_CATCH_UP_TICKS:]
            index = self.metric_index() if ticks else None
            for tick in ticks:
                self.evaluate_all(float(tick), index)
            self._last_tick = max(self._last_tick, current)
            return len(ticks)

    def _drain_trail(self) -> None:
        """Audit events still on their way to a log group become metric data before the alarms look."""
        for component in self.cloud.components:
            if component.name == "cloudtrail" and hasattr(component, "drain"):
                component.drain(timeout=10)

    # reading moto's state ----------------------------------------------------------------------
    def _backends(self) -> Iterable[tuple[str, str, Any]]:
        from moto.cloudwatch.models import cloudwatch_backends

        for account_id, account in list(cloudwatch_backends.items()):
            for region, backend in list(account.items()):
                yield account_id, region, backend

    def _alarms(self) -> Iterable[tuple[str, str, Any, Any]]:
        for account_id, region, backend in self._backends():
            for alarm in list(backend.alarms.values()):
                yield account_id, region, backend, alarm

    @staticmethod
    def evaluable(alarm) -> bool:
        return (alarm.rule is None and not alarm.metric_data_queries and bool(alarm.metric_name)
                and alarm.comparison_operator in COMPARISONS and bool(alarm.statistic or alarm.extended_statistic))

    def metric_index(self) -> dict[tuple[int, str, str], list]:
        """moto's metric data grouped by (backend, namespace, metric name): one scan per evaluation batch."""
        index: dict[tuple[int, str, str], list] = {}
        for _account, _region, backend in self._backends():
            for datum in list(backend.metric_data):
                index.setdefault((id(backend), datum.namespace, datum.name), []).append(datum)
        return index

    def period_values(self, backend, alarm, boundary: float,
                      index: dict | None = None) -> tuple[list[float | None], list[float]]:
        """Aggregated values for each period of the evaluation range ending at ``boundary``."""
        period = float(alarm.period)
        n_range = evaluation_range(int(alarm.evaluation_periods))
        start = boundary - n_range * period
        wanted_dims = sorted((d.name, d.value) for d in alarm.dimensions)
        raw: list[list[float]] = [[] for _ in range(n_range)]
        agg: list[list[tuple[float, float, float, float]]] = [[] for _ in range(n_range)]
        data = index.get((id(backend), alarm.namespace, alarm.metric_name), []) if index is not None \
            else list(backend.metric_data)
        for datum in data:
            if datum.name != alarm.metric_name or datum.namespace != alarm.namespace:
                continue
            if sorted((d.name, d.value) for d in datum.dimensions) != wanted_dims:
                continue
            if alarm.unit and datum.unit and datum.unit != alarm.unit:
                continue
            try:
                ts = _epoch(datum.timestamp)
            except (TypeError, ValueError):
                continue
            if not (start <= ts < boundary):
                continue
            slot = int((ts - start) // period)
            if hasattr(datum, "value"):
                raw[slot].append(float(datum.value))
            else:
                agg[slot].append((float(datum.sum), float(datum.min), float(datum.max), float(datum.sample_count)))
        values = [aggregate(raw[i], agg[i], alarm.statistic, alarm.extended_statistic) for i in range(n_range)]
        starts = [start + i * period for i in range(n_range)]
        return values, starts

    # evaluation ----------------------------------------------------------------------------
    def evaluate_all(self, boundary: float, index: dict | None = None) -> None:
        minute = boundary % 60 == 0
        if index is None:
            index = self.metric_index()
        for account_id, region, backend, alarm in self._alarms():
            if not self.evaluable(alarm):
                continue
            if int(alarm.period) >= 60 and not minute:
                continue
            if int(alarm.period) < 60 and boundary % int(alarm.period) != 0 and not minute:
                continue
            self.evaluate_alarm(account_id, region, backend, alarm, boundary, index)

    def evaluate_alarm(self, account_id: str, region: str, backend, alarm, boundary: float,
                       index: dict | None = None) -> str:
        values, starts = self.period_values(backend, alarm, boundary, index)
        n = int(alarm.evaluation_periods)
        m = int(alarm.datapoints_to_alarm or n)
        result = evaluate_datapoints(values, threshold=float(alarm.threshold), comparison=alarm.comparison_operator,
                                     evaluation_periods=n, datapoints_to_alarm=m,
                                     treat_missing_data=alarm.treat_missing_data)
        self.evaluations += 1
        if result.state is None or result.state == alarm.state_value:
            return alarm.state_value
        reason = result.reason or self._reason(alarm, result, values, starts, m)
        statistic = alarm.statistic or alarm.extended_statistic
        reason_data = {
            "version": "1.0",
            "queryDate": _iso(boundary),
            "startDate": _iso(starts[result.used[0]] if result.used else starts[-n]),
            "statistic": statistic,
            "period": int(alarm.period),
            "recentDatapoints": [values[i] for i in result.used],
            "threshold": float(alarm.threshold),
            "evaluatedDatapoints": [{"timestamp": _iso(starts[i]), "value": values[i]} for i in reversed(result.used)],
        }
        if alarm.unit:
            reason_data["unit"] = alarm.unit
        self.transition(account_id, region, alarm, result.state, reason, json.dumps(reason_data), boundary)
        return result.state

    @staticmethod
    def _reason(alarm, result: Evaluation, values, starts, m: int) -> str:
        _fn, text = COMPARISONS[alarm.comparison_operator]
        breaches = COMPARISONS[alarm.comparison_operator][0]
        shown = [i for i in result.used if (breaches(values[i], float(alarm.threshold)) == (result.state == "ALARM"))]
        points = ", ".join(f"{_fmt(values[i])} ({_short(starts[i])})" for i in reversed(shown))
        n_used = len(result.used) + result.filled
        count = len(shown)
        verb = "was" if count == 1 else "were"
        negation = "" if result.state == "ALARM" else "not "
        old = alarm.state_value
        extra = ""
        if result.filled:
            label = "Breaching" if (alarm.treat_missing_data == "breaching") else "NonBreaching"
            extra = f" and {result.filled} missing datapoint{'s were' if result.filled > 1 else ' was'} treated as [{label}]"
        return (f"Threshold Crossed: {count} out of the last {n_used} datapoint{'s' if n_used != 1 else ''} "
                f"[{points}] {verb} {negation}{text} the threshold ({_fmt(alarm.threshold)}){extra} "
                f"(minimum {m} datapoint{'s' if m != 1 else ''} for {old} -> {result.state} transition).")

    # state changes ---------------------------------------------------------------------------
    def transition(self, account_id: str, region: str, alarm, new_state: str, reason: str, reason_data: str,
                   at: float, fire: bool = True) -> None:
        """Write the new state into moto's alarm, record history, fire actions, emit the event."""
        with self._lock:
            old_state, old_reason = alarm.state_value, alarm.state_reason
            old_data, old_ts = alarm.state_reason_data, alarm.state_updated_timestamp
            alarm.state_value = new_state
            alarm.state_reason = reason
            alarm.state_reason_data = reason_data
            alarm.state_updated_timestamp = _naive_utc(at)
            self.transitions += 1
            history = {
                "version": "1.0",
                "oldState": {"stateValue": old_state, "stateReason": old_reason,
                             **({"stateReasonData": _loads(old_data)} if old_data and old_data != "{}" else {})},
                "newState": {"stateValue": new_state, "stateReason": reason,
                             **({"stateReasonData": _loads(reason_data)} if reason_data and reason_data != "{}" else {})},
            }
            self.record(account_id, region, alarm.name, at, "StateUpdate",
                        f"Alarm updated from {old_state} to {new_state}", json.dumps(history))
        if not fire:
            return
        self.emit_event(account_id, region, alarm, old_state, old_reason, old_data, old_ts, at)
        if alarm.actions_enabled:
            actions = {"ALARM": alarm.alarm_actions, "OK": alarm.ok_actions,
                       "INSUFFICIENT_DATA": alarm.insufficient_data_actions}[new_state] or []
            for arn in actions:
                self.fire_action(account_id, region, alarm, arn, old_state, at)

    def record(self, account_id: str, region: str, alarm_name: str, at: float, item_type: str, summary: str,
               data: str, alarm_type: str = "MetricAlarm") -> None:
        self.store.execute(
            "INSERT INTO alarm_history VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [next(self._seq), account_id, region, alarm_name, alarm_type, at, item_type, summary, data],
        )

    def sns_message(self, account_id: str, region: str, alarm, old_state: str, at: float) -> dict[str, Any]:
        return {
            "AlarmName": alarm.name,
            "AlarmDescription": alarm.description,
            "AWSAccountId": account_id,
            "AlarmConfigurationUpdatedTimestamp": _iso(_epoch(alarm.configuration_updated_timestamp)),
            "NewStateValue": alarm.state_value,
            "NewStateReason": alarm.state_reason,
            "StateChangeTime": _iso(at),
            "Region": _region_name(region),
            "AlarmArn": alarm.alarm_arn,
            "OldStateValue": old_state,
            "OKActions": list(alarm.ok_actions or []),
            "AlarmActions": list(alarm.alarm_actions or []),
            "InsufficientDataActions": list(alarm.insufficient_data_actions or []),
            "Trigger": {
                "MetricName": alarm.metric_name,
                "Namespace": alarm.namespace,
                "StatisticType": "ExtendedStatistic" if alarm.extended_statistic else "Statistic",
                "Statistic": (alarm.extended_statistic or alarm.statistic or "").upper(),
                "Unit": alarm.unit,
                "Dimensions": [{"value": d.value, "name": d.name} for d in alarm.dimensions],
                "Period": int(alarm.period),
                "EvaluationPeriods": int(alarm.evaluation_periods),
                "DatapointsToAlarm": int(alarm.datapoints_to_alarm or alarm.evaluation_periods),
                "ComparisonOperator": alarm.comparison_operator,
                "Threshold": float(alarm.threshold),
                "TreatMissingData": alarm.treat_missing_data or "missing",
                "EvaluateLowSampleCountPercentile": alarm.evaluate_low_sample_count_percentile or "",
            },
        }

    def fire_action(self, account_id: str, region: str, alarm, arn: str, old_state: str, at: float) -> None:
        parts = arn.split(":")
        if len(parts) < 6 or parts[2] != "sns":
            self.record(account_id, region, alarm.name, at, "Action",
                        f"Failed to execute action {arn}",
                        json.dumps({"actionState": "Failed", "stateUpdateTimestamp": _iso(at),
                                    "error": "the local cloud runs SNS actions only"}))
            return
        message = self.sns_message(account_id, region, alarm, old_state, at)
        subject = f'{alarm.state_value}: "{alarm.name}" in {_region_name(region)}'[:100]
        outcome: dict[str, Any] = {}

        def publish() -> None:
            from moto.sns.models import sns_backends

            try:
                outcome["id"] = sns_backends[parts[4]][parts[3]].publish(json.dumps(message), arn=arn, subject=subject)
            except Exception as exc:  # unknown topic, unreachable endpoint, ...
                outcome["error"] = f"{type(exc).__name__}: {exc}"

        worker = threading.Thread(target=publish, name="alarm-action", daemon=True)
        worker.start()
        worker.join(ACTION_TIMEOUT_S)
        if worker.is_alive():
            outcome["error"] = f"timed out after {ACTION_TIMEOUT_S:.0f} s"
        if "error" in outcome:
            self.log.warning("alarm %s: action %s failed: %s", alarm.name, arn, outcome["error"])
            self.record(account_id, region, alarm.name, at, "Action", f"Failed to execute action {arn}",
                        json.dumps({"actionState": "Failed", "stateUpdateTimestamp": _iso(at),
                                    "error": outcome["error"]}))
        else:
            self.record(account_id, region, alarm.name, at, "Action", f"Successfully executed action {arn}",
                        json.dumps({"actionState": "Succeeded", "stateUpdateTimestamp": _iso(at),
                                    "notificationResource": arn, "publishedMessage": {"messageId": outcome.get("id")}}))

    def emit_event(self, account_id: str, region: str, alarm, old_state: str, old_reason: str, old_data: str,
                   old_ts, at: float) -> None:
        detail = {
            "alarmName": alarm.name,
            "state": {"value": alarm.state_value, "reason": alarm.state_reason,
                      "reasonData": alarm.state_reason_data, "timestamp": _iso(at)},
            "previousState": {"value": old_state, "reason": old_reason, "reasonData": old_data,
                              "timestamp": _iso(_epoch(old_ts))},
            "configuration": {
                "description": alarm.description,
                "metrics": [{
                    "id": str(uuid.uuid5(uuid.NAMESPACE_URL, alarm.alarm_arn)),
                    "metricStat": {
                        "metric": {"namespace": alarm.namespace, "name": alarm.metric_name,
                                   "dimensions": {d.name: d.value for d in alarm.dimensions}},
                        "period": int(alarm.period),
                        "stat": alarm.statistic or alarm.extended_statistic,
                        **({"unit": alarm.unit} if alarm.unit else {}),
                    },
                    "returnData": True,
                }],
            },
        }
        event = {
            "version": "0", "id": str(uuid.uuid4()), "detail-type": "CloudWatch Alarm State Change",
            "source": "aws.cloudwatch", "account": account_id,
            "time": datetime.fromtimestamp(at, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "region": region, "resources": [alarm.alarm_arn], "detail": detail,
        }
        self.route_event(account_id, region, event)

    def route_event(self, account_id: str, region: str, event: dict) -> int:
        """Deliver an event to the targets of the default bus's matching rules (moto holds the rules).

        moto's own PutEvents cannot deliver to SNS targets and writes log-group targets into moto's logs
        backend, not the local CloudWatch Logs; so the rules are matched with moto's pattern matcher and
        SNS, SQS and CloudWatch Logs targets are delivered here. Returns how many deliveries succeeded.
        """
        from moto.events.models import events_backends

        try:
            bus = dict.get(events_backends[account_id], region)
            bus = bus.event_buses.get("default") if bus is not None else None
        except Exception:
            bus = None
        if bus is None:
            return 0
        delivered = 0
        for rule in list(bus.rules.values()):
            try:
                if rule.state != "ENABLED" or not rule.event_pattern.matches_event(event):
                    continue
            except Exception:  # a pattern moto cannot evaluate matches nothing
                continue
            for target in list(rule.targets):
                try:
                    self._deliver_to_target(target, event)
                    delivered += 1
                except Exception as exc:
                    self.log.warning("EventBridge rule %s: target %s failed: %s", rule.name, target.get("Arn"), exc)
        return delivered

    def _deliver_to_target(self, target: dict, event: dict) -> None:
        arn = target["Arn"]
        parts = arn.split(":")
        service, target_region, target_account = parts[2], parts[3], parts[4]
        if target.get("Input"):
            payload: Any = json.loads(target["Input"])
        elif target.get("InputPath"):
            from jsonpath_ng.ext import parse as jsonpath

            found = jsonpath(target["InputPath"]).find(event)
            payload = found[0].value if found else None
        elif target.get("InputTransformer"):
            from moto.events.utils import EventTemplateParser

            transformer = target["InputTransformer"]
            payload = EventTemplateParser.parse(input_template=transformer.get("InputTemplate"),
                                                input_paths_map=transformer.get("InputPathsMap", {}),
                                                event={**event, "ingestion-time": event["time"]})
        else:
            payload = event
        body = payload if isinstance(payload, str) else json.dumps(payload)
        if service == "sns":
            from moto.sns.models import sns_backends

            sns_backends[target_account][target_region].publish(body, arn=arn)
        elif service == "sqs":
            from moto.sqs.models import sqs_backends

            group = (target.get("SqsParameters") or {}).get("MessageGroupId")
            sqs_backends[target_account][target_region].send_message(queue_name=parts[5], message_body=body,
                                                                     group_id=group)
        elif service == "logs":
            group_name = arn.split(":log-group:", 1)[1].split(":", 1)[0]
            self.cloud.component("logs").deliver(group_name, event["id"], [
                {"timestamp": int(self.cloud.clock.now() * 1000), "message": body}], region=target_region)
        else:
            raise ValueError(f"the local cloud delivers EventBridge events to SNS, SQS and CloudWatch Logs "
                             f"targets only, not {service}")

    # the AWS port: the CloudWatch operations moto gets wrong or lacks --------------------------
    def matches(self, environ: dict) -> bool:
        target = environ.get("HTTP_X_AMZ_TARGET", "")
        return target.startswith(TARGET_PREFIX) and target[len(TARGET_PREFIX):] in self.OPERATIONS

    def __call__(self, environ: dict, start_response: Callable):
        operation = environ["HTTP_X_AMZ_TARGET"][len(TARGET_PREFIX):]
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        environ["wsgi.input"] = io.BytesIO(body)
        account_id, region = apicall.caller(environ)
        try:
            params = json.loads(body) if body else {}
            if not isinstance(params, dict):
                raise ValueError
        except ValueError:
            return _error("SerializationException", "Start of structure or map found where not expected.")(environ, start_response)
        if operation == "DescribeAlarmHistory":
            return self.describe_alarm_history(account_id, region, params)(environ, start_response)
        if operation == "PutMetricAlarm":
            problem = validate_put_metric_alarm(params)
            if problem:
                return _error("ValidationError", problem)(environ, start_response)
        backend = self._backend(account_id, region)
        before = backend.alarms.get(params.get("AlarmName")) if backend is not None else None
        old = (before.state_value, before.state_reason, before.state_reason_data, before.state_updated_timestamp) \
            if before is not None else None
        status, headers, chunks = _call(self.cloud.gateway.moto, environ)
        if status < 300:
            backend = self._backend(account_id, region)
            now = self.cloud.clock.now()
            if operation == "PutMetricAlarm":
                self._after_put(account_id, region, backend, params, old, now)
            elif operation == "SetAlarmState" and old is not None:
                self._after_set_state(account_id, region, backend, params, old, now)
        start_response(f"{status} {'OK' if status < 300 else 'Error'}", headers)
        return chunks

    def _backend(self, account_id: str, region: str):
        from moto.cloudwatch.models import cloudwatch_backends

        try:
            return cloudwatch_backends[account_id][region]
        except Exception:
            return None

    def _after_put(self, account_id, region, backend, params, old, now: float) -> None:
        alarm = backend.alarms.get(params.get("AlarmName"))
        if alarm is None:
            return
        with self._lock:
            alarm.configuration_updated_timestamp = _naive_utc(now)
            if old is None:
                alarm.state_value = "INSUFFICIENT_DATA"
                alarm.state_reason = "Unchecked: Initial alarm creation"
                alarm.state_reason_data = "{}"
                alarm.state_updated_timestamp = _naive_utc(now)
                summary = f'Alarm "{alarm.name}" created'
            else:  # AWS keeps the state of an updated alarm
                alarm.state_value, alarm.state_reason, alarm.state_reason_data, alarm.state_updated_timestamp = old
                summary = f'Alarm "{alarm.name}" updated'
            config = {k: v for k, v in params.items() if k not in ("Tags",)}
            self.record(account_id, region, alarm.name, now, "ConfigurationUpdate", summary,
                        json.dumps({"version": "1.0", "type": "Create" if old is None else "Update",
                                    "createdAlarm" if old is None else "updatedAlarm": config}, default=str))

    def _after_set_state(self, account_id, region, backend, params, old, now: float) -> None:
        alarm = backend.alarms.get(params.get("AlarmName"))
        if alarm is None:
            return
        new_state, reason, data = alarm.state_value, alarm.state_reason, alarm.state_reason_data
        # moto already switched the state (and used the wall clock); restore, then transition properly
        alarm.state_value, alarm.state_reason, alarm.state_reason_data, alarm.state_updated_timestamp = old
        if new_state != old[0]:
            self.transition(account_id, region, alarm, new_state, reason, data or "{}", now)

    def describe_alarm_history(self, account_id: str, region: str, params: dict) -> Response:
        item_type = params.get("HistoryItemType")
        if item_type is not None and item_type not in HISTORY_TYPES:
            return _error("ValidationError", f"1 validation error detected: Value '{item_type}' at 'historyItemType' "
                          f"failed to satisfy constraint: Member must satisfy enum value set: [{', '.join(HISTORY_TYPES)}]")
        scan_by = params.get("ScanBy", "TimestampDescending")
        if scan_by not in ("TimestampDescending", "TimestampAscending"):
            return _error("ValidationError", f"1 validation error detected: Value '{scan_by}' at 'scanBy' failed to "
                          "satisfy constraint: Member must satisfy enum value set: [TimestampDescending, TimestampAscending]")
        max_records = params.get("MaxRecords", 100)
        if not isinstance(max_records, int) or not 1 <= max_records <= 100:
            return _error("ValidationError", f"1 validation error detected: Value '{max_records}' at 'maxRecords' "
                          "failed to satisfy constraint: Member must have value between 1 and 100")
        where, args = ["account_id = ?", "region = ?"], [account_id, region]
        descending = scan_by == "TimestampDescending"
        if params.get("NextToken"):  # a cursor (time, seq) of the last item returned
            try:
                cursor = json.loads(base64.b64decode(params["NextToken"]))
                op = "<" if descending else ">"
                where.append(f"(ts {op} ? OR (ts = ? AND seq {op} ?))")
                args.extend([float(cursor["t"]), float(cursor["t"]), int(cursor["seq"])])
            except Exception:
                return _error("InvalidNextToken", "The service couldn't process your request because the next token is invalid.")
        if params.get("AlarmName"):
            where.append("alarm_name = ?")
            args.append(params["AlarmName"])
        if item_type:
            where.append("item_type = ?")
            args.append(item_type)
        types = params.get("AlarmTypes")
        if types:
            where.append("alarm_type IN (" + ", ".join("?" for _ in types) + ")")
            args.extend(types)
        for key, op in (("StartDate", ">="), ("EndDate", "<=")):
            if params.get(key) is not None:
                where.append(f"ts {op} ?")
                args.append(_epoch(params[key]))
        order = "DESC" if descending else "ASC"
        rows = self.store.execute(
            f"SELECT alarm_name, alarm_type, ts, item_type, summary, data, seq FROM alarm_history "
            f"WHERE {' AND '.join(where)} ORDER BY ts {order}, seq {order} LIMIT ?",
            [*args, max_records + 1],
        )
        items = [{"AlarmName": r[0], "AlarmType": r[1], "Timestamp": r[2], "HistoryItemType": r[3],
                  "HistorySummary": r[4], "HistoryData": r[5]} for r in rows[:max_records]]
        body: dict[str, Any] = {"AlarmHistoryItems": items}
        if len(rows) > max_records:
            last = rows[max_records - 1]
            body["NextToken"] = base64.b64encode(json.dumps({"t": last[2], "seq": last[6]}).encode()).decode()
        return Response(json.dumps(body), status=200, content_type=JSON_10)


def keep_clock_monotonic(clock, latest_seen: float | None) -> None:
    """After a restart the clock's local-only offset is gone; never let it run behind what is stored."""
    if latest_seen is not None and float(latest_seen) > clock.now():
        clock.advance(float(latest_seen) - clock.now() + 0.001)


def validate_put_metric_alarm(params: dict) -> str | None:
    """The checks CloudWatch makes that moto skips (allowed periods, M <= N, TreatMissingData)."""
    period = params.get("Period")
    if period is not None and not params.get("Metrics"):
        if not isinstance(period, int) or period <= 0 or (period not in (10, 20, 30) and period % 60 != 0):
            return "Period must be 10, 20, 30 or a multiple of 60"
    n = params.get("EvaluationPeriods")
    m = params.get("DatapointsToAlarm")
    if isinstance(n, int) and n < 1:
        return "EvaluationPeriods must be greater than or equal to 1"
    if isinstance(n, int) and isinstance(m, int) and not 1 <= m <= n:
        return "DatapointsToAlarm must be less than or equal to EvaluationPeriods"
    if isinstance(n, int) and isinstance(period, int) and period >= 60 and n * period > 7 * 86400:
        return "The evaluation period (EvaluationPeriods * Period) must not exceed 7 days"
    tmd = params.get("TreatMissingData")
    if tmd is not None and tmd not in TREAT_MISSING:
        return f"Option {tmd} is not supported. Supported options for parameter TreatMissingData are {', '.join(TREAT_MISSING)}."
    if params.get("ComparisonOperator") and params["ComparisonOperator"] not in COMPARISONS \
            and not params.get("ThresholdMetricId"):
        return f"Invalid value for ComparisonOperator: {params['ComparisonOperator']}"
    return None


def _loads(text: str) -> Any:
    try:
        return json.loads(text)
    except (TypeError, ValueError):
        return text


def _error(code: str, message: str, status: int = 400) -> Response:
    """A CloudWatch (JSON 1.0, query-compatible) error: botocore reads the code from x-amzn-query-error."""
    return Response(json.dumps({"__type": code, "message": message}), status=status, content_type=JSON_10,
                    headers={"x-amzn-query-error": f"{code};Sender"})


def _call(app, environ: dict) -> tuple[int, list, list[bytes]]:
    captured: dict[str, Any] = {}

    def start_response(status, headers, exc_info=None):
        captured["status"] = int(status.split()[0])
        captured["headers"] = headers

    chunks = list(app(environ, start_response))
    return captured.get("status", 500), captured.get("headers", []), chunks
