"""The fuzz suite's rules can fail: a 5xx, an input slow every time it is sent, and too few inputs each break a
run; a request slow only once (a stalled machine) is sent again and does not."""
from __future__ import annotations

import pytest
from fuzz_support import MAX_SECONDS, Answer, fuzz


def answers(*items: tuple[int, float]):
    """A fake endpoint answering (status, seconds) in turn, then 200 in 1 ms."""
    queue = list(items)

    def send(_item) -> Answer:
        status, seconds = queue.pop(0) if queue else (200, 0.001)
        return Answer(status, {}, b"{}", seconds)

    return send


def test_a_5xx_breaks_the_run():
    with pytest.raises(AssertionError, match="1 inputs broke the rules"):
        fuzz("fake", range(10), answers((200, 0.001), (500, 0.001)), minimum=10)


def test_an_input_slow_every_time_breaks_the_run():
    with pytest.raises(AssertionError, match="1 inputs broke the rules"):
        fuzz("fake", range(10), answers((200, MAX_SECONDS + 1), (200, MAX_SECONDS + 1)), minimum=10)


def test_a_5xx_on_the_second_send_breaks_the_run():
    with pytest.raises(AssertionError, match="1 inputs broke the rules"):
        fuzz("fake", range(10), answers((200, MAX_SECONDS + 1), (503, 0.001)), minimum=10)


def test_a_request_slow_once_is_sent_again_and_passes():
    tally = fuzz("fake", range(10), answers((200, MAX_SECONDS + 1), (200, 0.01)), minimum=10)
    assert tally.resent == 1 and tally.count == 10 and tally.slowest < MAX_SECONDS


def test_too_few_inputs_break_the_run():
    with pytest.raises(AssertionError, match="only 9 inputs"):
        fuzz("fake", range(9), answers(), minimum=10)
