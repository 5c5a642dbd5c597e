"""`make run` stays working: the demo ends with every webhook alert delivered and verified."""

from __future__ import annotations

import os
import subprocess

import pytest

from workers.runtime.processes import cli_argv

pytestmark = pytest.mark.e2e


def test_demo_delivers_verified_alerts() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("WIREWATCH_")}
    result = subprocess.run(cli_argv("demo"), env=env, capture_output=True, text=True, timeout=180)
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert "webhooks delivered+verified 2/2" in out
    assert "bad signatures 0" in out
    assert "pushed 7  enriched 6  dead-lettered 1" in out
    assert "no second alert" in out  # the two copies of one story alerted once
    assert out.rstrip().endswith("OK")
