"""What observability costs per month: measured per-request figures x projected traffic x prices.

    per_request = cost.measure(traffic, spans, segments, logs, occurrences)   # from one traffic run
    usage = cost.Usage.from_measurements(per_request, requests_per_second=50)
    cost.estimate(usage)                                                     # one row per billed item

Prices and free tiers come from ``data/pricing.json`` (source page and the date they were read on each
item). They change: the table says so, and :func:`pricing_table` shows what the file holds.

Billing rules modelled (per calendar month):

* X-Ray: every *recorded* (sampled) request is one trace, whatever its number of segments; traces
  retrieved (BatchGetTraces) and scanned (GetTraceSummaries, filter expressions, service graph) share one
  price and one free allowance.
* CloudWatch Logs: ingestion per GB; archive storage per GB-month for what retention keeps (steady state:
  daily ingestion x retention days, times a compression ratio); Logs Insights per GB scanned. The AWS free
  tier's 5 GB is one allowance shared by the three, applied in that order.
* Honeycomb: every span is an event; the cheapest plan whose monthly events cover the usage.
* Rollbar: every reported error is an occurrence; the cheapest plan that covers the usage.
"""
from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from lab_app.config import SEED_DATA_DIR

PRICING_FILE = SEED_DATA_DIR / "pricing.json"
GB = 1e9  # AWS bills logs in GB (10^9 bytes)
SECONDS_PER_DAY = 86_400


def load_pricing(path: str | Path | None = None) -> dict[str, Any]:
    with open(path or PRICING_FILE, encoding="utf-8") as fh:
        return json.load(fh)


def pricing_table(pricing: dict | None = None) -> pd.DataFrame:
    """The price list as a DataFrame (one row per item or plan), with source and read date."""
    pricing = pricing or load_pricing()
    rows = []
    for item in pricing["items"]:
        base = {"service": item["service"], "item": item["item"], "unit": item["unit"], "source": item["source"],
                "read_on": pricing["read_on"], "price": item.get("price_text", "")}
        if "plans" in item:
            for plan in item["plans"]:
                rows.append({**base, "plan": plan["name"], "usd_per_unit": math.nan,
                             "included_per_month": float(plan["included_per_month"]),
                             "usd_per_month": float(plan["usd_per_month"]), "confirmed": bool(plan["confirmed"])})
        else:
            rows.append({**base, "plan": "pay as you go", "usd_per_unit": float(item["usd_per_unit"]),
                         "included_per_month": float(item.get("free_per_month", math.nan)),
                         "usd_per_month": math.nan, "confirmed": bool(item["confirmed"])})
    return pd.DataFrame(rows).astype({"service": "string", "item": "string", "unit": "string", "plan": "string",
                                      "source": "string", "read_on": "string", "price": "string"})


@dataclass
class PerRequest:
    """Telemetry one request produces, measured from a traffic run."""

    spans: float                 # OpenTelemetry spans (Honeycomb events)
    segments: float              # X-Ray segments + subsegments (for information: X-Ray bills traces)
    log_bytes: float             # bytes of log events sent to CloudWatch Logs
    rollbar_occurrences: float   # errors reported to Rollbar
    requests: int = 0            # how many requests the figures came from

    def to_frame(self) -> pd.DataFrame:
        return pd.DataFrame([asdict(self)]).astype({"requests": "int64"})


@dataclass
class Usage:
    """A month of usage for the services, derived from per-request figures and a traffic level."""

    requests_per_month: float
    per_request: PerRequest
    xray_sampled_fraction: float = 1.0           # share of requests X-Ray records (sampling rules)
    honeycomb_kept_fraction: float = 1.0         # share of spans sent to Honeycomb (head/tail sampling)
    rollbar_kept_fraction: float = 1.0
    xray_queries_per_day: float = 100.0          # GetTraceSummaries calls (console, dashboards, notebooks)
    xray_traces_scanned_per_query: float = 200.0
    xray_traces_retrieved_per_query: float = 50.0
    log_retention_days: float = 30.0
    log_storage_compression: float = 1.0         # archived size / ingested size (gzip makes it smaller)
    insights_queries_per_day: float = 20.0
    insights_window_hours: float = 1.0           # each query scans the last N hours of the log group
    days_per_month: float = 30.0

    @classmethod
    def from_measurements(cls, per_request: PerRequest, requests_per_second: float | None = None,
                          requests_per_month: float | None = None, days_per_month: float = 30.0, **kwargs) -> "Usage":
        if (requests_per_second is None) == (requests_per_month is None):
            raise ValueError("give exactly one of requests_per_second or requests_per_month")
        if requests_per_month is None:
            requests_per_month = requests_per_second * SECONDS_PER_DAY * days_per_month
        return cls(requests_per_month=float(requests_per_month), per_request=per_request,
                   days_per_month=days_per_month, **kwargs)

    # derived monthly quantities -------------------------------------------------------------------
    def quantities(self) -> dict[tuple[str, str], float]:
        pr = self.per_request
        recorded = self.requests_per_month * self.xray_sampled_fraction
        queries = self.xray_queries_per_day * self.days_per_month
        ingest_gb = self.requests_per_month * pr.log_bytes / GB
        daily_gb = ingest_gb / self.days_per_month
        stored_gb = daily_gb * self.log_retention_days * self.log_storage_compression
        scanned_gb = (self.insights_queries_per_day * self.days_per_month
                      * daily_gb / 24.0 * self.insights_window_hours)
        return {
            ("xray", "traces_recorded"): recorded,
            ("xray", "traces_retrieved_or_scanned"): queries * (self.xray_traces_scanned_per_query
                                                                + self.xray_traces_retrieved_per_query),
            ("cloudwatch_logs", "ingestion"): ingest_gb,
            ("cloudwatch_logs", "storage"): stored_gb,
            ("cloudwatch_logs", "insights_scanned"): scanned_gb,
            ("honeycomb", "events"): self.requests_per_month * pr.spans * self.honeycomb_kept_fraction,
            ("rollbar", "occurrences"): self.requests_per_month * pr.rollbar_occurrences * self.rollbar_kept_fraction,
        }


COLUMNS = {"service": "string", "item": "string", "unit": "string", "usage": "float64", "free_tier": "float64",
           "billable": "float64", "usd_per_unit": "float64", "plan": "string", "cost_usd": "float64",
           "within_free_tier": "bool", "source": "string", "read_on": "string"}


def estimate(usage: Usage, pricing: dict | None = None) -> pd.DataFrame:
    """One row per billed item: usage, its free allowance, what is billable, and the monthly cost."""
    pricing = pricing or load_pricing()
    quantities = usage.quantities()
    groups = {name: float(g["amount"]) for name, g in pricing.get("free_groups", {}).items()}
    order = {name: g.get("order", []) for name, g in pricing.get("free_groups", {}).items()}
    items = sorted(pricing["items"], key=lambda it: (
        it["service"], order.get(it.get("free_group"), []).index(it["item"])
        if it["item"] in order.get(it.get("free_group"), []) else 0))
    rows = []
    for item in items:
        key = (item["service"], item["item"])
        amount = float(quantities.get(key, 0.0))
        row = {"service": item["service"], "item": item["item"], "unit": item["unit"], "usage": amount,
               "source": item["source"], "read_on": pricing["read_on"]}
        if "plans" in item:
            plans = sorted(item["plans"], key=lambda p: p["included_per_month"])
            chosen = next((p for p in plans if p["included_per_month"] >= amount), None)
            free = float(plans[0]["included_per_month"]) if plans[0]["usd_per_month"] == 0 else 0.0
            row.update(free_tier=free, billable=max(0.0, amount - free), usd_per_unit=math.nan,
                       plan=chosen["name"] if chosen else f"more than {plans[-1]['name']}: ask the vendor",
                       cost_usd=float(chosen["usd_per_month"]) if chosen else math.nan)
        else:
            group = item.get("free_group")
            if group:
                free = min(amount, groups[group])
                groups[group] -= free  # the shared allowance is used up in the group's order
            else:
                free = min(amount, float(item.get("free_per_month", 0.0)))
            billable = amount - free
            row.update(free_tier=free if group else float(item.get("free_per_month", 0.0)), billable=billable,
                       usd_per_unit=float(item["usd_per_unit"]), plan="pay as you go",
                       cost_usd=billable * float(item["usd_per_unit"]))
        row["within_free_tier"] = bool(row["billable"] <= 0)
        rows.append(row)
    return pd.DataFrame(rows, columns=list(COLUMNS)).astype(COLUMNS)


def total(frame: pd.DataFrame) -> float:
    return float(frame["cost_usd"].fillna(0).sum())


def sweep(per_request: PerRequest, requests_per_second: list[float], pricing: dict | None = None,
          **usage_kwargs) -> pd.DataFrame:
    """Monthly cost by service for several traffic levels (for a plot)."""
    pricing = pricing or load_pricing()
    frames = []
    for rps in requests_per_second:
        est = estimate(Usage.from_measurements(per_request, requests_per_second=rps, **usage_kwargs), pricing)
        by_service = est.groupby("service", as_index=False)["cost_usd"].sum(min_count=1)
        by_service.insert(0, "requests_per_second", float(rps))
        frames.append(by_service)
    return pd.concat(frames, ignore_index=True).astype({"service": "string"})


def measure(requests: int, spans: int, segments: int, log_bytes: int, occurrences: int) -> PerRequest:
    """Per-request figures from the totals one traffic run produced."""
    if requests <= 0:
        raise ValueError("no requests were measured: generate traffic first")
    return PerRequest(spans=spans / requests, segments=segments / requests, log_bytes=log_bytes / requests,
                      rollbar_occurrences=occurrences / requests, requests=int(requests))
