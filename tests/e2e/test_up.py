"""`wirewatch up` on a bare machine: embedded server, all services, a clean Ctrl-C."""

from __future__ import annotations

import json
import os
import signal
import subprocess
from pathlib import Path

import pytest

from tests.pipeline_fixtures import wait_until
from workers.runtime.processes import cli_argv

pytestmark = pytest.mark.e2e


def test_up_runs_everything_and_stops_cleanly(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("WIREWATCH_")}
    env["WIREWATCH_DATA_DIR"] = str(tmp_path / "data")
    env["WIREWATCH_BATCH_WAIT_MS"] = "50"
    log = (tmp_path / "up.log").open("wb")
    up = subprocess.Popen(
        cli_argv("up", "--concurrency", "1"),
        env=env,
        stdout=log,
        stderr=log,
        start_new_session=True,
    )
    try:
        url_file = tmp_path / "data" / "server.url"
        wait_until(url_file.exists, timeout=30, message="the embedded server's URL file")
        text = (tmp_path / "up.log").read_text(errors="replace")
        assert "embedded server: redis://127.0.0.1:" in text and str(tmp_path / "data") in text
        # A second terminal: no URL configured, the CLI finds the running server.
        article = {"url": "https://up.example/a", "text": "The lock gates reopened after repairs."}
        src = tmp_path / "a.jsonl"
        src.write_text(json.dumps(article) + "\n")
        pushed = subprocess.run(
            cli_argv("push", "-q", str(src)), env=env, capture_output=True, timeout=60
        )
        assert pushed.returncode == 0, pushed.stderr.decode()

        def enriched() -> list[str]:
            out = subprocess.run(
                cli_argv("tail", "enriched"), env=env, capture_output=True, timeout=60
            )
            return out.stdout.decode().splitlines()

        lines = wait_until(enriched, timeout=90, message="the enriched record")
        assert json.loads(lines[0])["url"] == article["url"]
    finally:
        os.killpg(up.pid, signal.SIGINT)  # what Ctrl-C in the terminal does
        code = up.wait(timeout=60)
        log.close()
    assert code == 0, (tmp_path / "up.log").read_text(errors="replace")[-3000:]
    assert not (tmp_path / "data" / "server.url").exists()
    assert "ingest.stopped" in (tmp_path / "up.log").read_text(errors="replace")
