"""Read article metadata from a parsed page: title, authors, date, site, canonical URL, language,
and the body and lead the page declares (JSON-LD ``articleBody``, ``og:description``).

Publishers declare these in several overlapping places (OpenGraph, ``<meta>``
names, JSON-LD, ``<link rel=canonical>``, ``<html lang>``); we read them in a
fixed order of trust with a few XPath lookups instead of trafilatura's full
metadata pass (htmldate alone costs more than the whole body extraction).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import urljoin

from lxml.html import HtmlElement

from pipeline.text import normalize_line

__all__ = ["PageMeta", "read_metadata"]

_MAX_JSONLD_BYTES = 200_000
_LANG = re.compile(r"^\s*([A-Za-z]{2,3})(?:[-_][A-Za-z0-9]{1,8})*\s*$")
_TITLE_SEPARATORS = re.compile(r"\s+[|–—·•:»-]\s+")
_AUTHOR_SPLIT = re.compile(r"\s*(?:,|;|\band\b|&|\bund\b|\bet\b|\by\b)\s*")
_BY_PREFIX = re.compile(r"^(?:by|von|par|por|di)\s+", re.IGNORECASE)


@dataclass
class PageMeta:
    """Metadata read from the page (every field optional)."""

    title: str | None = None
    authors: list[str] = field(default_factory=list)
    published_at: str | None = None
    site_name: str | None = None
    canonical_url: str | None = None
    declared_language: str | None = None
    body: str | None = None  # JSON-LD articleBody: the fallback when extraction finds nothing
    description: str | None = None  # og:description / description: a lead, the last fallback


def _meta(tree: HtmlElement) -> dict[str, str]:
    """Collect ``<meta>`` contents keyed by lower-cased name/property/itemprop (first wins)."""
    found: dict[str, str] = {}
    for el in tree.iter("meta"):
        key = el.get("property") or el.get("name") or el.get("itemprop") or el.get("http-equiv")
        content = el.get("content")
        if key and content and content.strip():
            found.setdefault(key.strip().lower(), content.strip())
    return found


def _jsonld(tree: HtmlElement) -> list[dict[str, Any]]:
    """Return the JSON-LD objects of the page, flattened out of lists and ``@graph``."""
    objects: list[dict[str, Any]] = []
    for script in tree.iter("script"):
        if (script.get("type") or "").strip().lower() != "application/ld+json":
            continue
        raw = script.text or ""
        if not raw.strip() or len(raw) > _MAX_JSONLD_BYTES:
            continue
        try:
            data = json.loads(raw)
        except (ValueError, RecursionError):
            continue
        stack = [data]
        while stack and len(objects) < 50:
            item = stack.pop()
            if isinstance(item, list):
                stack.extend(item)
            elif isinstance(item, dict):
                objects.append(item)
                graph = item.get("@graph")
                if isinstance(graph, list):
                    stack.extend(graph)
    return objects


def _is_article(obj: dict[str, Any]) -> bool:
    kind = obj.get("@type")
    kinds = kind if isinstance(kind, list) else [kind]
    return any(
        isinstance(k, str) and ("Article" in k or k in {"BlogPosting", "Report"}) for k in kinds
    )


def _names(value: Any) -> list[str]:
    """Return person names from a JSON-LD author value (string, object or list)."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        name = value.get("name")
        return [name] if isinstance(name, str) else []
    if isinstance(value, list):
        return [n for item in value[:20] for n in _names(item)]
    return []


def _clean_authors(raw: list[str]) -> list[str]:
    authors: list[str] = []
    for entry in raw:
        if "://" in entry or "@" in entry:
            continue
        for part in _AUTHOR_SPLIT.split(_BY_PREFIX.sub("", normalize_line(entry))):
            part = part.strip(" .,-")
            if 2 <= len(part) <= 80 and part.casefold() not in {a.casefold() for a in authors}:
                authors.append(part)
    return authors[:10]


def _iso_date(value: str | None) -> str | None:
    """Return ``value`` as an ISO 8601 string when it parses, else the trimmed raw value."""
    if not value:
        return None
    value = value.strip()[:64]
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).isoformat()
    except ValueError:
        return value or None


def _language(tree: HtmlElement, meta: dict[str, str]) -> str | None:
    """Return the declared primary language subtag (``en`` for ``en-US``), lower-cased."""
    candidates = [
        tree.get("lang"),
        tree.get("{http://www.w3.org/XML/1998/namespace}lang"),
        tree.get("xml:lang"),
        meta.get("content-language"),
        meta.get("language"),
        meta.get("og:locale"),
        meta.get("dc.language"),
    ]
    for value in candidates:
        if value:
            match = _LANG.match(value.split(",")[0])
            if match:
                return match.group(1).lower()
    return None


def _title(
    tree: HtmlElement, meta: dict[str, str], site: str | None, headline: object
) -> str | None:
    for key in ("og:title", "twitter:title", "headline", "title", "dc.title"):
        if meta.get(key):
            return normalize_line(meta[key])
    for h1 in tree.iter("h1"):
        text = normalize_line(h1.text_content())
        if text:
            return text
    if isinstance(headline, str) and headline.strip():  # JSON-LD, on pages built by scripts
        return normalize_line(headline)
    title_el = tree.find(".//title")
    if title_el is not None and title_el.text:
        parts = _TITLE_SEPARATORS.split(normalize_line(title_el.text))
        parts = [p for p in parts if not site or p.casefold() != site.casefold()]
        return max(parts, key=len) if parts else None
    return None


def read_metadata(tree: HtmlElement, url: str) -> PageMeta:
    """Return what the page declares about itself; never raises on odd markup."""
    meta = _meta(tree)
    ld = _jsonld(tree)
    article_ld = next((obj for obj in ld if _is_article(obj)), {})

    site = meta.get("og:site_name") or meta.get("application-name")
    publisher = article_ld.get("publisher")
    if not site and isinstance(publisher, dict) and isinstance(publisher.get("name"), str):
        site = publisher["name"]

    raw_authors = [
        v
        for k in (
            "author",
            "article:author",
            "byl",
            "parsely-author",
            "dc.creator",
            "sailthru.author",
        )
        if (v := meta.get(k))
    ]
    raw_authors = _names(article_ld.get("author")) + raw_authors

    published = article_ld.get("datePublished")
    if not isinstance(published, str):
        published = next(
            (
                meta[k]
                for k in (
                    "article:published_time",
                    "og:published_time",
                    "datepublished",
                    "pubdate",
                    "publishdate",
                    "publish-date",
                    "parsely-pub-date",
                    "sailthru.date",
                    "dc.date",
                    "dcterms.date",
                    "date",
                )
                if meta.get(k)
            ),
            None,
        )
    if published is None:
        time_el = next((t for t in tree.iter("time") if t.get("datetime")), None)
        published = time_el.get("datetime") if time_el is not None else None

    canonical = None
    for link in tree.iter("link"):
        if "canonical" in (link.get("rel") or "").lower().split() and link.get("href"):
            canonical = link.get("href")
            break
    canonical = canonical or meta.get("og:url")
    if canonical:
        canonical = urljoin(url, canonical.strip())
        if not canonical.startswith(("http://", "https://")):
            canonical = None

    body = next(
        (
            obj["articleBody"]
            for obj in (article_ld, *ld)
            if isinstance(obj.get("articleBody"), str) and obj["articleBody"].strip()
        ),
        None,
    )
    description = next(
        (meta[k] for k in ("og:description", "description", "twitter:description") if meta.get(k)),
        None,
    )
    return PageMeta(
        title=_title(tree, meta, site, article_ld.get("headline")),
        authors=_clean_authors(raw_authors),
        published_at=_iso_date(published),
        site_name=normalize_line(site) if site else None,
        canonical_url=canonical,
        declared_language=_language(tree, meta),
        body=body,
        description=description,
    )
