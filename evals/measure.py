"""Measuring helpers shared by the evaluations and the benchmarks."""

from __future__ import annotations

import time

__all__ = ["ref_loop_ms", "rss_mb"]


def rss_mb() -> float:
    """Return this process's resident memory in MB (peak RSS where /proc is missing)."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def ref_loop_ms() -> float:
    """CPU time of a fixed pure-Python loop, to scale timings between machines (idle core: 30-50)."""
    start = time.thread_time()
    total = 0
    for i in range(1_000_000):
        total += i
    return (time.thread_time() - start) * 1000
