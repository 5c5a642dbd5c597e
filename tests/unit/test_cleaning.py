"""The cleaning stage's contract: hostile input gets a clear ``ContentError``, never a hang or crash."""

from __future__ import annotations

import random

import pytest

from pipeline.cleaning import REASONS, clean, decode_html
from pipeline.errors import ContentError, PermanentError
from pipeline.models import Article, Cleaned

STORY = (
    "<html><body><article><p>The regional court in Ostvik ruled on Thursday that the port authority "
    "had broken procurement rules when it awarded a dredging contract last year.</p>"
    "<p>The authority said it would appeal against the ruling, which could delay work on the harbour "
    "by several months.</p></article></body></html>"
)


def _reason(max_bytes: int = 1_000_000, **fields: str | None) -> str:
    with pytest.raises(ContentError) as err:
        clean(Article(url="https://x.example/a", **fields), max_bytes=max_bytes)  # type: ignore[arg-type]
    assert isinstance(err.value, PermanentError)
    assert err.value.reason in REASONS
    assert str(err.value)
    return err.value.reason


def test_clean_returns_a_cleaned_model() -> None:
    cleaned = clean(Article(url="https://x.example/a", html=STORY), max_bytes=1_000_000)
    assert isinstance(cleaned, Cleaned)
    assert cleaned.text.startswith("The regional court in Ostvik")
    assert "\n\nThe authority said" in cleaned.text


@pytest.mark.parametrize(
    "fields", [{}, {"html": ""}, {"text": "  \n\t "}, {"html": "   ", "text": ""}]
)
def test_empty_body(fields: dict[str, str]) -> None:
    assert _reason(**fields) == "empty_body"


def test_body_over_the_cap() -> None:
    assert _reason(text="a" * 1_000_001) == "body_too_large"
    # under the cap in characters, over it in UTF-8 bytes
    assert _reason(text="é" * 600_000) == "body_too_large"
    assert _reason(html="<p>" + "x" * 1_000_000 + "</p>") == "body_too_large"


@pytest.mark.timeout(30)
def test_deeply_nested_markup_is_refused_quickly() -> None:
    page = "<html><body>" + "<div>" * 200_000 + "deep text" + "</div>" * 200_000 + "</body></html>"
    assert _reason(html=page, max_bytes=5_000_000) == "deeply_nested"


@pytest.mark.timeout(30)
def test_random_bytes_are_not_html() -> None:
    rng = random.Random(7)
    for _ in range(20):
        data = bytes(rng.getrandbits(8) for _ in range(rng.randint(1, 4000)))
        with pytest.raises(ContentError) as err:
            decode_html(data)
        assert err.value.reason in {"not_html", "empty_body"}
    for magic in (b"%PDF-1.7\n", b"\x89PNG\r\n\x1a\n", b"\x1f\x8b\x08\x00"):
        with pytest.raises(ContentError) as err:
            decode_html(magic + b"<html><body>x</body></html>")
        assert err.value.reason == "not_html"


def test_binary_text_in_the_html_field_is_not_html() -> None:
    rng = random.Random(11)
    junk = bytes(rng.getrandbits(8) for _ in range(3000)).decode("latin-1")
    assert _reason(html="<html>" + junk) == "not_html"
    assert _reason(text="\x00\x01\x02 binary") == "not_html"


def test_bytes_without_markup_are_not_html() -> None:
    with pytest.raises(ContentError) as err:
        decode_html(b"just a plain sentence, no markup at all")
    assert err.value.reason == "not_html"
    with pytest.raises(ContentError) as err:
        decode_html(b"   \n ")
    assert err.value.reason == "empty_body"


@pytest.mark.timeout(60)
def test_fuzzed_markup_never_crashes() -> None:
    rng = random.Random(3)
    pieces = [
        "<div>",
        "</div>",
        "<p>",
        "</p>",
        "<table><tr><td>",
        "<script>",
        "</script>",
        "<!--",
        "-->",
        "<![CDATA[",
        "&amp;",
        "&#xD800;",
        "&#0;",
        "<svg><foreignObject>",
        "<math>",
        "Ostvik port ",
        "ruled on Thursday. ",
        "\u202e",
        "\ufffd",
        "<meta charset='utf-16'>",
        "<?xml version='1.0' encoding='latin-1'?>",
        "<html lang='x'>",
        "<li>",
        "<h1>",
    ]
    for _ in range(60):
        page = "".join(rng.choice(pieces) for _ in range(rng.randint(1, 300)))
        try:
            cleaned = clean(Article(url="https://x.example/f", html=page), max_bytes=1_000_000)
        except ContentError as err:
            assert err.reason in REASONS
        else:
            assert cleaned.text == cleaned.text.strip()


def test_many_elements_are_handled() -> None:
    page = "<html><body>" + "<p>Item number one of a long page.</p>" * 5000 + "</body></html>"
    cleaned = clean(Article(url="https://x.example/a", html=page), max_bytes=5_000_000)
    assert cleaned.text


def test_crawler_text_is_used_when_the_html_has_no_story() -> None:
    text = "The harbour reopened on Monday after a week of repairs, the port authority said."
    cleaned = clean(
        Article(
            url="https://x.example/a", html="<html><body><img src='a.png'></body></html>", text=text
        ),
        max_bytes=1_000_000,
    )
    assert cleaned.text == text
    assert (cleaned.content_type, cleaned.text_source) == ("short", "text")
