"""Start and stop the service processes (ingest, workers) as one group.

Why: ``wirewatch up``, ``wirewatch demo`` and the integration/e2e fixtures all run
the same argv as docker-compose (``workers.runtime.commands``), as real child processes,
and must stop them cleanly (SIGTERM, then a deadline, then SIGKILL) so no test or
demo leaves a worker behind. ``up`` also supervises them: ``restart_dead`` starts a
child that died again (with a growing delay if it keeps dying at once), as compose and
Kubernetes restart containers.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

__all__ = ["ProcessGroup", "cli_argv", "service_argvs"]


def cli_argv(*args: str) -> list[str]:
    """Return the argv running ``wirewatch ARGS`` with this interpreter (no PATH needed)."""
    return [sys.executable, "-m", "workers.cli", *args]


def service_argvs(
    *, all_in_one: bool = True, concurrency: int | None = None
) -> dict[str, list[str]]:
    """Return name -> argv for ingest and the workers (all queues), as ``up`` runs them.

    ``all_in_one`` runs the pipeline queues in one worker and delivery in another, which
    suits one machine; docker-compose runs one service per queue group instead.
    """
    from workers.keys import QUEUES

    conc = ["--concurrency", str(concurrency)] if concurrency else []
    pipeline_queues = [q for q in QUEUES if q != "deliver"]
    argvs = {"ingest": cli_argv("ingest")}
    if all_in_one:
        argvs["worker"] = cli_argv("worker", "--queues", ",".join(pipeline_queues), *conc)
    else:
        for q in pipeline_queues:
            argvs[f"worker-{q}"] = cli_argv("worker", "--queues", q, *conc)
    if "deliver" in QUEUES:
        argvs["worker-deliver"] = cli_argv("worker", "--queues", "deliver")
    return argvs


@dataclass
class ProcessGroup:
    """Child processes started together and stopped together."""

    env: Mapping[str, str] | None = None
    log_dir: Path | None = None
    procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    _logs: list[IO[bytes]] = field(default_factory=list)
    _argvs: dict[str, list[str]] = field(default_factory=dict)
    _started: dict[str, float] = field(default_factory=dict)
    _delay: dict[str, float] = field(default_factory=dict)
    _due: dict[str, float] = field(default_factory=dict)

    def start(self, name: str, argv: Sequence[str]) -> subprocess.Popen[bytes]:
        """Start ``argv`` as ``name``; its output goes to ``log_dir/name.log`` or is inherited."""
        stdout: IO[bytes] | None = None
        if self.log_dir is not None:
            self.log_dir.mkdir(parents=True, exist_ok=True)
            stdout = open(self.log_dir / f"{name}.log", "ab")  # noqa: SIM115 - closed in stop()
            self._logs.append(stdout)
        env = dict(os.environ if self.env is None else self.env)
        proc = subprocess.Popen(
            list(argv),
            env=env,
            stdout=stdout,
            stderr=subprocess.STDOUT if stdout else None,
            start_new_session=True,
        )
        self.procs[name] = proc
        self._argvs[name] = list(argv)
        self._started[name] = time.monotonic()
        return proc

    def restart_dead(
        self, *, min_uptime_s: float = 10.0, max_delay_s: float = 30.0
    ) -> dict[str, int]:
        """Start again every child that exited; return name -> the exit code it died with.

        A child that dies within ``min_uptime_s`` of its start waits before the next start,
        1 s doubling up to ``max_delay_s``, so a crash loop does not spin a core; one that
        ran longer is restarted at once.
        """
        restarted: dict[str, int] = {}
        now = time.monotonic()
        for name, code in self.dead().items():
            if name not in self._due:
                quick = now - self._started.get(name, 0.0) < min_uptime_s
                delay = min(max_delay_s, self._delay.get(name, 0.5) * 2) if quick else 0.0
                self._delay[name] = delay or 0.5
                self._due[name] = now + delay
            if now >= self._due[name]:
                del self._due[name]
                self.start(name, self._argvs[name])
                restarted[name] = code
        return restarted

    def dead(self) -> dict[str, int]:
        """Return name -> exit code of every child that has exited."""
        return {n: p.returncode for n, p in self.procs.items() if p.poll() is not None}

    def stop(self, timeout: float = 30.0) -> dict[str, int]:
        """SIGTERM every child, wait up to ``timeout``, SIGKILL the rest; return exit codes."""
        for proc in self.procs.values():
            if proc.poll() is None:
                try:
                    os.killpg(proc.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
        deadline = time.monotonic() + timeout
        for proc in self.procs.values():
            try:
                proc.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                try:
                    os.killpg(proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                proc.wait()
        for fh in self._logs:
            fh.close()
        self._logs.clear()
        return {n: p.returncode for n, p in self.procs.items()}

    def __enter__(self) -> ProcessGroup:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
