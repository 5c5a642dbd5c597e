"""Process fixtures shared by integration and end-to-end tests: the real services.

``pipeline_workers`` starts, once per session, the same processes a deployment runs
(``workers.runtime.commands``: the ingest service and one worker per queue group) against
the session's throwaway Redis. Tests take ``redis_url`` too (it flushes the database
first), so each test starts from empty streams while the workers keep running.

Import the fixtures into a ``conftest.py``::

    from tests.pipeline_fixtures import pipeline_env, pipeline_workers, wait_until  # noqa: F401
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from workers.runtime.commands import WORKER_GROUPS, ingest_argv, worker_argv
from workers.runtime.processes import ProcessGroup, cli_argv

__all__ = ["PipelineProcesses", "free_port", "pipeline_env", "pipeline_workers", "wait_until"]


def free_port() -> int:
    """Return a TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until(
    predicate: Callable[[], Any],
    timeout: float = 30.0,
    interval: float = 0.05,
    message: str | Callable[[], str] = "",
) -> Any:
    """Poll ``predicate`` until it returns something truthy; fail the test after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            what = message() if callable(message) else message
            pytest.fail(f"timed out after {timeout}s waiting for {what or predicate}")
        time.sleep(interval)


@pytest.fixture(scope="session")
def pipeline_env(redis_server: Any, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Environment for service processes: the session Redis, fast batching, loopback webhooks."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("WIREWATCH_")}
    env.update(
        WIREWATCH_REDIS_URL=redis_server.url,
        WIREWATCH_DATA_DIR=str(tmp_path_factory.mktemp("wirewatch-data")),
        WIREWATCH_BATCH_SIZE="16",
        WIREWATCH_BATCH_WAIT_MS="50",
        WIREWATCH_MAX_BODY_BYTES="1000000",
        WIREWATCH_WEBHOOK_ALLOW_HOSTS="127.0.0.1",
        WIREWATCH_WEBHOOK_RETRY_SCHEDULE="0,1,1,1",
        WIREWATCH_INGEST_CLAIM_IDLE_MS="2000",
        WIREWATCH_LOG_LEVEL="INFO",
        WIREWATCH_METRICS_DIR=str(tmp_path_factory.mktemp("metrics")),
    )
    return env


class PipelineProcesses:
    """The running service processes, where their logs are, and their metrics ports."""

    def __init__(
        self, group: ProcessGroup, log_dir: Path, metrics_ports: dict[str, int] | None = None
    ) -> None:
        self.group = group
        self.log_dir = log_dir
        self.metrics_ports = metrics_ports or {}

    def alive(self) -> bool:
        return not self.group.dead()

    def logs(self) -> str:
        return "\n".join(
            f"--- {p.name}\n{p.read_text(errors='replace')[-4000:]}"
            for p in sorted(self.log_dir.glob("*.log"))
        )


@pytest.fixture(scope="session")
def pipeline_workers(
    pipeline_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[PipelineProcesses]:
    """Real ingest and worker processes (one per queue group, as compose runs them), for the session."""
    log_dir = tmp_path_factory.mktemp("service-logs")
    group = ProcessGroup(env=pipeline_env, log_dir=log_dir)
    workers = [f"worker-{name}" for name in WORKER_GROUPS]
    ports = {name: free_port() for name in ["ingest", *workers]}  # Prometheus, one per process
    # Exactly the commands docker-compose runs (workers.runtime.commands), one worker per queue
    # group; compose sets the metrics port in the environment, here each gets its own.
    group.start("ingest", cli_argv(*ingest_argv()[1:], "--metrics-port", str(ports["ingest"])))
    for name in WORKER_GROUPS:
        argv = worker_argv(name, concurrency=1)[1:]
        group.start(
            f"worker-{name}", cli_argv(*argv, "--metrics-port", str(ports[f"worker-{name}"]))
        )
    procs = PipelineProcesses(group, log_dir, ports)

    def ready() -> bool:
        logs = [(log_dir / f"{n}.log").read_text(errors="replace") for n in workers]
        return all(" ready." in text for text in logs) or bool(group.dead())

    try:
        wait_until(ready, timeout=90, message="workers ready")
        if group.dead():
            pytest.fail(f"service processes exited: {group.dead()}\n{procs.logs()}")
        yield procs
    finally:
        codes = group.stop(timeout=20)
        bad = {n: c for n, c in codes.items() if c not in (0, -15)}
        if bad:
            print(f"service processes exited uncleanly: {bad}\n{procs.logs()}")
