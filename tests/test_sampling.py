"""Sampling strategies replayed on synthetic traffic, checked against counts worked out independently."""
from __future__ import annotations

import random

import pandas as pd
import pytest

from lab_app.analysis import cost, sampling


def synthetic_traffic(seconds=10, per_second=20, seed=3) -> pd.DataFrame:
    rng = random.Random(seed)
    rows = []
    t0 = pd.Timestamp("2026-01-01T00:00:00Z")
    seq = 0
    for s in range(seconds):
        for i in range(per_second):
            route = ["GET /api/activities/home", "GET /api/activities/search", "GET /api/message_groups"][seq % 3]
            path = {"GET /api/activities/home": "/api/activities/home",
                    "GET /api/activities/search": "/api/activities/search?term=x",
                    "GET /api/message_groups": "/api/message_groups"}[route]
            status = 500 if (route == "GET /api/message_groups" and seq % 7 == 0) else 200
            latency = 200.0 if route == "GET /api/activities/search" else 5.0
            rows.append({"seq": seq, "started_at": t0 + pd.Timedelta(seconds=s, milliseconds=i * 10),
                         "method": "GET", "route": route, "path": path, "status": status, "latency_ms": latency,
                         "otel_trace_id": "%032x" % rng.getrandbits(128), "xray_trace_id": None})
            seq += 1
    frame = pd.DataFrame(rows)
    frame["status"] = frame["status"].astype("Int64")
    return frame


def test_head_ratio_agrees_with_the_sdk_sampler():
    from opentelemetry.sdk.trace.sampling import Decision, TraceIdRatioBased

    traffic = synthetic_traffic()
    for ratio in (0.0, 0.1, 0.5, 1.0):
        ours = sampling.HeadRatio("h", ratio).decide(traffic)
        sdk = TraceIdRatioBased(ratio)
        theirs = traffic["otel_trace_id"].map(
            lambda t, sdk=sdk: sdk.should_sample(None, int(t, 16), "x").decision == Decision.RECORD_AND_SAMPLE)
        assert (ours == theirs).all(), ratio


def test_reservoir_takes_the_first_request_of_each_second():
    traffic = synthetic_traffic(seconds=10, per_second=20)
    only_reservoir = sampling.XRayRules("r", (sampling.Rule("Default", 10000, 1, 0.0),)).decide(traffic)
    assert only_reservoir.sum() == 10
    firsts = traffic.groupby(traffic["started_at"].dt.floor("s"))["seq"].min()
    assert set(traffic.loc[only_reservoir, "seq"]) == set(firsts)
    everything = sampling.XRayRules("r", (sampling.Rule("Default", 10000, 0, 1.0),)).decide(traffic)
    assert everything.all()
    # reservoir 2/s: 2 per second, 20 in all
    assert sampling.XRayRules("r", (sampling.Rule("Default", 10000, 2, 0.0),)).decide(traffic).sum() == 20


def test_fixed_rate_is_seeded_and_close_to_the_rate():
    traffic = synthetic_traffic(seconds=50, per_second=40)
    strat = sampling.XRayRules("r", (sampling.Rule("Default", 10000, 0, 0.25),))
    a, b = strat.decide(traffic, seed=1), strat.decide(traffic, seed=1)
    assert (a == b).all()
    assert abs(a.mean() - 0.25) < 0.04  # 2,000 draws: 4 standard deviations is ~0.039
    assert not (a == strat.decide(traffic, seed=2)).all()


def test_rules_match_in_priority_order():
    traffic = synthetic_traffic()
    strat = sampling.XRayRules("r", (sampling.Rule("search", 100, 0, 1.0, url_path="/api/activities/search*"),
                                     sampling.Rule("Default", 10000, 0, 0.0)))
    kept = strat.decide(traffic)
    assert (kept == (traffic["route"] == "GET /api/activities/search")).all()


def test_keep_errors_keeps_every_error_and_visibility_counts():
    traffic = synthetic_traffic()
    faults = [sampling.FaultKind("exception path", "GET /api/message_groups", "error"),
              sampling.FaultKind("slow search", "GET /api/activities/search", "slow", slow_ms=150)]
    strategies = [sampling.KeepErrors("errors"), sampling.KeepErrors("errors+slow", slow_ms=150),
                  sampling.HeadRatio("none", 0.0)]
    decisions = sampling.decide_all(traffic, strategies)
    errors = traffic["status"] >= 500
    n_errors = int(errors.sum())
    # seq % 3 == 2 and seq % 7 == 0 among 200 requests: seq in {14, 35, 56, ...} -> count by hand
    assert n_errors == len([s for s in range(200) if s % 3 == 2 and s % 7 == 0])
    assert decisions["errors"].sum() == n_errors and (decisions["errors"] | ~errors).all()
    table = sampling.compare(traffic, decisions, faults).set_index("strategy")
    assert table.loc["errors", "errors_kept"] == n_errors and table.loc["errors", "faults_visible"] == 1
    assert table.loc["errors+slow", "faults_visible"] == 2
    assert table.loc["none", "kept"] == 0 and table.loc["none", "faults_visible"] == 0


def test_compare_prices_what_is_kept():
    traffic = synthetic_traffic()
    strategies = [sampling.HeadRatio("all", 1.0), sampling.HeadRatio("none", 0.0)]
    decisions = sampling.decide_all(traffic, strategies)
    pr = cost.PerRequest(spans=4, segments=3, log_bytes=500, rollbar_occurrences=0.0)
    with pytest.raises(ValueError, match="strategies="):
        sampling.compare(traffic, decisions, per_request=pr, requests_per_second=10)
    table = sampling.compare(traffic, decisions, strategies=strategies, per_request=pr,
                             requests_per_second=10).set_index("strategy")
    # all: 10 rps x 86,400 x 30 = 25,920,000 traces; (25,920,000 - 100,000) x $5e-6 = $129.10
    assert table.loc["all", "xray_usd_per_month"] == pytest.approx(129.10)
    assert table.loc["none", "xray_usd_per_month"] == 0
    assert table.loc["all", "honeycomb_events_per_month"] == pytest.approx(25_920_000 * 4)


def test_trace_ids_fall_back_to_xray_then_seed():
    frame = pd.DataFrame({"seq": [0, 1, 2], "otel_trace_id": ["a" * 32, None, None],
                          "xray_trace_id": [None, "1-5759e988-bd862e3fe1be46a994272793", None]})
    ids = sampling.trace_ids(frame, seed=5)
    assert ids[0] == "a" * 32 and ids[1] == "5759e988bd862e3fe1be46a994272793" and len(ids[2]) == 32
    assert ids[2] == sampling.trace_ids(frame, seed=5)[2] != sampling.trace_ids(frame, seed=6)[2]


def test_seed_rule_is_the_file_notebook_03_creates():
    import json

    body = json.loads((cost.PRICING_FILE.parent / "xray-sampling-rule.json").read_text())["SamplingRule"]
    rule = sampling.seed_rule()
    assert (rule.reservoir_size, rule.fixed_rate, rule.priority) == (body["ReservoirSize"], body["FixedRate"], 9000)
    assert rule.reservoir_size == 5 and rule.fixed_rate == 0.1
    assert any(s.name == "xray: seed rule (5/s + 10%)" for s in sampling.standard_strategies())


@pytest.mark.parametrize("rps, expected", [(1, 1.0), (5, 1.0), (20, (5 + 0.1 * 15) / 20), (500, (5 + 0.1 * 495) / 500)])
def test_a_reservoir_keeps_a_share_that_depends_on_the_rate(rps, expected):
    traffic = synthetic_traffic(seconds=2, per_second=10)
    strat = sampling.XRayRules("seed", (sampling.seed_rule(),))
    assert strat.expected_fraction(traffic, rps) == pytest.approx(expected)
    assert sampling.HeadRatio("h", 0.1).expected_fraction(traffic, rps) == 0.1


def test_the_expected_fraction_is_what_a_replay_at_that_rate_keeps():
    """Replayed traffic arriving at 20 requests/s keeps what the formula says (5/s + 10 %: 32.5 %)."""
    traffic = synthetic_traffic(seconds=100, per_second=20)
    strat = sampling.XRayRules("seed", (sampling.seed_rule(),))
    replay = strat.decide(traffic, seed=4).mean()
    # 100 seconds x 15 draws at 10 %: sd of the kept share 0.0039; 4 sd
    assert replay == pytest.approx(strat.expected_fraction(traffic, 20), abs=0.016)
    assert sampling.arrival_rate(traffic) == pytest.approx(20, rel=0.01)


def test_rules_share_the_traffic_they_match():
    """search 100 % on a third of the requests, Default 1/s + 5 % on the rest, at 30 requests/s."""
    traffic = synthetic_traffic(seconds=3, per_second=30)          # routes cycle: a third are searches
    strat = sampling.XRayRules("s", (sampling.Rule("search", 100, 0, 1.0, url_path="/api/activities/search*"),))
    by_hand = (10 * 1.0 + (1 + 0.05 * (20 - 1))) / 30
    assert strat.expected_fraction(traffic, 30) == pytest.approx(by_hand)


def test_pricing_uses_the_rate_not_the_replay():
    traffic = synthetic_traffic(seconds=10, per_second=20)
    strategies = [sampling.XRayRules("seed", (sampling.seed_rule(),))]
    decisions = sampling.decide_all(traffic, strategies)
    pr = cost.PerRequest(spans=4, segments=3, log_bytes=500, rollbar_occurrences=0.0)
    row = sampling.compare(traffic, decisions, strategies=strategies, per_request=pr,
                           requests_per_second=100).set_index("strategy").loc["seed"]
    fraction = (5 + 0.1 * 95) / 100                                  # 14.5 % at 100 requests/s
    assert row["priced_fraction"] == pytest.approx(fraction)
    assert row["xray_usd_per_month"] == pytest.approx((100 * 86_400 * 30 * fraction - 100_000) * 5e-6)
