"""The embedded server does not outlive an owner that is killed outright."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import redis

pytestmark = pytest.mark.integration

OWNER = """
import sys, time
from pathlib import Path
from workers.runtime.embedded import start_server
server = start_server(Path(sys.argv[1]), appendonly=False)
print(server.url, server.process.pid, flush=True)
time.sleep(600)
"""


@pytest.mark.skipif(sys.platform != "linux", reason="parent-death signal is Linux only")
def test_server_stops_when_its_owner_is_killed(tmp_path: Path) -> None:
    root = Path(__file__).resolve().parents[2]
    owner = subprocess.Popen(
        [sys.executable, "-c", OWNER, str(tmp_path / "data")],
        cwd=root,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert owner.stdout is not None
        url, pid = owner.stdout.readline().split()
        assert redis.Redis.from_url(url).ping()
    finally:
        owner.kill()  # SIGKILL: no finally, no atexit in the owner
        owner.wait(10)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            return
        time.sleep(0.05)
    os.kill(int(pid), signal.SIGKILL)  # do not leave it behind even when the test fails
    pytest.fail("the embedded server outlived its killed owner")
