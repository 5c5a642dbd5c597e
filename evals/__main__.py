"""Run evaluations, print one ``EVAL <name> k=v ...`` line each, fail below the pinned floors.

Usage: ``python -m evals [NAME ...]`` (default: all). The data directory is
``WIREWATCH_EVAL_DATA_DIR`` (default ``../shared/data``). When it is missing the
evaluations are skipped, except under ``CI`` where that is an error.
"""

from __future__ import annotations

import importlib
import os
import sys
import time
import tomllib
from pathlib import Path

# name -> module in this package exposing ``run(data_dir: Path) -> dict[str, float]``
EVALS: dict[str, str] = {
    "cleaning-aeb": "evals.cleaning_aeb",
    "langid": "evals.langid",
    "entities": "evals.entities",
    "matching": "evals.matching",
    "stories": "evals.stories",
    "shortform": "evals.shortform",
    "ner": "evals.ner",
    "variants": "evals.variants",
}
FLOORS_DIR = Path(__file__).parent / "floors"


def data_dir() -> Path:
    return Path(os.environ.get("WIREWATCH_EVAL_DATA_DIR", "../shared/data")).resolve()


def check_floors(name: str, metrics: dict[str, float]) -> list[str]:
    """Return the broken floors of ``name`` (``floors/<name>.toml``: key = {min=.., max=..})."""
    path = FLOORS_DIR / f"{name}.toml"
    if not path.exists():
        return []
    failures = []
    for key, bound in tomllib.loads(path.read_text()).items():
        value = metrics.get(key)
        if value is None:
            failures.append(f"{name}: metric {key!r} missing")
            continue
        if "min" in bound and value < bound["min"]:
            failures.append(f"{name}: {key}={value:.4g} is below the floor {bound['min']}")
        if "max" in bound and value > bound["max"]:
            failures.append(f"{name}: {key}={value:.4g} is above the ceiling {bound['max']}")
    return failures


def _fmt(value: float) -> str:
    return f"{value:.4f}" if isinstance(value, float) else str(value)


def main(argv: list[str]) -> int:
    names = argv or list(EVALS)
    unknown = [n for n in names if n not in EVALS]
    if unknown:
        print(
            f"unknown evaluation(s): {', '.join(unknown)}; known: {', '.join(EVALS)}",
            file=sys.stderr,
        )
        return 2
    root = data_dir()
    if not root.is_dir():
        msg = f"evaluation data not found at {root} (set WIREWATCH_EVAL_DATA_DIR)"
        if os.environ.get("CI"):
            print(f"ERROR: {msg}", file=sys.stderr)
            return 1
        print(f"SKIP: {msg}")
        return 0
    failures: list[str] = []
    for name in names:
        module = importlib.import_module(EVALS[name])
        started = time.monotonic()
        metrics = module.run(root)
        line = " ".join(f"{k}={_fmt(v)}" for k, v in metrics.items())
        print(f"EVAL {name} {line}", flush=True)
        print(f"  ({name} took {time.monotonic() - started:.1f}s)", file=sys.stderr, flush=True)
        failures += check_floors(name, metrics)
    for failure in failures:
        print(f"FLOOR BROKEN: {failure}", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
