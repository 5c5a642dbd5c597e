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


def _children(pid: int) -> dict[int, str]:
    """Return pid -> command line of the direct children of ``pid`` (Linux /proc)."""
    out: dict[int, str] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            if int(fields[1]) == pid:
                cmdline = (stat.parent / "cmdline").read_bytes().replace(b"\0", b" ")
                out[int(stat.parent.name)] = cmdline.decode(errors="replace")
        except (OSError, IndexError, ValueError):
            continue
    return out


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads /proc")
def test_up_holds_its_data_dir_restarts_a_dead_child_and_stops_on_sighup(
    tmp_path: Path,
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("WIREWATCH_")}
    env["WIREWATCH_DATA_DIR"] = str(tmp_path / "data")
    log = (tmp_path / "up.log").open("wb")
    up = subprocess.Popen(cli_argv("up", "--concurrency", "1"), env=env, stdout=log, stderr=log)
    try:
        url_file = tmp_path / "data" / "server.url"
        wait_until(url_file.exists, timeout=30, message="the embedded server's URL file")
        wait_until(
            lambda: "running:" in (tmp_path / "up.log").read_text(errors="replace"),
            timeout=30,
            message="the services",
        )
        # A second `up` on the same directory: refused, names the holder, deletes nothing.
        second = subprocess.run(cli_argv("up"), env=env, capture_output=True, text=True, timeout=60)
        assert second.returncode == 1
        assert f"pid {up.pid}" in second.stderr
        assert url_file.exists()
        # A service process that dies is started again, with a log line.
        ingest = next(p for p, cmd in _children(up.pid).items() if cmd.endswith(" ingest "))
        os.kill(ingest, signal.SIGKILL)
        wait_until(
            lambda: (
                "restarted ingest: it exited with -9"
                in (tmp_path / "up.log").read_text(errors="replace")
            ),
            timeout=30,
            message="the restart line",
        )
        wait_until(
            lambda: any(cmd.endswith(" ingest ") for cmd in _children(up.pid).values()),
            timeout=10,
        )
    finally:
        services = _children(up.pid)
        up.send_signal(signal.SIGHUP)  # the terminal was closed
        code = up.wait(timeout=60)
        log.close()
    text = (tmp_path / "up.log").read_text(errors="replace")
    assert code == 0, text[-3000:]
    assert not url_file.exists()
    for pid in services:  # nothing left running under PID 1
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
