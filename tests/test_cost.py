"""The cost model's arithmetic against a case worked out by hand."""
from __future__ import annotations

import math

import pytest

from lab_app.analysis import cost

# A small price list written here, so the test does not move when data/pricing.json is updated.
PRICING = {
    "read_on": "2026-11-25",
    "items": [
        {"service": "xray", "item": "traces_recorded", "unit": "trace", "usd_per_unit": 0.000005,
         "free_per_month": 100000, "source": "s", "confirmed": True},
        {"service": "xray", "item": "traces_retrieved_or_scanned", "unit": "trace", "usd_per_unit": 0.0000005,
         "free_per_month": 1000000, "source": "s", "confirmed": True},
        {"service": "cloudwatch_logs", "item": "ingestion", "unit": "GB", "usd_per_unit": 0.50,
         "free_group": "cw5", "source": "s", "confirmed": True},
        {"service": "cloudwatch_logs", "item": "storage", "unit": "GB-month", "usd_per_unit": 0.03,
         "free_group": "cw5", "source": "s", "confirmed": True},
        {"service": "cloudwatch_logs", "item": "insights_scanned", "unit": "GB", "usd_per_unit": 0.005,
         "free_group": "cw5", "source": "s", "confirmed": True},
        {"service": "honeycomb", "item": "events", "unit": "event", "source": "s", "confirmed": False,
         "plans": [{"name": "Free", "included_per_month": 20_000_000, "usd_per_month": 0, "confirmed": False},
                   {"name": "Pro", "included_per_month": 100_000_000, "usd_per_month": 130, "confirmed": False}]},
        {"service": "rollbar", "item": "occurrences", "unit": "occurrence", "source": "s", "confirmed": False,
         "plans": [{"name": "Free", "included_per_month": 5000, "usd_per_month": 0, "confirmed": False},
                   {"name": "Essentials", "included_per_month": 25000, "usd_per_month": 19, "confirmed": False}]},
    ],
    "free_groups": {"cw5": {"amount": 5, "unit": "GB", "order": ["ingestion", "storage", "insights_scanned"]}},
}


def hand_case():
    per_request = cost.PerRequest(spans=4, segments=3, log_bytes=500, rollbar_occurrences=0.001, requests=1000)
    return cost.Usage(requests_per_month=10_000_000, per_request=per_request, xray_sampled_fraction=0.05,
                      xray_queries_per_day=100, xray_traces_scanned_per_query=200, xray_traces_retrieved_per_query=50,
                      log_retention_days=30, insights_queries_per_day=20, insights_window_hours=1, days_per_month=30)


def test_the_hand_computed_month():
    est = cost.estimate(hand_case(), PRICING).set_index(["service", "item"])
    # X-Ray: 10,000,000 requests x 5 % = 500,000 traces; 400,000 over the free 100,000 at $5 per million = $2.00
    assert est.loc[("xray", "traces_recorded"), "usage"] == pytest.approx(500_000)
    assert est.loc[("xray", "traces_recorded"), "cost_usd"] == pytest.approx(2.00)
    # 100 queries/day x 30 days x (200 scanned + 50 retrieved) = 750,000 < 1,000,000 free
    assert est.loc[("xray", "traces_retrieved_or_scanned"), "usage"] == pytest.approx(750_000)
    assert est.loc[("xray", "traces_retrieved_or_scanned"), "cost_usd"] == 0
    # Logs: 10,000,000 x 500 B = 5 GB ingested, exactly the shared free 5 GB -> $0
    assert est.loc[("cloudwatch_logs", "ingestion"), "usage"] == pytest.approx(5.0)
    assert est.loc[("cloudwatch_logs", "ingestion"), "cost_usd"] == pytest.approx(0.0)
    # storage: 5/30 GB a day kept 30 days = 5 GB-month; the free pool is used up -> 5 x $0.03 = $0.15
    assert est.loc[("cloudwatch_logs", "storage"), "cost_usd"] == pytest.approx(0.15)
    # Insights: 20 queries x 30 days x (5/30 GB / 24 h x 1 h) = 4.1667 GB x $0.005 = $0.0208
    assert est.loc[("cloudwatch_logs", "insights_scanned"), "usage"] == pytest.approx(600 * 5 / 30 / 24)
    assert est.loc[("cloudwatch_logs", "insights_scanned"), "cost_usd"] == pytest.approx(0.0208333, rel=1e-4)
    # Honeycomb: 10,000,000 x 4 spans = 40 M events > 20 M free -> Pro ($130)
    assert est.loc[("honeycomb", "events"), "plan"] == "Pro"
    assert est.loc[("honeycomb", "events"), "cost_usd"] == 130
    # Rollbar: 10,000,000 x 0.001 = 10,000 occurrences > 5,000 free -> Essentials ($19)
    assert est.loc[("rollbar", "occurrences"), "plan"] == "Essentials"
    assert est.loc[("rollbar", "occurrences"), "billable"] == pytest.approx(5000)
    assert cost.total(est.reset_index()) == pytest.approx(2.00 + 0.15 + 0.0208333 + 130 + 19, rel=1e-6)


def test_small_traffic_is_free_and_types_are_stable():
    usage = cost.Usage.from_measurements(hand_case().per_request, requests_per_second=0.01,
                                         xray_queries_per_day=1, insights_queries_per_day=1)
    est = cost.estimate(usage, PRICING)
    assert est["within_free_tier"].all() and cost.total(est) == 0
    assert str(est["usage"].dtype) == "float64" and str(est["service"].dtype) == "string"
    # 0.01 rps x 86,400 s x 30 days = 25,920 requests
    assert usage.requests_per_month == pytest.approx(25_920)


def test_beyond_every_plan_is_not_priced_silently():
    usage = hand_case()
    usage.per_request.rollbar_occurrences = 1.0  # 10 M occurrences
    est = cost.estimate(usage, PRICING).set_index("service")
    assert math.isnan(est.loc["rollbar", "cost_usd"]) and "ask the vendor" in est.loc["rollbar", "plan"]


def test_measure_and_sweep():
    pr = cost.measure(requests=200, spans=800, segments=600, log_bytes=100_000, occurrences=4)
    assert (pr.spans, pr.segments, pr.log_bytes, pr.rollbar_occurrences) == (4, 3, 500, 0.02)
    with pytest.raises(ValueError):
        cost.measure(0, 0, 0, 0, 0)
    sw = cost.sweep(pr, [1, 10], PRICING)
    assert set(sw["service"]) == {"xray", "cloudwatch_logs", "honeycomb", "rollbar"}
    xray = sw[sw["service"] == "xray"].set_index("requests_per_second")["cost_usd"]
    # 10 rps: 25,920,000 traces - 100,000 free = 25,820,000 x $0.000005 = $129.10 (+ scans within free tier)
    assert xray.loc[10.0] == pytest.approx(129.10)


def test_shipped_price_list_names_its_sources():
    pricing = cost.load_pricing()
    assert pricing["read_on"] and "change" in pricing["note"].lower()
    table = cost.pricing_table(pricing)
    assert table["source"].str.startswith("https://").all()
    assert {"xray", "cloudwatch_logs", "honeycomb", "rollbar"} <= set(table["service"])
