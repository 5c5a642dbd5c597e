"""Read RSS and Atom feeds into ingest payloads: one article per item.

Why feedparser: feeds in the wild are RSS 0.9x/1.0/2.0 and Atom 0.3/1.0, in any charset,
often not well-formed; feedparser reads all of them, falls back to a lenient parser when
the XML is broken, resolves entities without fetching anything (no external entities, and
expat bounds entity expansion) and sanitises embedded HTML. It is only ever handed bytes
in a stream, never a string, which it would take for a URL or a file name to open.

An item becomes ``{url, title, text, published_at, language, metadata}``: the link as the
URL (made absolute against the feed's own link), the title, the longer of the item's
content and summary as plain text (markup dropped, one line per block), the published or
updated date, the item's or the feed's declared language as the hint, and the feed's title
and the item's id under ``metadata``. Every payload then goes through the same validation
as JSONL, so an item without a link or without anything to read is refused with the usual
reason.

A feed that is not well-formed is still read as far as the lenient parser gets: the parse
error is reported with the file name and line (``malformed_feed``), and items that the
file opens but that could not be read (counted from the ``<item>``/``<entry>`` tags) are
counted as rejected under the same reason. A file that is no feed at all is
``not_a_feed``; one over ``MAX_FEED_BYTES`` is ``feed_too_large``. Nothing is skipped
silently.
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urljoin

from pipeline.cleaning.html import markup_to_text

__all__ = [
    "FEED_SUFFIXES",
    "MAX_FEED_BYTES",
    "Unreadable",
    "count_items",
    "feed_payloads",
    "looks_like_feed",
]

FEED_SUFFIXES = (".xml", ".rss", ".atom", ".rdf")
MAX_FEED_BYTES = 64 * 1024 * 1024  # far above any real feed; bounds memory per file
_SNIFF_BYTES = 4096
_ROOT = re.compile(rb"<(?:[\w.-]+:)?(?:rss|feed|RDF)[\s>/]")
_ITEM = re.compile(rb"<(?:[\w.-]+:)?(?:item|entry)[\s>/]")
_HTML_TYPES = ("text/html", "application/xhtml+xml")
_MAX_METADATA_CHARS = 512


@dataclass(frozen=True)
class Unreadable:
    """Part of an input that could not be read into payloads, counted as ``count`` rejected.

    ``count`` is 0 when the problem cost no item (a parse error the lenient parser got past):
    it is still reported.
    """

    reason: str
    detail: str
    count: int = 1


def looks_like_feed(head: bytes) -> bool:
    """Return True when the first bytes of a document open an RSS, Atom or RDF feed."""
    return bool(_ROOT.search(head[:_SNIFF_BYTES]))


def count_items(data: bytes) -> int:
    """Return how many items a feed document opens (``<item>`` / ``<entry>`` tags)."""
    return len(_ITEM.findall(data))


def feed_payloads(data: bytes, name: str) -> Iterator[tuple[str, str | Unreadable]]:
    """Yield ``(label, payload JSON)`` per item of the feed in ``data``, and what was unreadable.

    ``name`` (the file name, or ``-``) labels every item (``name item N``) and error.
    """
    if len(data) > MAX_FEED_BYTES:
        yield name, Unreadable("feed_too_large", f"{name}: over {MAX_FEED_BYTES} bytes")
        return
    import feedparser

    parsed = feedparser.parse(io.BytesIO(data), sanitize_html=True, resolve_relative_uris=True)
    error = _parse_error(parsed, name)
    feed = parsed.get("feed") or {}
    entries = list(parsed.get("entries") or [])
    if not entries and not parsed.get("version"):
        detail = error or f"{name}: no RSS or Atom feed found"
        yield name, Unreadable("not_a_feed", detail, max(1, count_items(data)))
        return
    for n, entry in enumerate(entries, 1):
        yield f"{name} item {n}", json.dumps(_article(entry, feed), ensure_ascii=False)
    if error is not None:
        unread = max(0, count_items(data) - len(entries))
        yield name, Unreadable("malformed_feed", error, unread)


def _parse_error(parsed: Any, name: str) -> str | None:
    """Return ``name:line: message`` for a feed that is not well-formed, else None.

    feedparser also flags harmless things (a charset declared one way and read another);
    only a real parse error is reported.
    """
    import feedparser

    exc = parsed.get("bozo_exception") if parsed.get("bozo") else None
    if exc is None or isinstance(
        exc, feedparser.CharacterEncodingOverride | feedparser.NonXMLContentType
    ):
        return None
    line = exc.getLineNumber() if hasattr(exc, "getLineNumber") else None
    message = exc.getMessage() if hasattr(exc, "getMessage") else str(exc)
    where = f"{name}:{line}" if line else name
    return f"{where}: {message}"


def _text(detail: Any, value: Any) -> str | None:
    """Return a feed text construct as plain text (markup dropped when it is HTML)."""
    if not isinstance(value, str) or not value.strip():
        return None
    kind = detail.get("type", "") if isinstance(detail, dict) else ""
    return markup_to_text(value) if kind in _HTML_TYPES else value


def _body(entry: Any) -> str | None:
    """Return the longer of the item's content and summary, as text."""
    candidates = [
        _text(c, c.get("value")) for c in entry.get("content") or [] if isinstance(c, dict)
    ]
    candidates.append(_text(entry.get("summary_detail"), entry.get("summary")))
    found = [c for c in candidates if c and c.strip()]
    return max(found, key=len) if found else None


def _date(entry: Any) -> str | None:
    for key in ("published_parsed", "updated_parsed", "created_parsed"):
        value = entry.get(key)
        if value:
            try:
                year, month, day, hour, minute, second = value[:6]
                return datetime(year, month, day, hour, minute, second, tzinfo=UTC).isoformat()
            except (TypeError, ValueError):
                continue
    return None


def _language(entry: Any, feed: Any) -> str | None:
    for detail in (entry.get("title_detail"), entry.get("summary_detail")):
        if isinstance(detail, dict) and detail.get("language"):
            return str(detail["language"])
    value = feed.get("language")
    return str(value) if value else None


def _article(entry: Any, feed: Any) -> dict[str, Any]:
    """Return the ingest article of one feed item (validated later, like any payload)."""
    article: dict[str, Any] = {}
    link = entry.get("link")
    if isinstance(link, str) and link.strip():
        base = feed.get("link")
        article["url"] = urljoin(base, link.strip()) if isinstance(base, str) else link.strip()
    title = _text(entry.get("title_detail"), entry.get("title"))
    if title:
        article["title"] = " ".join(title.split())
    body = _body(entry)
    if body:
        article["text"] = body
    published = _date(entry)
    if published:
        article["published_at"] = published
    lang = _language(entry, feed)
    if lang:
        article["language"] = lang[:35]
    metadata = {}
    if isinstance(feed.get("title"), str) and feed["title"].strip():
        metadata["feed"] = feed["title"].strip()[:_MAX_METADATA_CHARS]
    if isinstance(entry.get("id"), str) and entry["id"].strip():
        metadata["guid"] = entry["id"].strip()[:_MAX_METADATA_CHARS]
    if metadata:
        article["metadata"] = metadata
    return article
