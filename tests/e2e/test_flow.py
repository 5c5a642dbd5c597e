"""End to end as a crawler and a subscriber see it: raw XADD in, enriched records and signed webhooks out."""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import redis

from tests.pipeline_fixtures import PipelineProcesses, wait_until
from workers.delivery.receiver import WebhookReceiver
from workers.delivery.signing import generate_secret
from workers.runtime.processes import cli_argv

pytestmark = pytest.mark.e2e

ARTICLE = {
    "url": "https://tidewater-post.example/2026/04/harbour-crane-collapse",
    "title": "Crane collapse halts work at Tidewater harbour",
    "source": "tidewater-post.example",
    "text": (
        "A container crane collapsed at the Tidewater harbour on Sunday night, halting work "
        "at two of the port's five berths. Nobody was hurt, the harbour authority said, but "
        "ships bound for the terminal were diverted to neighbouring ports while engineers "
        "inspect the remaining cranes. Union representatives called for an independent "
        "inquiry into maintenance at the terminal."
    ),
}


def _client(url: str) -> redis.Redis:
    return redis.Redis.from_url(url, decode_responses=True)


def _records(client: redis.Redis) -> list[dict[str, Any]]:
    return [json.loads(f["record"]) for _, f in client.xrange("wirewatch:enriched")]


def _cli(
    env: dict[str, str], *args: str, stdin: bytes | None = None
) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(cli_argv(*args), env=env, input=stdin, capture_output=True, timeout=60)


def test_raw_xadd_comes_out_enriched(redis_url: str, pipeline_workers: PipelineProcesses) -> None:
    payload = json.dumps({**ARTICLE, "id": "crawler-123"})
    cli = shutil.which("redis-cli")
    if cli:  # exactly what the README tells a crawler author to run
        port = redis_url.rsplit(":", 1)[1].split("/")[0]
        subprocess.run(
            [cli, "-p", port, "XADD", "wirewatch:ingest", "*", "article", payload],
            check=True,
            capture_output=True,
        )
    else:
        _client(redis_url).xadd("wirewatch:ingest", {"article": payload})
    client = _client(redis_url)
    records = wait_until(lambda: _records(client), timeout=60, message="the enriched record")
    record = records[0]
    assert record["id"] == "crawler-123"  # the input's id, unchanged
    assert record["url"] == ARTICLE["url"]
    assert "crane collapsed" in record["text"]
    assert set(record["language"]) >= {"code", "confidence"}
    assert record["story_id"]
    assert record["alerts"] == []
    assert record["pipeline_version"]
    for entity in record["entities"]:
        for m in entity["mentions"]:
            assert record["text"][m["start"] : m["end"]] == m["text"]
    # Acknowledged and removed from the ingest stream once handed on.
    wait_until(lambda: client.xlen("wirewatch:ingest") == 0, timeout=10, message="ingest drained")
    assert client.xlen("wirewatch:dlq") == 0


def test_signed_webhook_once_per_story(
    redis_url: str,
    pipeline_workers: PipelineProcesses,
    pipeline_env: dict[str, str],
    tmp_path: Path,
) -> None:
    client = _client(redis_url)
    with WebhookReceiver(generate_secret()) as receiver:
        (tmp_path / "w.yaml").write_text(
            "watchlists:\n"
            "  - id: harbour-safety\n"
            "    name: Harbour safety\n"
            "    query: 'crane AND (harbour OR port)'\n"
            "    delivery:\n"
            f"      webhook: {receiver.url}/hook\n"
            f"      secret: {receiver.secret}\n"
        )
        applied = _cli(pipeline_env, "watchlist", "apply", str(tmp_path / "w.yaml"))
        assert applied.returncode == 0, applied.stderr.decode()
        assert b"watchlist/harbour-safety created" in applied.stdout
        shown = _cli(pipeline_env, "watchlist", "show", "harbour-safety")
        assert receiver.secret.encode() not in shown.stdout  # masked
        payload = json.dumps(ARTICLE)
        client.xadd("wirewatch:ingest", {"article": payload})
        wait_until(lambda: len(_records(client)) == 1, timeout=60, message="first record")
        client.xadd("wirewatch:ingest", {"article": payload})  # the same article, re-crawled
        records = wait_until(lambda: len(_records(client)) == 2 and _records(client), timeout=60)
        assert receiver.wait_for(1, timeout=30), pipeline_workers.logs()
        delivery = receiver.deliveries[0]
        assert delivery.verified, delivery.error
        body = delivery.json()
        assert delivery.webhook_id == body["alert_id"]
        assert body["watchlist_id"] == "harbour-safety"
        assert body["article"]["url"] == ARTICLE["url"]
        assert body["matches"], "an alert says why it fired"
        assert receiver.secret not in json.dumps(body)
        # One alert for the story: the re-crawl references it but creates nothing new.
        alerts = [
            json.loads(f["alert"]) for _, f in client.xrange("wirewatch:alerts") if "alert" in f
        ]
        assert [a["alert_id"] for a in alerts] == [body["alert_id"]]
        assert records[0]["alerts"] == [
            {"watchlist_id": "harbour-safety", "alert_id": body["alert_id"]}
        ]
        assert not receiver.wait_for(2, timeout=2.0)
        assert {d.webhook_id for d in receiver.deliveries} == {body["alert_id"]}


def _hostile_entries() -> list[tuple[str, dict[bytes, bytes]]]:
    big = "x " * 600_000  # 1.2 MB body, over the 1 MB limit the fixture sets
    ok = json.dumps(ARTICLE).encode()
    return [
        ("invalid_json", {b"article": b'{"url": "https://a.example/1", "text": '}),
        ("missing_url", {b"article": b'{"text": "no url here at all"}'}),
        # a title alone is a headline, not an error; only spaces and invisible marks are
        (
            "no_body",
            {b"article": b'{"url": "https://a.example/2", "title": " \\u200b ", "text": "\\t"}'},
        ),
        (
            "wrong_types",
            {b"article": b'{"url": 42, "text": ["not", "a", "string"], "metadata": "x"}'},
        ),
        (
            "bad_date",
            {
                b"article": b'{"url": "https://a.example/3", "text": "t", "published_at": "yesterday"}'
            },
        ),
        ("too_big", {b"article": json.dumps({"url": "https://a.example/4", "text": big}).encode()}),
        ("binary", {b"article": bytes(range(256)) * 8}),
        ("control_bytes", {b"article": b"\x00\x01\x02garbage\x7f" * 50}),
        (
            "undecodable",
            {b"article": b'{"url": "https://a.example/5", "text": "caf\xe9 \xff\xfe"}'},
        ),
        ("surrogate", {b"article": b'{"url": "https://a.example/6", "text": "\\ud800 lone"}'}),
        ("not_object", {b"article": b'["https://a.example/7"]'}),
        ("deep", {b"article": b"[" * 100_000}),
        ("no_field", {b"body": b"where is the article field"}),
        (
            "empty_html",
            {
                b"article": b'{"url": "https://a.example/8", "html": "<html><body><nav>Home</nav></body></html>"}'
            },
        ),
        ("ok1", {b"article": ok}),
        (
            "ok2",
            {
                b"article": json.dumps(
                    {**ARTICLE, "url": "https://other.example/x", "language": "en"}
                ).encode()
            },
        ),
    ]


def test_hostile_mix_is_counted_exactly(
    redis_url: str, pipeline_workers: PipelineProcesses
) -> None:
    raw = redis.Redis.from_url(redis_url)
    entries = _hostile_entries()
    for _, fields in entries:
        raw.xadd("wirewatch:ingest", fields)
    pushed = len(entries)

    def settled() -> bool:
        return raw.xlen("wirewatch:enriched") + raw.xlen("wirewatch:dlq") >= pushed

    wait_until(settled, timeout=90, message="every entry enriched or dead-lettered")
    wait_until(
        lambda: raw.xlen("wirewatch:ingest") == 0,
        timeout=10,
        message="ingest acknowledged everything",
    )
    enriched, dead = raw.xlen("wirewatch:enriched"), raw.xlen("wirewatch:dlq")
    assert enriched + dead == pushed
    assert enriched == 2
    client = _client(redis_url)
    letters = [json.loads(f["entry"]) for _, f in client.xrange("wirewatch:dlq")]
    reasons = sorted(d["reason"] for d in letters)
    assert reasons.count("invalid_json") == 3  # truncated, control bytes, nested too deep
    assert reasons.count("undecodable") == 3  # binary garbage, bad UTF-8, lone surrogate
    for reason in (
        "missing_body",
        "body_too_large",
        "undecodable",
        "missing_field",
        "invalid_article",
    ):
        assert reason in reasons, reasons
    assert all(d["payload"] or d["reason"] == "missing_field" for d in letters)
    for d in letters:
        assert d["detail"] and d["stage"] and d["at"]
    # Each original payload is kept untouched (base64 when it was not UTF-8).
    originals = {name: fields.get(b"article") for name, fields in entries}
    restored = {
        base64.b64decode(d["payload"]) for d in letters if d["payload_encoding"] == "base64"
    }
    assert restored == {originals["binary"], originals["undecodable"]}
    as_text = {d["payload"].encode() for d in letters if d["payload_encoding"] == "utf-8"}
    assert originals["invalid_json"] in as_text and originals["too_big"] in as_text
    assert pipeline_workers.alive(), pipeline_workers.logs()
    # The workers still serve: a valid article pushed after the storm comes out.
    raw.xadd(
        "wirewatch:ingest",
        {b"article": json.dumps({**ARTICLE, "url": "https://after.example/y"}).encode()},
    )
    wait_until(lambda: raw.xlen("wirewatch:enriched") == 3, timeout=60, message="post-storm record")


def test_push_status_tail_and_replay_cli(
    redis_url: str,
    pipeline_workers: PipelineProcesses,
    pipeline_env: dict[str, str],
    tmp_path: Path,
) -> None:
    good = json.dumps(ARTICLE)
    lines = [
        good,
        "{not json",
        json.dumps({"url": "https://b.example/1"}),
        json.dumps({**ARTICLE, "url": "https://c.example/2"}),
    ]
    src = tmp_path / "in.jsonl"
    src.write_text("\n".join(lines) + "\n")
    pushed = _cli(pipeline_env, "push", "--quiet", str(src))
    out = pushed.stdout.decode()
    assert pushed.returncode == 3, out  # some were rejected
    assert "accepted 2, rejected 2" in out
    assert "invalid_json" in out and "missing_body" in out
    client = _client(redis_url)
    wait_until(lambda: client.xlen("wirewatch:enriched") == 2, timeout=60, message="two records")
    status = json.loads(_cli(pipeline_env, "status", "--json").stdout)
    assert status["enriched"] == 2 and status["dead_letters"] == 0
    tail = _cli(pipeline_env, "tail", "enriched", "-n", "5").stdout.decode().splitlines()
    assert [json.loads(line)["url"] for line in tail] == [ARTICLE["url"], "https://c.example/2"]
    # A bad entry pushed raw lands in the DLQ; replay sends it back (and it dead-letters again).
    client.xadd("wirewatch:ingest", {"article": "{oops"})
    wait_until(lambda: client.xlen("wirewatch:dlq") == 1, timeout=30, message="dead letter")
    listed = _cli(pipeline_env, "dlq", "list").stdout.decode()
    assert "invalid_json" in listed
    first_id = listed.split("\t", 1)[0]
    replayed = _cli(pipeline_env, "dlq", "replay", first_id)
    assert replayed.returncode == 0 and b"replayed 1" in replayed.stdout
    wait_until(
        lambda: [i for i, _ in client.xrange("wirewatch:dlq")] not in ([], [first_id]),
        timeout=30,
        message="the replayed entry back in the DLQ under a new id",
    )
    assert client.xlen("wirewatch:dlq") == 1
