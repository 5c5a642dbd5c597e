"""Prometheus metrics: defined here once, fed by one-line hooks, served on a port per process.

Why one module: every process (the ingest service, each Celery worker and its prefork
children) reports the same metric families, and the code that does the work only calls
a hook (``metrics.dead_lettered(stage, reason)``). Every hook is a no-op until ``start``
ran, so ``wirewatch process``, the CLI and unit tests pay nothing.

Multiprocess mode: a prefork worker's children each count in their own memory-mapped
files (prometheus_client's multiprocess mode) and the parent's endpoint sums them, so a
scrape sees the whole worker whichever child did the work. ``start`` gives each service
process its own directory (``PROMETHEUS_MULTIPROC_DIR``, set by the process itself,
emptied at start so a restart does not report the previous run's counts) and removes the
directories of processes that are gone.

Families (all prefixed ``wirewatch_``; ``stage`` is ingest, clean, detect_language,
tag_entities, match, emit or deliver; labels are bounded: no URL, no article id):

- ``articles_in_total{stage}``, ``articles_out_total{stage,outcome}`` (outcome: passed,
  retried, dead_lettered)
- ``stage_seconds{stage}`` (one batch through one task) and ``batch_size{stage}``
- ``enriched_total`` and ``push_to_enriched_seconds`` (from the ingest entry's id, the
  server's clock at XADD, to the enriched record's write)
- ``dead_letters_total{stage,reason}``
- ``deliveries_total{outcome,endpoint}`` (endpoint: the watchlist id, never the URL) and
  ``delivery_seconds`` (one attempt)
- ``redriven_total`` (ingest entries re-driven into the pipeline after going quiet)
- ``watchlists_loaded`` and ``kb_entries_loaded`` (gauges: the most recent reload)
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

__all__ = [
    "articles_in",
    "articles_out",
    "batch_ran",
    "dead_lettered",
    "delivery_attempted",
    "enabled",
    "enriched",
    "redriven",
    "resources_loaded",
    "stage_name",
    "start",
]

_ENV = "PROMETHEUS_MULTIPROC_DIR"
_M: Any = None  # the metric objects once ``start`` ran; None means every hook is a no-op

# Seconds; a batch of 32 through the NLP stage takes tens to hundreds of milliseconds.
_STAGE_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300)
_BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1000)
# Push -> enriched spans queueing: from tens of milliseconds to minutes under a backlog.
_LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 120, 300, 900, 3600)
_DELIVERY_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 15, 30)


def stage_name(name: str) -> str:
    """Return the metric label of a stage: a task name without its ``articles.`` prefix."""
    return name.removeprefix("articles.").removeprefix("alerts.")


def enabled() -> bool:
    """Return True once ``start`` ran in this process (or its parent before a fork)."""
    return _M is not None


def _base_dir(configured: Path | None) -> Path:
    return configured or Path(tempfile.gettempdir()) / "wirewatch-metrics"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _prepare_dir(base: Path, role: str) -> Path:
    """Make this process's empty directory; remove those of processes that are gone."""
    base.mkdir(parents=True, exist_ok=True)
    for old in base.iterdir():
        pid = old.name.rsplit("-", 1)[-1]
        if old.is_dir() and pid.isdigit() and int(pid) != os.getpid() and not _alive(int(pid)):
            shutil.rmtree(old, ignore_errors=True)
    path = base / f"{role}-{os.getpid()}"
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir()
    return path


class _Metrics:
    """The metric objects; created after ``PROMETHEUS_MULTIPROC_DIR`` is set."""

    def __init__(self) -> None:
        from prometheus_client import Counter, Gauge, Histogram

        self.articles_in = Counter(
            "wirewatch_articles_in", "Articles that entered a stage", ["stage"]
        )
        self.articles_out = Counter(
            "wirewatch_articles_out",
            "Articles that left a stage, by outcome (passed, retried, dead_lettered)",
            ["stage", "outcome"],
        )
        self.stage_seconds = Histogram(
            "wirewatch_stage_seconds",
            "Time one batch spent in one stage's task",
            ["stage"],
            buckets=_STAGE_BUCKETS,
        )
        self.batch_size = Histogram(
            "wirewatch_batch_size", "Articles per batch", ["stage"], buckets=_BATCH_BUCKETS
        )
        self.enriched = Counter("wirewatch_enriched", "Enriched records written")
        self.push_to_enriched = Histogram(
            "wirewatch_push_to_enriched_seconds",
            "From the ingest XADD to the enriched record's write",
            buckets=_LATENCY_BUCKETS,
        )
        self.dead_letters = Counter(
            "wirewatch_dead_letters", "Dead letters written", ["stage", "reason"]
        )
        self.deliveries = Counter(
            "wirewatch_deliveries",
            "Webhook attempts by outcome (delivered, retry, dead, disabled); endpoint = watchlist id",
            ["outcome", "endpoint"],
        )
        self.delivery_seconds = Histogram(
            "wirewatch_delivery_seconds", "One webhook attempt", buckets=_DELIVERY_BUCKETS
        )
        self.redriven = Counter(
            "wirewatch_redriven", "Ingest entries re-driven into the pipeline after going quiet"
        )
        self.watchlists = Gauge(
            "wirewatch_watchlists_loaded",
            "Watchlists loaded at the most recent reload",
            multiprocess_mode="mostrecent",
        )
        self.kb_entries = Gauge(
            "wirewatch_kb_entries_loaded",
            "Knowledge-base entries loaded at the most recent reload",
            multiprocess_mode="mostrecent",
        )


def start(role: str, port: int, *, host: str = "0.0.0.0", directory: Path | None = None) -> int:
    """Turn metrics on for this process and serve them on ``host:port``; return the port.

    ``port`` 0 turns nothing on and returns 0. ``role`` names the process's directory
    (``ingest``, ``worker-nlp``). Call it before the worker forks its pool, so the children
    inherit the directory; raises ``OSError`` when the port cannot be bound.
    """
    global _M
    if port == 0:
        return 0
    from workers.settings import get_settings

    path = _prepare_dir(_base_dir(directory or get_settings().metrics_dir), role)
    os.environ[_ENV] = str(path)
    from prometheus_client import CollectorRegistry, start_http_server, values
    from prometheus_client.multiprocess import MultiProcessCollector

    # prometheus_client picks its value class when first imported; whoever imported it
    # before the directory was set (flower, a library) must not leave us in-memory only.
    values.ValueClass = values.get_value_class()

    registry = CollectorRegistry()
    MultiProcessCollector(registry, path=str(path))
    start_http_server(port, addr=host, registry=registry)
    _M = _Metrics()
    _connect_task_timing()
    return port


# -- task timing (Celery signals: no edit to the task bodies) -----------------------------

_started: dict[str, float] = {}


def _connect_task_timing() -> None:
    from celery.signals import task_postrun, task_prerun

    task_prerun.connect(_on_prerun, weak=False)
    task_postrun.connect(_on_postrun, weak=False)


def _on_prerun(task_id: str | None = None, **_: Any) -> None:
    if task_id is not None:
        _started[task_id] = time.perf_counter()


def _on_postrun(task_id: str | None = None, task: Any = None, **_: Any) -> None:
    began = _started.pop(task_id or "", None)
    if began is not None and _M is not None and task is not None:
        _M.stage_seconds.labels(stage_name(str(task.name))).observe(time.perf_counter() - began)


# -- hooks ----------------------------------------------------------------------------------


def articles_in(stage: str, n: int = 1) -> None:
    """Count ``n`` articles entering ``stage``."""
    if _M is not None and n:
        _M.articles_in.labels(stage_name(stage)).inc(n)


def articles_out(stage: str, outcome: str, n: int = 1) -> None:
    """Count ``n`` articles leaving ``stage`` (``passed``, ``retried`` or ``dead_lettered``)."""
    if _M is not None and n:
        _M.articles_out.labels(stage_name(stage), outcome).inc(n)


def batch_ran(stage: str, size: int, outcome: Any = None, *, passed: int | None = None) -> None:
    """Count one batch of ``size`` through ``stage``.

    ``outcome`` is a ``workers.stages.batch.BatchOutcome`` (done, retry, dead); without
    it, ``passed`` articles went on (the ingest service's batches).
    """
    if _M is None:
        return
    label = stage_name(stage)
    _M.batch_size.labels(label).observe(size)
    if outcome is None:
        articles_out(label, "passed", size if passed is None else passed)
        return
    articles_in(label, size)
    articles_out(label, "passed", len(outcome.done))
    articles_out(label, "retried", len(outcome.retry))
    articles_out(label, "dead_lettered", int(outcome.dead))


def enriched(entry_id: str | None) -> None:
    """Count one enriched record; time it from its ingest entry id (``ms-seq``) when known."""
    if _M is None:
        return
    _M.enriched.inc()
    if entry_id:
        with contextlib.suppress(ValueError):
            pushed_ms = int(str(entry_id).split("-", 1)[0])
            _M.push_to_enriched.observe(max(0.0, time.time() - pushed_ms / 1000.0))


def dead_lettered(stage: str, reason: str) -> None:
    """Count one dead letter of ``stage`` for ``reason`` (a short code)."""
    if _M is not None:
        _M.dead_letters.labels(stage_name(stage), reason).inc()


def delivery_attempted(endpoint: str, outcome: str, latency_ms: float | None = None) -> None:
    """Count one webhook attempt to watchlist ``endpoint`` with its ``outcome``."""
    if _M is None:
        return
    _M.deliveries.labels(outcome, endpoint).inc()
    if latency_ms is not None:
        _M.delivery_seconds.observe(latency_ms / 1000.0)


def redriven(n: int = 1) -> None:
    """Count ``n`` ingest entries re-driven into the pipeline."""
    if _M is not None and n:
        _M.redriven.inc(n)


def resources_loaded(watchlists: int, kb_entries: int) -> None:
    """Record how many watchlists and knowledge-base entries the last reload loaded."""
    if _M is not None:
        _M.watchlists.set(watchlists)
        _M.kb_entries.set(kb_entries)
