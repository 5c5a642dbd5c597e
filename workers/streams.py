"""The stream-append seam: Redis streams for real, an in-memory stand-in for unit tests.

Why a seam: emitters, the dead-letter writer and the ingest validator only ever
*append* to a stream; unit tests of that logic use ``MemoryStreams`` while
integration tests use ``RedisStreams`` against a real server.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any, Protocol

__all__ = ["MemoryStreams", "RedisStreams", "Streams"]


class Streams(Protocol):
    """Append one entry of string fields to a stream; return the entry id."""

    def add(self, stream: str, fields: dict[str, str]) -> str: ...


class RedisStreams:
    """``XADD`` to a real Redis (optionally trimmed with an approximate ``MAXLEN``)."""

    def __init__(self, client: Any, *, maxlen: int | None = None) -> None:
        self.client = client
        self.maxlen = maxlen

    def add(self, stream: str, fields: dict[str, str]) -> str:
        entry_id = self.client.xadd(stream, fields, maxlen=self.maxlen, approximate=True)
        return entry_id.decode() if isinstance(entry_id, bytes) else str(entry_id)


class MemoryStreams:
    """An in-memory stand-in: ``entries[stream]`` is the list of appended field dicts."""

    def __init__(self) -> None:
        self.entries: dict[str, list[dict[str, str]]] = defaultdict(list)

    def add(self, stream: str, fields: dict[str, str]) -> str:
        self.entries[stream].append(dict(fields))
        return f"0-{len(self.entries[stream])}"
