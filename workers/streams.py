"""The stream-append seam: Redis streams for real, an in-memory stand-in for unit tests.

Why a seam: emitters, the dead-letter writer and the ingest validator only ever
*append* to a stream; unit tests of that logic use ``MemoryStreams`` while
integration tests use ``RedisStreams`` against a real server.

``add_once`` appends at most once per marker key: a redelivered emit (worker killed after
the write, before the ack) must not append the same record or alert twice. Given ``ack``
(an ingest entry), the same script acknowledges that entry in its consumer group: the
article's outcome and the end of its pending state are one atomic step, so no crash can
leave one without the other (end-to-end acknowledgement, docs/decisions.md).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

__all__ = ["Ack", "MemoryStreams", "RedisStreams", "Streams"]


@dataclass(frozen=True)
class Ack:
    """An entry of a consumer group to acknowledge together with a write.

    ``other``: the marker of the entry's other outcome (its dead letter for a record, its
    record for a dead letter); when it is set, the write is skipped, so an entry ends as
    one record or one dead letter, never both.
    """

    stream: str
    group: str
    entry: str
    other: str | None = None


class Streams(Protocol):
    """Append entries of string fields to streams."""

    def add(self, stream: str, fields: dict[str, str]) -> str:
        """Append ``fields`` to ``stream``; return the entry id."""
        ...

    def add_once(
        self,
        stream: str,
        fields: dict[str, str],
        *,
        marker: str,
        ttl_s: int,
        ack: Ack | None = None,
    ) -> str | None:
        """Append ``fields`` unless ``marker`` is set, setting it with the entry (atomically).

        ``ack``: also acknowledge this entry in its group, in the same atomic step (also
        when the marker was already set). Return the new entry id, or ``None`` when the
        marker said it was already written.
        """
        ...


# Read the marker, append, then set the marker, in one script. Why this order: the XADD
# is the script's first write, so a refusal (OOM on a noeviction Redis, a wrong key
# type) leaves nothing behind, and the SET after it cannot fail: a marker never exists
# without its entry. Scripts are atomic, so no other client sees one without the other.
# KEYS[3] (optional): the ingest stream whose entry ARGV[3] of group ARGV[4] is acknowledged
# last (XACK is not refused on OOM); the script is replicated and written to the AOF as one
# unit, so a restarted Redis holds the entry, its marker and the ack, or none of them.
# KEYS[4] (optional): the marker of the entry's other outcome; set, it makes this a no-op.
_ADD_ONCE = """
local first = 3
if #KEYS >= 3 then
  first = 5
  local done = redis.call('EXISTS', KEYS[2]) == 1
  if #KEYS == 4 and redis.call('EXISTS', KEYS[4]) == 1 then done = true end
  if done then
    redis.call('XACK', KEYS[3], ARGV[4], ARGV[3])
    return false
  end
elseif redis.call('EXISTS', KEYS[2]) == 1 then return false end
local args = {'XADD', KEYS[1]}
if tonumber(ARGV[2]) > 0 then
  args[#args + 1] = 'MAXLEN'
  args[#args + 1] = '~'
  args[#args + 1] = ARGV[2]
end
args[#args + 1] = '*'
for i = first, #ARGV do args[#args + 1] = ARGV[i] end
local id = redis.call(unpack(args))
redis.call('SET', KEYS[2], id, 'EX', ARGV[1])
if #KEYS >= 3 then redis.call('XACK', KEYS[3], ARGV[4], ARGV[3]) end
return id
"""


def _s(value: Any) -> str | None:
    if value is None:
        return None
    return value.decode() if isinstance(value, bytes) else str(value)


class RedisStreams:
    """``XADD`` to a real Redis, each stream trimmed to its approximate ``MAXLEN``.

    ``maxlen`` maps stream names to their limit (0 or absent: never trimmed). ``~``
    lets Redis drop whole macro nodes only, so trimming costs next to nothing per write
    and a stream holds at most one node (about 100 entries) over its limit.
    """

    def __init__(self, client: Any, *, maxlen: Mapping[str, int] | None = None) -> None:
        self.client = client
        self.maxlen = dict(maxlen or {})
        self._add_once: Any = None

    def add(self, stream: str, fields: dict[str, str]) -> str:
        limit = self.maxlen.get(stream, 0)
        entry_id = self.client.xadd(stream, fields, maxlen=limit or None, approximate=True)
        return _s(entry_id) or ""

    def add_once(
        self,
        stream: str,
        fields: dict[str, str],
        *,
        marker: str,
        ttl_s: int,
        ack: Ack | None = None,
    ) -> str | None:
        if self._add_once is None:
            self._add_once = self.client.register_script(_ADD_ONCE)
        keys = [stream, marker]
        args: list[Any] = [ttl_s, self.maxlen.get(stream, 0)]
        if ack is not None:
            keys.append(ack.stream)
            args += [ack.entry, ack.group]
            if ack.other:
                keys.append(ack.other)
        for name, value in fields.items():
            args += [name, value]
        return _s(self._add_once(keys=keys, args=args))


class MemoryStreams:
    """An in-memory stand-in: ``entries[stream]`` is the list of appended field dicts.

    Markers of ``add_once`` never expire; ``acked`` lists the acknowledged entries.
    """

    def __init__(self) -> None:
        self.entries: dict[str, list[dict[str, str]]] = defaultdict(list)
        self.markers: dict[str, str] = {}
        self.acked: list[Ack] = []

    def add(self, stream: str, fields: dict[str, str]) -> str:
        self.entries[stream].append(dict(fields))
        return f"0-{len(self.entries[stream])}"

    def add_once(
        self,
        stream: str,
        fields: dict[str, str],
        *,
        marker: str,
        ttl_s: int,
        ack: Ack | None = None,
    ) -> str | None:
        if ack is not None and ack not in self.acked:
            self.acked.append(ack)
        if marker in self.markers or (ack is not None and ack.other in self.markers):
            return None
        self.markers[marker] = self.add(stream, fields)
        return self.markers[marker]
