"""The alarm evaluator: a timer over the local cloud's clock that evaluates every metric alarm moto stores.

Every minute boundary (every 10 s for high-resolution periods) each evaluable alarm is evaluated with
:mod:`~lab_app.localcloud.cloudwatch.rules`. A state change is written back to moto's alarm (so
DescribeAlarms shows it), kept as alarm history, fires the alarm's actions to SNS (moto's SNS really
POSTs to http subscriptions) and emits the EventBridge ``CloudWatch Alarm State Change`` event.

LOCAL ONLY: when the clock is advanced (``POST /_localcloud/clock``) every boundary crossed is evaluated
before the call returns (:meth:`AlarmEvaluator.catch_up`).
"""
from __future__ import annotations

import json
import logging
import threading
import uuid
from datetime import datetime, timezone
from typing import Any, Callable

from lab_app.localcloud.cloudwatch import alarm_rule, models
from lab_app.localcloud.cloudwatch.alarm_rule import ast as rule_ast
from lab_app.localcloud.cloudwatch.history import AlarmHistory
from lab_app.localcloud.cloudwatch.metrics import MetricStore
from lab_app.localcloud.cloudwatch.models import epoch, fmt, iso, naive_utc, region_name, short
from lab_app.localcloud.cloudwatch.rules import COMPARISONS, Evaluation, evaluate_datapoints
from lab_app.localcloud.component import Clock

TICK_S = 10            # high-resolution alarms (Period 10/20/30) are evaluated every 10 s
MAX_CATCH_UP_TICKS = 8640   # one day of 10-second ticks per clock advance; older ticks are skipped
ACTION_TIMEOUT_S = 10.0


def _loads(text: str) -> Any:
    try:
        return json.loads(text)
    except (TypeError, ValueError):
        return text


class AlarmEvaluator:
    """``flush_pending`` runs before each pass that crosses a tick (deliveries become metric data first);
    ``route_event(account, region, event)`` hands the state-change event to EventBridge."""

    def __init__(self, clock: Clock, history: AlarmHistory, log: logging.Logger,
                 flush_pending: Callable[[], Any], route_event: Callable[[str, str, dict], Any],
                 metrics: MetricStore):
        self.clock = clock
        self.metrics = metrics
        self.history = history
        self.log = log
        self.flush_pending = flush_pending
        self.route_event = route_event
        self.lock = threading.RLock()
        self._last_tick: int | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.evaluations = 0
        self.transitions = 0

    # the timer -------------------------------------------------------------------------------
    def start(self) -> None:
        self._last_tick = self._tick(self.clock.now())
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="alarm-evaluator", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    @staticmethod
    def _tick(at: float) -> int:
        return int(at // TICK_S) * TICK_S

    def _run(self) -> None:
        while not self._stop.is_set():
            now = self.clock.now()
            wait = min(1.0, TICK_S - (now % TICK_S) + 0.05)
            if self._stop.wait(wait):
                return
            try:
                self.catch_up()
            except Exception:  # keep evaluating; a bad alarm must not stop the timer
                self.log.exception("alarm evaluation failed")

    def catch_up(self) -> int:
        """Evaluate every tick between the last evaluated one and now (bounded). Returns the count."""
        with self.lock:
            current = self._tick(self.clock.now())
            if current > (self._last_tick or current):
                self.flush_pending()
            if self._last_tick is None:
                self._last_tick = current
                return 0
            ticks = list(range(self._last_tick + TICK_S, current + 1, TICK_S))[-MAX_CATCH_UP_TICKS:]
            for tick in ticks:
                self.evaluate_all(float(tick))
            self._last_tick = max(self._last_tick, current)
            return len(ticks)

    # evaluation ----------------------------------------------------------------------------
    def evaluate_all(self, boundary: float) -> None:
        minute = boundary % 60 == 0
        for account_id, region, backend, alarm in models.alarms():
            if not models.evaluable(alarm):
                continue
            period = models.alarm_period(alarm)
            if period >= 60 and not minute:
                continue
            if period < 60 and boundary % period != 0 and not minute:
                continue
            self.evaluate_alarm(account_id, region, backend, alarm, boundary)
        self.evaluate_composites(boundary)

    def evaluate_composites(self, at: float) -> int:
        """Composite alarms follow their children: the rule TRUE -> ALARM, FALSE -> OK (CloudWatch re-evaluates a
        composite alarm when an alarm it names changes state; a composite may name composites, hence the passes)."""
        changed = 0
        for _ in range(10):
            moved = 0
            for account_id, region, backend, alarm in models.alarms():
                if alarm.rule is None:
                    continue
                try:
                    rule = alarm_rule.parse(alarm.rule)
                except alarm_rule.AlarmRuleError:
                    continue
                by_name = {a.name: a for a in backend.alarms.values()}
                by_arn = {a.alarm_arn: a for a in backend.alarms.values()}

                def child(ref: str, by_name=by_name, by_arn=by_arn):
                    return by_arn.get(ref) or by_name.get(ref)

                new_state = "ALARM" if alarm_rule.evaluate(
                    rule, lambda ref: getattr(child(ref), "state_value", None)) else "OK"
                if new_state == alarm.state_value:
                    continue
                children = [c for c in (child(ref) for ref in dict.fromkeys(rule_ast.alarms(rule))) if c is not None]
                latest = max(children, key=lambda c: epoch(c.state_updated_timestamp), default=None)
                reason = (f"{latest.alarm_arn} transitioned to {latest.state_value} at "
                          f"{datetime.fromtimestamp(epoch(latest.state_updated_timestamp), tz=timezone.utc):%A %d %B, %Y %H:%M:%S} UTC"
                          if latest is not None else f"Alarm rule evaluated to {new_state == 'ALARM'}")
                data = {"triggeringAlarms": [{"arn": c.alarm_arn, "state": {
                    "value": c.state_value, "timestamp": iso(epoch(c.state_updated_timestamp))}} for c in children]}
                self.transition(account_id, region, alarm, new_state, reason, json.dumps(data), at)
                moved += 1
            changed += moved
            if not moved:
                break
        return changed

    def evaluate_alarm(self, account_id: str, region: str, backend, alarm, boundary: float) -> str:
        values, starts = models.period_values(self.metrics, account_id, region, alarm, boundary)
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
        period = models.alarm_period(alarm)
        reason_data = {
            "version": "1.0",
            "queryDate": iso(boundary),
            "startDate": iso(starts[result.used[0]] if result.used else starts[-n]),
            **({"statistic": statistic} if statistic else {}),
            "period": period,
            "recentDatapoints": [values[i] for i in result.used],
            "threshold": float(alarm.threshold),
            "evaluatedDatapoints": [{"timestamp": iso(starts[i]), "value": values[i]} for i in reversed(result.used)],
        }
        if alarm.unit:
            reason_data["unit"] = alarm.unit
        self.transition(account_id, region, alarm, result.state, reason, json.dumps(reason_data), boundary)
        return result.state

    @staticmethod
    def _reason(alarm, result: Evaluation, values, starts, m: int) -> str:
        breaches, text = COMPARISONS[alarm.comparison_operator]
        shown = [i for i in result.used if (breaches(values[i], float(alarm.threshold)) == (result.state == "ALARM"))]
        points = ", ".join(f"{fmt(values[i])} ({short(starts[i])})" for i in reversed(shown))
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
                f"[{points}] {verb} {negation}{text} the threshold ({fmt(alarm.threshold)}){extra} "
                f"(minimum {m} datapoint{'s' if m != 1 else ''} for {old} -> {result.state} transition).")

    # state changes ---------------------------------------------------------------------------
    def transition(self, account_id: str, region: str, alarm, new_state: str, reason: str, reason_data: str,
                   at: float, fire: bool = True) -> None:
        """Write the new state into moto's alarm, record history, fire actions, emit the event."""
        with self.lock:
            old_state, old_reason = alarm.state_value, alarm.state_reason
            old_data, old_ts = alarm.state_reason_data, alarm.state_updated_timestamp
            alarm.state_value = new_state
            alarm.state_reason = reason
            alarm.state_reason_data = reason_data
            alarm.state_updated_timestamp = naive_utc(at)
            self.transitions += 1
            history = {
                "version": "1.0",
                "oldState": {"stateValue": old_state, "stateReason": old_reason,
                             **({"stateReasonData": _loads(old_data)} if old_data and old_data != "{}" else {})},
                "newState": {"stateValue": new_state, "stateReason": reason,
                             **({"stateReasonData": _loads(reason_data)} if reason_data and reason_data != "{}" else {})},
            }
            self.history.record(account_id, region, alarm.name, at, "StateUpdate",
                                f"Alarm updated from {old_state} to {new_state}", json.dumps(history),
                                alarm_type="CompositeAlarm" if alarm.rule is not None else "MetricAlarm")
        if not fire:
            return
        self.route_event(account_id, region, state_change_event(account_id, region, alarm, old_state, old_reason,
                                                                old_data, old_ts, at))
        if alarm.actions_enabled:
            actions = {"ALARM": alarm.alarm_actions, "OK": alarm.ok_actions,
                       "INSUFFICIENT_DATA": alarm.insufficient_data_actions}[new_state] or []
            for arn in actions:
                self.fire_action(account_id, region, alarm, arn, old_state, at)

    def fire_action(self, account_id: str, region: str, alarm, arn: str, old_state: str, at: float) -> None:
        parts = arn.split(":")
        if len(parts) < 6 or parts[2] != "sns":
            self.history.record(account_id, region, alarm.name, at, "Action", f"Failed to execute action {arn}",
                                json.dumps({"actionState": "Failed", "stateUpdateTimestamp": iso(at),
                                            "error": "the local cloud runs SNS actions only"}))
            return
        message = sns_message(account_id, region, alarm, old_state, at)
        if message["Trigger"] is None:      # a composite alarm's message has its AlarmRule instead
            del message["Trigger"]
        subject = f'{alarm.state_value}: "{alarm.name}" in {region_name(region)}'[:100]
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
            self.history.record(account_id, region, alarm.name, at, "Action", f"Failed to execute action {arn}",
                                json.dumps({"actionState": "Failed", "stateUpdateTimestamp": iso(at),
                                            "error": outcome["error"]}))
        else:
            self.history.record(account_id, region, alarm.name, at, "Action", f"Successfully executed action {arn}",
                                json.dumps({"actionState": "Succeeded", "stateUpdateTimestamp": iso(at),
                                            "notificationResource": arn,
                                            "publishedMessage": {"messageId": outcome.get("id")}}))


def sns_message(account_id: str, region: str, alarm, old_state: str, at: float) -> dict[str, Any]:
    """The JSON message CloudWatch publishes to an alarm action's SNS topic."""
    return {
        "AlarmName": alarm.name,
        "AlarmDescription": alarm.description,
        "AWSAccountId": account_id,
        "AlarmConfigurationUpdatedTimestamp": iso(epoch(alarm.configuration_updated_timestamp)),
        "NewStateValue": alarm.state_value,
        "NewStateReason": alarm.state_reason,
        "StateChangeTime": iso(at),
        "Region": region_name(region),
        "AlarmArn": alarm.alarm_arn,
        "OldStateValue": old_state,
        "OKActions": list(alarm.ok_actions or []),
        "AlarmActions": list(alarm.alarm_actions or []),
        "InsufficientDataActions": list(alarm.insufficient_data_actions or []),
        **({"AlarmRule": alarm.rule} if alarm.rule is not None else {}),
        "Trigger": None if alarm.rule is not None else {
            **(_trigger_metrics(alarm) if getattr(alarm, "lab_metrics", None) else {
                "MetricName": alarm.metric_name,
                "Namespace": alarm.namespace,
                "StatisticType": "ExtendedStatistic" if alarm.extended_statistic else "Statistic",
                "Statistic": (alarm.extended_statistic or alarm.statistic or "").upper(),
                "Unit": alarm.unit,
                "Dimensions": [{"value": d.value, "name": d.name} for d in alarm.dimensions]}),
            "Period": models.alarm_period(alarm),
            "EvaluationPeriods": int(alarm.evaluation_periods),
            "DatapointsToAlarm": int(alarm.datapoints_to_alarm or alarm.evaluation_periods),
            "ComparisonOperator": alarm.comparison_operator,
            "Threshold": float(alarm.threshold),
            "TreatMissingData": alarm.treat_missing_data or "missing",
            "EvaluateLowSampleCountPercentile": alarm.evaluate_low_sample_count_percentile or "",
        },
    }


def state_change_event(account_id: str, region: str, alarm, old_state: str, old_reason: str, old_data: str,
                       old_ts, at: float) -> dict[str, Any]:
    """The EventBridge ``CloudWatch Alarm State Change`` event (source ``aws.cloudwatch``)."""
    detail = {
        "alarmName": alarm.name,
        "state": {"value": alarm.state_value, "reason": alarm.state_reason,
                  "reasonData": alarm.state_reason_data, "timestamp": iso(at)},
        "previousState": {"value": old_state, "reason": old_reason, "reasonData": old_data,
                          "timestamp": iso(epoch(old_ts))},
        "configuration": {"description": alarm.description, "alarmRule": alarm.rule} if alarm.rule is not None else {
            "description": alarm.description,
            "metrics": _event_metrics(alarm) if getattr(alarm, "lab_metrics", None) else [{
                "id": str(uuid.uuid5(uuid.NAMESPACE_URL, alarm.alarm_arn)),
                "metricStat": {
                    "metric": {"namespace": alarm.namespace, "name": alarm.metric_name,
                               "dimensions": {d.name: d.value for d in alarm.dimensions}},
                    **({"period": int(alarm.period)} if alarm.period is not None else {}),
                    "stat": alarm.statistic or alarm.extended_statistic,
                    **({"unit": alarm.unit} if alarm.unit else {}),
                },
                "returnData": True,
            }],
        },
    }
    return {
        "version": "0", "id": str(uuid.uuid4()), "detail-type": "CloudWatch Alarm State Change",
        "source": "aws.cloudwatch", "account": account_id,
        "time": datetime.fromtimestamp(at, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": region, "resources": [alarm.alarm_arn], "detail": detail,
    }


def _trigger_metrics(alarm) -> dict[str, Any]:
    """The SNS message's Trigger for a metric-math alarm: its Metrics list as PutMetricAlarm took it."""
    return {"Metrics": [{k: q[k] for k in ("Id", "Expression", "MetricStat", "Label", "ReturnData", "Period")
                         if k in q} for q in alarm.lab_metrics]}


def _event_metrics(alarm) -> list[dict[str, Any]]:
    """The EventBridge event's configuration.metrics for a metric-math alarm (camelCase, as CloudWatch sends)."""
    out = []
    for q in alarm.lab_metrics:
        item: dict[str, Any] = {"id": q["Id"], "returnData": bool(q.get("ReturnData", True))}
        if "Expression" in q:
            item["expression"] = q["Expression"]
        if "Label" in q:
            item["label"] = q["Label"]
        if "MetricStat" in q:
            ms = q["MetricStat"]
            item["metricStat"] = {
                "metric": {"namespace": ms["Metric"]["Namespace"], "name": ms["Metric"]["MetricName"],
                           "dimensions": {d["Name"]: d["Value"] for d in ms["Metric"].get("Dimensions", [])}},
                "period": ms["Period"], "stat": ms["Stat"], **({"unit": ms["Unit"]} if ms.get("Unit") else {})}
        out.append(item)
    return out
