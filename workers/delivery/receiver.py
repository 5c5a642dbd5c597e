"""A local webhook receiver that verifies every Standard Webhooks signature.

Why shipped: ``wirewatch demo`` shows a subscriber's side of an alert, and the
end-to-end tests need the same real HTTP endpoint. Verification uses the
``standardwebhooks`` library exactly as a subscriber would, never our own signer.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from standardwebhooks import Webhook

__all__ = ["Delivery", "WebhookReceiver"]

_MAX_BODY = 2_000_000


@dataclass
class Delivery:
    """One request the receiver got: path, headers, body, and whether the signature verified."""

    path: str
    headers: dict[str, str]
    body: bytes
    verified: bool
    error: str = ""

    @property
    def webhook_id(self) -> str:
        return self.headers.get("webhook-id", "")

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class WebhookReceiver:
    """``with WebhookReceiver(secret) as r:`` serves on ``r.url`` (127.0.0.1, a free port)."""

    secret: str
    status: int = 204
    deliveries: list[Delivery] = field(default_factory=list)
    _server: ThreadingHTTPServer | None = None
    _thread: threading.Thread | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _changed: threading.Condition = field(init=False)

    def __post_init__(self) -> None:
        self._changed = threading.Condition(self._lock)

    @property
    def url(self) -> str:
        assert self._server is not None, "receiver not started"
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def _record(self, delivery: Delivery) -> None:
        with self._changed:
            self.deliveries.append(delivery)
            self._changed.notify_all()

    def start(self) -> WebhookReceiver:
        receiver = self
        verifier = Webhook(self.secret)

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                length = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(min(length, _MAX_BODY))
                headers = {k.lower(): v for k, v in self.headers.items()}
                try:
                    verifier.verify(body, headers)
                    verified, error = True, ""
                except Exception as exc:  # any verification failure is recorded, not raised
                    verified, error = False, f"{type(exc).__name__}: {exc}"
                receiver._record(Delivery(self.path, headers, body, verified, error))
                self.send_response(receiver.status if verified else 400)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                return

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="webhook-receiver", daemon=True
        )
        self._thread.start()
        return self

    def wait_for(self, count: int, timeout: float) -> bool:
        """Wait until at least ``count`` deliveries arrived; return whether they did."""
        with self._changed:
            return self._changed.wait_for(lambda: len(self.deliveries) >= count, timeout)

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> WebhookReceiver:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
