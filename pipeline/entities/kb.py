"""The entity knowledge base: canonical entries with aliases, loaded once per process."""

from __future__ import annotations

from collections.abc import Iterable

from pydantic import BaseModel, ConfigDict, Field

from pipeline.models import EntityType

__all__ = ["EntityEntry", "KnowledgeBase"]


class EntityEntry(BaseModel):
    """One knowledge-base entry: ``id``, ``name``, ``type`` and its ``aliases``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(min_length=1)
    name: str = Field(min_length=1)
    type: EntityType = "MISC"
    aliases: list[str] = Field(default_factory=list)


class KnowledgeBase:
    """A set of entries, compiled for tagging."""

    def __init__(self, entries: Iterable[EntityEntry] = ()) -> None:
        self.entries: dict[str, EntityEntry] = {e.id: e for e in entries}

    @classmethod
    def builtin(cls) -> KnowledgeBase:
        return cls()

    def extended(self, entries: Iterable[EntityEntry]) -> KnowledgeBase:
        """Return a new knowledge base with ``entries`` added (same id replaces)."""
        return KnowledgeBase([*self.entries.values(), *entries])

    def __len__(self) -> int:
        return len(self.entries)
