"""One item's failure never fails its batch-mates."""

from __future__ import annotations

import json

import pytest
import redis

from pipeline.errors import ContentError, TransientError
from workers.keys import Keys
from workers.stages.batch import backoff_s, new_batch, new_item, run_batch
from workers.streams import MemoryStreams

KEYS = Keys()


class Interrupted(Exception):
    pass


def _batch(*names: str) -> dict[str, object]:
    return new_batch("b1", [new_item(json.dumps({"n": n}), article_id=n) for n in names])


def _step(item: dict[str, object]) -> dict[str, object]:
    name = item["id"]
    if name == "bad":
        raise ContentError("cannot clean", reason="empty_extraction")
    if name == "flaky":
        raise TransientError("dependency down")
    if name == "redis":
        raise redis.exceptions.ConnectionError("connection refused")
    if name == "bug":
        raise KeyError("surprise")
    if name == "slow":
        raise Interrupted()
    return {**item, "done": True}


def _dead(streams: MemoryStreams) -> list[dict[str, object]]:
    return [json.loads(f["entry"]) for f in streams.entries[KEYS.dlq]]


def test_permanent_and_unexpected_errors_are_dead_lettered_alone() -> None:
    streams = MemoryStreams()
    out = run_batch(
        "articles.clean",
        _batch("a", "bad", "bug", "b"),
        _step,
        streams=streams,
        keys=KEYS,
        max_attempts=3,
    )
    assert [i["id"] for i in out.done] == ["a", "b"]
    assert out.retry == [] and out.dead == 2
    dead = _dead(streams)
    assert [(d["reason"], d["stage"], d["article_id"]) for d in dead] == [
        ("empty_extraction", "articles.clean", "bad"),
        ("internal_error", "articles.clean", "bug"),
    ]
    assert json.loads(dead[0]["payload"]) == {"n": "bad"}  # original payload kept
    assert dead[0]["batch_id"] == "b1"


def test_transient_errors_are_retried_then_exhausted() -> None:
    streams = MemoryStreams()
    out = run_batch(
        "articles.match",
        _batch("flaky", "redis", "a"),
        _step,
        streams=streams,
        keys=KEYS,
        max_attempts=3,
    )
    assert [i["id"] for i in out.done] == ["a"]
    assert [(i["id"], i["attempts"]) for i in out.retry] == [("flaky", 1), ("redis", 1)]
    again = run_batch(
        "articles.match",
        new_batch("b1.r1", out.retry),
        _step,
        streams=streams,
        keys=KEYS,
        max_attempts=3,
    )
    last = run_batch(
        "articles.match",
        new_batch("b1.r2", again.retry),
        _step,
        streams=streams,
        keys=KEYS,
        max_attempts=3,
    )
    assert last.retry == [] and last.dead == 2
    assert {d["reason"] for d in _dead(streams)} == {"retries_exhausted"}
    assert {d["attempts"] for d in _dead(streams)} == {3}


def test_an_interrupt_dead_letters_the_current_item_and_defers_the_rest() -> None:
    streams = MemoryStreams()
    out = run_batch(
        "articles.tag_entities", _batch("a", "slow", "b", "c"), _step,
        streams=streams, keys=KEYS, max_attempts=3, interrupts=(Interrupted,),
    )  # fmt: skip
    assert [i["id"] for i in out.done] == ["a"]
    assert [i["id"] for i in out.retry] == ["b", "c"]
    assert [d["reason"] for d in _dead(streams)] == ["timeout"]


def test_empty_batch_is_fine() -> None:
    out = run_batch(
        "articles.emit",
        new_batch("b", []),
        _step,
        streams=MemoryStreams(),
        keys=KEYS,
        max_attempts=1,
    )
    assert out.done == [] and out.retry == [] and out.dead == 0


@pytest.mark.parametrize("attempt", [1, 2, 5, 50])
def test_backoff_grows_and_is_capped(attempt: int) -> None:
    delay = backoff_s(attempt, base=1.0, cap=60.0)
    assert 0 < delay <= 72.0
    assert delay >= min(60.0, 2 ** (attempt - 1)) * 0.8
