"""POST one signed webhook to one checked address and say what happened.

The sender never follows redirects (a 3xx is a failure: a redirect could point
anywhere, including inside our network), connects only to the address the SSRF
check approved (``Host`` header and TLS SNI keep the real name, so virtual hosts
and certificate checks still work), ignores proxy environment variables, and
reads at most ``max_response_bytes`` of the answer. ``classify`` turns a status
code into the decision the scheduler takes; it is pure and unit-tested.

The timeout bounds the whole attempt, not each read: httpx's read timeout restarts with
every byte, so an endpoint that drips its answer a byte at a time could hold a delivery
slot for as long as it liked. A watchdog (``_Watchdog``) shuts the connection's socket
down at the deadline, whatever phase the attempt is in.
"""

from __future__ import annotations

import functools
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Literal

import httpx

from workers.delivery.ssrf import ForbiddenURL, Resolver, resolve_url

__all__ = ["Result", "Verdict", "classify", "parse_retry_after", "post"]

Verdict = Literal["delivered", "failed", "gone"]

# Longest Retry-After we honour; beyond it the regular schedule applies.
MAX_RETRY_AFTER_S = 24 * 3600.0
EXCERPT_CHARS = 512


@dataclass(frozen=True)
class Result:
    """One attempt's outcome, as recorded in the delivery log."""

    verdict: Verdict
    status: int | None
    latency_ms: float
    error: str | None
    excerpt: str
    retry_after_s: float | None = None
    address: str | None = None


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Return the seconds a ``Retry-After`` header asks us to wait (delta or HTTP date)."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - (now or datetime.now(UTC))).total_seconds()
    if seconds != seconds:  # NaN
        return None
    return min(max(seconds, 0.0), MAX_RETRY_AFTER_S)


def classify(
    status: int, retry_after: str | None = None, *, oversized: bool = False
) -> tuple[Verdict, str | None, float | None]:
    """Map a response to (verdict, error, retry-after seconds).

    2xx delivers (unless the body broke the size cap); 410 Gone means the
    subscriber wants no more deliveries; 429 and 503 honour ``Retry-After``;
    everything else, 3xx included, is a failure that the schedule retries.
    """
    if oversized:
        return "failed", "response_too_large", None
    if 200 <= status < 300:
        return "delivered", None, None
    if status == 410:
        return "gone", "http_410_gone", None
    if status in (429, 503):
        return "failed", f"http_{status}", parse_retry_after(retry_after)
    if 300 <= status < 400:
        return "failed", f"http_{status}_redirect_not_followed", None
    return "failed", f"http_{status}", None


@functools.lru_cache(maxsize=1)
def _default_tls() -> ssl.SSLContext:
    """The verifying TLS context, built once per process.

    ``httpx.Client(verify=True)`` loads the CA bundle again for every client: about 27 ms
    per attempt here, most of a loopback delivery's cost and a cap of ~40 deliveries/s per
    worker. A context holds no sessions of its own (client-side session caching is off in
    OpenSSL by default), so sharing it keeps each attempt's connection to itself.
    """
    import certifi

    return ssl.create_default_context(cafile=certifi.where())


class _Watchdog:
    """Cut an attempt's connection at ``deadline`` (``time.monotonic()``).

    httpcore reports each new connection through the request's ``trace`` extension; the
    watchdog arms a timer on its socket then. Shutting a socket down wakes a read blocked
    on it in another thread, so the attempt fails at once with a network error, which
    ``post`` reports as a timeout.
    """

    def __init__(self, deadline: float) -> None:
        self.deadline = deadline
        self.fired = False
        self._timer: threading.Timer | None = None

    def trace(self, event: str, info: dict[str, object]) -> None:
        if not event.endswith((".connect_tcp.complete", ".start_tls.complete")):
            return
        stream = info.get("return_value")
        get_extra = getattr(stream, "get_extra_info", None)
        sock = get_extra("socket") if callable(get_extra) else None
        if isinstance(sock, socket.socket):
            self.cancel()
            delay = max(0.0, self.deadline - time.monotonic())
            self._timer = threading.Timer(delay, self._cut, args=(sock,))
            self._timer.daemon = True
            self._timer.start()

    def _cut(self, sock: socket.socket) -> None:
        self.fired = True
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass  # already closed: the attempt is over anyway

    def cancel(self) -> None:
        if self._timer is not None:
            self._timer.cancel()


def _excerpt(data: bytes) -> str:
    text = data[: EXCERPT_CHARS * 4].decode("utf-8", errors="replace")[:EXCERPT_CHARS]
    return "".join(c if c.isprintable() or c in "\n\t" else "?" for c in text)


def _read(
    response: httpx.Response,
    max_response_bytes: int,
    deadline: float,
    elapsed_ms: Callable[[], float],
    address: str,
) -> Result:
    """Read at most ``max_response_bytes`` of the body before ``deadline``; classify."""
    data = bytearray()
    oversized = False
    if response.is_stream_consumed:  # a transport that pre-read the body (test seams)
        chunks: Iterable[bytes] = [response.content]
    else:
        chunks = response.iter_raw()
    for chunk in chunks:
        data.extend(chunk)
        if len(data) > max_response_bytes:
            oversized = True
            break
        if time.monotonic() > deadline:
            return Result(
                "failed", response.status_code, elapsed_ms(), "timeout_reading_body",
                _excerpt(bytes(data)), address=address,
            )  # fmt: skip
    verdict, error, retry_after = classify(
        response.status_code, response.headers.get("retry-after"), oversized=oversized
    )
    return Result(
        verdict, response.status_code, elapsed_ms(), error, _excerpt(bytes(data)),
        retry_after, address,
    )  # fmt: skip


def post(
    url: str,
    body: str,
    headers: dict[str, str],
    *,
    timeout_s: float,
    connect_timeout_s: float,
    max_response_bytes: int,
    allow_hosts: str = "",
    resolver: Resolver | None = None,
    transport: httpx.BaseTransport | None = None,
    verify: ssl.SSLContext | bool = True,
) -> Result:
    """POST ``body`` to ``url`` once; never raise for network or HTTP trouble.

    ``timeout_s`` bounds the whole attempt (headers and the capped body read);
    ``transport`` is the seam for unit tests (``httpx.MockTransport``); ``verify``
    lets tests trust their own certificate authority (never turn it off in production).
    """
    started = time.monotonic()

    def elapsed_ms() -> float:
        return round((time.monotonic() - started) * 1000.0, 1)

    try:
        target = resolve_url(url, allow_hosts, resolver=resolver)
    except ForbiddenURL as exc:
        return Result("failed", None, elapsed_ms(), f"forbidden_url: {exc}", "")

    deadline = started + timeout_s
    watchdog = _Watchdog(deadline)
    status: int | None = None  # known once the headers are in
    try:
        # Inside the try: a URL the SSRF check let through but httpx cannot parse (an
        # address literal like 010.8.8.8) is a failed attempt, never a crashed task.
        original = httpx.URL(url)
        pinned = original.copy_with(host=target.address)
        request_headers = dict(headers)
        request_headers["host"] = original.netloc.decode("ascii")
        request_headers["accept-encoding"] = "identity"  # the size cap counts wire bytes
        extensions = {"sni_hostname": target.host} if target.scheme == "https" else {}
        timeout = httpx.Timeout(timeout_s, connect=min(connect_timeout_s, timeout_s))
        with httpx.Client(
            timeout=timeout,
            follow_redirects=False,
            trust_env=False,
            transport=transport,
            verify=_default_tls() if verify is True else verify,
        ) as client:
            request = client.build_request(
                "POST", pinned, content=body.encode("utf-8"), headers=request_headers
            )
            request.extensions.update(extensions, trace=watchdog.trace)
            response = client.send(request, stream=True)
            status = response.status_code
            try:
                return _read(response, max_response_bytes, deadline, elapsed_ms, target.address)
            finally:
                response.close()
    except httpx.TimeoutException as exc:
        kind = "connect_timeout" if isinstance(exc, httpx.ConnectTimeout) else "timeout"
        return Result("failed", None, elapsed_ms(), kind, "", address=target.address)
    except httpx.HTTPError as exc:
        if watchdog.fired:  # our own cut at the deadline, not the endpoint's doing
            kind = "timeout" if status is None else "timeout_reading_body"
            return Result("failed", status, elapsed_ms(), kind, "", address=target.address)
        error = f"{type(exc).__name__}: {exc}"[:300]
        return Result("failed", None, elapsed_ms(), error, "", address=target.address)
    except (httpx.InvalidURL, ValueError, UnicodeError) as exc:  # InvalidURL is no HTTPError
        error = f"invalid_url: {type(exc).__name__}: {exc}"[:300]
        return Result("failed", None, elapsed_ms(), error, "", address=target.address)
    finally:
        watchdog.cancel()
