"""The name registry on a real Redis behaves as the in-memory one, bounded and correctable."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import redis

from pipeline.entities.registry import AMBIGUOUS, MemoryNameRegistry, apply_registry
from pipeline.entities.stream import key_of
from pipeline.entities.tagging import unlinked_id
from pipeline.models import Entity, EntityType, Mention
from workers.keys import Keys
from workers.stages.names import RedisNameRegistry

pytestmark = pytest.mark.integration


@pytest.fixture
def client(redis_url: str) -> Iterator[redis.Redis]:
    c = redis.Redis.from_url(redis_url)
    yield c
    c.close()


def _entity(name: str, etype: EntityType = "MISC") -> Entity:
    words = [w for w in key_of(name).split() if w not in (",", "|")]
    return Entity(
        id=unlinked_id(words),
        name=name,
        type=etype,
        mentions=[Mention(start=0, end=len(name), text=name)],
        linked=False,
    )


STREAM = [
    ("a", [_entity("Sergei Shoigu", "PERSON"), _entity("John Kirby", "PERSON")]),
    ("a", [_entity("Shoigu"), _entity("Kirby")]),
    ("b", [_entity("Сергей Шойгу"), _entity("John Smith", "PERSON")]),
    ("c", [_entity("Jane Smith", "PERSON")]),
    ("d", [_entity("Smith"), _entity("Sergei Kuzhugetovich Shoigu", "PERSON")]),
    ("b", [_entity("Smith")]),
]


def test_redis_and_memory_registries_resolve_a_stream_alike(client: redis.Redis) -> None:
    redis_registry = RedisNameRegistry(client, Keys(prefix="wwtest"), story_ttl_s=60)
    memory = MemoryNameRegistry()
    got = [sorted(e.id for e in apply_registry(ents, redis_registry, sid)) for sid, ents in STREAM]
    want = [sorted(e.id for e in apply_registry(ents, memory, sid)) for sid, ents in STREAM]
    assert got == want
    assert got[1] == ["x:john-kirby", "x:sergei-shoigu"]
    assert got[2] == ["x:john-smith", "x:sergei-shoigu"]  # Cyrillic spelling, other story
    # two Smiths: a lone one stays apart; a longer name never joins by first+last
    assert got[4] == ["x:sergei-kuzhugetovich-shoigu", "x:smith"]
    assert got[5] == ["x:john-smith"]  # ... except in the story that named one
    assert client.hget("wwtest:names:keys", "s|smith") == AMBIGUOUS.encode()
    assert 0 < client.ttl("wwtest:story:names:a") <= 60


def test_corrections_and_the_cap(client: redis.Redis) -> None:
    registry = RedisNameRegistry(client, Keys(prefix="wwtest"), story_ttl_s=60, max_keys=20)
    apply_registry([_entity("John Kirby", "PERSON")], registry)
    registry.split("x:kirby")
    assert apply_registry([_entity("Kirby")], registry)[0].id == "x:kirby"
    registry.merge("x:kirby", "x:john-kirby")
    assert apply_registry([_entity("Kirby")], registry)[0].id == "x:john-kirby"
    assert registry.overrides() == {"x:kirby": "x:john-kirby"}
    assert registry.variants("x:john-kirby") == {
        "x:john-kirby": ["f|johnkirbi", "n|johnkirbi", "s|kirbi"]
    }
    assert registry.forget("x:john-kirby") == 3
    assert registry.variants("x:john-kirby") == {}
    for n in range(30):
        apply_registry([_entity(f"Person Number{chr(97 + n % 26)}{n}", "PERSON")], registry)
    assert registry.size() <= 20
    assert client.hlen("wwtest:names:keys") <= 20
