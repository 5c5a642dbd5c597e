"""Turn HTML or crawler plain text into normalised article text and metadata.

Stages of ``clean``:

1. guard the input: empty body, over the byte cap, binary bytes (``ContentError``);
2. HTML: parse once (too-deep nesting is refused), read metadata, extract the body
   with trafilatura's fast mode plus news post-filters (``html``);
   plain text: drop crawler junk lines, a repeated title, section labels
   (``plain``);
3. normalise (mojibake repair, NFC, whitespace, blank-line paragraphs) and flag
   bodies that stop on an ellipsis as ``truncated``.

Every refusal is a ``ContentError`` whose ``reason`` is one of ``REASONS``.
"""

from __future__ import annotations

import re

from pipeline.cleaning.html import decode_html, extract_blocks, parse_html
from pipeline.cleaning.meta import read_metadata
from pipeline.cleaning.plain import clean_lines
from pipeline.cleaning.rules import looks_truncated, strip_truncation_marker
from pipeline.errors import ContentError
from pipeline.models import Article, Cleaned
from pipeline.text import normalize_line, normalize_text, split_paragraphs

__all__ = ["REASONS", "clean", "decode_html"]

REASONS = (
    "empty_body",
    "body_too_large",
    "not_html",
    "deeply_nested",
    "empty_extraction",
    "extraction_failed",
)

_TAG = re.compile(r"<\s*[A-Za-z!/]")
_CONTROL = re.compile("[\x00-\x08\x0e-\x1f]")


def _check_size(body: str, max_bytes: int) -> None:
    # Cheap bounds first: a str of n code points encodes to between n and 4n UTF-8 bytes.
    if len(body) > max_bytes or (
        len(body) * 4 > max_bytes and len(body.encode("utf-8", "surrogatepass")) > max_bytes
    ):
        raise ContentError(f"body is over the {max_bytes}-byte cap", reason="body_too_large")


def _check_not_binary(body: str) -> None:
    sample = body[:4096]
    controls = len(_CONTROL.findall(sample))
    if "\x00" in sample or controls > len(sample) // 100 + 1:
        raise ContentError("body holds binary data, not text or HTML", reason="not_html")


def clean(article: Article, *, max_bytes: int = 5_000_000) -> Cleaned:
    """Return the cleaned text and metadata of ``article``; raise ``ContentError`` if impossible."""
    is_html = article.html is not None and bool(article.html.strip())
    body = article.html if is_html else article.text
    if body is None or not body.strip():
        raise ContentError("article has an empty body", reason="empty_body")
    _check_size(body, max_bytes)
    _check_not_binary(body)
    if is_html and _TAG.search(body[:65536]):
        try:
            return _clean_html(article, body)
        except ContentError as err:
            # a page we cannot read may still come with the crawler's own text
            if err.reason != "empty_extraction" or not (article.text and article.text.strip()):
                raise
            _check_size(article.text, max_bytes)
            _check_not_binary(article.text)
            return _clean_text(article, article.text)
    return _clean_text(article, body)


def _finish(paragraphs: list[str]) -> tuple[str, bool]:
    text = normalize_text("\n\n".join(paragraphs))
    text, marked = strip_truncation_marker(text)
    if not text:
        raise ContentError("no article text could be extracted", reason="empty_extraction")
    return text, marked or looks_truncated(text)


def _clean_html(article: Article, html: str) -> Cleaned:
    tree = parse_html(html)
    meta = read_metadata(tree, article.url)
    blocks = extract_blocks(tree, article.url, title=article.title or meta.title)
    paragraphs: list[str] = []
    previous_group = -1
    for block in blocks:
        # items of one list or rows of one table stay together as lines of one paragraph
        if paragraphs and block.kind in {"item", "cell"} and previous_group == block.group:
            paragraphs[-1] += "\n" + block.text
        else:
            paragraphs.append(block.text)
        previous_group = block.group
    text, truncated = _finish(paragraphs)
    title = article.title or meta.title
    return Cleaned(
        text=text,
        title=normalize_line(title) if title else None,
        authors=meta.authors,
        published_at=meta.published_at,
        site_name=meta.site_name,
        canonical_url=meta.canonical_url,
        declared_language=meta.declared_language,
        truncated=truncated,
        content_type="html",
    )


def _clean_text(article: Article, text: str) -> Cleaned:
    normalised, marked = strip_truncation_marker(normalize_text(text))
    result = clean_lines(split_paragraphs(normalised), title=article.title)
    body, truncated = _finish(["\n".join(lines) for lines in result.paragraphs])
    title = article.title or result.title
    return Cleaned(
        text=body,
        title=normalize_line(title) if title else None,
        truncated=truncated or marked,
        content_type="text",
    )
