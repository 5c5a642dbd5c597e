"""The README's push examples run as written against `wirewatch up` on a bare machine.

The shell line and the Python snippet are read from README.md (tests/unit/test_readme.py
checks their shape) and run in a directory where `wirewatch up` keeps its embedded
server, with the virtualenv's `wirewatch` on PATH as a user's shell has it.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.pipeline_fixtures import wait_until
from tests.unit.test_readme import push_snippet, xadd_line
from workers.runtime.processes import cli_argv

pytestmark = pytest.mark.e2e


def test_readme_push_examples_reach_the_embedded_server(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("WIREWATCH_")}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env["WIREWATCH_BATCH_WAIT_MS"] = "50"
    env["PYTHONPATH"] = str(Path(__file__).resolve().parents[2])  # the tree under test
    log = (tmp_path / "up.log").open("wb")
    # The README's default data directory: .wirewatch in the current directory.
    up = subprocess.Popen(
        cli_argv("up", "--concurrency", "1"),
        env=env,
        cwd=tmp_path,
        stdout=log,
        stderr=log,
        start_new_session=True,
    )
    try:
        wait_until((tmp_path / ".wirewatch" / "server.url").exists, timeout=30, message="up")
        url = subprocess.run(
            ["wirewatch", "url"], env=env, cwd=tmp_path, capture_output=True, timeout=60
        )
        assert url.returncode == 0 and url.stdout.decode().startswith("redis://127.0.0.1:")
        expected = []
        if shutil.which("redis-cli", path=env["PATH"]):
            shell = subprocess.run(
                ["bash", "-c", xadd_line()], env=env, cwd=tmp_path, capture_output=True, timeout=60
            )
            assert shell.returncode == 0, shell.stderr.decode()
            expected.append("https://example.com/a")
        code = subprocess.run(
            [sys.executable, "-c", push_snippet()],
            env=env,
            cwd=tmp_path,
            capture_output=True,
            timeout=60,
        )
        assert code.returncode == 0, code.stderr.decode()
        expected.append("https://example.com/b")

        def urls() -> list[str]:
            out = subprocess.run(
                ["wirewatch", "tail", "enriched", "-n", "10"],
                env=env,
                cwd=tmp_path,
                capture_output=True,
                timeout=60,
            )
            found = [json.loads(line)["url"] for line in out.stdout.decode().splitlines()]
            return found if len(found) >= len(expected) else []

        assert sorted(wait_until(urls, timeout=90, message="the README's articles")) == expected
    finally:
        os.killpg(up.pid, signal.SIGINT)
        up.wait(timeout=60)
        log.close()
