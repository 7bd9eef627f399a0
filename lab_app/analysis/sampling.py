"""Sampling strategies replayed on one traffic DataFrame: what each keeps, what it costs, what it hides.

    strategies = sampling.standard_strategies()
    decisions = sampling.decide_all(traffic, strategies, seed=0)      # one bool column each: the replay
    table = sampling.compare(traffic, decisions, strategies=strategies, per_request=pr, requests_per_second=50)

Two fractions per strategy, and they differ on purpose. ``kept_fraction`` is what the replay kept, at the rate the
replayed traffic arrived. ``priced_fraction`` is what the strategy keeps at the traffic level you plan for, and it is
the one the cost columns use: a per-second reservoir keeps a larger share of slow traffic than of fast traffic
(5/s + 10 % keeps 32.5 % of 20 requests/s and 10.9 % of 500), while a ratio keeps the same share at any rate.

Strategies (all deterministic for a given traffic frame and seed):

* :class:`XRayRules`: X-Ray's centralized sampling. Each request takes the first matching rule in
  (priority, name) order; in every second, the first ``reservoir_size`` matching requests are traced,
  the rest with probability ``fixed_rate`` (the daemon hands the reservoir out per second). At a steady
  ``R`` requests/s a rule that matches ``R_i`` of them keeps ``min(R_i, reservoir) + fixed_rate x max(0, R_i - reservoir)``
  each second.
* :class:`HeadRatio`: OpenTelemetry's ``TraceIdRatioBased``: keep a trace when the lower 64 bits of its id
  are below ``round(ratio * 2**64)``. Decided at the root from the id alone, so every service agrees.
* :class:`KeepErrors`: tail-style: decided after the request finished, so it can keep every error
  (status >= 500), optionally every request slower than ``slow_ms``, plus a ``base_ratio`` of the rest.
"""
from __future__ import annotations

import fnmatch
import hashlib
import json
import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np
import pandas as pd

from lab_app.config import SEED_DATA_DIR

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

    def kept_per_second(self, requests_per_second: float) -> float:
        """Traces this rule records each second when ``requests_per_second`` requests match it steadily."""
        if requests_per_second < 0:
            raise ValueError("requests_per_second must not be negative")
        taken = min(requests_per_second, float(self.reservoir_size))
        return taken + self.fixed_rate * (requests_per_second - taken)

    @classmethod
    def from_json(cls, document: dict) -> "Rule":
        """A rule from ``aws xray create-sampling-rule --cli-input-json`` (``{"SamplingRule": {...}}``) or its body."""
        body = document.get("SamplingRule", document)
        return cls(body["RuleName"], int(body["Priority"]), int(body["ReservoirSize"]), float(body["FixedRate"]),
                   service_name=body.get("ServiceName", "*"), http_method=body.get("HTTPMethod", "*"),
                   url_path=body.get("URLPath", "*"))


DEFAULT_RULE = Rule("Default", 10000, 1, 0.05)
SEED_RULE_FILE = SEED_DATA_DIR / "xray-sampling-rule.json"


def seed_rule() -> Rule:
    """The journal's rule, as notebook 03 creates it from ``data/xray-sampling-rule.json`` (5/s + 10 %)."""
    return Rule.from_json(json.loads(SEED_RULE_FILE.read_text(encoding="utf-8")))


@dataclass(frozen=True)
class XRayRules:
    name: str
    rules: tuple[Rule, ...] = (DEFAULT_RULE,)
    service: str = "backend-flask"

    def ordered(self) -> list[Rule]:
        rules = sorted(self.rules, key=lambda r: (r.priority, r.name))
        if not any(r.name == "Default" for r in rules):
            rules.append(DEFAULT_RULE)
        return rules

    def matched(self, traffic: pd.DataFrame) -> pd.Series:
        """The name of the rule each request takes (the first match in priority order)."""
        rules = self.ordered()
        paths = traffic["path"].astype("object").fillna("").map(lambda p: p.split("?", 1)[0])
        methods = traffic["method"].astype("object").fillna("")
        return pd.Series([next(r.name for r in rules if r.matches(self.service, m, p)) for m, p in zip(methods, paths)],
                         index=traffic.index, dtype="object")

    def expected_fraction(self, traffic: pd.DataFrame, requests_per_second: float, seed: int = 0) -> float:
        """The share of requests recorded at a steady ``requests_per_second``, each rule taking the share of
        requests it matched in ``traffic``."""
        if requests_per_second <= 0:
            raise ValueError("requests_per_second must be positive")
        shares = self.matched(traffic).value_counts(normalize=True)
        by_name = {r.name: r for r in self.ordered()}
        kept = sum(by_name[name].kept_per_second(share * requests_per_second) for name, share in shares.items())
        return float(kept / requests_per_second)

    def decide(self, traffic: pd.DataFrame, seed: int = 0) -> pd.Series:
        rules = self.ordered()
        matched = self.matched(traffic)
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

    def expected_fraction(self, traffic: pd.DataFrame, requests_per_second: float, seed: int = 0) -> float:
        """A ratio keeps the same share at any rate."""
        return float(self.ratio)


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

    def expected_fraction(self, traffic: pd.DataFrame, requests_per_second: float, seed: int = 0) -> float:
        """Decided per request after it finished, so the share does not depend on the rate: the replay's."""
        return float(self.decide(traffic, seed).mean())


def standard_strategies(slow_ms: float = 150.0) -> list:
    """The set notebook 07 compares: several X-Ray rule sets, OTel head ratios, tail-style policies."""
    seed = seed_rule()
    return [
        XRayRules("xray: Default (1/s + 5%)"),
        XRayRules(f"xray: seed rule ({seed.reservoir_size}/s + {seed.fixed_rate:.0%})", (seed,)),
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


def arrival_rate(traffic: pd.DataFrame) -> float:
    """Requests per second at which ``traffic`` arrived (first to last start, at least one second)."""
    started = pd.to_datetime(traffic["started_at"], utc=True)
    span_s = max((started.max() - started.min()).total_seconds(), 1.0)
    return float(len(traffic) / span_s)


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
            per_request=None, requests_per_second: float | None = None, pricing: dict | None = None,
            strategies: Sequence | None = None, seed: int = 0) -> pd.DataFrame:
    """One row per strategy: what the replay kept, errors kept, fault kinds still visible, and (given the
    strategies, per-request figures and a traffic level) the share it keeps at that level and the monthly
    tracing cost of that share in X-Ray and in Honeycomb."""
    pricing_wanted = per_request is not None and requests_per_second is not None
    by_name = {s.name: s for s in strategies or ()}
    if pricing_wanted and set(by_name) != set(decisions.columns):
        raise ValueError("pricing needs strategies= (the ones decisions came from): the share a reservoir keeps "
                         "depends on the traffic level, so it is computed at requests_per_second, not replayed")
    errors = server_errors(traffic)
    vis = fault_visibility(traffic, decisions, faults) if faults else None
    replay_rate = arrival_rate(traffic)
    rows = []
    for strategy in decisions.columns:
        kept = decisions[strategy]
        row = {"strategy": strategy, "kept": int(kept.sum()), "kept_fraction": float(kept.mean()),
               "replay_requests_per_second": replay_rate,
               "errors": int(errors.sum()), "errors_kept": int((errors & kept).sum())}
        if vis is not None:
            mine = vis[vis["strategy"] == strategy]
            row["faults_visible"] = int(mine["visible"].sum())
            row["faults_total"] = len(faults)
        if pricing_wanted:
            from lab_app.analysis import cost

            fraction = by_name[strategy].expected_fraction(traffic, requests_per_second, seed)
            row["requests_per_second"] = float(requests_per_second)
            row["priced_fraction"] = fraction
            usage = cost.Usage.from_measurements(per_request, requests_per_second=requests_per_second,
                                                 xray_sampled_fraction=fraction, honeycomb_kept_fraction=fraction)
            est = cost.estimate(usage, pricing).set_index(["service", "item"])
            row["xray_traces_per_month"] = float(est.loc[("xray", "traces_recorded"), "usage"])
            row["xray_usd_per_month"] = float(est.loc[("xray", "traces_recorded"), "cost_usd"])
            row["honeycomb_events_per_month"] = float(est.loc[("honeycomb", "events"), "usage"])
            row["honeycomb_usd_per_month"] = float(est.loc[("honeycomb", "events"), "cost_usd"])
        rows.append(row)
    return pd.DataFrame(rows).astype({"strategy": "string"})
