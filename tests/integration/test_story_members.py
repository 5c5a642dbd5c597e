"""A story's articles on a real Redis: attached once each, capped, expiring, and listed by
`wirewatch story show`."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator

import pytest
import redis

from pipeline.models import EnrichedRecord, Language
from tests.cli import wirewatch as run_cli
from workers.keys import Keys
from workers.stages.story_members import StoryMembers

pytestmark = pytest.mark.integration


@pytest.fixture
def client(redis_url: str) -> Iterator[redis.Redis]:
    c = redis.Redis.from_url(redis_url)
    yield c
    c.close()


def record(n: int, story: str | None = "s1", duplicate_of: str | None = None) -> EnrichedRecord:
    return EnrichedRecord(
        id=f"r{n}",
        url=f"https://outlet{n}.example/story",
        source=f"outlet{n}.example",
        title=f"Title {n}",
        text="body " * 20,
        language=Language(code="en", confidence=0.9),
        story_id=story,
        duplicate_of=duplicate_of,
        processed_at=f"2026-01-01T00:00:0{n}Z",
    )


def test_attach_is_idempotent_and_lists_oldest_first(client: redis.Redis) -> None:
    members = StoryMembers(client, Keys(prefix="wwtest"), ttl_s=3600)
    assert [members.attach(record(n)) for n in (2, 1, 3)] == [1, 1, 1]
    assert members.attach(record(1)) == 0  # a redelivered emit adds nothing
    assert members.attach(record(4, story=None)) == 0  # no story, nothing to attach to
    listed, overflow = members.members("s1")
    assert [m["id"] for m in listed] == ["r1", "r2", "r3"] and overflow == 0
    assert listed[0]["source"] == "outlet1.example" and "text" not in listed[0]
    assert 0 < client.ttl("wwtest:story:members:s1") <= 3600


def test_a_full_story_counts_what_it_does_not_list(client: redis.Redis) -> None:
    members = StoryMembers(client, Keys(prefix="wwtest"), ttl_s=60, max_members=2)
    assert [members.attach(record(n)) for n in (1, 2, 3, 4)] == [1, 1, -1, -1]
    listed, overflow = members.members("s1")
    assert [m["id"] for m in listed] == ["r1", "r2"] and overflow == 2


def test_foreign_fields_are_skipped(client: redis.Redis) -> None:
    members = StoryMembers(client, Keys(prefix="wwtest"), ttl_s=60)
    members.attach(record(1))
    client.hset("wwtest:story:members:s1", mapping={"junk": "{not json", "list": "[1]"})
    assert [m["id"] for m in members.members("s1")[0]] == ["r1"]


def wirewatch(redis_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    return run_cli(redis_url, "story", *args)


def test_story_show_command(redis_url: str, client: redis.Redis) -> None:
    members = StoryMembers(client, Keys(), ttl_s=3600)
    members.attach(record(1))
    members.attach(record(2, duplicate_of="r1"))
    shown = wirewatch(redis_url, "show", "s1")
    assert shown.returncode == 0, shown.stderr
    lines = shown.stdout.splitlines()
    assert lines[0] == "story s1: 2 articles"
    assert "outlet1.example" in lines[1] and "report" in lines[1]
    assert "copy of r1" in lines[2]
    as_json = wirewatch(redis_url, "show", "s1", "--json")
    assert [json.loads(line)["id"] for line in as_json.stdout.splitlines()] == ["r1", "r2"]


@pytest.mark.parametrize("bad", ["nope", "", "a b", "x" * 600, "\x1b[31mred", "../../etc"])
def test_story_show_unknown_or_hostile_id(redis_url: str, bad: str) -> None:
    shown = wirewatch(redis_url, "show", bad)
    assert shown.returncode in (1, 2)
    assert shown.stderr.startswith("error:") and "Traceback" not in shown.stderr
