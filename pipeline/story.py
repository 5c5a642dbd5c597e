"""Exact and near-duplicate detection: fingerprints and story grouping.

FIRST VERSION (placeholder to be deepened).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from datetime import datetime
from urllib.parse import urlsplit

__all__ = ["Fingerprint", "MemoryStoryIndex", "domain_of", "fingerprint", "url_id"]


@dataclass(frozen=True)
class Fingerprint:
    """What the story index needs of one article."""

    content_hash: str
    url_key: str
    minhash: tuple[int, ...] = ()
    bands: tuple[str, ...] = ()


def domain_of(url: str) -> str | None:
    host = urlsplit(url).hostname
    if not host:
        return None
    return host[4:] if host.startswith("www.") else host


def canonical_url(url: str) -> str:
    parts = urlsplit(url.strip())
    host = (parts.hostname or "").lower()
    return f"{host}{parts.path.rstrip('/')}" + (f"?{parts.query}" if parts.query else "")


def url_id(url: str) -> str:
    """Derive a stable article id from a URL."""
    return "a_" + hashlib.sha256(canonical_url(url).encode()).hexdigest()[:24]


def fingerprint(text: str, *, title: str | None = None, url: str = "") -> Fingerprint:
    norm = re.sub(r"\W+", " ", text.casefold()).strip()
    return Fingerprint(
        content_hash=hashlib.sha256(norm.encode()).hexdigest()[:32],
        url_key=canonical_url(url) if url else "",
    )


@dataclass
class MemoryStoryIndex:
    """An in-process story index (``wirewatch process`` and unit tests)."""

    _by_hash: dict[str, tuple[str, str]] = field(default_factory=dict)

    def assign(self, record_id: str, fp: Fingerprint, at: datetime) -> tuple[str, str | None]:
        if fp.content_hash in self._by_hash:
            story_id, first = self._by_hash[fp.content_hash]
            return story_id, (first if first != record_id else None)
        story_id = "s_" + fp.content_hash[:20]
        self._by_hash[fp.content_hash] = (story_id, record_id)
        return story_id, None
