"""What every command group needs: a clear failure and a configured Redis client."""

from __future__ import annotations

from typing import Any, NoReturn

import click

__all__ = ["connect", "context", "fail"]


def fail(message: str, code: int = 2) -> NoReturn:
    """Print ``error: message`` on stderr and exit with ``code`` (2: usage or setup)."""
    click.echo(f"error: {message}", err=True)
    raise SystemExit(code)


def connect(*, decode: bool = True, log_level: str = "WARNING") -> Any:
    """Configure logging and return a client for the configured Redis, or exit with why not."""
    from workers.connection import NoRedisConfigured, redis_client
    from workers.logs import configure_logging
    from workers.settings import get_settings

    settings = get_settings()
    configure_logging(log_level, settings.log_format)
    try:
        return redis_client(settings, decode=decode)
    except NoRedisConfigured as exc:
        fail(str(exc))


def context(*, decode: bool = True) -> tuple[Any, Any, Any]:
    """Return ``(client, settings, keys)`` for commands that need all three."""
    from workers.keys import Keys
    from workers.settings import get_settings

    client = connect(decode=decode)
    settings = get_settings()
    return client, settings, Keys(settings.prefix)
