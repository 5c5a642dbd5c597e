"""Every way a payload can be bad gets a clear reason, never a crash."""

from __future__ import annotations

import json

import pytest

from pipeline.errors import PipelineError
from workers.ingest.validation import parse_article

LIMIT = 10_000

CASES = [
    (b"{", "invalid_json"),
    (b"", "invalid_json"),
    (b"\x00\x01\x02", "invalid_json"),
    (bytes(range(256)), "undecodable"),
    (b'{"url": "https://a.example/", "text": "caf\xe9"}', "undecodable"),
    (b'{"url": "https://a.example/", "text": "\\udc00"}', "undecodable"),
    (b"[1, 2]", "invalid_article"),
    (b'"just a string"', "invalid_article"),
    (b'{"text": "no url"}', "invalid_article"),
    (b'{"url": "not-absolute", "text": "x"}', "invalid_article"),
    (b'{"url": 7, "text": "x"}', "invalid_article"),
    (b'{"url": "https://a.example/", "text": 7}', "invalid_article"),
    (b'{"url": "https://a.example/", "text": "x", "unknown": 1}', "invalid_article"),
    (b'{"url": "https://a.example/", "text": "x", "metadata": []}', "invalid_article"),
    (b'{"url": "https://a.example/", "text": "x", "published_at": "soon"}', "invalid_article"),
    (b'{"url": "https://a.example/"}', "missing_body"),
    (b'{"url": "https://a.example/", "text": "   "}', "missing_body"),
    (b'{"url": "https://a.example/", "html": null, "text": null}', "missing_body"),
    (
        json.dumps({"url": "https://a.example/", "text": "x" * (LIMIT + 1)}).encode(),
        "body_too_large",
    ),
    (b"[" * 50_000, "invalid_json"),
    (b" " * (3 * LIMIT + 1_000_001), "payload_too_large"),
]


@pytest.mark.parametrize(("raw", "reason"), CASES)
def test_bad_payloads_have_a_reason(raw: bytes, reason: str) -> None:
    with pytest.raises(PipelineError) as info:
        parse_article(raw, max_body_bytes=LIMIT)
    assert info.value.reason == reason
    assert info.value.detail


def test_valid_payload_passes_as_bytes_and_str() -> None:
    payload = {
        "url": "https://a.example/x",
        "html": "<p>hi</p>",
        "id": "given",
        "metadata": {"k": [1]},
    }
    for raw in (json.dumps(payload), json.dumps(payload).encode()):
        article = parse_article(raw, max_body_bytes=LIMIT)
        assert article.id == "given" and article.html == "<p>hi</p>"


def test_push_client_validates_at_the_source() -> None:
    from datetime import UTC, datetime

    from pipeline.models import Article
    from workers.ingest.client import to_payload

    model = Article(
        url="https://a.example/m", text="t", published_at=datetime(2026, 1, 2, tzinfo=UTC)
    )
    assert json.loads(to_payload(model))["published_at"].startswith("2026-01-02T00:00:00")
    assert (
        json.loads(to_payload({"url": "https://a.example/d", "html": "<p>x</p>"}))["html"]
        == "<p>x</p>"
    )
    with pytest.raises(PipelineError) as info:
        to_payload({"url": "https://a.example/none"})
    assert info.value.reason == "missing_body"
