"""`deliveries replay --since` time parsing."""

from __future__ import annotations

import click
import pytest

from workers.cli.deliveries import parse_since

NOW = 1_800_000_000.0


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2h", NOW - 7200),
        ("30m", NOW - 1800),
        ("1.5d", NOW - 1.5 * 86400),
        ("45s", NOW - 45),
        ("1w", NOW - 7 * 86400),
        ("1700000000", 1_700_000_000.0),
        ("2026-01-01T00:00:00Z", 1767225600.0),
        ("2026-01-01T01:00:00+01:00", 1767225600.0),
        ("2026-01-01", 1767225600.0),
    ],
)
def test_since_accepts_relative_absolute_and_epoch(text: str, expected: float) -> None:
    assert parse_since(text, NOW) == pytest.approx(expected)


@pytest.mark.parametrize("text", ["", "yesterday", "2 hours ago", "-", "1y", "\x00"])
def test_since_refuses_nonsense_with_a_clear_error(text: str) -> None:
    with pytest.raises(click.BadParameter):
        parse_since(text, NOW)
