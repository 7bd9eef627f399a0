"""Evaluate a metric-math AST over time series, with CloudWatch's semantics.

A value is a scalar (``float``), a time series (a pandas Series of floats indexed by period start, NaN where
the period has no datapoint, ``name`` = its label) or an array of time series (``list``).

* Arithmetic and comparisons between two series keep only the timestamps present in both (the rest is
  missing); a scalar applies to every datapoint. Comparisons and logic give 1 or 0. Division by zero and
  other non-finite results are missing datapoints.
* ``SUM``/``AVG``/``MIN``/``MAX`` of one series give a scalar (over all its datapoints); of an array, a
  series (per timestamp, over the series that have a value there).
* ``METRICS()`` is every metric (not expression) of the request, ``METRICS("m")`` those whose Id starts with
  ``m``. ``FILL(x, v | REPEAT | LINEAR)`` fills the missing periods of the time range. ``IF(c, a[, b])``:
  ``a`` where ``c`` is non-zero, else ``b`` (no datapoint without ``b``). ``RUNNING_SUM``, ``ABS``,
  ``CEIL``, ``FLOOR``, ``PERIOD`` as documented.
"""
from __future__ import annotations

import operator
from dataclasses import dataclass
from typing import Callable, Union

import numpy as np
import pandas as pd

from lab_app.localcloud.cloudwatch.metric_math import ast
from lab_app.localcloud.cloudwatch.metric_math.parser import ExpressionError

Value = Union[float, pd.Series, list]
FUNCTIONS = ("ABS", "AVG", "CEIL", "FILL", "FLOOR", "IF", "MAX", "METRICS", "MIN", "PERIOD", "RUNNING_SUM",
             "SUM")
KEYWORDS = ("REPEAT", "LINEAR")

_BINARY: dict[str, Callable] = {
    "+": operator.add, "-": operator.sub, "*": operator.mul, "/": operator.truediv, "^": operator.pow,
    "==": operator.eq, "!=": operator.ne, "<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge,
}
_COMPARE = ("==", "!=", "<", "<=", ">", ">=")


@dataclass
class Scope:
    """What an expression can see: the other queries' values, the request's metrics, the time grid."""

    lookup: Callable[[str], Value]          # Id -> value (raises KeyError for an unknown Id)
    metrics: Callable[[str], list]          # METRICS(prefix) -> the metric series, in request order
    grid: pd.Index                           # period starts of the time range (for FILL and scalars)
    period_of: Callable[[str], int]          # Id -> period in seconds (PERIOD)


def _clean(series: pd.Series) -> pd.Series:
    return series.astype(float).where(np.isfinite(series.astype(float)))


def _is_series(v) -> bool:
    return isinstance(v, pd.Series)


def _binary(op: str, left: Value, right: Value) -> Value:
    if isinstance(left, list) or isinstance(right, list):
        if isinstance(left, list) and isinstance(right, list):
            raise ExpressionError(f"The operator {op} cannot be applied to two arrays of time series.")
        if isinstance(left, list):
            return [_named(_binary(op, s, right), s.name) for s in left]
        return [_named(_binary(op, left, s), s.name) for s in right]
    if op in ("AND", "OR"):
        lb, rb = _truth(left), _truth(right)
        if not _is_series(lb) and not _is_series(rb):
            return float((lb and rb) if op == "AND" else (lb or rb))
        a, b = (lb, rb) if _is_series(lb) else (rb, lb)          # a is a series
        if _is_series(b):
            a, b = a.align(b, join="outer")
            mask = a.isna() | b.isna()
            b = b.fillna(0).astype(bool)
        else:
            mask = a.isna()
            b = bool(b)
        a = a.fillna(0).astype(bool)
        out = (a & b) if op == "AND" else (a | b)
        return out.astype(float).where(~mask)
    fn = _BINARY[op]
    if not _is_series(left) and not _is_series(right):
        with np.errstate(all="ignore"):
            try:
                value = float(fn(float(left), float(right)))
            except (ZeroDivisionError, OverflowError):
                return float("nan")
        return value if np.isfinite(value) else float("nan")
    with np.errstate(all="ignore"):
        if _is_series(left) and _is_series(right):
            a, b = left.align(right, join="outer")
            both = a.notna() & b.notna()
            out = fn(a, b).astype(float).where(both)
        else:
            out = fn(left, right).astype(float)
            out = out.where((left if _is_series(left) else right).notna())
    return _clean(out)


def _truth(value: Value):
    if _is_series(value):
        return (value != 0).astype(float).where(value.notna())
    return float(value != 0)


def _named(value: Value, name) -> Value:
    if _is_series(value):
        value.name = name
    return value


def _as_series(value: Value, grid: pd.Index) -> pd.Series:
    if _is_series(value):
        return value
    return pd.Series(float(value), index=grid, dtype=float)


def _reduce(name: str, value: Value) -> Value:
    fns = {"SUM": "sum", "AVG": "mean", "MIN": "min", "MAX": "max"}
    if _is_series(value):
        present = value.dropna()
        if present.empty:
            return float("nan")
        return float(getattr(present, fns[name])())
    if isinstance(value, list):
        if not value:
            raise ExpressionError(f"{name} needs at least one time series.")
        frame = pd.concat(value, axis=1)
        if name == "SUM":
            out = frame.sum(axis=1, min_count=1)
        else:
            out = getattr(frame, fns[name])(axis=1, skipna=True)
        return _clean(out)
    return float(value)


def _fill(value: Value, how: Value | str, grid: pd.Index) -> Value:
    if isinstance(value, list):
        return [_named(_fill(s, how, grid), s.name) for s in value]
    if not _is_series(value):
        raise ExpressionError("The first argument of FILL must be a time series or an array of time series.")
    series = value.reindex(value.index.union(grid))
    if how == "REPEAT":
        out = series.ffill()
    elif how == "LINEAR":
        out = series.interpolate(method="index", limit_area="inside")
    elif _is_series(how):
        out = series.fillna(how.reindex(series.index))
    else:
        out = series.fillna(float(how))
    out.name = value.name
    return out


def evaluate(node: ast.Node, scope: Scope) -> Value:
    if isinstance(node, ast.Number):
        return node.value
    if isinstance(node, ast.String):
        raise ExpressionError(f'A string ("{node.value}") can only be an argument of METRICS.')
    if isinstance(node, ast.Ref):
        if node.name in KEYWORDS:
            raise ExpressionError(f"{node.name} can only be the second argument of FILL.")
        try:
            value = scope.lookup(node.name)
        except KeyError:
            raise ExpressionError(f"Unrecognized metric or expression id: {node.name}.") from None
        return value.copy() if _is_series(value) else (list(value) if isinstance(value, list) else value)
    if isinstance(node, ast.Array):
        items = [evaluate(item, scope) for item in node.items]
        out = []
        for item in items:
            if isinstance(item, list):
                out.extend(item)
            elif _is_series(item):
                out.append(item)
            else:
                raise ExpressionError("An array can only contain time series.")
        return out
    if isinstance(node, ast.Unary):
        operand = evaluate(node.operand, scope)
        if node.op == "-":
            return [_named(-s, s.name) for s in operand] if isinstance(operand, list) else -operand
        if isinstance(operand, list):
            raise ExpressionError("NOT cannot be applied to an array of time series.")
        truth = _truth(operand)
        return (1.0 - truth) if _is_series(truth) else float(not truth)
    if isinstance(node, ast.Binary):
        return _binary(node.op, evaluate(node.left, scope), evaluate(node.right, scope))
    if isinstance(node, ast.Call):
        return _call(node, scope)
    raise ExpressionError(f"Unsupported expression node {node!r}.")  # pragma: no cover


def _arity(node: ast.Call, low: int, high: int) -> None:
    if not low <= len(node.args) <= high:
        wanted = str(low) if low == high else f"{low} to {high}"
        raise ExpressionError(f"The function {node.name} takes {wanted} argument{'s' if high != 1 else ''}, "
                              f"{len(node.args)} given.")


def _call(node: ast.Call, scope: Scope) -> Value:
    name = node.name
    if name not in FUNCTIONS:
        raise ExpressionError(f"Unknown function: {name}.")
    if name == "METRICS":
        _arity(node, 0, 1)
        prefix = ""
        if node.args:
            if not isinstance(node.args[0], ast.String):
                raise ExpressionError("The argument of METRICS must be a string.")
            prefix = node.args[0].value
        return list(scope.metrics(prefix))
    if name in ("SUM", "AVG", "MIN", "MAX"):
        _arity(node, 1, 1)
        return _reduce(name, evaluate(node.args[0], scope))
    if name == "FILL":
        _arity(node, 2, 2)
        how_node = node.args[1]
        how = how_node.name if isinstance(how_node, ast.Ref) and how_node.name in KEYWORDS \
            else evaluate(how_node, scope)
        if isinstance(how, list):
            raise ExpressionError("The second argument of FILL must be a number, a time series, REPEAT or LINEAR.")
        return _fill(evaluate(node.args[0], scope), how, scope.grid)
    if name == "IF":
        _arity(node, 2, 3)
        condition = evaluate(node.args[0], scope)
        if isinstance(condition, list):
            raise ExpressionError("The condition of IF must be a time series or a scalar.")
        then = evaluate(node.args[1], scope)
        other = evaluate(node.args[2], scope) if len(node.args) == 3 else None
        if isinstance(then, list) or isinstance(other, list):
            raise ExpressionError("IF does not take arrays of time series.")
        if not _is_series(condition):
            chosen = then if condition != 0 and not np.isnan(condition) else other
            return float("nan") if chosen is None else chosen
        truth = _truth(condition)
        index = condition.index
        a = _as_series(then, index).reindex(index)
        b = _as_series(other, index).reindex(index) if other is not None else pd.Series(np.nan, index=index)
        out = a.where(truth == 1, b).where(truth.notna())
        out.name = then.name if _is_series(then) else None
        return out
    if name == "PERIOD":
        _arity(node, 1, 1)
        arg = node.args[0]
        if not isinstance(arg, ast.Ref):
            raise ExpressionError("The argument of PERIOD must be a metric id.")
        try:
            return float(scope.period_of(arg.name))
        except KeyError:
            raise ExpressionError(f"Unrecognized metric or expression id: {arg.name}.") from None
    _arity(node, 1, 1)
    value = evaluate(node.args[0], scope)
    fn = {"ABS": np.abs, "CEIL": np.ceil, "FLOOR": np.floor}.get(name)
    if name == "RUNNING_SUM":
        def fn(s):
            return s.fillna(0).cumsum().where(s.notna()) if _is_series(s) else s
    if isinstance(value, list):
        return [_named(fn(s), s.name) for s in value]
    return fn(value) if _is_series(value) else float(fn(np.array([value]))[0]) if name != "RUNNING_SUM" else value
