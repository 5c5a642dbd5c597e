"""Find knowledge-base entities in text."""

from __future__ import annotations

from pipeline.entities.kb import KnowledgeBase
from pipeline.models import Entity

__all__ = ["tag"]


def tag(text: str, *, title: str | None = None, kb: KnowledgeBase) -> list[Entity]:
    """Return the entities mentioned in ``text``, with spans and salience."""
    return []
