"""Run benchmarks: ``python -m bench [NAME ...]``; each module prints ``BENCH <name> k=v ...``."""

from __future__ import annotations

import importlib
import pkgutil
import sys
from pathlib import Path

_OWN_TARGET = {"soak"}


def main(argv: list[str]) -> int:
    here = Path(__file__).parent
    available = sorted(
        m.name for m in pkgutil.iter_modules([str(here)]) if not m.name.startswith("_")
    )
    # The kill soak has its own target (``make soak``): minutes of kills, not a benchmark.
    names = argv or [n for n in available if n not in _OWN_TARGET]
    for name in names:
        if name not in available:
            print(f"unknown benchmark {name!r}; known: {', '.join(available)}", file=sys.stderr)
            return 2
        importlib.import_module(f"bench.{name}").main()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
