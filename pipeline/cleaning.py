"""Turn HTML or crawler plain text into normalised article text.

FIRST VERSION (placeholder to be deepened): trafilatura for HTML, whitespace
normalisation for text.
"""

from __future__ import annotations

import unicodedata

from pipeline.errors import ContentError
from pipeline.models import Article, Cleaned

__all__ = ["clean"]


def clean(article: Article, *, max_bytes: int = 5_000_000) -> Cleaned:
    """Return the cleaned text and metadata of ``article``; raise ``ContentError`` if impossible."""
    body = article.html if article.html is not None else article.text
    if body is None or not body.strip():
        raise ContentError("article has an empty body", reason="empty_body")
    if len(body.encode("utf-8", "surrogatepass")) > max_bytes:
        raise ContentError(f"body is over the {max_bytes}-byte cap", reason="body_too_large")
    if article.html is not None:
        import trafilatura

        text = trafilatura.extract(article.html) or ""
        kind = "html"
    else:
        text = body
        kind = "text"
    text = unicodedata.normalize("NFC", text).strip()
    if not text:
        raise ContentError("no article text could be extracted", reason="empty_extraction")
    return Cleaned(text=text, content_type=kind)
