"""Turn HTML, crawler plain text or a lone title into normalised article text and metadata.

Stages of ``clean``:

1. guard the input: empty body, over the byte cap, binary bytes (``ContentError``); an
   item with no body but a title is a headline or flash: its title is the text;
2. HTML: parse once (too-deep nesting is refused), read metadata, extract the body
   with trafilatura's fast mode plus news post-filters (``html``). When that finds
   nothing, the page's own structured body stands in, in this order: JSON-LD
   ``articleBody``, the crawler's ``text``, ``og:description`` / ``description`` (a
   lead), the crawler's ``title``; ``text_source`` says which;
   plain text: drop crawler junk lines, a repeated title, section labels, but never an
   item's only content (``plain``);
3. normalise (mojibake repair, NFC, whitespace, blank-line paragraphs) and flag
   bodies that stop on an ellipsis as ``truncated``; say what the item was
   (``content_type``: html, text, short, headline).

Every refusal is a ``ContentError`` whose ``reason`` is one of ``REASONS``.
"""

from __future__ import annotations

import re

from pipeline.cleaning.html import decode_html, extract_blocks, markup_to_text, parse_html
from pipeline.cleaning.meta import PageMeta, read_metadata
from pipeline.cleaning.plain import clean_lines
from pipeline.cleaning.rules import looks_truncated, strip_truncation_marker
from pipeline.errors import ContentError
from pipeline.models import Article, Cleaned, ContentType, TextSource
from pipeline.text import has_visible, normalize_line, normalize_text, split_paragraphs

__all__ = ["REASONS", "SHORT_MAX_CHARS", "clean", "decode_html"]

REASONS = (
    "empty_body",
    "body_too_large",
    "not_html",
    "deeply_nested",
    "empty_extraction",
    "extraction_failed",
)

# A plain text up to this long is ``short``: a flash, a post (280 characters), a feed summary.
SHORT_MAX_CHARS = 400

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
    is_html = has_visible(article.html)
    body = article.html if is_html else article.text
    if not has_visible(body):
        if has_visible(article.title):
            return _headline(article.title)
        raise ContentError("article has an empty body", reason="empty_body")
    _check_size(body, max_bytes)
    _check_not_binary(body)
    if is_html and _TAG.search(body[:65536]):
        return _clean_html(article, body, max_bytes)
    return _clean_text(article, body)


def _finish(paragraphs: list[str]) -> tuple[str, bool]:
    text = normalize_text("\n\n".join(paragraphs))
    text, marked = strip_truncation_marker(text)
    if not text:
        raise ContentError("no article text could be extracted", reason="empty_extraction")
    return text, marked or looks_truncated(text)


def _one_line(text: str) -> str:
    return " ".join(normalize_text(text).split())


def _headline(title: str) -> Cleaned:
    """Return a title-only item: the title, normalised to one line, is also its text."""
    line = _one_line(title)
    if not line:
        raise ContentError("article has an empty body", reason="empty_body")
    return Cleaned(
        text=line,
        title=line,
        truncated=looks_truncated(line),
        content_type="headline",
        text_source="title",
    )


def _clean_html(article: Article, html: str, max_bytes: int) -> Cleaned:
    tree = parse_html(html)
    meta = read_metadata(tree, article.url)
    title = article.title or meta.title
    try:
        blocks = extract_blocks(tree, article.url, title=title)
    except ContentError as err:
        if err.reason != "extraction_failed":
            raise
        blocks = []  # trafilatura crashed on this page: what the page declares may still do
    paragraphs: list[str] = []
    previous_group = -1
    for block in blocks:
        # items of one list or rows of one table stay together as lines of one paragraph
        if paragraphs and block.kind in {"item", "cell"} and previous_group == block.group:
            paragraphs[-1] += "\n" + block.text
        else:
            paragraphs.append(block.text)
        previous_group = block.group
    try:
        text, truncated = _finish(paragraphs)
        body = Cleaned(text=text, truncated=truncated, content_type="html", text_source="html")
    except ContentError:
        body = _page_fallback(article, meta, max_bytes)
    return body.model_copy(
        update={
            "title": normalize_line(title) if title else None,
            "authors": meta.authors,
            "published_at": meta.published_at,
            "site_name": meta.site_name,
            "canonical_url": meta.canonical_url,
            "declared_language": meta.declared_language,
        }
    )


def _page_fallback(article: Article, meta: PageMeta, max_bytes: int) -> Cleaned:
    """Return the text of a page whose body extraction found nothing, saying where it came from.

    Why this order: JSON-LD ``articleBody`` is the publisher's own full body (pages that
    render it with scripts carry nothing else), the crawler's text is its own extraction,
    a description is only the lead, and the crawler's title is the headline. The page's
    own ``<title>`` alone is not enough: an empty app shell or an error page has one too.
    ``content_type`` stays ``html`` for what the page itself declares; the crawler's text
    or title is typed like any other crawler text.
    """
    candidates: list[tuple[TextSource, str | None]] = [
        ("json_ld", markup_to_text(meta.body) if meta.body else None),
        ("text", article.text),
        ("description", markup_to_text(meta.description) if meta.description else None),
    ]
    for source, candidate in candidates:
        if not has_visible(candidate):
            continue
        _check_size(candidate, max_bytes)
        _check_not_binary(candidate)
        try:
            cleaned = _clean_text(article, candidate)
        except ContentError:
            continue
        if source == "text":
            return cleaned
        return cleaned.model_copy(update={"content_type": "html", "text_source": source})
    if has_visible(article.title):
        return _headline(article.title)
    raise ContentError("no article text could be extracted", reason="empty_extraction")


def _clean_text(article: Article, text: str) -> Cleaned:
    normalised, marked = strip_truncation_marker(normalize_text(text))
    result = clean_lines(split_paragraphs(normalised), title=article.title)
    body, truncated = _finish(["\n".join(lines) for lines in result.paragraphs])
    title = article.title or result.title
    return Cleaned(
        text=body,
        title=normalize_line(title) if title else None,
        truncated=truncated or marked,
        content_type=_content_type(body, title),
        text_source="text",
    )


def _content_type(text: str, title: str | None) -> ContentType:
    """Return ``headline`` for a text that is only its title, ``short`` or ``text`` by length."""
    if title and text == _one_line(title):
        return "headline"
    return "short" if len(text) <= SHORT_MAX_CHARS else "text"
