"""The Python push client: put articles on the ingest stream.

Any language can push with one ``XADD wirewatch:ingest * article '{json}'``; this is
the same thing for Python crawlers, with validation first so a bad article is
refused at the source with a readable reason instead of landing in the dead-letter
stream.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from pipeline.models import Article
from workers.ingest.validation import parse_article
from workers.keys import Keys

__all__ = ["push", "push_many", "to_payload"]

DEFAULT_MAX_BODY_BYTES = 5_000_000


def to_payload(
    article: Article | Mapping[str, Any], *, max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
) -> str:
    """Return the JSON payload for ``article``; raise ``InvalidArticle``/``ContentError`` if bad."""
    if isinstance(article, Article):
        payload = article.model_dump_json(exclude_none=True)
    else:
        payload = json.dumps(dict(article), ensure_ascii=False, default=str)
    parse_article(payload, max_body_bytes=max_body_bytes)
    return payload


def push(
    client: Any,
    article: Article | Mapping[str, Any],
    *,
    keys: Keys | None = None,
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
) -> str:
    """Validate ``article`` and append it to the ingest stream; return the stream entry id."""
    keys = keys or Keys()
    entry_id = client.xadd(
        keys.ingest, {"article": to_payload(article, max_body_bytes=max_body_bytes)}
    )
    return entry_id.decode() if isinstance(entry_id, bytes) else str(entry_id)


def push_many(client: Any, payloads: Iterable[str], *, keys: Keys | None = None) -> list[str]:
    """Append already-validated payloads in one round trip; return the entry ids."""
    keys = keys or Keys()
    pipe = client.pipeline(transaction=False)
    for payload in payloads:
        pipe.xadd(keys.ingest, {"article": payload})
    return [i.decode() if isinstance(i, bytes) else str(i) for i in pipe.execute()]
