"""Pydantic models for every record that crosses a boundary.

Input from outside (``Article``) is frozen and forbids unknown fields; records we
produce (``EnrichedRecord``, ``Alert``, ``DeadLetter``) are the public contracts
described in the README and must not change meaning.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SerializerFunctionWrapHandler,
    field_validator,
    model_serializer,
)

__all__ = [
    "PIPELINE_VERSION",
    "Alert",
    "AlertArticle",
    "AlertRef",
    "Article",
    "Cleaned",
    "ContentType",
    "DeadLetter",
    "EnrichedRecord",
    "Entity",
    "EntityType",
    "Language",
    "Match",
    "Mention",
    "Span",
    "TextSource",
]

PIPELINE_VERSION = "0.1.0"

EntityType = Literal["PERSON", "ORG", "LOC", "MISC"]
# What kind of item an article was: a page (``html``), crawler text (``text``), a text of at
# most ``pipeline.cleaning.SHORT_MAX_CHARS`` (``short``: a flash, a post, a feed summary), or a
# title with no body beyond it (``headline``).
ContentType = Literal["html", "text", "short", "headline"]
# Where the record's text came from: the page's extracted body (``html``), the item's
# ``text``, the page's JSON-LD ``articleBody`` (``json_ld``), its ``og:description`` /
# ``description`` (``description``: a lead, not the whole story), or the item's ``title``.
TextSource = Literal["html", "text", "json_ld", "description", "title"]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Article(_Frozen):
    """One crawled article as pushed on the ingest stream (field ``article``).

    At least one of ``html``, ``text`` and ``title`` must show something
    (``workers.ingest.validation``): a title alone is a headline or a flash, and is then
    the text analysed.
    """

    url: str = Field(min_length=1, max_length=8192)
    id: str | None = Field(default=None, min_length=1, max_length=512)
    html: str | None = None
    text: str | None = None
    title: str | None = Field(default=None, max_length=4096)
    source: str | None = Field(default=None, max_length=512)
    published_at: datetime | None = None
    language: str | None = Field(default=None, max_length=35)
    metadata: dict[str, Any] = Field(default_factory=dict)

    @field_validator("url")
    @classmethod
    def _url_has_scheme(cls, value: str) -> str:
        if "://" not in value:
            raise ValueError("url must be absolute (scheme://host/...)")
        return value


class Cleaned(_Frozen):
    """What the cleaning stage extracted: the text every later stage reads, and metadata."""

    text: str
    title: str | None = None
    authors: list[str] = Field(default_factory=list)
    published_at: str | None = None
    site_name: str | None = None
    canonical_url: str | None = None
    declared_language: str | None = None
    truncated: bool = False
    content_type: ContentType = "text"
    text_source: TextSource = "text"


class Language(_Frozen):
    """Detected language: ISO 639-1 ``code`` or ``und``, ``confidence`` in 0..1."""

    code: str
    confidence: float = Field(ge=0.0, le=1.0)
    declared: str | None = None
    detected: str | None = None


class Mention(_Frozen):
    """A character span ``[start, end)`` into the record's ``text``.

    ``role`` is the title or function written next to the name (``Defense
    Minister``, ``Bundeskanzler``), never part of it; left out of JSON when absent.
    """

    start: int = Field(ge=0)
    end: int = Field(ge=0)
    text: str
    role: str | None = None

    @model_serializer(mode="wrap")
    def _drop_absent_role(self, handler: SerializerFunctionWrapHandler) -> Any:
        data = handler(self)
        if isinstance(data, dict) and data.get("role") is None:
            data.pop("role", None)
        return data


class Entity(_Frozen):
    """A person, organisation, place or other named thing mentioned in the article.

    ``uncertain`` is true when several knowledge-base entries share the name and
    nothing in the article decided between them (``id`` is then the first in the
    knowledge base's order); left out of JSON when false.
    """

    id: str
    name: str
    type: EntityType
    mentions: list[Mention] = Field(default_factory=list)
    salience: float = Field(default=0.0, ge=0.0, le=1.0)
    linked: bool = True
    uncertain: bool = False

    @model_serializer(mode="wrap")
    def _drop_certain(self, handler: SerializerFunctionWrapHandler) -> Any:
        data = handler(self)
        if isinstance(data, dict) and not data.get("uncertain"):
            data.pop("uncertain", None)
        return data


class AlertRef(_Frozen):
    watchlist_id: str
    alert_id: str


class Span(_Frozen):
    start: int
    end: int


class Match(_Frozen):
    """Why a watchlist fired: the term, phrase or entity, its spans in ``text``, a snippet."""

    term: str | None = None
    entity: str | None = None
    field: Literal["text", "title", "lang", "source"] = "text"
    spans: list[Span] = Field(default_factory=list)
    snippet: str = ""


class EnrichedRecord(_Frozen):
    """The public enriched record (stream ``wirewatch:enriched``, ``wirewatch process``)."""

    id: str
    url: str
    source: str | None = None
    title: str | None = None
    text: str
    language: Language
    entities: list[Entity] = Field(default_factory=list)
    content_type: ContentType = "text"
    text_source: TextSource = "text"
    story_id: str | None = None
    alerts: list[AlertRef] = Field(default_factory=list)
    pipeline_version: str = PIPELINE_VERSION
    published_at: str | None = None
    authors: list[str] = Field(default_factory=list)
    canonical_url: str | None = None
    site_name: str | None = None
    truncated: bool = False
    content_hash: str | None = None
    duplicate_of: str | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)
    processed_at: str | None = None


class AlertArticle(_Frozen):
    id: str
    url: str
    title: str | None = None
    source: str | None = None
    language: str | None = None
    published_at: str | None = None


class Alert(_Frozen):
    """One watchlist alert (stream ``wirewatch:alerts`` and the webhook body)."""

    type: Literal["alert"] = "alert"
    alert_id: str
    watchlist_id: str
    watchlist_name: str
    story_id: str | None = None
    article: AlertArticle
    matches: list[Match] = Field(default_factory=list)
    labels: list[str] = Field(default_factory=list)
    created_at: str


class DeadLetter(_Frozen):
    """One entry of the dead-letter stream (field ``entry``)."""

    reason: str
    detail: str
    stage: str
    attempts: int = 1
    payload: str
    at: str
    article_id: str | None = None
    batch_id: str | None = None
    # "base64" when the original bytes were not valid UTF-8 (replay restores them exactly).
    payload_encoding: Literal["utf-8", "base64"] = "utf-8"
