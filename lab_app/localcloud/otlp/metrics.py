"""OTLP metrics: an ``ExportMetricsServiceRequest`` as plain data points, one :class:`MetricPoint` per point.

What the OTLP metrics data model says a receiver gets (https://opentelemetry.io/docs/specs/otel/metrics/data-model/):

- ``gauge`` and ``sum`` points carry one number (``as_int`` or ``as_double``); a sum also has its aggregation
  temporality (``delta`` or ``cumulative``) and whether it is monotonic (a Counter) or not (an UpDownCounter).
- ``histogram`` points carry ``count``, ``sum``, optional ``min``/``max`` and ``bucket_counts`` over
  ``explicit_bounds``: ``n`` bounds make ``n + 1`` buckets ``(-inf, b0], (b0, b1], ..., (b[n-1], +inf)``.
- ``exponential_histogram`` buckets are ``(base**i, base**(i+1)]`` with ``base = 2 ** (2 ** -scale)`` for the
  positive range, mirrored for the negative range, plus a zero bucket ``[-zero_threshold, zero_threshold]``.
- ``summary`` points carry ``count``, ``sum`` and quantile values.

Both histogram kinds are turned into one shape here, sorted buckets ``(lower, upper, count)``, so whatever stores or
queries them handles one thing. A point the data model calls invalid (a number point without a value, bucket counts
that do not match the bounds, a metric without a name) is *rejected*: counted and described, for the reply's
``partial_success``, and left out. A point flagged ``FLAG_NO_RECORDED_VALUE`` is a gap, not a value: skipped, not
rejected.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from lab_app.localcloud.otlp.decode import INT64_MAX, attributes

GAUGE, SUM, HISTOGRAM, EXPONENTIAL_HISTOGRAM, SUMMARY = (
    "gauge", "sum", "histogram", "exponential_histogram", "summary")
METRIC_TYPES = (GAUGE, SUM, HISTOGRAM, EXPONENTIAL_HISTOGRAM, SUMMARY)
TEMPORALITY = {1: "delta", 2: "cumulative"}        # AggregationTemporality; 0 (unspecified) -> None
FLAG_NO_RECORDED_VALUE = 1


@dataclass(slots=True)
class MetricPoint:
    """One data point with its metric's and resource's description."""

    resource: dict[str, Any]
    scope_name: str | None
    scope_version: str | None
    name: str
    type: str
    description: str | None
    unit: str | None
    temporality: str | None          # sums and histograms
    monotonic: bool | None           # sums
    time_unix_nano: int
    start_time_unix_nano: int | None
    attributes: dict[str, Any]
    value: float | None = None       # gauge / sum
    is_int: bool | None = None
    count: int | None = None         # histogram / exponential histogram / summary
    sum: float | None = None
    min: float | None = None
    max: float | None = None
    bucket_lower: list[float] | None = None      # histograms
    bucket_upper: list[float] | None = None
    bucket_counts: list[int] | None = None
    quantiles: dict[str, float] | None = None   # summary: {"0.5": value, ...}


@dataclass
class DecodedMetrics:
    points: list[MetricPoint]
    rejected: int = 0
    errors: list[str] = field(default_factory=list)

    @property
    def error_message(self) -> str:
        """The first few reasons, for ``partial_success.error_message``."""
        shown = "; ".join(self.errors[:3])
        more = len(self.errors) - 3
        return shown + (f" (and {more} more)" if more > 0 else "")


_LAYOUTS: dict[tuple[float, ...], tuple[list[float], list[float]]] = {}


def _layout(bounds: tuple[float, ...]) -> tuple[list[float], list[float]]:
    """The (lower, upper) lists of ``explicit_bounds``, checked once per distinct layout (an instrument sends the
    same bounds every time): shared, never modified."""
    layout = _LAYOUTS.get(bounds)
    if layout is None:
        if any(not math.isfinite(b) for b in bounds) or any(b >= c for b, c in zip(bounds, bounds[1:])):
            raise ValueError("explicit_bounds must be finite and strictly increasing")
        layout = ([-math.inf, *bounds], [*bounds, math.inf])
        if len(_LAYOUTS) < 1024:
            _LAYOUTS[bounds] = layout
    return layout


def explicit_buckets(bounds, counts) -> tuple[list[float], list[float], list[int]]:
    """``explicit_bounds`` and ``bucket_counts`` as (lower, upper, count) lists; ValueError when they do not match."""
    counts = list(counts)
    if not counts:
        if len(bounds):
            raise ValueError(f"{len(bounds)} explicit_bounds but no bucket_counts")
        return [], [], []
    if len(counts) != len(bounds) + 1:
        raise ValueError(f"{len(counts)} bucket_counts for {len(bounds)} explicit_bounds (must be one more)")
    lower, upper = _layout(tuple(bounds))
    return lower, upper, counts


def exponential_buckets(point) -> tuple[list[float], list[float], list[int]]:
    """An ``ExponentialHistogramDataPoint``'s buckets as (lower, upper, count) lists, ascending."""
    if not -10 <= point.scale <= 20:
        raise ValueError(f"scale {point.scale} is outside [-10, 20]")
    base = 2.0 ** (2.0 ** -point.scale)

    def bound(index: int) -> float:
        try:
            return base ** index
        except OverflowError:
            return math.inf

    lower, upper, counts = [], [], []
    negative = point.negative
    for k in reversed(range(len(negative.bucket_counts))):       # most negative first
        i = negative.offset + k
        lower.append(-bound(i + 1))
        upper.append(-bound(i))
        counts.append(int(negative.bucket_counts[k]))
    if point.zero_count or point.zero_threshold:
        lower.append(-float(point.zero_threshold))
        upper.append(float(point.zero_threshold))
        counts.append(int(point.zero_count))
    positive = point.positive
    for k in range(len(positive.bucket_counts)):
        i = positive.offset + k
        lower.append(bound(i))
        upper.append(bound(i + 1))
        counts.append(int(positive.bucket_counts[k]))
    return lower, upper, counts


def _optional(point, name: str) -> float | None:
    return getattr(point, name) if point.HasField(name) else None


def decode_metrics(request) -> DecodedMetrics:
    """Every data point of an ``ExportMetricsServiceRequest``, with the rejected ones counted."""
    out = DecodedMetrics([])
    for resource_metrics in request.resource_metrics:
        resource = attributes(resource_metrics.resource.attributes)
        for scope_metrics in resource_metrics.scope_metrics:
            scope = scope_metrics.scope
            scope_name, scope_version = scope.name or None, scope.version or None
            for metric in scope_metrics.metrics:
                kind = metric.WhichOneof("data")
                if kind is None:
                    continue
                data = getattr(metric, kind)
                points = data.data_points
                if not metric.name:
                    out.rejected += len(points)
                    out.errors.append(f"a {kind} metric has no name ({len(points)} data points rejected)")
                    continue
                temporality = TEMPORALITY.get(data.aggregation_temporality) if kind in (
                    SUM, HISTOGRAM, EXPONENTIAL_HISTOGRAM) else None
                monotonic = bool(data.is_monotonic) if kind == SUM else None
                common = (resource, scope_name, scope_version, metric.name, kind, metric.description or None,
                          metric.unit or None, temporality, monotonic)
                for point in points:
                    if point.flags & FLAG_NO_RECORDED_VALUE:
                        continue
                    try:
                        out.points.append(_point(point, kind, common))
                    except ValueError as exc:
                        out.rejected += 1
                        out.errors.append(f"{metric.name}: {exc}")
    return out


def _point(point, kind: str, common: tuple) -> MetricPoint:
    """One data point; ``common``: its metric's fields, in :class:`MetricPoint` order (positional: this runs for
    every point)."""
    if point.time_unix_nano > INT64_MAX or point.start_time_unix_nano > INT64_MAX:
        raise ValueError(f"time_unix_nano {point.time_unix_nano} is past the year 2262")
    attrs = attributes(point.attributes)
    start = point.start_time_unix_nano or None
    if kind == GAUGE or kind == SUM:
        which = point.WhichOneof("value")
        if which is None:
            raise ValueError("a number data point has neither as_int nor as_double")
        return MetricPoint(*common, point.time_unix_nano, start, attrs,
                           float(point.as_int if which == "as_int" else point.as_double), which == "as_int")
    count = int(point.count)
    if count > INT64_MAX:   # the store's counts are 64-bit signed (a bucket's count is at most the point's)
        raise ValueError(f"count {count} is past 2^63 - 1")
    if kind == SUMMARY:
        quantiles = {repr(float(q.quantile)): float(q.value) for q in point.quantile_values}
        if any(not 0.0 <= float(q) <= 1.0 for q in quantiles):
            raise ValueError("summary quantiles must be between 0 and 1")
        return MetricPoint(*common, point.time_unix_nano, start, attrs, None, None, count, float(point.sum),
                           quantiles=quantiles)
    if kind == HISTOGRAM:
        lower, upper, counts = explicit_buckets(point.explicit_bounds, point.bucket_counts)
    else:
        lower, upper, counts = exponential_buckets(point)
    if counts and sum(counts) != count:
        raise ValueError(f"bucket counts add up to {sum(counts)}, not the point's count {count}")
    return MetricPoint(*common, point.time_unix_nano, start, attrs, None, None, count, _optional(point, "sum"),
                       _optional(point, "min"), _optional(point, "max"), lower, upper, counts)


__all__ = ["DecodedMetrics", "MetricPoint", "METRIC_TYPES", "decode_metrics", "explicit_buckets", "exponential_buckets"]
