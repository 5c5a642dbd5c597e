"""The articles of a story: later copies are attached to the story they joined.

Every enriched record with a ``story_id`` adds a short summary of itself (id, url,
source, title, language, published and processed times, ``duplicate_of``) to the
story's members hash, keyed by record id so a redelivered emit writes nothing new. The
hash expires with the story window, counted from its latest member. ``wirewatch story
show ID`` reads it; alerts name the story, so a subscriber told once can ask which
outlets carried it since.

A story is capped at ``MAX_MEMBERS`` listed articles (a wire story can be copied by
thousands of sites); past that only the count grows, under the ``_overflow`` field.
"""

from __future__ import annotations

import json
from typing import Any

from pipeline.models import EnrichedRecord
from workers.keys import Keys

__all__ = ["MAX_MEMBERS", "StoryMembers", "summary_of"]

MAX_MEMBERS = 1000
_OVERFLOW = "_overflow"

# KEYS: members hash. ARGV: record id, summary JSON, ttl seconds, max members.
# Returns 1 when added, 0 when the record was already a member, -1 when the story is full.
_ATTACH = """
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 1 then return 0 end
local listed = redis.call('HLEN', KEYS[1]) - redis.call('HEXISTS', KEYS[1], '_overflow')
local result = 1
if listed >= tonumber(ARGV[4]) then
  redis.call('HINCRBY', KEYS[1], '_overflow', 1)
  result = -1
else
  redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
end
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[3]))
return result
"""


def summary_of(record: EnrichedRecord) -> dict[str, Any]:
    """The fields of ``record`` a story listing shows (never the text)."""
    return {
        "id": record.id,
        "url": record.url,
        "source": record.source,
        "title": record.title,
        "language": record.language.code,
        "published_at": record.published_at,
        "processed_at": record.processed_at,
        "duplicate_of": record.duplicate_of,
    }


class StoryMembers:
    """Attach records to their story and list a story's articles, oldest first."""

    def __init__(
        self, client: Any, keys: Keys, *, ttl_s: int, max_members: int = MAX_MEMBERS
    ) -> None:
        self.client = client
        self.keys = keys
        self.ttl_s = max(1, int(ttl_s))
        self.max_members = max_members
        self._attach = client.register_script(_ATTACH)

    def attach(self, record: EnrichedRecord) -> int:
        """Add ``record`` to its story: 1 added, 0 already there, -1 story full; 0 if no story."""
        if not record.story_id:
            return 0
        return int(
            self._attach(
                keys=[self.keys.story_members(record.story_id)],
                args=[record.id, json.dumps(summary_of(record)), self.ttl_s, self.max_members],
            )
        )

    def members(self, story_id: str) -> tuple[list[dict[str, Any]], int]:
        """Return the story's listed articles (oldest first) and how many were not listed."""
        raw = self.client.hgetall(self.keys.story_members(story_id))
        overflow = 0
        out = []
        for field, value in raw.items():
            name = field.decode() if isinstance(field, bytes) else str(field)
            if name == _OVERFLOW:
                overflow = int(value)
                continue
            try:
                item = json.loads(value)
            except (TypeError, ValueError):
                continue  # not ours: a hand-written field; listing the rest is more useful
            if isinstance(item, dict):
                out.append(item)
        out.sort(key=lambda m: (str(m.get("processed_at") or ""), str(m.get("id") or "")))
        return out, overflow
