"""Read articles to push from a JSONL file, a directory of documents, or stdin.

Why separate: ``wirewatch push``, the demo and the pipeline benchmark read the same
inputs. Each yields ``(label, raw payload)`` so the caller validates and reports by
line or file name. ``.html``/``.htm``/``.txt`` files become one article each (URL from
the page's canonical link or ``og:url`` when present, else the file's URI);
``.jsonl``/``.ndjson`` files (and any other single file) hold one article per line.
"""

from __future__ import annotations

import contextlib
import json
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

__all__ = ["DOCUMENT_SUFFIXES", "count_payloads", "file_payload", "iter_payloads"]

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


def iter_payloads(
    source: str, *, stdin: IO[bytes] | None = None
) -> Iterator[tuple[str, bytes | str]]:
    """Yield ``(label, raw payload)``; ``source`` is a file, a directory, or ``-`` for stdin.

    Raises ``FileNotFoundError`` when ``source`` does not exist.
    """
    if source == "-":
        for n, line in enumerate(stdin or sys.stdin.buffer, 1):
            if line.strip():
                yield f"line {n}", line.rstrip(b"\r\n")
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
        return
    if path.suffix.lower() in DOCUMENT_SUFFIXES:
        yield path.name, file_payload(path)
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
        elif suffix in _LINES_SUFFIXES or not is_dir:
            with contextlib.suppress(OSError), file.open("rb") as fh:
                total += sum(1 for line in fh if line.strip())
    return total
