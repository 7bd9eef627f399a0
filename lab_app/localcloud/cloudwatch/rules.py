"""CloudWatch's alarm rules as pure functions: no moto, no store, no clock (easy to read and to test).

* :func:`evaluate_datapoints`: the state one evaluation leads to (``Period``, ``EvaluationPeriods`` N,
  ``DatapointsToAlarm`` M of N, ``Threshold``, ``ComparisonOperator``, ``TreatMissingData``);
* :func:`evaluation_range`: how many periods an evaluation looks at;
* :func:`aggregate`: one period's statistic;
* :func:`validate_put_metric_alarm`: the PutMetricAlarm checks CloudWatch makes and moto skips.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable

STATES = ("OK", "ALARM", "INSUFFICIENT_DATA")
TREAT_MISSING = ("breaching", "notBreaching", "ignore", "missing")

COMPARISONS: dict[str, tuple[Callable[[float, float], bool], str]] = {
    "GreaterThanOrEqualToThreshold": (lambda v, t: v >= t, "greater than or equal to"),
    "GreaterThanThreshold": (lambda v, t: v > t, "greater than"),
    "LessThanThreshold": (lambda v, t: v < t, "less than"),
    "LessThanOrEqualToThreshold": (lambda v, t: v <= t, "less than or equal to"),
}


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
