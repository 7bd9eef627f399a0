"""Sampling strategies replayed on one traffic DataFrame: what each keeps, what it costs, what it hides.

    decisions = sampling.decide_all(traffic, sampling.standard_strategies(), seed=0)   # one bool column each
    table = sampling.compare(traffic, decisions, per_request=pr, requests_per_second=50)

Strategies (all deterministic for a given traffic frame and seed):

* :class:`XRayRules`: X-Ray's centralized sampling. Each request takes the first matching rule in
  (priority, name) order; in every second, the first ``reservoir_size`` matching requests are traced,
  the rest with probability ``fixed_rate`` (the daemon hands the reservoir out per second).
* :class:`HeadRatio`: OpenTelemetry's ``TraceIdRatioBased``: keep a trace when the lower 64 bits of its id
  are below ``round(ratio * 2**64)``. Decided at the root from the id alone, so every service agrees.
* :class:`KeepErrors`: tail-style: decided after the request finished, so it can keep every error
  (status >= 500), optionally every request slower than ``slow_ms``, plus a ``base_ratio`` of the rest.
"""
from __future__ import annotations

import fnmatch
import hashlib
import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np
import pandas as pd

TRACE_ID_LIMIT = (1 << 64) - 1


# --- the traffic's trace ids ----------------------------------------------------------------------------
def trace_ids(traffic: pd.DataFrame, seed: int = 0) -> pd.Series:
    """32-hex trace id per request: the OTel id, else the X-Ray id's digits, else one derived from the seed."""
    out = pd.Series([None] * len(traffic), index=traffic.index, dtype="object")
    if "otel_trace_id" in traffic:
        out = traffic["otel_trace_id"].astype("object").where(traffic["otel_trace_id"].notna(), None)
    if "xray_trace_id" in traffic:
        xray = traffic["xray_trace_id"].astype("object")
        hexes = xray.map(lambda v: v.split("-")[1] + v.split("-")[2] if isinstance(v, str) and v.count("-") == 2 else None)
        out = out.where(out.notna(), hexes)
    seq = traffic["seq"] if "seq" in traffic else pd.Series(range(len(traffic)), index=traffic.index)
    derived = seq.map(lambda s: hashlib.sha256(f"{seed}:{s}".encode()).hexdigest()[:32])
    return out.where(out.notna(), derived).astype("string")


def lower64(trace_id_hex: str) -> int:
    return int(trace_id_hex, 16) & TRACE_ID_LIMIT


def ratio_bound(ratio: float) -> int:
    """The OTel SDK's bound for ``TraceIdRatioBased(ratio)``."""
    if not 0.0 <= ratio <= 1.0:
        raise ValueError(f"ratio {ratio} must be between 0 and 1")
    return round(ratio * (TRACE_ID_LIMIT + 1))


# --- strategies -----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Rule:
    """One X-Ray sampling rule (the fields of ``aws xray create-sampling-rule`` that matter here)."""

    name: str
    priority: int
    reservoir_size: int
    fixed_rate: float
    service_name: str = "*"
    http_method: str = "*"
    url_path: str = "*"

    def matches(self, service: str, method: str, path: str) -> bool:
        return (fnmatch.fnmatchcase(service, self.service_name) and fnmatch.fnmatchcase(method, self.http_method)
                and fnmatch.fnmatchcase(path, self.url_path))


DEFAULT_RULE = Rule("Default", 10000, 1, 0.05)


@dataclass(frozen=True)
class XRayRules:
    name: str
    rules: tuple[Rule, ...] = (DEFAULT_RULE,)
    service: str = "backend-flask"

    def decide(self, traffic: pd.DataFrame, seed: int = 0) -> pd.Series:
        rules = sorted(self.rules, key=lambda r: (r.priority, r.name))
        if not any(r.name == "Default" for r in rules):
            rules.append(DEFAULT_RULE)
        paths = traffic["path"].astype("object").fillna("").map(lambda p: p.split("?", 1)[0])
        methods = traffic["method"].astype("object").fillna("")
        matched = [next(r.name for r in rules if r.matches(self.service, m, p)) for m, p in zip(methods, paths)]
        by_name = {r.name: r for r in rules}
        frame = pd.DataFrame({"rule": matched, "second": _seconds(traffic), "order": _order(traffic)},
                             index=traffic.index).sort_values(["second", "order"], kind="stable")
        frame["nth"] = frame.groupby(["rule", "second"]).cumcount()
        reservoir = frame["rule"].map(lambda n: by_name[n].reservoir_size)
        fixed = frame["rule"].map(lambda n: by_name[n].fixed_rate).astype(float)
        draws = np.random.default_rng(seed).random(len(frame))
        keep = (frame["nth"] < reservoir) | (draws < fixed.to_numpy())
        return keep.reindex(traffic.index).astype(bool).rename(self.name)


@dataclass(frozen=True)
class HeadRatio:
    name: str
    ratio: float

    def decide(self, traffic: pd.DataFrame, seed: int = 0) -> pd.Series:
        bound = ratio_bound(self.ratio)
        ids = trace_ids(traffic, seed)
        return ids.map(lambda t: lower64(t) < bound).astype(bool).rename(self.name)


@dataclass(frozen=True)
class KeepErrors:
    name: str
    base_ratio: float = 0.0
    slow_ms: float | None = None

    def decide(self, traffic: pd.DataFrame, seed: int = 0) -> pd.Series:
        errors = server_errors(traffic)
        keep = errors.copy()
        if self.slow_ms is not None:
            keep |= traffic["latency_ms"].astype(float).fillna(math.inf) >= self.slow_ms
        if self.base_ratio > 0:
            bound = ratio_bound(self.base_ratio)
            keep |= trace_ids(traffic, seed).map(lambda t: lower64(t) < bound).astype(bool)
        return keep.astype(bool).rename(self.name)


def standard_strategies(slow_ms: float = 150.0) -> list:
    """The set notebook 07 compares: several X-Ray rule sets, OTel head ratios, tail-style policies."""
    seed_rule = Rule("Cruddur", 9000, 1, 0.1, service_name="backend-flask")  # the seed's rule: 1/s + 10 %
    return [
        XRayRules("xray: Default (1/s + 5%)"),
        XRayRules("xray: seed rule (1/s + 10%)", (seed_rule,)),
        XRayRules("xray: search 100% + Default", (Rule("search", 100, 0, 1.0, url_path="/api/activities/search*"),)),
        XRayRules("xray: 0/s + 1%", (Rule("Default", 10000, 0, 0.01),)),
        HeadRatio("otel head 100%", 1.0),
        HeadRatio("otel head 25%", 0.25),
        HeadRatio("otel head 10%", 0.10),
        HeadRatio("otel head 1%", 0.01),
        KeepErrors("tail: keep errors", base_ratio=0.0),
        KeepErrors("tail: errors + 5%", base_ratio=0.05),
        KeepErrors(f"tail: errors + slow (>= {slow_ms:g} ms) + 5%", base_ratio=0.05, slow_ms=slow_ms),
    ]


# --- applying and comparing -----------------------------------------------------------------------------
def _seconds(traffic: pd.DataFrame) -> pd.Series:
    started = pd.to_datetime(traffic["started_at"], utc=True)
    return started.dt.floor("s")


def _order(traffic: pd.DataFrame) -> pd.Series:
    return traffic["seq"] if "seq" in traffic else pd.Series(range(len(traffic)), index=traffic.index)


def server_errors(traffic: pd.DataFrame) -> pd.Series:
    status = traffic["status"]
    return (status.isna() | (status >= 500).fillna(True)).astype(bool)


def decide_all(traffic: pd.DataFrame, strategies: Sequence, seed: int = 0) -> pd.DataFrame:
    """One boolean column per strategy (True = the trace is kept), same index as ``traffic``."""
    return pd.concat([s.decide(traffic, seed) for s in strategies], axis=1)


@dataclass
class FaultKind:
    """How to recognise one kind of injected fault in the traffic (not which requests it hit: it is
    recomputed from what the requests show)."""

    name: str
    route: str
    kind: str                   # "error" (status >= 500) or "slow" (latency >= slow_ms)
    slow_ms: float = 0.0

    def mask(self, traffic: pd.DataFrame) -> pd.Series:
        on_route = traffic["route"].astype("object") == self.route
        if self.kind == "error":
            return (on_route & server_errors(traffic)).astype(bool)
        return (on_route & (traffic["latency_ms"].astype(float) >= self.slow_ms)).astype(bool)


def fault_visibility(traffic: pd.DataFrame, decisions: pd.DataFrame, faults: Sequence[FaultKind]) -> pd.DataFrame:
    """Per strategy and fault kind: how many affected requests there were and how many were kept."""
    rows = []
    for strategy in decisions.columns:
        kept = decisions[strategy]
        for fault in faults:
            hit = fault.mask(traffic)
            rows.append({"strategy": strategy, "fault": fault.name, "affected": int(hit.sum()),
                         "kept": int((hit & kept).sum())})
    out = pd.DataFrame(rows)
    out["visible"] = out["kept"] > 0
    return out.astype({"strategy": "string", "fault": "string"})


def compare(traffic: pd.DataFrame, decisions: pd.DataFrame, faults: Sequence[FaultKind] = (),
            per_request=None, requests_per_second: float | None = None, pricing: dict | None = None) -> pd.DataFrame:
    """One row per strategy: kept share, errors kept, fault kinds still visible, and (given per-request
    figures and a traffic level) the monthly tracing cost of what it keeps in X-Ray and in Honeycomb."""
    errors = server_errors(traffic)
    vis = fault_visibility(traffic, decisions, faults) if faults else None
    rows = []
    for strategy in decisions.columns:
        kept = decisions[strategy]
        row = {"strategy": strategy, "kept": int(kept.sum()), "kept_fraction": float(kept.mean()),
               "errors": int(errors.sum()), "errors_kept": int((errors & kept).sum())}
        if vis is not None:
            mine = vis[vis["strategy"] == strategy]
            row["faults_visible"] = int(mine["visible"].sum())
            row["faults_total"] = len(faults)
        if per_request is not None and requests_per_second is not None:
            from lab_app.analysis import cost

            usage = cost.Usage.from_measurements(per_request, requests_per_second=requests_per_second,
                                                 xray_sampled_fraction=row["kept_fraction"],
                                                 honeycomb_kept_fraction=row["kept_fraction"])
            est = cost.estimate(usage, pricing).set_index(["service", "item"])
            row["xray_traces_per_month"] = float(est.loc[("xray", "traces_recorded"), "usage"])
            row["xray_usd_per_month"] = float(est.loc[("xray", "traces_recorded"), "cost_usd"])
            row["honeycomb_events_per_month"] = float(est.loc[("honeycomb", "events"), "usage"])
            row["honeycomb_usd_per_month"] = float(est.loc[("honeycomb", "events"), "cost_usd"])
        rows.append(row)
    return pd.DataFrame(rows).astype({"strategy": "string"})
