"""Optional statistical name finder for names outside the knowledge base.

Without one, ``tag`` finds unlinked names with its capitalisation heuristic.
With one (``KnowledgeBase.name_finder``), the finder's spans replace that
heuristic; knowledge-base links, short forms and acronyms work the same.

``spacy_finder(model)`` wraps a spaCy pipeline when both spaCy and the named
model package are installed (nothing is downloaded at run time); it returns
``None`` otherwise, so callers fall back to the heuristic.
"""

from __future__ import annotations

from collections.abc import Callable

from pipeline.models import EntityType

__all__ = ["SPACY_LABELS", "NameFinder", "spacy_finder"]

# A finder returns (start, end, type) character spans of names in a text.
NameFinder = Callable[[str], list[tuple[int, int, EntityType]]]

SPACY_LABELS: dict[str, EntityType] = {
    "PERSON": "PERSON",
    "PER": "PERSON",
    "ORG": "ORG",
    "GPE": "LOC",
    "LOC": "LOC",
    "FAC": "LOC",
    "NORP": "MISC",
    "EVENT": "MISC",
    "PRODUCT": "MISC",
    "WORK_OF_ART": "MISC",
    "LAW": "MISC",
    "MISC": "MISC",
}


def spacy_finder(model: str) -> NameFinder | None:
    """Return a finder backed by the spaCy model package ``model``, or None if unavailable."""
    if not model:
        return None
    try:
        import spacy
    except ImportError:
        return None
    try:
        nlp = spacy.load(model, exclude=["lemmatizer", "textcat"])
    except (OSError, ImportError, ValueError):
        return None

    def find(text: str) -> list[tuple[int, int, EntityType]]:
        doc = nlp(text)
        return [
            (ent.start_char, ent.end_char, SPACY_LABELS[ent.label_])
            for ent in doc.ents
            if ent.label_ in SPACY_LABELS
        ]

    return find
