"""Errors raised by the pure pipeline.

The tree encodes the only two decisions a task makes::

    PipelineError
     +-- PermanentError   the input itself is bad: dead-letter at once, never retry
     |    +-- InvalidArticle       the payload breaks the ingest contract
     |    +-- ContentError         the body cannot be turned into text (empty, too big, not HTML)
     |    +-- QueryError           a watchlist query does not parse or is too expensive
     +-- TransientError   something outside the input failed: retry with backoff
"""

from __future__ import annotations

__all__ = [
    "ContentError",
    "InvalidArticle",
    "PermanentError",
    "PipelineError",
    "QueryError",
    "TransientError",
]


class PipelineError(Exception):
    """Base of every error the pipeline raises on purpose.

    ``reason`` is a short stable code (it becomes the dead letter's ``reason``);
    the message is the human-readable detail.
    """

    reason: str = "pipeline_error"

    def __init__(self, detail: str, *, reason: str | None = None) -> None:
        super().__init__(detail)
        if reason is not None:
            self.reason = reason

    @property
    def detail(self) -> str:
        return str(self)


class PermanentError(PipelineError):
    """Raised when retrying cannot help: the article goes to the dead-letter stream."""

    reason = "permanent_error"


class InvalidArticle(PermanentError):
    """Raised when a payload is not a valid ingest article (JSON, fields, types, size)."""

    reason = "invalid_article"


class ContentError(PermanentError):
    """Raised when a body cannot be cleaned: empty, over the size cap, not markup, hostile."""

    reason = "bad_content"


class QueryError(PermanentError):
    """Raised when a watchlist query does not parse, names an unknown entity, or is too costly.

    ``position`` is the 0-based character offset of the problem in the query, when known.
    """

    reason = "bad_query"

    def __init__(
        self, detail: str, *, position: int | None = None, reason: str | None = None
    ) -> None:
        super().__init__(detail, reason=reason)
        self.position = position


class TransientError(PipelineError):
    """Raised when a dependency failed in a way that may succeed on retry."""

    reason = "transient_error"
