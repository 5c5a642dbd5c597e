"""Validate one raw ingest payload into an ``Article``, or say exactly why not.

Why one function: the ingest service, ``wirewatch push``, ``wirewatch process`` and
the clean task all accept the same untrusted bytes; they must refuse the same
things with the same ``reason`` codes (which become dead-letter reasons).

Reasons: ``undecodable`` (not UTF-8), ``payload_too_large``, ``invalid_json``,
``invalid_article`` (not an object, missing/ill-typed fields), ``missing_body``
(none of ``html``, ``text`` and ``title`` shows anything: empty, whitespace, control or
zero-width characters only), ``body_too_large``. A title alone is valid: a headline or
flash, whose title is then the text analysed.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import ValidationError

from pipeline.errors import ContentError, InvalidArticle
from pipeline.models import Article
from pipeline.text import has_visible

__all__ = ["describe_validation_error", "parse_article"]

# JSON escaping can double a body (``\n``, ``\"``); beyond this a payload is refused unparsed.
_ENVELOPE_SLACK = 1_000_000


def describe_validation_error(exc: ValidationError, *, limit: int = 5) -> str:
    """Return a one-line summary of pydantic errors: ``url: Field required; ...``."""
    parts = []
    for err in exc.errors()[:limit]:
        loc = ".".join(str(p) for p in err.get("loc", ())) or "(root)"
        parts.append(f"{loc}: {err.get('msg', 'invalid')}")
    more = len(exc.errors()) - limit
    if more > 0:
        parts.append(f"and {more} more")
    return "; ".join(parts)


def parse_article(raw: bytes | str, *, max_body_bytes: int) -> Article:
    """Return the ``Article`` in ``raw``; raise ``InvalidArticle``/``ContentError`` with a reason."""
    if isinstance(raw, bytes):
        if len(raw) > 2 * max_body_bytes + _ENVELOPE_SLACK:
            raise ContentError(
                f"payload of {len(raw)} bytes is over the limit", reason="payload_too_large"
            )
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise InvalidArticle(
                f"payload is not valid UTF-8 (byte {exc.start})", reason="undecodable"
            ) from None
    else:
        text = raw
        if len(text) > 2 * max_body_bytes + _ENVELOPE_SLACK:
            raise ContentError(
                f"payload of {len(text)} characters is over the limit", reason="payload_too_large"
            )
    try:
        data: Any = json.loads(text)
    except (json.JSONDecodeError, RecursionError) as exc:
        detail = exc.msg if isinstance(exc, json.JSONDecodeError) else "nested too deeply"
        raise InvalidArticle(f"payload is not JSON: {detail}", reason="invalid_json") from None
    if not isinstance(data, dict):
        raise InvalidArticle(
            f"payload must be a JSON object, got {type(data).__name__}", reason="invalid_article"
        )
    try:  # "\ud800" escapes decode to lone surrogates that no later stage can encode
        json.dumps(data, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidArticle(
            "payload contains unpaired UTF-16 surrogates", reason="undecodable"
        ) from None
    try:
        article = Article.model_validate(data)
    except ValidationError as exc:
        raise InvalidArticle(describe_validation_error(exc), reason="invalid_article") from None
    body = article.html if has_visible(article.html) else article.text
    if not has_visible(body):
        if has_visible(article.title):
            return article  # a headline or flash: the title is the text
        raise InvalidArticle(
            "article needs a non-empty `html`, `text` or `title`", reason="missing_body"
        )
    size = len(body.encode("utf-8", "surrogatepass"))
    if size > max_body_bytes:
        raise ContentError(
            f"body of {size} bytes is over the {max_body_bytes}-byte limit", reason="body_too_large"
        )
    return article
