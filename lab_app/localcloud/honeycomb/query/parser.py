"""A Honeycomb query spec (decoded JSON) -> :class:`~.ast.QuerySpec`: one parser per spec key, Honeycomb's rules.

The parsers run in :data:`PARSERS` order, each with the spec built so far: orders and havings may only name
calculations (by :attr:`~.ast.Calculation.key`) and breakdowns that came before them.
"""
from __future__ import annotations

import math
from typing import Any, Callable

from lab_app.localcloud.honeycomb.exceptions import QuerySpecError
from lab_app.localcloud.honeycomb.query.ast import (
    CALC_OPS,
    FILTER_OPS,
    HAVING_OPS,
    TIME_FIELDS,
    Calculation,
    Filter,
    Having,
    Order,
    QuerySpec,
)

SCALAR = (str, int, float, bool)
TEXT_OPS = ("starts-with", "does-not-start-with", "contains", "does-not-contain")


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _column_name(value, where: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise QuerySpecError(f"{where}: column must be a non-empty string")
    if '"' in value or "\\" in value or len(value) > 255:
        raise QuerySpecError(f"{where}: invalid column name {value!r}")
    return value


def _list(value, what: str) -> list:
    if not isinstance(value, list):
        raise QuerySpecError(f"{what} must be a list")
    return value


def _calculation(i: int, calc: Any) -> Calculation:
    if not isinstance(calc, dict) or not isinstance(calc.get("op"), str):
        raise QuerySpecError(f"calculations[{i}]: each calculation needs an op, e.g. {{\"op\": \"COUNT\"}}")
    op = calc["op"].upper()
    if op not in CALC_OPS:
        raise QuerySpecError(f"calculations[{i}]: unsupported op {calc['op']!r}; use one of {sorted(CALC_OPS)}")
    column = calc.get("column")
    if op == "COUNT":
        if column is not None:
            raise QuerySpecError(f"calculations[{i}]: COUNT does not take a column")
        return Calculation(op)
    return Calculation(op, _column_name(column, f"calculations[{i}] ({op})"))


def parse_calculations(spec: QuerySpec, value: Any) -> None:
    parsed = [_calculation(i, calc) for i, calc in enumerate(_list(value, "calculations"))]
    if parsed:
        spec.calculations = parsed
    if len({c.key for c in spec.calculations}) != len(spec.calculations):
        raise QuerySpecError("calculations: the same calculation appears twice")


def _filter(i: int, flt: Any) -> Filter:
    if not isinstance(flt, dict):
        raise QuerySpecError(f"filters[{i}] must be an object with column, op and value")
    column = _column_name(flt.get("column"), f"filters[{i}]")
    op = flt.get("op")
    if op not in FILTER_OPS:
        raise QuerySpecError(f"filters[{i}]: unsupported op {op!r}; use one of {sorted(FILTER_OPS)}")
    value = flt.get("value")
    if op in ("exists", "does-not-exist"):
        if value is not None:
            raise QuerySpecError(f"filters[{i}]: {op} does not take a value")
    elif op in ("in", "not-in"):
        if not isinstance(value, list) or not value or not all(isinstance(v, SCALAR) for v in value):
            raise QuerySpecError(f"filters[{i}]: {op} needs a non-empty list of values")
    elif not isinstance(value, SCALAR):
        raise QuerySpecError(f"filters[{i}]: {op} needs a string, number or boolean value")
    if op in TEXT_OPS and not isinstance(value, str):
        raise QuerySpecError(f"filters[{i}]: {op} needs a string value")
    return Filter(column, op, value)


def parse_filters(spec: QuerySpec, value: Any) -> None:
    spec.filters = [_filter(i, flt) for i, flt in enumerate(_list(value, "filters"))]


def parse_filter_combination(spec: QuerySpec, value: Any) -> None:
    if value not in ("AND", "OR"):
        raise QuerySpecError("filter_combination must be AND or OR")
    spec.filter_combination = value


def parse_breakdowns(spec: QuerySpec, value: Any) -> None:
    if not isinstance(value, list):
        raise QuerySpecError("breakdowns must be a list of column names")
    spec.breakdowns = [_column_name(b, f"breakdowns[{i}]") for i, b in enumerate(value)]
    if len(set(spec.breakdowns)) != len(spec.breakdowns):
        raise QuerySpecError("breakdowns: the same column appears twice")


def _order(i: int, order: Any, spec: QuerySpec, keys: set[str]) -> Order:
    if not isinstance(order, dict):
        raise QuerySpecError(f"orders[{i}] must be an object")
    direction = order.get("order", "ascending")
    if direction not in ("ascending", "descending"):
        raise QuerySpecError(f"orders[{i}]: order must be ascending or descending")
    op, column = order.get("op"), order.get("column")
    if op is not None:
        if not isinstance(op, str) or op.upper() not in CALC_OPS:
            raise QuerySpecError(f"orders[{i}]: unsupported op {op!r}")
        op = op.upper()
        if op == "HEATMAP":
            raise QuerySpecError(f"orders[{i}]: results cannot be ordered by a HEATMAP")
        key = Calculation.named(op, column).key
        if key not in keys:
            raise QuerySpecError(f"orders[{i}]: {key} is not one of the query's calculations")
    elif column not in spec.breakdowns:
        raise QuerySpecError(f"orders[{i}]: order by a calculation (op) or by one of the breakdowns")
    return Order(op, column, direction)


def parse_orders(spec: QuerySpec, value: Any) -> None:
    keys = {c.key for c in spec.calculations}
    spec.orders = [_order(i, order, spec, keys) for i, order in enumerate(_list(value, "orders"))]


def _having(i: int, having: Any, keys: set[str]) -> Having:
    if not isinstance(having, dict):
        raise QuerySpecError(f"havings[{i}] must be an object")
    op, hop, value, column = having.get("calculate_op"), having.get("op"), having.get("value"), having.get("column")
    if not isinstance(op, str) or op.upper() == "HEATMAP" or op.upper() not in CALC_OPS:
        raise QuerySpecError(f"havings[{i}]: unsupported calculate_op {op!r}")
    op = op.upper()
    key = Calculation.named(op, column).key
    if key not in keys:
        raise QuerySpecError(f"havings[{i}]: {key} is not one of the query's calculations")
    if hop not in HAVING_OPS:
        raise QuerySpecError(f"havings[{i}]: unsupported op {hop!r}; use one of {sorted(HAVING_OPS)}")
    if not isinstance(value, (int, float)) or isinstance(value, bool) or not math.isfinite(value):
        raise QuerySpecError(f"havings[{i}]: value must be a number")
    return Having(op, hop, value, column)


def parse_havings(spec: QuerySpec, value: Any) -> None:
    keys = {c.key for c in spec.calculations}
    spec.havings = [_having(i, having, keys) for i, having in enumerate(_list(value, "havings"))]


def parse_limit(spec: QuerySpec, value: Any) -> None:
    if not _is_int(value) or not 1 <= value <= 10_000:
        raise QuerySpecError("limit must be an integer between 1 and 10000")
    spec.limit = value


def _seconds(name: str) -> Callable[[QuerySpec, Any], None]:
    def parse_seconds(spec: QuerySpec, value: Any) -> None:
        if not _is_int(value) or value < 0 or value > 10**11:
            raise QuerySpecError(f"{name} must be a non-negative integer number of seconds")
        setattr(spec, name, value)
    parse_seconds.__name__ = f"parse_{name}"
    return parse_seconds


# spec key -> its parser, in the order they run (what a key may refer to comes before it)
PARSERS: dict[str, Callable[[QuerySpec, Any], None]] = {
    "calculations": parse_calculations,
    "filters": parse_filters,
    "filter_combination": parse_filter_combination,
    "breakdowns": parse_breakdowns,
    "orders": parse_orders,
    "havings": parse_havings,
    "limit": parse_limit,
    **{name: _seconds(name) for name in TIME_FIELDS},
}
SPEC_KEYS = set(PARSERS)
NOT_NULL = {"filter_combination"}  # every other key may be null (= left out)


def _check_window(spec: QuerySpec) -> None:
    """How time_range, start_time, end_time and granularity may combine."""
    if spec.time_range is not None and spec.time_range <= 0:
        raise QuerySpecError("time_range must be positive")
    if spec.start_time is not None and spec.end_time is not None:
        if spec.time_range is not None:
            raise QuerySpecError("specify at most two of time_range, start_time and end_time")
        if spec.end_time <= spec.start_time:
            raise QuerySpecError("end_time must be after start_time")
    if spec.granularity is not None:
        rng = spec.range_seconds()
        if spec.granularity == 0 or spec.granularity > rng / 10 or spec.granularity < rng / 1000:
            raise QuerySpecError(f"granularity must be between time_range/1000 and time_range/10 "
                                 f"({math.ceil(rng / 1000)}..{int(rng // 10)} s for this query)")


def parse(payload: Any) -> QuerySpec:
    """Validate a query spec (a decoded JSON object) and build the dataclass AST."""
    if not isinstance(payload, dict):
        raise QuerySpecError("the query spec must be a JSON object")
    unknown = set(payload) - SPEC_KEYS
    if unknown:
        raise QuerySpecError(f"unknown query spec field(s) {sorted(unknown)}; supported: {sorted(SPEC_KEYS)}")
    spec = QuerySpec()
    for key, parse_key in PARSERS.items():
        value = payload.get(key)
        if value is not None or (key in NOT_NULL and key in payload):
            parse_key(spec, value)
    _check_window(spec)
    return spec
