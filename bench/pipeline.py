"""Throughput of the whole running pipeline by micro-batch size: ``python -m bench pipeline``.

Starts a throwaway Redis, one worker per queue group (the compose commands) and, for
each batch size, an ingest service; pushes the bundled samples (made unique per copy)
and measures articles per second from the first push to the last enriched record.
Prints ``BENCH pipeline batch=N articles=M seconds=S articles_per_s=R`` per size.
The machine's other load makes single runs noisy: compare sizes within one run.

Environment: ``BENCH_PIPELINE_ARTICLES`` (default 600), ``BENCH_PIPELINE_SIZES``
(default ``1,8,32,64``).
"""

from __future__ import annotations

import json
import os
import signal
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from workers.runtime.processes import ProcessGroup

__all__ = ["main"]


def _payloads(count: int) -> list[str]:
    from workers.cli.demo import SAMPLES
    from workers.ingest.sources import iter_payloads

    base = [json.loads(raw) for _, raw in iter_payloads(str(SAMPLES))]
    out = []
    for n in range(count):
        article = dict(base[n % len(base)])
        article["url"] = article["url"].rstrip("/") + f"/copy-{n}"
        article.pop("id", None)
        key = "html" if "html" in article else "text"
        article[key] = article[key] + f"\n\nUpdate {n}: figures revised."
        out.append(json.dumps(article, ensure_ascii=False))
    return out


def wait_until(predicate: Any, timeout: float) -> bool:
    """Poll ``predicate`` every 50 ms until it is true (True) or ``timeout`` seconds pass (False)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def start_workers(env: dict[str, str], log_dir: Path) -> ProcessGroup:
    """Start one worker per queue group (the compose commands); wait until all log ``ready.``.

    Shared with ``bench.latency`` so both benches run the workers the same way.
    Returns the ``ProcessGroup``; the caller stops it.
    """
    from workers.runtime.commands import WORKER_GROUPS, worker_argv
    from workers.runtime.processes import ProcessGroup, cli_argv

    workers = ProcessGroup(env=env, log_dir=log_dir)
    try:
        for name in WORKER_GROUPS:
            workers.start(f"worker-{name}", cli_argv(*worker_argv(name, concurrency=1)[1:]))
        wait_until(lambda: all(" ready." in p.read_text(errors="replace") for p in log_dir.glob("worker-*.log")) and len(list(log_dir.glob("worker-*.log"))) == len(WORKER_GROUPS), 120)  # fmt: skip
    except BaseException:  # Ctrl-C while starting: leave no worker behind
        workers.stop()
        raise
    return workers


def main() -> None:
    import redis

    from workers.ingest.client import push_many
    from workers.keys import Keys
    from workers.runtime.commands import ingest_argv
    from workers.runtime.embedded import start_server
    from workers.runtime.processes import ProcessGroup, cli_argv

    # SIGTERM unwinds like Ctrl-C, so the finally blocks stop every child process.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    count = int(os.environ.get("BENCH_PIPELINE_ARTICLES", "600"))
    sizes = [int(s) for s in os.environ.get("BENCH_PIPELINE_SIZES", "1,8,32,64").split(",")]
    payloads = _payloads(count)
    keys = Keys()
    with tempfile.TemporaryDirectory(prefix="bench-pipeline-") as tmp:
        server = start_server(Path(tmp) / "redis", prefer_path=True, appendonly=False)
        env = {k: v for k, v in os.environ.items() if not k.startswith("WIREWATCH_")}
        # INFO: readiness is read from the workers' "ready." line.
        env.update(WIREWATCH_REDIS_URL=server.url, WIREWATCH_LOG_LEVEL="INFO")
        client = redis.Redis.from_url(server.url)
        workers = start_workers(env, Path(tmp) / "logs")
        try:
            for size in sizes:
                client.flushall()
                ingest = ProcessGroup(
                    env={**env, "WIREWATCH_BATCH_SIZE": str(size), "WIREWATCH_BATCH_WAIT_MS": "50"},
                    log_dir=Path(tmp) / "logs",
                )
                ingest.start(f"ingest-{size}", cli_argv(*ingest_argv()[1:]))
                try:
                    started = time.monotonic()
                    for i in range(0, count, 500):
                        push_many(client, payloads[i : i + 500], keys=keys)
                    done = wait_until(
                        lambda: client.xlen(keys.enriched) + client.xlen(keys.dlq) >= count, 600
                    )
                    elapsed = time.monotonic() - started
                finally:
                    ingest.stop()
                print(
                    f"BENCH pipeline batch={size} articles={count} seconds={elapsed:.1f} "
                    f"articles_per_s={count / elapsed:.1f} complete={done} "
                    f"dead_letters={client.xlen(keys.dlq)}",
                    flush=True,
                )
        finally:
            workers.stop()
            server.stop()
