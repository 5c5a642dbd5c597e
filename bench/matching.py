"""Benchmark the watchlist matcher at 100,000 watchlists: build cost, memory, cost per article.

Prints ``BENCH matching watchlists=... build_s=... build_cpu_s=... rss_mb=...
match_cpu_ms_median=... match_cpu_ms_p99=... candidates_median=... articles=...
analysis_ms=... presearch_ms=... evaluate_ms=... explain_ms=... ref_loop_ms=...``
on the workload of ``evals.matching`` (needs ../shared/data; set
WIREWATCH_EVAL_DATA_DIR elsewhere):

- ``build_s`` / ``build_cpu_s``: compiling and indexing every watchlist (what a worker
  does when it starts or when the knowledge base changes), wall-clock and process CPU;
- ``rss_mb``: resident memory added by the monitor (``/proc/self/status``);
- ``match_cpu_ms_*``: thread CPU time of ``Monitor.match`` per article (the least of
  three runs per article); the machine is shared, so CPU time rather than wall-clock;
- ``analysis_ms``/``presearch_ms``/``evaluate_ms``/``explain_ms``: the median of each
  phase (``Monitor.match_phases``, the least of three runs per article);
- ``ref_loop_ms``: CPU time of a fixed pure-Python loop, to compare machines.
"""

from __future__ import annotations

import gc
import os
import statistics
import time
from pathlib import Path

from evals.measure import ref_loop_ms, rss_mb

__all__ = ["main"]


def main() -> None:
    from evals.matching import build_workload
    from pipeline.matching import Monitor

    root = Path(os.environ.get("WIREWATCH_EVAL_DATA_DIR", "../shared/data")).resolve()
    if not root.is_dir():
        print(f"SKIP: evaluation data not found at {root}")
        return
    watchlists, records = build_workload(root)
    gc.collect()
    before = rss_mb()
    wall, cpu = time.monotonic(), time.process_time()
    monitor = Monitor(watchlists)
    build_s, build_cpu_s = time.monotonic() - wall, time.process_time() - cpu
    gc.collect()
    rss = rss_mb() - before
    costs = []
    for record in records:
        runs = []
        for _ in range(3):
            start = time.thread_time_ns()
            monitor.match(record)
            runs.append((time.thread_time_ns() - start) / 1e6)
        costs.append(min(runs))
    candidates = statistics.median(len(monitor.candidates(r)) for r in records)
    phases: dict[str, list[float]] = {}
    for record in records:
        by_run = [monitor.match_phases(record) for _ in range(3)]
        for name in by_run[0]:
            phases.setdefault(name, []).append(min(run[name] for run in by_run))
    per_phase = " ".join(f"{n}_ms={statistics.median(v):.3f}" for n, v in phases.items())
    print(
        f"BENCH matching watchlists={len(monitor)} build_s={build_s:.1f} build_cpu_s={build_cpu_s:.1f} "
        f"rss_mb={rss:.0f} match_cpu_ms_median={statistics.median(costs):.3f} "
        f"match_cpu_ms_p99={statistics.quantiles(costs, n=100)[-1]:.3f} "
        f"candidates_median={candidates:.0f} articles={len(records)} {per_phase} "
        f"ref_loop_ms={ref_loop_ms():.0f}",
        flush=True,
    )
