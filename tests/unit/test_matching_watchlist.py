"""Watchlist YAML: shape checks, readable errors, hostile documents."""

from __future__ import annotations

import pytest

from pipeline.errors import PermanentError
from pipeline.watchlist import MAX_FILE_CHARS, parse_watchlists

GOOD = """
entities:
  - {id: kp-kim, name: Kim Jong Un, type: PERSON, aliases: [Kim Jong-un]}
watchlists:
  - id: dprk-missiles
    name: North Korean missile tests
    query: 'entity:kp-kim AND (missile* OR "nuclear test")'
    languages: [EN, fr]
    sources: {include: [WWW.Reuters.com], exclude: [tabloid.example]}
    min_salience: 0.2
    delivery: {webhook: "https://hooks.example.com/x", secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}
    labels: [asia]
  - id: stream-only
    query: putin
    enabled: false
"""


def test_parses_all_fields_and_normalises_codes_and_domains() -> None:
    wfile = parse_watchlists(GOOD)
    assert [e.id for e in wfile.entities] == ["kp-kim"]
    first, second = wfile.watchlists
    assert first.languages == ["en", "fr"]
    assert first.sources == {"include": ["reuters.com"], "exclude": ["tabloid.example"]}
    assert first.delivery.secret is not None
    assert first.delivery.secret.get_secret_value().startswith("whsec_")
    assert "whsec_" not in repr(first)  # secrets never print
    assert second.delivery.webhook is None and not second.enabled


def test_empty_document_is_an_empty_file() -> None:
    assert parse_watchlists("").watchlists == []


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("watchlists: [{id: a}]", "watchlists.0.query: Field required"),
        ("watchlists: [{id: 'a b', query: x}]", "watchlists.0.id"),
        ("watchlists: [{id: a, query: x, colour: red}]", "colour"),
        ("watchlists: [{id: a, query: x, sources: {only: [a.com]}}]", "include and exclude"),
        ("watchlists: [{id: a, query: x, sources: {include: ['http://a.com/x']}}]", "domains like"),
        ("watchlists: [{id: a, query: x, languages: [english]}]", "ISO 639-1"),
        ("watchlists: [{id: a, query: x, min_salience: 2}]", "min_salience"),
        (
            "watchlists: [{id: a, query: x, delivery: {webhook: 'https://h', secret: abc}}]",
            "whsec_",
        ),
        ("- just a list", "must be a mapping"),
        ("watchlists: [unclosed", "does not parse"),
        ("a: &x [1, 2]\nb: *x", "alias"),
    ],
)
def test_bad_documents_are_refused_with_a_reason(text: str, expected: str) -> None:
    with pytest.raises(PermanentError) as info:
        parse_watchlists(text)
    assert expected in str(info.value)


def test_billion_laughs_is_refused_quickly() -> None:
    lines = ['a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    lines += [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]" for i in range(1, 12)]
    with pytest.raises(PermanentError) as info:
        parse_watchlists("\n".join(lines))
    assert info.value.reason == "bad_yaml"


def test_oversized_document_is_refused() -> None:
    with pytest.raises(PermanentError):
        parse_watchlists("#" * (MAX_FILE_CHARS + 1))
