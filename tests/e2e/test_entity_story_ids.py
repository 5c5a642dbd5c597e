"""Through the real workers: a surname alone in a later report of a story carries the id the
full name got in the first report (the name registry's story keys, on Redis)."""

from __future__ import annotations

import json
from typing import Any

import pytest
import redis

from pipeline.entities.registry import skeleton
from tests.pipeline_fixtures import PipelineProcesses, wait_until

pytestmark = pytest.mark.e2e

BODY = (
    "A container crane collapsed at the Tidewater harbour on Sunday night, halting work at two "
    "of the port's five berths. Nobody was hurt, the harbour authority said, but ships bound "
    "for the terminal were diverted to neighbouring ports while engineers inspect the "
    "remaining cranes. Union representatives called for an independent inquiry into "
    "maintenance at the terminal. "
)
FIRST = {
    "id": "report-1",
    "url": "https://tidewater-post.example/2026/04/crane",
    "title": "Crane collapse halts work at Tidewater harbour",
    "text": BODY + "The harbour master, Halvard Brekkestad, said the berths would reopen on "
    "Friday. Engineers told Brekkestad that the other cranes were safe.",
}
LATER = {
    "id": "report-2",
    "url": "https://coastal-wire.example/crane-collapse",
    "title": "Crane collapse halts work at Tidewater harbour",
    "text": BODY + "The harbour master said the berths would reopen on Friday, according to "
    "Brekkestad. Engineers told Brekkestad that the other cranes were safe.",
}


def _record(client: redis.Redis, record_id: str) -> dict[str, Any] | None:
    for _, fields in client.xrange("wirewatch:enriched"):
        record = json.loads(fields["record"])
        if record["id"] == record_id:
            return dict(record)
    return None


def _ids_of(record: dict[str, Any], surface: str) -> set[str]:
    return {e["id"] for e in record["entities"] for m in e["mentions"] if m["text"] == surface}


def test_a_later_surname_carries_the_full_names_id(
    redis_url: str, pipeline_workers: PipelineProcesses
) -> None:
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    client.xadd("wirewatch:ingest", {"article": json.dumps(FIRST)})
    first = wait_until(lambda: _record(client, "report-1"), timeout=60, message="report 1")
    assert _ids_of(first, "Halvard Brekkestad") == {"x:halvard-brekkestad"}
    client.xadd("wirewatch:ingest", {"article": json.dumps(LATER)})
    later = wait_until(lambda: _record(client, "report-2"), timeout=60, message="report 2")
    assert later["story_id"] == first["story_id"]
    # The later report never names him in full, yet his surname carries the full name's id.
    assert "Halvard" not in later["text"]
    assert _ids_of(later, "Brekkestad") == {"x:halvard-brekkestad"}
    # The registry on Redis learned the story's keys (inspectable with `entities variants`).
    surname = "s|" + skeleton(["brekkestad"])
    assert client.hget(f"wirewatch:story:names:{first['story_id']}", surname) == (
        "x:halvard-brekkestad"
    )
