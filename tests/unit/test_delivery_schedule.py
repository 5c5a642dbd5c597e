"""Retry schedule: parsing, jitter bounds, Retry-After, exhaustion."""

from __future__ import annotations

import random

import pytest

from workers.delivery.schedule import next_delay, parse_schedule
from workers.settings import Settings

DEFAULT = parse_schedule(Settings().webhook_retry_schedule)


def test_default_schedule_is_svix_like() -> None:
    assert DEFAULT == [0, 5, 300, 1800, 7200, 18000, 36000, 36000]


@pytest.mark.parametrize("text", ["", " , ", "1,-5", "1,abc", "nan", "inf"])
def test_bad_schedules_are_refused(text: str) -> None:
    with pytest.raises(ValueError):
        parse_schedule(text)


def test_fractional_schedules_are_allowed_for_tests() -> None:
    assert parse_schedule("0, 0.2,0.5") == [0.0, 0.2, 0.5]


def test_waits_follow_the_schedule_without_jitter() -> None:
    assert [next_delay(n, DEFAULT) for n in range(len(DEFAULT))] == DEFAULT
    assert next_delay(len(DEFAULT), DEFAULT) is None


def test_jitter_stays_within_bounds_and_varies() -> None:
    rng = random.Random(7)
    seen = {next_delay(2, DEFAULT, jitter=0.1, rng=rng) for _ in range(200)}
    assert all(s is not None and 270 <= s <= 330 for s in seen)
    assert len(seen) > 100


def test_immediate_first_attempt_gets_no_jitter() -> None:
    assert next_delay(0, DEFAULT, jitter=0.5) == 0


def test_retry_after_longer_than_the_wait_wins() -> None:
    assert next_delay(1, DEFAULT, retry_after=60) == 60
    assert next_delay(2, DEFAULT, retry_after=60) == 300


def test_retry_after_never_adds_attempts() -> None:
    assert next_delay(len(DEFAULT), DEFAULT, retry_after=1) is None


def test_whole_default_schedule_spans_more_than_a_day() -> None:
    assert 24 * 3600 < sum(DEFAULT) < 48 * 3600
