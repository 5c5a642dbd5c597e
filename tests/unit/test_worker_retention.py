"""Pure parts of retention and idempotent writes: the purge bound, in-memory write-once appends."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from pipeline.models import EnrichedRecord, Language
from workers.dlq import purge_bound
from workers.keys import Keys
from workers.settings import Settings
from workers.stages.emit import Emitter, MemoryAlertLedger
from workers.streams import MemoryStreams

KEYS = Keys()
NOW_MS = 1_763_800_000_000


def test_purge_bound_reads_ids_and_ages() -> None:
    assert purge_bound("1700000000000-3", NOW_MS) == "1700000000000-3"
    assert purge_bound(" 90s ", NOW_MS) == f"{NOW_MS - 90_000}-0"
    assert purge_bound("30m", NOW_MS) == f"{NOW_MS - 1_800_000}-0"
    assert purge_bound("7d", NOW_MS) == f"{NOW_MS - 7 * 86_400_000}-0"
    assert purge_bound("2w", NOW_MS) == f"{NOW_MS - 14 * 86_400_000}-0"
    assert purge_bound("0s", NOW_MS) == f"{NOW_MS}-0"
    assert purge_bound("100000w", NOW_MS) == "0-0"  # older than the clock: nothing to purge


@pytest.mark.parametrize(
    ("before", "says"),
    [
        ("-5m", "cannot be negative"),
        ("-0-1", "cannot be negative"),
        ("1700000000000", "cannot read"),
        ("5", "cannot read"),
        ("1.5h", "cannot read"),
        ("7 days", "cannot read"),
        ("", "cannot read"),
        ("abc-def", "cannot read"),
        ("18446744073709551616-0", "out of range"),
        ("1-18446744073709551616", "out of range"),
    ],
)
def test_purge_bound_refuses_anything_else(before: str, says: str) -> None:
    with pytest.raises(ValueError, match=says):
        purge_bound(before, NOW_MS)


def _record() -> EnrichedRecord:
    return EnrichedRecord(
        id="a1",
        url="https://n.example/a1",
        text="a crane fell",
        language=Language(code="en", confidence=0.9),
        story_id="s1",
    )


def test_one_record_per_ingest_entry() -> None:
    streams = MemoryStreams()
    emitter = Emitter(streams, MemoryAlertLedger(), KEYS, lookup=lambda _: None, deliver=print)
    emitter.emit(_record(), [], source_entry="1-0")
    emitter.emit(_record(), [], source_entry="1-0")  # redelivered
    assert len(streams.entries[KEYS.enriched]) == 1
    emitter.emit(_record(), [], source_entry="2-0")  # re-crawled: a new entry
    emitter.emit(_record(), [])  # no entry (``wirewatch process``): always written
    assert len(streams.entries[KEYS.enriched]) == 3


@pytest.mark.parametrize(
    "bad",
    [
        {"enriched_maxlen": -1},
        {"alerts_maxlen": -5},
        {"emit_dedup_ttl_s": 0},
        {"ingest_retention": "sometimes"},
    ],
)
def test_retention_settings_are_validated(bad: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        Settings(**bad)  # type: ignore[arg-type]
