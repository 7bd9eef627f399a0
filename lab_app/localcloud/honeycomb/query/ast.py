"""The Honeycomb query spec as dataclasses: what :func:`~.parser.parse` builds and :mod:`.to_sql` compiles."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

ALL_DATASETS = "__all__"
HEATMAP_BUCKETS = 30
DEFAULT_TIME_RANGE = 7200

PERCENTILES = {"P001": 0.001, "P01": 0.01, "P05": 0.05, "P10": 0.10, "P25": 0.25, "P50": 0.50, "P75": 0.75,
               "P90": 0.90, "P95": 0.95, "P99": 0.99, "P999": 0.999}
COLUMN_OPS = {"SUM", "AVG", "MIN", "MAX", "COUNT_DISTINCT", "HEATMAP", *PERCENTILES}
CALC_OPS = {"COUNT"} | COLUMN_OPS
FILTER_OPS = {"=", "!=", ">", ">=", "<", "<=", "starts-with", "does-not-start-with", "contains",
              "does-not-contain", "exists", "does-not-exist", "in", "not-in"}
HAVING_OPS = {"=", "!=", ">", ">=", "<", "<="}
TIME_FIELDS = ("time_range", "start_time", "end_time", "granularity")


@dataclass(frozen=True)
class Calculation:
    op: str
    column: str | None = None

    @property
    def key(self) -> str:
        """The calculation's name in results: ``COUNT``, ``P99(duration_ms)``."""
        return self.op if self.column is None else f"{self.op}({self.column})"

    @classmethod
    def named(cls, op: str, column: str | None) -> "Calculation":
        """The calculation an order or having refers to (COUNT never has a column)."""
        return cls(op, None if op == "COUNT" else column)


@dataclass(frozen=True)
class Filter:
    column: str
    op: str
    value: Any = None


@dataclass(frozen=True)
class Order:
    op: str | None = None
    column: str | None = None
    order: str = "descending"

    @property
    def calculation(self) -> Calculation | None:
        return None if self.op is None else Calculation.named(self.op, self.column)


@dataclass(frozen=True)
class Having:
    calculate_op: str
    op: str
    value: float
    column: str | None = None

    @property
    def calculation(self) -> Calculation:
        return Calculation.named(self.calculate_op, self.column)


@dataclass
class QuerySpec:
    calculations: list[Calculation] = field(default_factory=lambda: [Calculation("COUNT")])
    filters: list[Filter] = field(default_factory=list)
    filter_combination: str = "AND"
    breakdowns: list[str] = field(default_factory=list)
    orders: list[Order] = field(default_factory=list)
    havings: list[Having] = field(default_factory=list)
    limit: int | None = None
    time_range: int | None = None
    start_time: int | None = None
    end_time: int | None = None
    granularity: int | None = None

    def to_json(self) -> dict:
        """The spec as Honeycomb echoes it back (None fields left out)."""
        def clean(d):
            return {k: v for k, v in d.items() if v is not None}
        out: dict[str, Any] = {
            "calculations": [clean(asdict(c)) for c in self.calculations],
            "filters": [clean(asdict(f)) if f.op not in ("exists", "does-not-exist") else
                        {"column": f.column, "op": f.op} for f in self.filters],
            "filter_combination": self.filter_combination,
            "breakdowns": list(self.breakdowns),
            "orders": [clean(asdict(o)) for o in self.orders],
            "havings": [clean(asdict(h)) for h in self.havings],
        }
        for name in ("limit", *TIME_FIELDS):
            value = getattr(self, name)
            if value is not None:
                out[name] = value
        return out

    def range_seconds(self) -> int:
        """The length of the query's window (start..end when both are given, else time_range or the default)."""
        if self.start_time is not None and self.end_time is not None:
            return self.end_time - self.start_time
        return self.time_range or DEFAULT_TIME_RANGE

    def window(self, now: float) -> tuple[float, float]:
        """[start, end) in epoch seconds, combining time_range/start_time/end_time like Honeycomb."""
        if self.start_time is not None and self.end_time is not None:
            return float(self.start_time), float(self.end_time)
        rng = self.time_range or DEFAULT_TIME_RANGE
        if self.start_time is not None:
            return float(self.start_time), float(self.start_time + rng)
        if self.end_time is not None:
            return float(self.end_time - rng), float(self.end_time)
        return now - rng, now
