"""structlog, configured once per process: JSON lines on stderr, bound per task and article.

Why one module: every process (ingest, Celery worker children, CLI) must emit the
same shape so an operator can grep one ``article_id`` across stages. Event names
are ``noun.verb`` (``article.enriched``, ``article.dead_lettered``); each article
gets exactly one outcome event. Bind context with ``bound`` (contextvars), so a
task binds ``batch_id``/``task_id`` once and each item adds ``article_id``.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator, MutableMapping
from contextlib import contextmanager
from typing import Any

import structlog

__all__ = ["bound", "configure_logging", "get_logger"]

_configured = False

# Until ``configure_logging`` runs (CLI commands that never call it, libraries), structlog's
# defaults would print to stdout and mix log lines into a command's results: stderr instead.
if not structlog.is_configured():
    structlog.configure(logger_factory=structlog.PrintLoggerFactory(sys.stderr))

# Keys whose values must never be written to a log line, whatever a caller binds.
_SECRET_KEYS = frozenset({"secret", "previous_secret", "password", "token", "authorization"})


def _redact(_: Any, __: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """Replace values of secret-looking keys; a webhook secret must never reach a log."""
    for key in list(event):
        if key.lower() in _SECRET_KEYS:
            event[key] = "***"
    return event


def configure_logging(level: str = "INFO", fmt: str = "json", *, force: bool = False) -> None:
    """Configure structlog once for this process (``force`` reconfigures, for tests)."""
    global _configured
    if _configured and not force:
        return
    numeric = logging.getLevelName(level.upper())
    if not isinstance(numeric, int):
        numeric = logging.INFO
    renderer: Any = (
        structlog.dev.ConsoleRenderer(colors=False)
        if fmt == "console"
        else structlog.processors.JSONRenderer(sort_keys=False)
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            _redact,
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        logger_factory=structlog.PrintLoggerFactory(sys.stderr),
        cache_logger_on_first_use=False,
    )
    _configured = True


def get_logger(**initial: Any) -> Any:
    """Return a structlog logger with ``initial`` values bound."""
    return structlog.get_logger("wirewatch").bind(**initial)


@contextmanager
def bound(**values: Any) -> Iterator[None]:
    """Bind ``values`` (e.g. ``batch_id``, ``task_id``, ``article_id``) for the enclosed block."""
    with structlog.contextvars.bound_contextvars(**values):
        yield
