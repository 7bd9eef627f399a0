"""moto's CloudWatch state as the alarm evaluator reads it (alarms and metric data live in moto's backend),
and the time formats CloudWatch writes in alarm payloads."""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, Iterable

from lab_app.localcloud.cloudwatch.rules import COMPARISONS, aggregate, evaluation_range


# --- time helpers ------------------------------------------------------------------------------
def epoch(value: Any) -> float:
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
    """A metric alarm on one metric with a comparison we evaluate (not metric math, anomaly bands, composite)."""
    return (alarm.rule is None and not alarm.metric_data_queries and bool(alarm.metric_name)
            and alarm.comparison_operator in COMPARISONS and bool(alarm.statistic or alarm.extended_statistic))


def metric_index() -> dict[tuple[int, str, str], list]:
    """moto's metric data grouped by (backend, namespace, metric name): one scan per evaluation batch."""
    index: dict[tuple[int, str, str], list] = {}
    for _account, _region, backend_ in backends():
        for datum in list(backend_.metric_data):
            index.setdefault((id(backend_), datum.namespace, datum.name), []).append(datum)
    return index


def period_values(backend_, alarm, boundary: float,
                  index: dict | None = None) -> tuple[list[float | None], list[float]]:
    """Aggregated values for each period of the evaluation range ending at ``boundary``, and the periods' starts."""
    period = float(alarm.period)
    n_range = evaluation_range(int(alarm.evaluation_periods))
    start = boundary - n_range * period
    wanted_dims = sorted((d.name, d.value) for d in alarm.dimensions)
    raw: list[list[float]] = [[] for _ in range(n_range)]
    agg: list[list[tuple[float, float, float, float]]] = [[] for _ in range(n_range)]
    data = index.get((id(backend_), alarm.namespace, alarm.metric_name), []) if index is not None \
        else list(backend_.metric_data)
    for datum in data:
        if datum.name != alarm.metric_name or datum.namespace != alarm.namespace:
            continue
        if sorted((d.name, d.value) for d in datum.dimensions) != wanted_dims:
            continue
        if alarm.unit and datum.unit and datum.unit != alarm.unit:
            continue
        try:
            ts = epoch(datum.timestamp)
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
