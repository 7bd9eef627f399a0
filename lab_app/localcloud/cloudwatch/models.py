"""What the alarm evaluator reads: moto's alarms (moto keeps PutMetricAlarm's state), the metric store's data
(:mod:`~lab_app.localcloud.cloudwatch.metrics`), and the time formats CloudWatch writes in alarm payloads."""
from __future__ import annotations

import math
from datetime import datetime, timezone
from typing import Any, Iterable

import pandas as pd

from lab_app.localcloud.cloudwatch.metrics import MetricId, MetricStore, dims_key
from lab_app.localcloud.cloudwatch.rules import COMPARISONS, evaluation_range


# --- time helpers ------------------------------------------------------------------------------
def epoch(value: Any) -> float:
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        try:
            value = pd.Timestamp(value).to_pydatetime()
        except (ValueError, OverflowError):   # not a date, or one Python's datetime cannot hold (year -1)
            from lab_app.localcloud.cloudwatch.exceptions import ValidationError

            raise ValidationError(f"The timestamp {value[:64]!r} is not a valid ISO 8601 timestamp.") from None
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=timezone.utc)
        return value.timestamp()
    raise TypeError(f"not a timestamp: {value!r}")


def naive_utc(at: float) -> datetime:
    return datetime.fromtimestamp(at, tz=timezone.utc).replace(tzinfo=None)


def iso(at: float) -> str:
    """``2026-11-25T06:45:00.123+0000``: how CloudWatch writes times in alarm payloads."""
    return datetime.fromtimestamp(at, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "+0000"


def short(at: float) -> str:
    return datetime.fromtimestamp(at, tz=timezone.utc).strftime("%d/%m/%y %H:%M:%S")


def region_name(region: str) -> str:
    try:
        import botocore.session

        for partition in botocore.session.get_session().get_data("endpoints")["partitions"]:
            if region in partition["regions"]:
                return partition["regions"][region]["description"]
    except Exception:
        pass
    return region


def fmt(value: float) -> str:
    return repr(float(value))


# --- moto's backend ----------------------------------------------------------------------------
def backends() -> Iterable[tuple[str, str, Any]]:
    from moto.cloudwatch.models import cloudwatch_backends

    for account_id, account in list(cloudwatch_backends.items()):
        for region, backend in list(account.items()):
            yield account_id, region, backend


def backend(account_id: str, region: str):
    from moto.cloudwatch.models import cloudwatch_backends

    try:
        return cloudwatch_backends[account_id][region]
    except Exception:
        return None


def alarms() -> Iterable[tuple[str, str, Any, Any]]:
    for account_id, region, backend_ in backends():
        for alarm in list(backend_.alarms.values()):
            yield account_id, region, backend_, alarm


def evaluable(alarm) -> bool:
    """A metric alarm we evaluate: one metric with a statistic, or metric math (``Metrics=[...]``), with a
    static-threshold comparison (not anomaly bands, not composite)."""
    if alarm.rule is not None or alarm.comparison_operator not in COMPARISONS:
        return False
    if alarm.metric_data_queries:
        return getattr(alarm, "lab_queries", None) is not None
    return bool(alarm.metric_name) and bool(alarm.statistic or alarm.extended_statistic)


def alarm_period(alarm) -> int:
    """The alarm's period: ``Period``, or for metric math the period of the data the returned query uses."""
    queries = getattr(alarm, "lab_queries", None)
    if not queries:
        return int(alarm.period)
    periods = [q.period for q in queries if q.metric is not None and q.period]
    return max(periods) if periods else int(next(q.period for q in queries if q.period) if any(
        q.period for q in queries) else 60)


def period_values(metrics: MetricStore, account_id: str, region: str, alarm,
                  boundary: float) -> tuple[list[float | None], list[float]]:
    """Aggregated values for each period of the evaluation range ending at ``boundary``, and the periods' starts.

    A single-metric alarm reads its statistic per period; a metric-math alarm evaluates its queries over the
    same range (:func:`~lab_app.localcloud.cloudwatch.metric_data.evaluate_queries`, what GetMetricData
    does) and takes the returned query's value per period.
    """
    period = alarm_period(alarm)
    n_range = evaluation_range(int(alarm.evaluation_periods))
    start = boundary - n_range * period
    starts = [start + i * period for i in range(n_range)]
    queries = getattr(alarm, "lab_queries", None)
    if queries:
        from lab_app.localcloud.cloudwatch.metric_data import evaluate_queries

        values = evaluate_queries(metrics, account_id, region, queries, start, boundary)
        result = values[next(q.id for q in queries if q.return_data)]
        out: list[float | None] = []
        for t in starts:
            if isinstance(result, pd.Series):
                v = result.get(t)
            elif isinstance(result, list):
                v = None
            else:
                v = result
            out.append(None if v is None or not math.isfinite(float(v)) else float(v))
        return out, starts
    stat = alarm.extended_statistic or alarm.statistic
    metric = MetricId(alarm.namespace, alarm.metric_name, dims_key((d.name, d.value) for d in alarm.dimensions),
                      alarm.unit or None)
    series = metrics.series(account_id, region, metric, stat, int(period), start, boundary)
    return [series.get(t) for t in starts], starts
