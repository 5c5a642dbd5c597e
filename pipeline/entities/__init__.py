"""Entity knowledge base and tagging: every name variant of an entity resolves to one id.

FIRST VERSION (placeholder to be deepened).
"""

from __future__ import annotations

from pipeline.entities.kb import EntityEntry, KnowledgeBase
from pipeline.entities.tagging import tag

__all__ = ["EntityEntry", "KnowledgeBase", "tag"]
