"""Read articles to push from a JSONL file, a feed, a directory of documents, or stdin.

Why separate: ``wirewatch push``, ``wirewatch process``, the demo and the pipeline
benchmark read the same inputs. Each yields ``(label, raw payload)`` so the caller
validates and reports by line, item or file name; a part of the input that could not be
read at all comes as an ``Unreadable`` (reason, detail, how many items it cost), to be
counted as rejected. ``.html``/``.htm``/``.txt`` files become one article each (URL from
the page's canonical link or ``og:url`` when present, else the file's URI); RSS and Atom
feeds (``.xml``/``.rss``/``.atom``/``.rdf``, or any single file or stdin that opens like
one) one article per item (``feeds``); ``.jsonl``/``.ndjson`` files (and any other single
file) hold one article per line.
"""

from __future__ import annotations

import contextlib
import json
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from workers.ingest.feeds import (
    FEED_SUFFIXES,
    MAX_FEED_BYTES,
    Unreadable,
    count_items,
    feed_payloads,
    looks_like_feed,
)

__all__ = [
    "DOCUMENT_SUFFIXES",
    "Payload",
    "Unreadable",
    "count_payloads",
    "file_payload",
    "iter_payloads",
    "iter_stream",
]

Payload = bytes | str | Unreadable

DOCUMENT_SUFFIXES = (".html", ".htm", ".txt")
_LINES_SUFFIXES = (".jsonl", ".ndjson")
_CANONICAL = re.compile(
    r"""<(?:link[^>]+rel=["']canonical["'][^>]+href|meta[^>]+property=["']og:url["'][^>]+content)"""
    r"""=["']([^"']+)["']""",
    re.I,
)


def file_payload(path: Path) -> str:
    """Return the ingest payload (JSON) for one ``.html``/``.txt`` document."""
    text = path.read_bytes().decode("utf-8", "replace")
    article: dict[str, Any] = {}
    if path.suffix.lower() in (".html", ".htm"):
        found = _CANONICAL.search(text[:200_000])
        url = found.group(1) if found and "://" in found.group(1) else ""
        article["url"] = url or path.resolve().as_uri()
        article["html"] = text
    else:
        article["url"] = path.resolve().as_uri()
        article["text"] = text
    return json.dumps(article, ensure_ascii=False)


def _lines(path: Path) -> Iterator[tuple[str, bytes]]:
    with path.open("rb") as fh:
        for n, line in enumerate(fh, 1):
            if line.strip():
                yield f"{path.name}:{n}", line.rstrip(b"\r\n")


def _feed_file(path: Path) -> Iterator[tuple[str, Payload]]:
    if path.stat().st_size > MAX_FEED_BYTES:
        yield path.name, Unreadable("feed_too_large", f"{path.name}: over {MAX_FEED_BYTES} bytes")
        return
    yield from feed_payloads(path.read_bytes(), path.name)


def _is_feed_file(path: Path) -> bool:
    """Return True for a feed by its suffix, or a file of another suffix that opens like one."""
    suffix = path.suffix.lower()
    if suffix in FEED_SUFFIXES:
        return True
    if suffix in DOCUMENT_SUFFIXES or suffix in _LINES_SUFFIXES:
        return False
    with path.open("rb") as fh:
        return looks_like_feed(fh.read(4096))


def iter_stream(stream: IO[bytes], name: str) -> Iterator[tuple[str, Payload]]:
    """Yield the payloads of a byte stream: a feed when it opens like one, else JSONL lines.

    JSONL lines are labelled ``line N`` (N counts every line, blank ones too), feed items
    ``NAME item N``.
    """
    lines = enumerate(stream, 1)
    number, first = next(((n, line) for n, line in lines if line.strip()), (0, b""))
    if not first:
        return
    if first.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"<"):  # XML: a JSON line opens with {
        data = first + stream.read(MAX_FEED_BYTES + 1 - len(first))
        yield from feed_payloads(data, name)
        return
    yield f"line {number}", first.rstrip(b"\r\n")
    for n, line in lines:
        if line.strip():
            yield f"line {n}", line.rstrip(b"\r\n")


def iter_payloads(source: str, *, stdin: IO[bytes] | None = None) -> Iterator[tuple[str, Payload]]:
    """Yield ``(label, raw payload)``; ``source`` is a file, a directory, or ``-`` for stdin.

    Raises ``FileNotFoundError`` when ``source`` does not exist.
    """
    if source == "-":
        yield from iter_stream(stdin or sys.stdin.buffer, "stdin")
        return
    path = Path(source)
    if not path.exists():
        raise FileNotFoundError(f"{source}: no such file or directory")
    if path.is_dir():
        for file in sorted(p for p in path.rglob("*") if p.is_file()):
            if file.suffix.lower() in DOCUMENT_SUFFIXES:
                yield file.name, file_payload(file)
            elif file.suffix.lower() in _LINES_SUFFIXES:
                yield from _lines(file)
            elif file.suffix.lower() in FEED_SUFFIXES:
                yield from _feed_file(file)
        return
    if path.suffix.lower() in DOCUMENT_SUFFIXES:
        yield path.name, file_payload(path)
        return
    if _is_feed_file(path):
        yield from _feed_file(path)
        return
    yield from _lines(path)


def count_payloads(source: str) -> int | None:
    """Return how many payloads ``source`` holds (for a progress bar); None for stdin."""
    if source == "-":
        return None
    path = Path(source)
    if not path.exists():
        return 0
    is_dir = path.is_dir()
    files = sorted(p for p in path.rglob("*") if p.is_file()) if is_dir else [path]
    total = 0
    for file in files:
        suffix = file.suffix.lower()
        if suffix in DOCUMENT_SUFFIXES:
            total += 1
        elif suffix in FEED_SUFFIXES or (not is_dir and _is_feed_file(file)):
            with contextlib.suppress(OSError):
                total += count_items(file.read_bytes()[:MAX_FEED_BYTES])
        elif suffix in _LINES_SUFFIXES or not is_dir:
            with contextlib.suppress(OSError), file.open("rb") as fh:
                total += sum(1 for line in fh if line.strip())
    return total
