"""An endpoint that drips its answer cannot hold a delivery past the attempt's timeout.

A raw TCP server on loopback reads the request and then sends its answer a few bytes at
a time, each gap shorter than the timeout, so no single read ever times out. The
attempt must still end at the timeout: in the status line, in the headers, or in the
body. (httpx's read timeout alone would let each of these run for the whole drip.)
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import pytest

from workers.delivery.sender import Result, post

pytestmark = pytest.mark.integration

TIMEOUT_S = 1.0
GAP_S = 0.3  # each pause is well under the timeout
ANSWER = b"HTTP/1.1 200 OK\r\ncontent-length: 200\r\ncontent-type: text/plain\r\n\r\n" + b"x" * 200


class _Dripper:
    """Answers every connection with ``ANSWER``: ``head`` bytes at once, then 3 at a time."""

    def __init__(self, head: int) -> None:
        self.head = head
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.done = threading.Event()
        threading.Thread(target=self._serve, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.sock.getsockname()[1]}/hook"

    def _serve(self) -> None:
        while not self.done.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._answer, args=(conn,), daemon=True).start()

    def _answer(self, conn: socket.socket) -> None:
        with conn:
            conn.settimeout(10)
            try:
                conn.recv(65536)
                conn.sendall(ANSWER[: self.head])
                for i in range(self.head, len(ANSWER), 3):
                    time.sleep(GAP_S)
                    conn.sendall(ANSWER[i : i + 3])
            except OSError:
                return  # the sender cut us off: what the test wants

    def close(self) -> None:
        self.done.set()
        self.sock.close()


@pytest.fixture(
    params=[0, 20, ANSWER.index(b"\r\n\r\n") + 10], ids=["status-line", "headers", "body"]
)
def dripper(request: pytest.FixtureRequest) -> Iterator[_Dripper]:
    d = _Dripper(request.param)
    yield d
    d.close()


def _post(url: str) -> Result:
    return post(
        url,
        "{}",
        {"webhook-id": "drip"},
        timeout_s=TIMEOUT_S,
        connect_timeout_s=TIMEOUT_S,
        max_response_bytes=1024,
        allow_hosts="127.0.0.1",
    )


def test_a_dripping_answer_is_cut_at_the_timeout(dripper: _Dripper) -> None:
    full_drip_s = (len(ANSWER) - dripper.head) / 3 * GAP_S
    assert full_drip_s > 4 * TIMEOUT_S  # otherwise this test proves nothing
    result = _post(dripper.url)
    assert result.verdict == "failed"
    assert result.error in ("timeout", "timeout_reading_body"), result
    assert result.latency_ms < 2.5 * TIMEOUT_S * 1000, result
    if dripper.head > ANSWER.index(b"\r\n\r\n"):  # the headers were in: the status is known
        assert (result.status, result.error) == (200, "timeout_reading_body")


def test_a_prompt_answer_is_delivered() -> None:
    d = _Dripper(len(ANSWER))
    try:
        result = _post(d.url)
    finally:
        d.close()
    assert (result.verdict, result.status, result.error) == ("delivered", 200, None)
