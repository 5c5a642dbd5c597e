"""A real HTTP receiver on loopback, scripted to answer webhook attempts badly or well.

Each ``Receiver`` listens on its own port; ``script`` is the list of answers it
gives in order (the last one repeats). Every request is recorded with its
arrival time, headers and body so tests can assert what a subscriber saw.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

__all__ = ["Answer", "Received", "Receiver", "wait_for"]


def wait_for(predicate: Callable[[], Any], timeout: float = 20.0, interval: float = 0.05) -> Any:
    """Poll ``predicate`` until it returns something truthy; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s")
        time.sleep(interval)


@dataclass(frozen=True)
class Answer:
    """One scripted answer: a status with headers and body, a hang, or a huge body."""

    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b"ok"
    hang_s: float = 0.0
    body_bytes: int = 0  # when > 0, stream this many bytes instead of ``body``


@dataclass(frozen=True)
class Received:
    at: float
    path: str
    headers: dict[str, str]
    body: bytes


class Receiver:
    """A threaded HTTP server on 127.0.0.1 that follows a script and records requests."""

    def __init__(self, script: list[Answer] | None = None) -> None:
        self.script: list[Answer] = list(script or [Answer()])
        self.requests: list[Received] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server naming
                receiver._handle(self)

            do_GET = do_POST  # noqa: N815

            def log_message(self, *args: Any) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_port}/hook"

    def set_script(self, script: list[Answer]) -> None:
        with self._lock:
            self.script = list(script)

    def _next(self) -> Answer:
        with self._lock:
            return self.script.pop(0) if len(self.script) > 1 else self.script[0]

    def _handle(self, h: BaseHTTPRequestHandler) -> None:
        length = int(h.headers.get("content-length") or 0)
        body = h.rfile.read(length) if length else b""
        with self._lock:
            self.requests.append(Received(time.time(), h.path, dict(h.headers.items()), body))
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
        answer = self._next()
        try:
            if answer.hang_s:
                self._stop.wait(answer.hang_s)
            h.send_response(answer.status)
            for name, value in answer.headers.items():
                h.send_header(name, value)
            size = answer.body_bytes or len(answer.body)
            h.send_header("content-length", str(size))
            h.end_headers()
            if answer.body_bytes:
                chunk = b"x" * 65536
                sent = 0
                while sent < answer.body_bytes and not self._stop.is_set():
                    h.wfile.write(chunk[: answer.body_bytes - sent])
                    sent += len(chunk)
            else:
                h.wfile.write(answer.body)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the sender hung up (timeout or size cap): that is the point
        finally:
            with self._lock:
                self.in_flight -= 1

    def close(self) -> None:
        self._stop.set()
        self.server.shutdown()
        self.server.server_close()
