"""A canary HTTP server on loopback must receive zero requests from hostile webhook URLs.

The sender is called for real (real sockets, no transport seam) with every
spelling of the canary's address; with no allow-list all must be refused before
a connection is made. The allow-listed control proves the canary is reachable.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.integration.receiver import Receiver
from workers.delivery.sender import post

pytestmark = pytest.mark.integration

SPELLINGS = [
    "http://127.0.0.1:{port}/hook",
    "http://localhost:{port}/hook",
    "http://2130706433:{port}/hook",
    "http://0x7f000001:{port}/hook",
    "http://0x7f.1:{port}/hook",
    "http://0177.0.0.1:{port}/hook",
    "http://127.1:{port}/hook",
    "http://[::ffff:127.0.0.1]:{port}/hook",
    "http://[::ffff:7f00:1]:{port}/hook",
    "http://0.0.0.0:{port}/hook",
    "http://evil.example@127.0.0.1:{port}/hook",
    "https://127.0.0.1:{port}/hook",
    "http://rebind.example:{port}/hook",  # a name that resolves to loopback
]


@pytest.fixture
def canary() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.close()


def _post(url: str, allow: str = "") -> str | None:
    result = post(
        url,
        "{}",
        {"webhook-id": "canary"},
        timeout_s=2,
        connect_timeout_s=1,
        max_response_bytes=1024,
        allow_hosts=allow,
        resolver=lambda host, port: ["127.0.0.1"],
    )
    return result.error


def test_canary_receives_zero_requests(canary: Receiver) -> None:
    port = canary.server.server_port
    for template in SPELLINGS:
        error = _post(template.format(port=port))
        assert error and error.startswith("forbidden_url"), (template, error)
    assert canary.requests == []


def test_allow_listed_control_reaches_the_canary(canary: Receiver) -> None:
    assert _post(canary.url, allow="127.0.0.1") is None
    assert len(canary.requests) == 1
