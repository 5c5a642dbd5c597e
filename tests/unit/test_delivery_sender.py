"""Response classification and the sender's behaviour, through httpx's MockTransport seam."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import httpx
import pytest

from workers.delivery.sender import classify, parse_retry_after, post


@pytest.mark.parametrize(
    ("status", "verdict"),
    [
        (200, "delivered"),
        (201, "delivered"),
        (204, "delivered"),
        (299, "delivered"),
        (301, "failed"),
        (302, "failed"),
        (307, "failed"),
        (308, "failed"),
        (400, "failed"),
        (401, "failed"),
        (404, "failed"),
        (410, "gone"),
        (429, "failed"),
        (500, "failed"),
        (502, "failed"),
        (503, "failed"),
    ],
)
def test_status_codes_are_classified(status: int, verdict: str) -> None:
    assert classify(status)[0] == verdict


def test_redirects_say_they_were_not_followed() -> None:
    assert classify(302)[1] == "http_302_redirect_not_followed"


def test_oversized_success_is_a_failure() -> None:
    assert classify(200, oversized=True) == ("failed", "response_too_large", None)


@pytest.mark.parametrize("status", [429, 503])
def test_retry_after_is_honoured_for_429_and_503(status: int) -> None:
    assert classify(status, "30") == ("failed", f"http_{status}", 30.0)


def test_retry_after_is_ignored_for_other_codes() -> None:
    assert classify(500, "30")[2] is None


def test_retry_after_parses_http_dates_and_caps() -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    assert parse_retry_after(format_datetime(now + timedelta(seconds=90), usegmt=True), now) == 90
    assert parse_retry_after("99999999") == 24 * 3600
    assert parse_retry_after("-5") == 0
    for junk in ("", None, "soon", "nan"):
        assert parse_retry_after(junk) is None


def _post(handler: httpx.MockTransport, url: str = "https://hooks.example.com/w?x=1", **kw: object):  # type: ignore[no-untyped-def]
    return post(
        url,
        '{"a":1}',
        {"webhook-id": "a1"},
        timeout_s=2,
        connect_timeout_s=1,
        max_response_bytes=kw.pop("max_bytes", 100),  # type: ignore[arg-type]
        resolver=lambda host, port: ["93.184.216.34"],
        transport=handler,
    )


def test_connects_to_the_checked_address_with_the_real_host_and_sni() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, text="thanks")

    result = _post(httpx.MockTransport(handler))
    assert result.verdict == "delivered" and result.excerpt == "thanks"
    (request,) = seen
    assert request.url.host == "93.184.216.34"
    assert request.url.path == "/w" and request.url.query == b"x=1"
    assert request.headers["host"] == "hooks.example.com"
    assert request.extensions["sni_hostname"] == "hooks.example.com"
    assert request.headers["webhook-id"] == "a1"


def test_redirect_is_not_followed() -> None:
    calls: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(str(request.url))
        return httpx.Response(302, headers={"location": "http://169.254.169.254/"})

    result = _post(httpx.MockTransport(handler))
    assert result.verdict == "failed" and result.status == 302
    assert len(calls) == 1


def test_response_body_is_capped() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=b"x" * 10_000)

    result = _post(httpx.MockTransport(handler), max_bytes=100)
    assert result.verdict == "failed" and result.error == "response_too_large"
    assert len(result.excerpt) <= 512


def test_network_errors_become_failures_not_exceptions() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused")

    result = _post(httpx.MockTransport(handler))
    assert result.verdict == "failed" and result.status is None
    assert result.error and "ConnectError" in result.error


def test_timeouts_become_failures() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("slow")

    assert _post(httpx.MockTransport(handler)).error == "timeout"


def test_forbidden_url_is_a_failure_without_a_request() -> None:
    calls: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        return httpx.Response(200)

    result = _post(httpx.MockTransport(handler), url="http://169.254.169.254/")
    assert result.verdict == "failed" and result.error and "forbidden_url" in result.error
    assert calls == []


def test_binary_response_excerpt_is_printable() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(500, content=b"\x00\x01\xffboom")

    assert _post(httpx.MockTransport(handler)).excerpt.endswith("boom")


def test_the_shared_tls_context_verifies_certificates_and_names() -> None:
    import ssl

    from workers.delivery.sender import _default_tls

    context = _default_tls()
    assert context is _default_tls()  # built once per process
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname
    assert context.cert_store_stats()["x509_ca"] > 50  # the CA bundle is loaded


def test_an_unparseable_url_is_a_failure_not_an_exception() -> None:
    # 010.8.8.8 is 8.8.8.8 to inet_aton and an invalid address to httpx.
    result = _post(httpx.MockTransport(lambda r: httpx.Response(200)), url="http://010.8.8.8:9/")
    assert result.verdict == "failed" and result.status is None and result.error
