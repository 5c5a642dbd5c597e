"""Refuse webhook URLs that point inside our own network (server-side request forgery).

Subscribers choose their webhook URL, so a hostile one could make the delivery
worker talk to ``127.0.0.1:6379``, a cloud metadata service or a private admin
panel. Two checks guard against that:

* ``check_url_static`` runs at ``watchlist apply`` time and before every
  attempt: scheme (http/https only), no user-info, a host, and when the host is
  an address literal in any spelling (``2130706433``, ``0x7f.1``, ``0177.0.0.1``,
  ``[::ffff:127.0.0.1]``) the address itself; also names that always mean "this
  machine" or "the metadata service".
* ``resolve_url`` resolves the host once, refuses the URL if *any* address it
  resolves to is forbidden, and returns the address to connect to. The sender
  connects to that address (no second lookup, so no DNS-rebinding window) while
  keeping the ``Host`` header and TLS SNI/certificate check on the real name.

Hosts named in the allow-list setting (``WIREWATCH_WEBHOOK_ALLOW_HOSTS``) skip
the address checks; the scheme and user-info rules still apply.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from urllib.parse import SplitResult, urlsplit

import httpx

__all__ = [
    "ForbiddenURL",
    "ResolvedURL",
    "check_address",
    "check_url_static",
    "parse_allow_hosts",
    "parse_ip_literal",
    "resolve_url",
]

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# Explicit deny list, so the policy does not depend on the Python version's idea
# of ``is_global`` (which changed across 3.11/3.12 patch releases).
_DENY_NETWORKS: tuple[tuple[str, str], ...] = (
    ("0.0.0.0/8", "unspecified"),
    ("10.0.0.0/8", "private"),
    ("100.64.0.0/10", "carrier-grade NAT"),
    ("127.0.0.0/8", "loopback"),
    ("169.254.0.0/16", "link-local"),
    ("172.16.0.0/12", "private"),
    ("192.0.0.0/24", "reserved (IETF protocol assignments)"),
    ("192.0.2.0/24", "reserved (documentation)"),
    ("192.88.99.0/24", "reserved (6to4 relay)"),
    ("192.168.0.0/16", "private"),
    ("198.18.0.0/15", "reserved (benchmarking)"),
    ("198.51.100.0/24", "reserved (documentation)"),
    ("203.0.113.0/24", "reserved (documentation)"),
    ("224.0.0.0/4", "multicast"),
    ("240.0.0.0/4", "reserved"),
    ("255.255.255.255/32", "broadcast"),
    ("::/128", "unspecified"),
    ("::1/128", "loopback"),
    ("::/96", "IPv4-compatible (deprecated)"),
    ("100::/64", "discard-only"),
    ("2001::/23", "reserved (IETF protocol assignments)"),
    ("2001:db8::/32", "reserved (documentation)"),
    ("fc00::/7", "private (unique local)"),
    ("fe80::/10", "link-local"),
    ("fec0::/10", "site-local (deprecated)"),
    ("ff00::/8", "multicast"),
)
_DENY = tuple((ipaddress.ip_network(net), why) for net, why in _DENY_NETWORKS)

# Addresses of cloud metadata services, named in the error so operators see why.
_METADATA = {
    ipaddress.ip_address("169.254.169.254"),  # AWS, GCP, Azure, OpenStack, DigitalOcean
    ipaddress.ip_address("169.254.170.2"),  # AWS ECS task metadata
    ipaddress.ip_address("100.100.100.200"),  # Alibaba Cloud
    ipaddress.ip_address("fd00:ec2::254"),  # AWS IMDS over IPv6
}

# Names that mean "this machine" or "the metadata service" whatever DNS says.
_FORBIDDEN_NAMES = ("localhost", "localhost.localdomain", "metadata.google.internal", "metadata")
_FORBIDDEN_SUFFIXES = (".localhost", ".internal")

_NAT64 = ipaddress.ip_network("64:ff9b::/96")


class ForbiddenURL(ValueError):
    """Raised when a webhook URL is malformed or points at an address we refuse to call."""


@dataclass(frozen=True)
class ResolvedURL:
    """A checked URL and the single address the sender must connect to."""

    url: str
    scheme: str
    host: str  # the name as written (lower-case, no brackets)
    port: int
    address: str  # the checked IP to connect to
    allow_listed: bool


def parse_allow_hosts(value: str | Iterable[str]) -> frozenset[str]:
    """Turn the comma-separated allow-list setting into a set of lower-case host names."""
    items = value.split(",") if isinstance(value, str) else value
    return frozenset(h.strip().lower().strip("[]") for h in items if h.strip())


def parse_ip_literal(host: str) -> IPAddress | None:
    """Return the address a host string denotes as a literal, in any spelling, else ``None``.

    Besides the dotted-quad and IPv6 forms this accepts what ``inet_aton`` (and
    therefore many HTTP stacks) accept: ``2130706433``, ``0x7f000001``,
    ``0177.0.0.1``, ``127.1``.
    """
    text = host.strip().strip("[]")
    if "%" in text:  # IPv6 zone id: fe80::1%eth0
        text = text.split("%", 1)[0]
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        pass
    if text and all(c in "0123456789abcdefxABCDEFX." for c in text) and text[0].isdigit():
        try:
            return ipaddress.IPv4Address(socket.inet_aton(text))
        except OSError:
            return None
    return None


def _embedded_ipv4(addr: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    if addr.ipv4_mapped is not None:
        return addr.ipv4_mapped
    if addr.sixtofour is not None:
        return addr.sixtofour
    if addr.teredo is not None:
        return addr.teredo[1]
    if addr in _NAT64:
        return ipaddress.IPv4Address(int(addr) & 0xFFFFFFFF)
    return None


def check_address(addr: IPAddress) -> None:
    """Raise ``ForbiddenURL`` unless ``addr`` is a public unicast address."""
    if addr in _METADATA:
        raise ForbiddenURL(f"address {addr} is a cloud metadata service")
    if isinstance(addr, ipaddress.IPv6Address):
        inner = _embedded_ipv4(addr)
        if inner is not None:
            try:
                check_address(inner)
            except ForbiddenURL as exc:
                raise ForbiddenURL(f"address {addr} embeds {inner}: {exc}") from None
    for net, why in _DENY:
        if addr.version == net.version and addr in net:
            raise ForbiddenURL(f"address {addr} is {why}")
    if not addr.is_global or addr.is_multicast:
        raise ForbiddenURL(f"address {addr} is not a public unicast address")


def _split(url: str) -> SplitResult:
    if not isinstance(url, str) or not url:
        raise ForbiddenURL("webhook URL is empty")
    if len(url) > 2048:
        raise ForbiddenURL("webhook URL is longer than 2048 characters")
    if any(ord(c) < 0x21 or ord(c) == 0x7F for c in url):
        raise ForbiddenURL("webhook URL contains whitespace or control characters")
    if "\\" in url:
        raise ForbiddenURL("webhook URL contains a backslash")
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError as exc:
        raise ForbiddenURL(f"webhook URL does not parse: {exc}") from None
    try:  # the sender's own parser: what it cannot send must be refused at apply time
        httpx.URL(url)
    except (httpx.InvalidURL, ValueError, UnicodeError) as exc:
        raise ForbiddenURL(f"webhook URL cannot be sent to: {exc}") from None
    return parts


def check_url_static(url: str, allow_hosts: str | Iterable[str] = "") -> None:
    """Raise ``ForbiddenURL`` when the URL alone shows it must not be called.

    Call this when a watchlist is applied (refuse early, with a clear reason) and
    before every delivery attempt; ``resolve_url`` adds the DNS check.
    """
    parts = _split(url)
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise ForbiddenURL(f"webhook URL scheme {parts.scheme!r} is not http or https")
    if "@" in parts.netloc or parts.username is not None or parts.password is not None:
        raise ForbiddenURL("webhook URL must not contain user-info (user:password@)")
    host = (parts.hostname or "").lower()
    if not host:
        raise ForbiddenURL("webhook URL has no host")
    if host in parse_allow_hosts(allow_hosts):
        return
    bare = host.rstrip(".")
    if bare in _FORBIDDEN_NAMES or bare.endswith(_FORBIDDEN_SUFFIXES):
        raise ForbiddenURL(f"webhook host {host!r} names this machine or a metadata service")
    addr = parse_ip_literal(host)
    if addr is not None:
        check_address(addr)
    elif all(c.isdigit() or c == "." for c in bare):
        raise ForbiddenURL(f"webhook host {host!r} is a malformed address literal")


Resolver = Callable[[str, int], list[str]]


def _system_resolver(host: str, port: int) -> list[str]:
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in infos]


def resolve_url(
    url: str,
    allow_hosts: str | Iterable[str] = "",
    *,
    resolver: Resolver | None = None,
) -> ResolvedURL:
    """Check ``url``, resolve its host once and return the address to connect to.

    Every resolved address must pass: a name that resolves to one public and one
    private address is refused (an attacker controls which one we would get).
    """
    check_url_static(url, allow_hosts)
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    port = parts.port or (443 if scheme == "https" else 80)
    allowed = host in parse_allow_hosts(allow_hosts)
    literal = parse_ip_literal(host)
    if literal is not None:
        addresses = [str(literal)]
    else:
        try:
            addresses = (resolver or _system_resolver)(host, port)
        except (OSError, UnicodeError) as exc:
            raise ForbiddenURL(f"webhook host {host!r} does not resolve: {exc}") from None
    checked: list[str] = []
    for raw in addresses:
        addr = ipaddress.ip_address(raw.split("%", 1)[0])
        if not allowed:
            try:
                check_address(addr)
            except ForbiddenURL as exc:
                raise ForbiddenURL(f"webhook host {host!r} resolves to a forbidden {exc}") from None
        checked.append(str(addr))
    if not checked:
        raise ForbiddenURL(f"webhook host {host!r} resolves to no address")
    return ResolvedURL(
        url=url, scheme=scheme, host=host, port=port, address=checked[0], allow_listed=allowed
    )
