"""SSRF policy for subscriber-supplied webhook URLs: a table of hostile URLs, all refused."""

from __future__ import annotations

import pytest

from workers.delivery.ssrf import (
    ForbiddenURL,
    check_url_static,
    parse_allow_hosts,
    parse_ip_literal,
    resolve_url,
)

HOSTILE = [
    # loopback, every spelling
    "http://127.0.0.1/",
    "http://127.0.0.2:8080/hook",
    "HTTP://LOCALHOST/",
    "http://localhost./",
    "http://api.localhost/",
    "http://2130706433/",  # decimal 127.0.0.1
    "http://017700000001/",  # octal, one part
    "http://0x7f000001/",  # hex, one part
    "http://0x7f.0x0.0x0.0x1/",  # hex per part
    "http://0177.0.0.1/",  # octal first part
    "http://127.1/",  # short form
    "http://127.0.1/",
    "http://[::1]/",
    "http://[0:0:0:0:0:0:0:1]/",
    # unspecified
    "http://0.0.0.0/",
    "http://0/",
    "http://[::]/",
    # private, CGNAT, link-local, metadata
    "http://10.1.2.3/",
    "http://172.16.0.1/",
    "http://172.31.255.255/",
    "http://192.168.1.1/",
    "http://100.64.0.1/",
    "http://169.254.169.254/latest/meta-data/",
    "http://169.254.170.2/v2/credentials",
    "http://100.100.100.200/latest/meta-data/",
    "http://metadata.google.internal/computeMetadata/v1/",
    "http://[fd00:ec2::254]/latest/meta-data/",
    "http://[fc00::1]/",
    "http://[fe80::1]/",
    "http://[fe80::1%25eth0]/",
    # multicast, reserved, broadcast, documentation, benchmarking
    "http://224.0.0.1/",
    "http://[ff02::1]/",
    "http://240.0.0.1/",
    "http://255.255.255.255/",
    "http://192.0.2.10/",
    "http://198.18.0.1/",
    "http://[2001:db8::1]/",
    # IPv4 hidden in IPv6
    "http://[::ffff:127.0.0.1]/",
    "http://[::ffff:7f00:1]/",
    "http://[::ffff:169.254.169.254]/",
    "http://[::ffff:10.0.0.1]/",
    "http://[::127.0.0.1]/",  # IPv4-compatible (deprecated)
    "http://[64:ff9b::7f00:1]/",  # NAT64 of loopback
    "http://[2002:7f00:1::]/",  # 6to4 of loopback
    "http://[2001:0:4136:e378:8000:63bf:80ff:fffe]/",  # Teredo (reserved range)
    # non-http schemes
    "ftp://example.com/",
    "file:///etc/passwd",
    "gopher://127.0.0.1:6379/_INFO",
    "dict://127.0.0.1:11211/stats",
    "javascript:alert(1)",
    "//example.com/hook",
    # user-info and parser-confusion tricks
    "http://user:pass@example.com/",
    "http://example.com@127.0.0.1/",
    "http://127.0.0.1#@example.com/",
    "http://127.0.0.1\\@example.com/",
    "http://example.com /",
    "http://example.com\r\nHost: internal/",
    "http:///no-host",
    "http://example.com:99999/",
    "",
]


@pytest.mark.parametrize("url", HOSTILE)
def test_hostile_url_is_refused_with_a_reason(url: str) -> None:
    with pytest.raises(ForbiddenURL) as info:
        resolve_url(url, resolver=lambda host, port: ["93.184.216.34"])
    assert str(info.value)


def test_the_table_is_big_enough() -> None:
    assert len(HOSTILE) >= 25


@pytest.mark.parametrize(
    "addresses",
    [
        ["127.0.0.1"],
        ["10.0.0.7"],
        ["169.254.169.254"],
        ["::1"],
        ["::ffff:192.168.0.1"],
        ["93.184.216.34", "10.0.0.1"],  # one bad address is enough to refuse
        [],
    ],
)
def test_names_resolving_to_forbidden_addresses_are_refused(addresses: list[str]) -> None:
    with pytest.raises(ForbiddenURL):
        resolve_url("https://rebind.example/hook", resolver=lambda host, port: addresses)


def test_unresolvable_name_is_refused() -> None:
    def fail(host: str, port: int) -> list[str]:
        raise OSError("Name or service not known")

    with pytest.raises(ForbiddenURL, match="does not resolve"):
        resolve_url("https://nowhere.example/", resolver=fail)


@pytest.mark.parametrize(
    ("url", "address"),
    [
        ("https://hooks.example.com/wirewatch", "93.184.216.34"),
        ("http://93.184.216.34:8080/x", "93.184.216.34"),
        ("https://[2606:4700:4700::1111]/x", "2606:4700:4700::1111"),
        ("https://0x5d.0xb8.0xd8.0x22/", "93.184.216.34"),  # odd spelling of a public address
    ],
)
def test_public_urls_pass_and_pin_the_checked_address(url: str, address: str) -> None:
    resolved = resolve_url(url, resolver=lambda host, port: ["93.184.216.34"])
    assert resolved.address == address
    assert not resolved.allow_listed


def test_allow_list_exempts_named_hosts_only() -> None:
    allow = parse_allow_hosts(" 127.0.0.1, Receiver.Test ")
    assert allow == {"127.0.0.1", "receiver.test"}
    assert resolve_url("http://127.0.0.1:9/x", allow).address == "127.0.0.1"
    assert resolve_url(
        "http://receiver.test/", allow, resolver=lambda h, p: ["10.0.0.5"]
    ).allow_listed
    with pytest.raises(ForbiddenURL):
        check_url_static("http://localhost:9/x", allow)
    with pytest.raises(ForbiddenURL):
        check_url_static("http://2130706433/x", allow)
    with pytest.raises(ForbiddenURL):  # the allow-list never allows other schemes
        check_url_static("ftp://127.0.0.1/", allow)
    with pytest.raises(ForbiddenURL):  # nor user-info
        check_url_static("http://a:b@127.0.0.1/", allow)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2130706433", "127.0.0.1"),
        ("0x7f.1", "127.0.0.1"),
        ("0177.0.0.01", "127.0.0.1"),
        ("[::ffff:7f00:1]", "::ffff:7f00:1"),
        ("example.com", None),
        ("1e100.net", None),
    ],
)
def test_ip_literals_in_odd_spellings_are_recognised(text: str, expected: str | None) -> None:
    got = parse_ip_literal(text)
    assert (str(got) if got is not None else None) == expected


def test_check_url_static_accepts_names_it_cannot_judge_yet() -> None:
    check_url_static("https://hooks.example.com/a?b=c")


def test_watchlist_apply_refuses_hostile_webhooks() -> None:
    from pipeline.entities import KnowledgeBase
    from pipeline.errors import PermanentError
    from pipeline.watchlist import Delivery, Watchlist, WatchlistFile
    from workers.watchlists.store import validate_file

    kb = KnowledgeBase.builtin()
    for url in ("http://0x7f.1:6379/", "http://[fd00:ec2::254]/", "gopher://x.example/"):
        delivery = Delivery(webhook=url, secret="whsec_bmV3")  # type: ignore[arg-type]
        wfile = WatchlistFile(watchlists=[Watchlist(id="w", query="strike", delivery=delivery)])
        with pytest.raises(PermanentError, match="webhook URL refused"):
            validate_file(wfile, kb)


@pytest.mark.parametrize("url", ["http://010.8.8.8:9/hook", "http://1.2.3.4.5/"])
def test_urls_the_sender_cannot_parse_are_refused_at_apply_time(url: str) -> None:
    from pipeline.entities import KnowledgeBase
    from pipeline.errors import PermanentError
    from pipeline.watchlist import Delivery, Watchlist, WatchlistFile
    from workers.watchlists.store import validate_file

    with pytest.raises(ForbiddenURL):
        check_url_static(url)
    delivery = Delivery(webhook=url, secret="whsec_bmV3")  # type: ignore[arg-type]
    wfile = WatchlistFile(watchlists=[Watchlist(id="w", query="strike", delivery=delivery)])
    with pytest.raises(PermanentError, match="webhook URL refused"):
        validate_file(wfile, KnowledgeBase.builtin())
