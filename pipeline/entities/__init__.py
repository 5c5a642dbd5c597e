"""Entity knowledge base and tagging: every name variant of an entity resolves to one id.

``KnowledgeBase`` compiles entries (built-in places, declared and imported
lists) into one dict of folded keys; ``tag`` finds, links and scores the entities of one
article; ``load_entries``/``load_ofac`` read entry files.
"""

from __future__ import annotations

from pipeline.entities.kb import EntityEntry, KnowledgeBase
from pipeline.entities.loaders import EntityFileError, load_entries, load_ofac, parse_entries
from pipeline.entities.tagging import tag, unlinked_id

__all__ = [
    "EntityEntry",
    "EntityFileError",
    "KnowledgeBase",
    "load_entries",
    "load_ofac",
    "parse_entries",
    "tag",
    "unlinked_id",
]
