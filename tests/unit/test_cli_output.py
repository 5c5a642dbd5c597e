"""The command line keeps results on stdout and everything else on stderr, and says what
went wrong in one line (no traceback) for the usual mistakes. No server is needed: each
case fails before a command reaches Redis (the URL points at a closed port)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.cli import wirewatch

CLOSED = "redis://127.0.0.1:1/0"


def test_logs_before_any_configuration_go_to_stderr() -> None:
    # A command that never configures logging (a library logging on import, a quick
    # subcommand) must not mix log lines into the results a pipe reads.
    code = "from workers.logs import get_logger; get_logger().info('resources.reloaded')"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout == ""
    assert "resources.reloaded" in out.stderr


def test_replaying_a_malformed_dead_letter_id_is_a_clear_error() -> None:
    out = wirewatch(CLOSED, "dlq", "replay", "notanid")
    assert out.returncode == 2
    assert out.stdout == ""
    assert "not a dead-letter id: notanid" in out.stderr and "wirewatch dlq list" in out.stderr
    assert "Traceback" not in out.stderr


def test_pushing_nothing_fails_with_a_message(tmp_path: Path) -> None:
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    out = wirewatch(CLOSED, "push", str(empty))
    assert out.returncode == 3
    assert "no articles found" in out.stderr
    assert "Traceback" not in out.stderr
    (tmp_path / "dir").mkdir()
    assert wirewatch(CLOSED, "push", str(tmp_path / "dir")).returncode == 3


def test_url_prints_the_configured_server_and_nothing_else() -> None:
    out = wirewatch(CLOSED, "url")
    assert out.returncode == 0 and out.stdout == CLOSED + "\n"


def test_url_without_a_server_says_how_to_get_one(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("WIREWATCH_")}
    env["WIREWATCH_DATA_DIR"] = str(tmp_path)
    out = subprocess.run(
        [sys.executable, "-m", "workers.cli", "url"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert out.returncode == 2 and out.stdout == ""
    assert "wirewatch up" in out.stderr
