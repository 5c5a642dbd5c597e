"""Run the real ``wirewatch`` command line against a test Redis."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def wirewatch(redis_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    """``wirewatch ARGS`` in a fresh process, configured for ``redis_url``; output captured."""
    env = {**os.environ, "WIREWATCH_REDIS_URL": redis_url, "WIREWATCH_LOG_FORMAT": "console"}
    return subprocess.run(
        [sys.executable, "-m", "workers.cli", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=120,
    )
