"""HTTPS to a pinned address: the sender connects to the checked IP, yet TLS sees the real name.

A throwaway certificate for ``receiver.test`` (made with the ``openssl`` command;
the test skips without it) is served on 127.0.0.1. The name resolves (through the
resolver seam) to 127.0.0.1; SNI and certificate verification must use the name,
the ``Host`` header must carry it, and a different name on the same address must
fail certificate verification.
"""

from __future__ import annotations

import shutil
import ssl
import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from workers.delivery.sender import post

pytestmark = pytest.mark.integration


class _TLSReceiver:
    def __init__(self, cert: Path, key: Path) -> None:
        self.hosts: list[str] = []
        self.sni: list[str | None] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server naming
                self.rfile.read(int(self.headers.get("content-length") or 0))
                receiver.hosts.append(self.headers.get("host", ""))
                self.send_response(204)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                return

        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert, key)
        context.sni_callback = lambda sock, name, ctx: self.sni.append(name)  # type: ignore[assignment,func-returns-value]
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def port(self) -> int:
        return int(self.server.server_address[1])

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def certificate(tmp_path: Path) -> tuple[Path, Path]:
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("openssl command not available")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        [
            openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
            "-subj", "/CN=receiver.test", "-addext", "subjectAltName=DNS:receiver.test",
            "-keyout", str(key), "-out", str(cert),
        ],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    return cert, key


@pytest.fixture
def tls_receiver(certificate: tuple[Path, Path]) -> Iterator[_TLSReceiver]:
    r = _TLSReceiver(*certificate)
    yield r
    r.close()


def _post(url: str, allow: str, cert: Path) -> Any:
    return post(
        url,
        "{}",
        {"webhook-id": "tls"},
        timeout_s=5,
        connect_timeout_s=5,
        max_response_bytes=1024,
        allow_hosts=allow,
        resolver=lambda host, port: ["127.0.0.1"],
        verify=ssl.create_default_context(cafile=str(cert)),
    )


def test_pinned_https_keeps_sni_host_and_certificate_check(
    tls_receiver: _TLSReceiver, certificate: tuple[Path, Path]
) -> None:
    cert, _ = certificate
    result = _post(f"https://receiver.test:{tls_receiver.port}/hook", "receiver.test", cert)
    assert result.verdict == "delivered", result
    assert result.address == "127.0.0.1"
    assert tls_receiver.sni == ["receiver.test"]
    assert tls_receiver.hosts == [f"receiver.test:{tls_receiver.port}"]


def test_a_name_the_certificate_does_not_cover_fails_verification(
    tls_receiver: _TLSReceiver, certificate: tuple[Path, Path]
) -> None:
    cert, _ = certificate
    result = _post(f"https://other.test:{tls_receiver.port}/hook", "other.test", cert)
    assert result.verdict == "failed" and result.status is None
    assert tls_receiver.hosts == []
