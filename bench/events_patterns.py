"""EventBridge pattern matching in the local cloud: events matched per second by our matcher
(lab_app.localcloud.events.pattern) against the baseline measured in the same run, moto's ``EventPattern``
(what routing used before), over the same patterns and events (tests/test_events.py's 26 cases x 6 events).
Also the agreement: on how many (pattern, event) pairs the two answer differently (where moto is wrong, see
the cases in the tests). Prints figures; asserts nothing.

    .venv/bin/python bench/events_patterns.py [--rounds 200]
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=200)
    args = parser.parse_args()
    from moto.events.models import EventPattern
    from test_events import CASES, EVENTS

    from lab_app.localcloud.events import pattern as ours

    texts = [json.dumps(p) for _, p, _ in CASES]
    events = list(EVENTS.values())
    theirs = [EventPattern.load(t) for t in texts]
    mine = [ours.parse(t) for t in texts]
    pairs = len(texts) * len(events)

    def run(match) -> float:
        start = time.perf_counter()
        for _ in range(args.rounds):
            for i in range(len(texts)):
                for event in events:
                    match(i, event)
        return args.rounds * pairs / (time.perf_counter() - start)

    baseline = run(lambda i, e: theirs[i].matches_event(e))
    ours_rate = run(lambda i, e: ours.matches(mine[i], e))
    disagree = sum(theirs[i].matches_event(e) != ours.matches(mine[i], e) for i in range(len(texts)) for e in events)
    print(f"pairs per round: {pairs} ({len(texts)} patterns x {len(events)} events), rounds: {args.rounds}")
    print(f"moto EventPattern (baseline): {baseline:12,.0f} matches/s")
    print(f"local cloud pattern module  : {ours_rate:12,.0f} matches/s  ({ours_rate / baseline:.2f}x baseline)")
    print(f"pairs where the two disagree: {disagree} of {pairs}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
