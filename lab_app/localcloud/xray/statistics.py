"""GetTimeSeriesServiceStatistics: the service map's charts (requests, errors, faults, latency) as a time series,
computed from the stored segments (the ``xray_nodes`` / ``xray_edges`` rows the service graph is built from).

* Each point covers one ``Period`` (seconds, default 60) aligned to the epoch; ``Timestamp`` is the start of
  the window. A node or an edge counts in the window that holds its ``start_time``; only windows that saw requests
  inside ``[StartTime, EndTime]`` are answered, oldest first, 100 per page. AWS documents ``Period`` only as
  "Aggregation period in seconds"; the local cloud takes 60 or any multiple of 60 (whole minutes) and answers
  ``InvalidRequestException`` otherwise.
* ``EntitySelectorExpression`` "Supports ID, service, and edge functions":
  ``service("name")`` or ``id(name: "name", type: "AWS::...")`` selects a service's segments and fills
  ``ServiceSummaryStatistics``; ``edge("a", "b")`` selects the calls from a to b and fills
  ``EdgeSummaryStatistics``. "If no selector expression is specified, edge statistics are returned": all edges of
  the (group's) service graph, summed.
* The statistics are the service graph's: ``OkCount`` (neither fault, error nor throttle), ``ErrorStatistics``
  (``TotalCount`` errors and throttles without a fault, ``ThrottleCount`` the throttles, ``OtherCount`` the rest),
  ``FaultStatistics`` (``TotalCount`` = ``OtherCount``: faults), ``TotalCount``, ``TotalResponseTime`` (seconds)
  and a ``ResponseTimeHistogram`` (response times rounded to the millisecond, with their counts).
* ``GroupName`` / ``GroupARN`` restrict to the traces the group's filter expression selects.
* ``ForecastStatistics``: "Forecast enabled requests require the EntitySelectorExpression ID be provided", so
  without an ``id(...)`` selector it is ``InvalidRequestException``. The local cloud has no forecasting model, so
  it answers as AWS does when no forecast is available: the points carry no ``ServiceForecastStatistics``.
"""
from __future__ import annotations

import hashlib
import json
from typing import Any

from lab_app.localcloud.aws import paging
from lab_app.localcloud.xray.exceptions import InvalidRequestException
from lab_app.localcloud.xray.filter_expr import ast, parse

DEFAULT_PERIOD = 60
PAGE_SIZE = 100
STATS = """count(*) AS total,
    count(*) FILTER (WHERE NOT (coalesce(has_fault,false) OR coalesce(has_error,false) OR coalesce(has_throttle,false))) AS ok,
    count(*) FILTER (WHERE coalesce(has_fault,false)) AS fault,
    count(*) FILTER (WHERE NOT coalesce(has_fault,false) AND (coalesce(has_error,false) OR coalesce(has_throttle,false))) AS error,
    count(*) FILTER (WHERE NOT coalesce(has_fault,false) AND coalesce(has_throttle,false)) AS throttle,
    coalesce(sum(response_time), 0) AS total_rt"""


def statistics(total: int, ok: int, fault: int, error: int, throttle: int, total_rt: float) -> dict:
    """The EdgeStatistics / ServiceStatistics shape (the service graph's definitions)."""
    return {"OkCount": int(ok), "ErrorStatistics": {"ThrottleCount": int(throttle), "OtherCount": int(error - throttle),
                                                    "TotalCount": int(error)},
            "FaultStatistics": {"OtherCount": int(fault), "TotalCount": int(fault)},
            "TotalCount": int(total), "TotalResponseTime": float(total_rt)}


def parse_selector(text: str | None) -> tuple[str, tuple, bool]:
    """``(kind, refs, by_id)``: kind ``edges`` (no selector), ``service`` or ``edge``; by_id when ``id(...)``."""
    if text is None:
        return "edges", (), False
    by_id = text.lstrip().startswith("id")
    tree = parse(f"service({text})" if by_id else text)
    if isinstance(tree, ast.ServiceScope) and tree.body is None and (tree.ref.name or tree.ref.type):
        return "service", (tree.ref,), by_id
    if isinstance(tree, ast.EdgeScope) and tree.body is None:
        return "edge", (tree.source, tree.target), False
    raise InvalidRequestException("EntitySelectorExpression must be one of id(name: \"...\", type: \"...\"), "
                                  "service(\"...\") or edge(\"...\", \"...\")")


def _match(ref: ast.ServiceRef, name_col: str, type_col: str, params: list) -> str:
    parts = []
    if ref.name is not None:
        parts.append(f"{name_col} = ?")
        params.append(ref.name)
    if ref.type is not None:
        parts.append(f"coalesce({type_col}, '') = ?")
        params.append(ref.type)
    return " AND ".join(parts) or "true"


class TimeSeriesStatistics:
    def __init__(self, backend):
        self.backend = backend     # the XRayBackend: its store, groups and filter compiler

    def setup(self) -> None:
        """Reads the service graph's tables; keeps nothing of its own."""

    def get(self, start: float, end: float, group_name: str | None = None, group_arn: str | None = None,
            selector: str | None = None, period: Any = None, forecast: Any = None, next_token: Any = None) -> dict:
        if end < start:
            raise InvalidRequestException("EndTime must be after StartTime")
        period = DEFAULT_PERIOD if period is None else period
        if isinstance(period, bool) or not isinstance(period, int) or period <= 0 or period % 60:
            raise InvalidRequestException(f"Period must be 60 seconds or a multiple of 60, not {period!r}")
        kind, refs, by_id = parse_selector(selector)
        if forecast and not by_id:
            raise InvalidRequestException("Forecast enabled requests require the EntitySelectorExpression ID "
                                          "(id(name: \"...\", type: \"...\")) to be provided")
        table, alias = ("xray_nodes", "n") if kind == "service" else ("xray_edges", "e")
        params: list[Any] = [float(start), float(end)]
        where = f"{alias}.start_time >= ? AND {alias}.start_time <= ?"
        if kind == "service":
            where += " AND " + _match(refs[0], "n.name", "n.type", params)
        elif kind == "edge":
            where += " AND " + _match(refs[0], "e.src_name", "e.src_type", params)
            where += " AND " + _match(refs[1], "e.dst_name", "e.dst_type", params)
        if group_name or group_arn:
            group = self.backend._find_group(group_name, group_arn)
            compiled = self.backend.compile_filter(group["filter_expression"])
            if compiled is not None:
                where += f" AND {alias}.trace_id IN (SELECT t.trace_id FROM xray_traces t WHERE {compiled.sql})"
                params += compiled.params
        fingerprint = hashlib.sha1(json.dumps([start, end, group_name, group_arn, selector, period]).encode()
                                   ).hexdigest()[:16]
        offset = self._offset(next_token, fingerprint)
        store = self.backend.store
        buckets = store.execute(
            f"""SELECT floor({alias}.start_time / {period}) * {period} AS bucket, {STATS}
                FROM {table} {alias} WHERE {where} GROUP BY bucket ORDER BY bucket LIMIT ? OFFSET ?""",
            params + [PAGE_SIZE + 1, offset])
        page = buckets[:PAGE_SIZE]
        histograms: dict[float, list] = {}
        if page:
            lo, hi = page[0][0], page[-1][0]
            for bucket, value, count in store.execute(
                    f"""SELECT floor({alias}.start_time / {period}) * {period} AS bucket,
                               round({alias}.response_time, 3) AS value, count(*)
                        FROM {table} {alias} WHERE {where} AND {alias}.response_time IS NOT NULL
                        GROUP BY bucket, value HAVING bucket >= ? AND bucket <= ? ORDER BY bucket, value""",
                    params + [lo, hi]):
                histograms.setdefault(bucket, []).append({"Value": float(value), "Count": int(count)})
        key = "ServiceSummaryStatistics" if kind == "service" else "EdgeSummaryStatistics"
        points = [{"Timestamp": float(bucket), key: statistics(*row), "ResponseTimeHistogram": histograms.get(bucket, [])}
                  for bucket, *row in page]
        out: dict = {"TimeSeriesServiceStatistics": points, "ContainsOldGroupVersions": False}
        if len(buckets) > PAGE_SIZE:
            out["NextToken"] = paging.encode({"o": offset + PAGE_SIZE, "f": fingerprint})
        return out

    @staticmethod
    def _offset(token: Any, fingerprint: str) -> int:
        if not token:
            return 0
        try:
            data = paging.decode(token)
            offset = int(data["o"])
        except Exception:
            raise InvalidRequestException("The NextToken is not valid") from None
        if data.get("f") != fingerprint or offset < 0:
            raise InvalidRequestException("The NextToken does not belong to this request; repeat the first call")
        return offset
