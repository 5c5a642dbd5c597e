"""Identify the language of an article (ISO 639-1 code and confidence).

FIRST VERSION (placeholder to be deepened).
"""

from __future__ import annotations

from pipeline.models import Language

__all__ = ["detect"]


def detect(text: str, *, title: str | None = None, declared: str | None = None) -> Language:
    """Return the language of ``text`` (``und`` when it cannot be told)."""
    return Language(code="und", confidence=0.0, declared=declared, detected=None)
