"""The one place that knows the stage order.

An article goes through, in order:

1. ``clean``     -- HTML, crawler text or a lone title -> normalised text and metadata
                    (``cleaning.clean``)
2. ``language``  -- ISO 639-1 code and confidence (``language.detect``)
3. ``entities``  -- people, organisations, places linked to knowledge-base ids (``entities.tag``)
4. ``story``     -- exact-duplicate, near-duplicate and same-event grouping into a ``story_id`` (``story``),
                    then unlinked names take the id their variants got earlier in the story or
                    the stream (``entities.registry``; needs the story, so it runs here)
5. ``match``     -- watchlist hits with explanations (``matching.Monitor.match``)

Each step takes and returns an ``EnrichedRecord``; ``enrich`` runs them all in-process
(``wirewatch process``), the Celery tasks in ``workers`` run one step each per micro-batch.

The title is read together with the text by every step after cleaning (language, entities,
story, matching), so a headline, a flash or a feed item with a one-line summary is analysed
as a whole. A title-only item's text *is* its title: the steps then read it once, not twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

from pipeline import cleaning, language, story
from pipeline.entities import KnowledgeBase, tag
from pipeline.entities.registry import NameRegistry, apply_registry
from pipeline.matching import Monitor, WatchlistHit
from pipeline.models import Article, EnrichedRecord, Language
from pipeline.story import Assignment, Fingerprint

__all__ = [
    "STAGES",
    "Enriched",
    "Options",
    "StoryIndex",
    "article_id",
    "enrich",
    "run_clean",
    "run_entities",
    "run_language",
    "run_match",
    "run_names",
    "run_story",
]

STAGES: tuple[str, ...] = ("clean", "language", "entities", "story", "match")


@dataclass(frozen=True)
class Options:
    """Plain options for the pure stages (workers build them from settings)."""

    max_body_bytes: int = 5_000_000


class StoryIndex(Protocol):
    """Assigns a ``story_id`` (and the id of an exact duplicate, if any) to a fingerprint."""

    def assign(self, record_id: str, fingerprint: Fingerprint, at: datetime) -> Assignment: ...


def article_id(article: Article) -> str:
    """Return the article's id: the given one unchanged, else derived from its canonical URL."""
    return article.id if article.id else story.url_id(article.url)


def run_clean(article: Article, options: Options = Options()) -> EnrichedRecord:
    cleaned = cleaning.clean(article, max_bytes=options.max_body_bytes)
    # A title that became the text is kept exactly as the text, so the two compare equal.
    title = cleaned.title if cleaned.text_source == "title" else article.title or cleaned.title
    return EnrichedRecord(
        id=article_id(article),
        url=article.url,
        source=article.source or story.domain_of(article.url),
        title=title,
        text=cleaned.text,
        content_type=cleaned.content_type,
        text_source=cleaned.text_source,
        language=Language(
            code="und", confidence=0.0, declared=article.language or cleaned.declared_language
        ),
        published_at=article.published_at.isoformat()
        if article.published_at
        else cleaned.published_at,
        authors=cleaned.authors,
        canonical_url=cleaned.canonical_url,
        site_name=cleaned.site_name,
        truncated=cleaned.truncated,
        metadata=article.metadata,
    )


def _separate_title(record: EnrichedRecord) -> str | None:
    """Return the record's title when it adds to the text; None when the text already opens with it.

    Why: a headline's text is its title, and a flash's text often repeats it; read twice,
    a two-word headline would look like four words to the language detector and give its
    names a second, spanless mention.
    """
    title = record.title
    if not title or record.text.startswith(title):
        return None
    return title


def run_language(record: EnrichedRecord) -> EnrichedRecord:
    result = language.detect(
        record.text, title=_separate_title(record), declared=record.language.declared
    )
    return record.model_copy(update={"language": result})


def run_entities(record: EnrichedRecord, kb: KnowledgeBase) -> EnrichedRecord:
    entities = tag(record.text, title=_separate_title(record), kb=kb, language=record.language.code)
    return record.model_copy(update={"entities": entities})


def run_story(
    record: EnrichedRecord, index: StoryIndex, at: datetime | None = None
) -> EnrichedRecord:
    fp = story.fingerprint(
        record.text,
        title=record.title,
        url=record.canonical_url or record.url,
        entities=record.entities,
        language=record.language.code,
    )
    assignment = index.assign(record.id, fp, at or datetime.now(UTC))
    return record.model_copy(
        update={
            "story_id": assignment.story_id,
            "duplicate_of": assignment.duplicate_of,
            "content_hash": fp.content_hash,
        }
    )


def run_names(record: EnrichedRecord, names: NameRegistry | None) -> EnrichedRecord:
    """Give unlinked names the ids their variants got before (in the story, then anywhere)."""
    if names is None or not record.entities:
        return record
    entities = apply_registry(list(record.entities), names, record.story_id)
    if entities is record.entities:
        return record
    return record.model_copy(update={"entities": entities})


def run_match(record: EnrichedRecord, monitor: Monitor) -> list[WatchlistHit]:
    return monitor.match(record)


@dataclass(frozen=True)
class Enriched:
    """The outcome of ``enrich``: the record and the watchlists it matched."""

    record: EnrichedRecord
    hits: list[WatchlistHit]


def enrich(
    article: Article,
    *,
    kb: KnowledgeBase,
    monitor: Monitor,
    index: StoryIndex,
    options: Options = Options(),
    names: NameRegistry | None = None,
) -> Enriched:
    """Run every stage in order on one article, in-process."""
    record = run_clean(article, options)
    record = run_language(record)
    record = run_entities(record, kb)
    record = run_story(record, index)
    record = run_names(record, names)
    record = record.model_copy(update={"processed_at": datetime.now(UTC).isoformat()})
    return Enriched(record=record, hits=run_match(record, monitor))
