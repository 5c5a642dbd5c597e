"""The name registry on Redis, shared by every worker (``pipeline.entities.registry``).

Keys (``workers.keys``):

- ``names:keys`` hash: learned key -> owning ``x:`` id, or ``*`` once two ids
  claimed a first+last or surname key (written by one Lua script, so two workers
  learning at once agree);
- ``names:seen`` sorted set: each learned key by the time it was last seen; past
  ``max_keys`` the least recently seen are dropped from both (bounded memory);
- ``names:overrides`` hash: operator corrections (``wirewatch entities variants``);
- ``story:names:<story id>`` hash: the same keys for one story, expiring with the
  story window.

A look-up is one pipelined round trip (HMGETs), learning one script call.
"""

from __future__ import annotations

import time
from typing import Any

import redis

from pipeline.entities.registry import AMBIGUOUS, DEFAULT_MAX_KEYS, Update
from pipeline.errors import TransientError
from workers.keys import Keys

__all__ = ["RedisNameRegistry"]

# KEYS: names hash, seen zset, story hash (or "" name when none).
# ARGV: now, max keys, story ttl, has story, then key/owner pairs.
_LEARN = """
local now, cap, ttl, has_story = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), ARGV[4] == '1'
local function learn(hash, key, owner)
  local old = redis.call('HGET', hash, key)
  if not old then
    redis.call('HSET', hash, key, owner)
  elseif old ~= owner and old ~= '*' and string.sub(key, 1, 2) ~= 'n|' then
    redis.call('HSET', hash, key, '*')
  end
end
for i = 5, #ARGV, 2 do
  local key, owner = ARGV[i], ARGV[i + 1]
  learn(KEYS[1], key, owner)
  redis.call('ZADD', KEYS[2], now, key)
  if has_story then learn(KEYS[3], key, owner) end
end
if has_story then redis.call('EXPIRE', KEYS[3], ttl) end
local over = redis.call('ZCARD', KEYS[2]) - cap
if over > 0 then
  local drop = math.max(over, math.floor(cap / 100))
  local old = redis.call('ZRANGE', KEYS[2], 0, drop - 1)
  if #old > 0 then
    redis.call('ZREM', KEYS[2], unpack(old))
    redis.call('HDEL', KEYS[1], unpack(old))
  end
end
return 1
"""


def _s(value: Any) -> str:
    return value.decode("utf-8", "surrogateescape") if isinstance(value, bytes) else str(value)


class RedisNameRegistry:
    """``pipeline.entities.registry.NameRegistry`` on Redis; corrections for the CLI."""

    def __init__(
        self, client: redis.Redis, keys: Keys, *, story_ttl_s: int, max_keys: int = DEFAULT_MAX_KEYS
    ) -> None:
        self.client = client
        self.keys = keys
        self.story_ttl_s = max(1, int(story_ttl_s))
        self.max_keys = max_keys
        self._learn = client.register_script(_LEARN)

    def lookup(
        self, keys: list[str], story_id: str | None
    ) -> tuple[dict[str, str], dict[str, str], dict[str, str]]:
        """Return (deployment keys, story keys, overrides); ``TransientError`` on Redis errors."""
        try:
            pipe = self.client.pipeline(transaction=False)
            pipe.hmget(self.keys.names, keys)
            if story_id:
                pipe.hmget(self.keys.story_names(story_id), keys)
            pipe.hgetall(self.keys.names_overrides)
            found = pipe.execute()
        except redis.RedisError as exc:
            raise TransientError(
                f"name registry unavailable: {exc}", reason="names_unavailable"
            ) from exc
        known = {k: _s(v) for k, v in zip(keys, found[0], strict=True) if v is not None}
        story = (
            {k: _s(v) for k, v in zip(keys, found[1], strict=True) if v is not None}
            if story_id
            else {}
        )
        overrides = {_s(k): _s(v) for k, v in found[-1].items()}
        return known, story, overrides

    def learn(self, updates: list[Update], story_id: str | None) -> None:
        args: list[Any] = [time.time(), self.max_keys, self.story_ttl_s, "1" if story_id else "0"]
        for update in updates:
            args += [update.key, update.owner]
        story_key = self.keys.story_names(story_id) if story_id else self.keys.story_names("-")
        try:
            self._learn(keys=[self.keys.names, self.keys.names_seen, story_key], args=args)
        except redis.RedisError as exc:
            raise TransientError(
                f"name registry unavailable: {exc}", reason="names_unavailable"
            ) from exc

    # -- corrections and inspection (``wirewatch entities variants``) ---------------

    def merge(self, source: str, target: str) -> None:
        self.client.hset(self.keys.names_overrides, source, target)

    def split(self, entity_id: str) -> None:
        self.client.hset(self.keys.names_overrides, entity_id, "")

    def forget(self, entity_id: str) -> int:
        """Drop every learned key owned by ``entity_id`` and its override; return how many."""
        owned = [k for k, v in self._items() if v == entity_id]
        typed = "t|" + entity_id  # the id's remembered PERSON type (not a learned key)
        pipe = self.client.pipeline(transaction=False)
        pipe.hdel(self.keys.names, *owned, typed)
        pipe.zrem(self.keys.names_seen, *owned, typed)
        pipe.hdel(self.keys.names_overrides, entity_id)
        pipe.execute()
        return len(owned)

    def _items(self) -> list[tuple[str, str]]:
        return [(_s(k), _s(v)) for k, v in self.client.hscan_iter(self.keys.names, count=1000)]

    def variants(self, entity_id: str | None = None) -> dict[str, list[str]]:
        """Return learned keys grouped by owning id (only ``entity_id``'s when given)."""
        out: dict[str, list[str]] = {}
        for key, owner in self._items():
            if key.startswith("t|"):  # a remembered type, not a name key
                continue
            if entity_id is None or owner == entity_id:
                out.setdefault(owner, []).append(key)
        return {k: sorted(v) for k, v in sorted(out.items())}

    def overrides(self) -> dict[str, str]:
        return {_s(k): _s(v) for k, v in self.client.hgetall(self.keys.names_overrides).items()}

    def size(self) -> int:
        return int(self.client.zcard(self.keys.names_seen))


assert AMBIGUOUS == "*"  # the Lua script writes the same marker
