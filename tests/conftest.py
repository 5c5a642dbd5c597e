"""Shared fixtures. Servers are real: a throwaway Redis on a free port per session."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

# The real service processes, defined here once so integration and e2e tests share one
# set per session (two sets would consume the same queues and steal each other's work).
from tests.pipeline_fixtures import pipeline_env, pipeline_workers  # noqa: E402, F401

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    """A real Redis (``redis-server`` from PATH, else the embedded binary) for this test session."""
    from workers.runtime.embedded import start_server

    server = start_server(tmp_path_factory.mktemp("redis"), prefer_path=True, appendonly=False)
    yield server
    server.stop()


@pytest.fixture
def redis_url(redis_server: object) -> Iterator[str]:
    """A URL to a freshly flushed database of the session's Redis."""
    import redis

    url: str = redis_server.url  # type: ignore[attr-defined]
    client = redis.Redis.from_url(url)
    client.flushall()
    client.close()
    yield url


@pytest.fixture(autouse=True)
def _isolated_logging() -> Iterator[None]:
    """Give every test the logging set-up it found: commands run in-process (``process``
    configures WARNING) must not silence the info events a later test captures."""
    import structlog

    from workers import logs

    saved, configured = structlog.get_config(), logs._configured
    yield
    structlog.configure(**saved)
    logs._configured = configured
