"""Dead letters keep the original payload exactly, whatever its bytes."""

from __future__ import annotations

import json

import pytest

from pipeline.models import DeadLetter
from workers.dlq import dead_letter, payload_bytes
from workers.keys import Keys
from workers.streams import MemoryStreams

KEYS = Keys()


@pytest.mark.parametrize(
    "payload",
    [b'{"url": 1}', "plain text ✓", bytes(range(256)), b"\xff\xfe", "lone \ud800 surrogate", b""],
)
def test_payload_round_trips(payload: bytes | str) -> None:
    streams = MemoryStreams()
    entry = dead_letter(streams, KEYS, reason="r", detail="d", stage="ingest", payload=payload)
    stored = DeadLetter.model_validate(json.loads(streams.entries[KEYS.dlq][0]["entry"]))
    assert stored == entry
    expected = payload if isinstance(payload, bytes) else payload.encode("utf-8", "surrogatepass")
    assert payload_bytes(stored) == expected


def test_detail_is_bounded() -> None:
    entry = dead_letter(
        MemoryStreams(), KEYS, reason="r", detail="x" * 10_000, stage="s", payload="p"
    )
    assert len(entry.detail) <= 2000
