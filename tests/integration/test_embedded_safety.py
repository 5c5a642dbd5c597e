"""The embedded server's data directory: one holder, a damaged AOF refused and repaired,
and a supervised child started again."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import redis

from tests.pipeline_fixtures import wait_until
from workers.runtime.embedded import (
    AOF_DIR,
    DamagedAOF,
    DataDirBusy,
    hold_data_dir,
    repair_aof,
    start_server,
)
from workers.runtime.processes import ProcessGroup, cli_argv

pytestmark = pytest.mark.integration


def test_a_data_dir_has_one_holder(tmp_path: Path) -> None:
    with hold_data_dir(tmp_path / "data"):
        with pytest.raises(DataDirBusy, match=f"pid {os.getpid()}"):
            with hold_data_dir(tmp_path / "data"):
                pass
    with hold_data_dir(tmp_path / "data"):  # released with its holder
        pass


def _damage(data_dir: Path) -> None:
    incr = sorted((data_dir / AOF_DIR).glob("*.incr.aof"))[-1]
    with incr.open("ab") as fh:  # a torn write with more after it (two writers, a bad disk)
        fh.write(b"*3\r\n$3\r\nSET\r\n$4\r\ntorn\r\n$5\r\nab")
        fh.write(b"garbage\r\n")


@pytest.mark.parametrize("prefer_path", [False, True], ids=["embedded", "redis-server"])
def test_a_damaged_aof_is_refused_and_repair_fixes_it(tmp_path: Path, prefer_path: bool) -> None:
    data = tmp_path / "data"
    server = start_server(data / "redis", prefer_path=prefer_path)
    client = redis.Redis.from_url(server.url)
    for n in range(50):
        client.set(f"k{n}", n)
    client.close()
    server.stop()
    _damage(data / "redis")
    with pytest.raises(DamagedAOF, match="wirewatch repair"):
        start_server(data / "redis", prefer_path=prefer_path)
    if prefer_path:  # redis-server's own data: its own tool, redis-check-aof
        backup, output = repair_aof(data / "redis", binary=server.binary)
        assert backup is not None, output
    else:  # the embedded server, as `up` runs it: the command the refusal names
        env = {k: v for k, v in os.environ.items() if not k.startswith("WIREWATCH_")}
        env["WIREWATCH_DATA_DIR"] = str(data)
        done = subprocess.run(
            cli_argv("repair"), env=env, capture_output=True, text=True, timeout=120
        )
        assert done.returncode == 0, done.stdout + done.stderr
        assert "repaired" in done.stdout
    assert list((data / "redis").glob(f"{AOF_DIR}.bak-*"))  # the original is kept
    server = start_server(data / "redis", prefer_path=prefer_path)
    try:
        assert redis.Redis.from_url(server.url).dbsize() == 50
    finally:
        server.stop()


def test_repair_is_refused_while_up_holds_the_directory(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("WIREWATCH_")}
    env["WIREWATCH_DATA_DIR"] = str(tmp_path / "data")
    with hold_data_dir(tmp_path / "data"):
        done = subprocess.run(
            cli_argv("repair"), env=env, capture_output=True, text=True, timeout=120
        )
    assert done.returncode == 1
    assert f"pid {os.getpid()}" in done.stderr


def test_a_dead_child_is_started_again(tmp_path: Path) -> None:
    with ProcessGroup(log_dir=tmp_path) as group:
        first = group.start("sleeper", [sys.executable, "-c", "import time; time.sleep(60)"])
        os.kill(first.pid, signal.SIGKILL)
        first.wait()
        restarted = wait_until(group.restart_dead, timeout=10, message="a restart")
        assert restarted == {"sleeper": -signal.SIGKILL}
        assert group.procs["sleeper"].pid != first.pid
        assert group.procs["sleeper"].poll() is None
