"""The latency bench's pure helpers: nearest-rank percentiles, its summary line, its articles."""

from __future__ import annotations

import math

import pytest

from bench.latency import MARKER, make_article, percentile, summary_line


def test_percentile_is_nearest_rank() -> None:
    values = [5.0, 1.0, 4.0, 2.0, 3.0]
    assert percentile(values, 50) == 3.0
    assert percentile(values, 95) == 5.0
    assert percentile(values, 100) == 5.0
    assert percentile(values, 1) == 1.0
    assert percentile(list(range(1, 101)), 95) == 95


def test_percentile_of_nothing_is_nan_and_bad_q_is_refused() -> None:
    assert math.isnan(percentile([], 50))
    with pytest.raises(ValueError):
        percentile([1.0], 0)
    with pytest.raises(ValueError):
        percentile([1.0], 101)


def test_summary_line_counts_lost_articles() -> None:
    line = summary_line("5", 4, [10.0, 20.0, 30.0], [15.0, 25.0], no_webhook=1)
    fields = dict(part.split("=") for part in line.split()[2:])
    assert line.startswith("BENCH latency ")
    assert fields["lost"] == "1"
    assert fields["record_p50_ms"] == "20"
    assert fields["webhook_max_ms"] == "25"
    assert fields["no_webhook"] == "1"


def test_articles_are_unique_and_carry_the_marker() -> None:
    words = ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel"]
    first, second = make_article(0, "r", words), make_article(1, "r", words)
    assert first["url"] != second["url"]
    assert first["text"] != second["text"]
    assert MARKER in first["text"] and MARKER in second["text"]
    assert make_article(0, "r", words) | {"published_at": ""} == first | {"published_at": ""}
