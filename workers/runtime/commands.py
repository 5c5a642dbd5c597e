"""The process command lines a deployment runs, defined once.

docker-compose.yml, the Kubernetes manifests and the integration tests start
the same worker and ingest processes; keeping their argv here lets a unit test
prove that what operators deploy is exactly what the tests exercise.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from workers.keys import QUEUES

__all__ = [
    "FLOWER_ARGV",
    "INGEST_ARGV",
    "WORKER_GROUPS",
    "ingest_argv",
    "worker_argv",
]

# One worker group per deployable service; each consumes the listed Celery queues.
# "nlp" carries language detection and entity tagging (one queue, one process pool)
# so the heavy models of both load into the same workers.
WORKER_GROUPS: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {
        "clean": ("clean",),
        "nlp": ("nlp",),
        "match": ("match",),
        "emit": ("emit",),
        "deliver": ("deliver",),
    }
)

INGEST_ARGV: tuple[str, ...] = ("wirewatch", "ingest")

# Flower reads the broker from the app, which reads it from WIREWATCH_* settings.
FLOWER_ARGV: tuple[str, ...] = ("celery", "-A", "workers.app:app", "flower", "--port=5555")


def _check_groups() -> None:
    unknown = {q for queues in WORKER_GROUPS.values() for q in queues} - set(QUEUES)
    if unknown:
        raise RuntimeError(f"worker groups name unknown queues: {sorted(unknown)}")


_check_groups()


def worker_argv(group: str, *, concurrency: int | None = None) -> list[str]:
    """Return the argv that runs the Celery worker for one worker group.

    ``concurrency`` is left to Celery's default (the CPU count) unless given;
    Kubernetes pins it to the pod's CPU request.
    """
    try:
        queues = WORKER_GROUPS[group]
    except KeyError:
        raise ValueError(
            f"unknown worker group {group!r}; expected one of {sorted(WORKER_GROUPS)}"
        ) from None
    argv = ["wirewatch", "worker", "--queues", ",".join(queues)]
    if concurrency is not None:
        if concurrency < 1:
            raise ValueError(f"concurrency must be >= 1, got {concurrency}")
        argv += ["--concurrency", str(concurrency)]
    return argv


def ingest_argv() -> list[str]:
    """Return the argv that runs the ingest service."""
    return list(INGEST_ARGV)
