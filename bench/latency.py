"""How fast an alert reaches a subscriber: ``python -m bench latency``.

Starts a throwaway Redis and one worker per queue group exactly as ``bench.pipeline``
does, the ingest service with its default batching (32 articles or 200 ms), and a real
loopback webhook receiver (``workers.delivery.receiver.WebhookReceiver``, which verifies every
signature). One watchlist, applied with ``wirewatch watchlist apply``, matches every
pushed article. After one warm-up article (first-task start-up is not what a subscriber
sees in steady state), it pushes unique articles at a steady, light rate and times each
one from its push to its enriched record on ``wirewatch:enriched`` and to its verified
webhook; then, optionally, a burst pushed at once, to show latency under a backlog.

Prints per phase::

    BENCH latency rate=5 articles=150 record_p50_ms=... record_p95_ms=... webhook_p50_ms=...
      webhook_p95_ms=... webhook_max_ms=... lost=0 no_webhook=0 dead_letters=0
    BENCH latency-stages rate=5 ingest_wait_p50_ms=... to_match_p50_ms=... ...

``lost`` counts articles with no enriched record within the timeout (must be 0);
``no_webhook`` those whose record came but whose alert did not. ``rate=burst`` is the
burst phase.

Where the time goes (the ``latency-stages`` line, medians, each measured per article,
not guessed; all clocks are this machine's):

- ``ingest_wait``: push -> the ingest service sends the batch holding the article (the
  ``batch.sent`` lines of its log, matched to articles in stream order). At a light
  rate a batch never fills, so this is the batch wait, ``WIREWATCH_BATCH_WAIT_MS``
  (200 ms), counted from the batch's first article: ~210 ms at 1 article/s; at 5/s the
  next article tends to arrive just as the wait ends and joins the batch, so the median
  is ~105 ms (or ~200 ms when the two phases happen to miss each other).
- ``to_match``: batch sent -> the record's ``processed_at`` (stamped by the match task
  after the story stage): the clean, language, entities and match Celery hops with their
  work.
- ``to_emit``: ``processed_at`` -> the record's entry id on ``wirewatch:enriched`` (the
  Redis clock at the write): the hop to the emit task, the alert ledger and the write.
- ``to_attempt``: the delivery job's ``created_at`` (``submit``, inside emit) -> the first
  attempt's ``at`` in the delivery log: the ``alerts.deliver`` message crossing the
  broker to the deliver worker.
- ``to_receiver``: attempt start -> the receiver got the verified request: signing, the
  HTTP POST and verification. ``post`` is the same attempt's ``latency_ms`` from the
  delivery log (the sender's own timing, from before its client is built to the
  response).

Measured on 2 busy shared cores: at 5/s the hops ``to_match`` + ``to_emit`` take ~25 ms
and delivery (``to_attempt`` + ``to_receiver``) ~28 ms, ~22 ms of which is the sender's
POST to loopback: it builds a new HTTP client (and TLS context) per attempt. The batch
wait dominates a trickle. In a burst the records are out in under a second, but the one
deliver worker posts alerts one at a time, so ``to_attempt`` (the deliver queue) grows
to seconds: delivery, not batching, bounds latency under a backlog.

The arrival of a record or webhook is noted by this process (a reader thread on the
stream; the receiver's request handler), so each figure includes at most a few ms of
observation delay. Articles are generated text (random common English words with a
marker word the watchlist queries), so each is its own story and alerts once.

Environment: ``BENCH_LATENCY_RATE`` (articles per second, default 5),
``BENCH_LATENCY_SECONDS`` (default 30), ``BENCH_LATENCY_BURST`` (default 200; 0 skips
the burst), ``BENCH_LATENCY_TIMEOUT`` (seconds to wait for stragglers, default 120).
"""

from __future__ import annotations

import json
import math
import os
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.pipeline import start_workers

__all__ = ["main", "percentile", "summary_line"]

MARKER = "latencyprobe"  # in every generated article; the watchlist queries it
_WATCHLIST_ID = "bench-latency"


def percentile(values: Sequence[float], q: float) -> float:
    """Return the nearest-rank ``q``-th percentile (0 < q <= 100) of ``values``; NaN if empty.

    Nearest rank, not interpolation: every figure printed is one an article really had.
    """
    if not 0 < q <= 100:
        raise ValueError(f"percentile must be in (0, 100], got {q}")
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = math.ceil(q / 100 * len(ordered))
    return ordered[max(rank, 1) - 1]


def _ms(value: float) -> str:
    return "nan" if math.isnan(value) else f"{value:.0f}"


def summary_line(
    rate: str, pushed: int, record_ms: Sequence[float], webhook_ms: Sequence[float], **extra: int
) -> str:
    """Return the ``BENCH latency`` line for one phase (latencies in milliseconds)."""
    fields = {
        "rate": rate,
        "articles": str(pushed),
        "record_p50_ms": _ms(percentile(record_ms, 50)),
        "record_p95_ms": _ms(percentile(record_ms, 95)),
        "webhook_p50_ms": _ms(percentile(webhook_ms, 50)),
        "webhook_p95_ms": _ms(percentile(webhook_ms, 95)),
        "webhook_max_ms": _ms(max(webhook_ms, default=math.nan)),
        "lost": str(pushed - len(record_ms)),
        **{k: str(v) for k, v in extra.items()},
    }
    return "BENCH latency " + " ".join(f"{k}={v}" for k, v in fields.items())


# -- articles ------------------------------------------------------------------------------
def make_article(n: int, run: str, words: Sequence[str]) -> dict[str, Any]:
    """Return article ``n``: random common words (its own story) plus the marker word."""
    rng = random.Random(f"{run}-{n}")
    sentences = []
    for _ in range(12):
        picked = rng.choices(words, k=rng.randint(9, 16))
        sentences.append(" ".join(picked).capitalize() + ".")
    sentences.insert(rng.randint(0, len(sentences)), f"The {MARKER} number is {n}.")
    return {
        "url": f"https://bench.example/latency/{run}/{n}",
        "source": "bench.example",
        "title": " ".join(rng.choices(words, k=7)).capitalize(),
        "published_at": datetime.now(UTC).isoformat(),
        "text": "\n\n".join(" ".join(sentences[i : i + 4]) for i in range(0, len(sentences), 4)),
    }


# -- observation ---------------------------------------------------------------------------
@dataclass
class Observed:
    """Per-URL arrival times (wall clock, seconds) of enriched records and verified webhooks."""

    records: dict[str, tuple[float, dict[str, Any], int]] = field(default_factory=dict)
    webhooks: dict[str, tuple[float, str]] = field(default_factory=dict)  # url -> (t, alert id)
    lock: threading.Lock = field(default_factory=threading.Lock)


def _read_enriched(url: str, stream: str, seen: Observed, stop: threading.Event) -> None:
    """Note the arrival time, record and entry time (Redis ms) of every enriched record."""
    import redis

    client = redis.Redis.from_url(url)
    last = "0"
    while not stop.is_set():
        reply: Any = client.xread({stream: last}, block=100, count=500)
        now = time.time()
        for _stream, entries in reply or []:
            for entry_id, fields in entries:
                last = entry_id.decode()
                record = json.loads(fields[b"record"])
                with seen.lock:
                    seen.records.setdefault(record["url"], (now, record, int(last.split("-")[0])))


def _receiver(secret: str, seen: Observed) -> Any:
    """A ``WebhookReceiver`` that also notes when each verified alert arrived."""
    from workers.delivery.receiver import Delivery, WebhookReceiver

    class TimedReceiver(WebhookReceiver):
        def _record(self, delivery: Delivery) -> None:
            now = time.time()
            if delivery.verified:
                url = delivery.json()["article"]["url"]
                with seen.lock:
                    seen.webhooks.setdefault(url, (now, delivery.webhook_id))
            super()._record(delivery)

    return TimedReceiver(secret)


def _batches_sent(log: Path) -> list[tuple[float, int]]:
    """Return (time, size) of every ``batch.sent`` line of the ingest log, in order."""
    out = []
    for line in log.read_text(errors="replace").splitlines():
        try:
            row = json.loads(line)
        except ValueError:
            continue
        if isinstance(row, dict) and row.get("event") == "batch.sent":
            out.append((datetime.fromisoformat(row["timestamp"]).timestamp(), int(row["size"])))
    return out


def _sent_times(batches: list[tuple[float, int]], skip: int, count: int) -> list[float]:
    """Return the send time of articles ``skip..skip+count`` (ingest reads in stream order)."""
    per_article = [t for t, size in batches for _ in range(size)]
    return per_article[skip : skip + count]


# -- one phase -----------------------------------------------------------------------------
@dataclass
class Phase:
    name: str
    urls: list[str]
    pushed_at: list[float]
    first_index: int  # position of the phase's first article in the ingest stream


def _progress(phase: str, pushed: int, total: int, seen: Observed, urls: list[str]) -> None:
    with seen.lock:
        records = sum(u in seen.records for u in urls)
        hooks = sum(u in seen.webhooks for u in urls)
    print(
        f"latency {phase}: pushed {pushed}/{total} records {records} webhooks {hooks}",
        file=sys.stderr,
        flush=True,
    )


def _wait_done(phase: Phase, seen: Observed, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    next_note = 0.0
    while time.monotonic() < deadline:
        with seen.lock:
            done = all(u in seen.webhooks for u in phase.urls)
        if done:
            return
        if time.monotonic() >= next_note:
            _progress(phase.name, len(phase.urls), len(phase.urls), seen, phase.urls)
            next_note = time.monotonic() + 2.0
        time.sleep(0.05)


def _stage_line(rate: str, phase: Phase, seen: Observed, client: Any, log: Path) -> str:
    from workers.delivery import log as dlog
    from workers.keys import Keys

    keys = Keys()
    sent = _sent_times(_batches_sent(log), phase.first_index, len(phase.urls))
    stages: dict[str, list[float]] = {
        k: [] for k in ("ingest_wait", "to_match", "to_emit", "to_attempt", "to_receiver", "post")
    }
    for i, url in enumerate(phase.urls):
        rec = seen.records.get(url)
        hook = seen.webhooks.get(url)
        if rec is None or i >= len(sent):
            continue
        _, record, emitted_ms = rec
        matched = datetime.fromisoformat(record["processed_at"]).timestamp()
        stages["ingest_wait"].append(sent[i] - phase.pushed_at[i])
        stages["to_match"].append(matched - sent[i])
        stages["to_emit"].append(emitted_ms / 1000 - matched)
        if hook is None:
            continue
        job = dlog.get_job(client, keys, hook[1]) or {}
        attempts = dlog.list_attempts(client, keys, hook[1])
        if not job.get("created_at") or not attempts:
            continue
        first = datetime.fromisoformat(attempts[0]["at"]).timestamp()
        stages["to_attempt"].append(first - float(job["created_at"]))
        stages["to_receiver"].append(hook[0] - first)
        if attempts[0].get("latency_ms") is not None:  # the sender's own timing of the POST
            stages["post"].append(float(attempts[0]["latency_ms"]) / 1000)
    parts = [
        f"{k}_p50_ms={_ms(percentile([v * 1000 for v in vs], 50))}" for k, vs in stages.items()
    ]
    return f"BENCH latency-stages rate={rate} " + " ".join(parts)


def _explain_missing(client: Any) -> None:
    """On stderr: every delivery job not delivered, with its attempts (why an alert is late)."""
    from workers.delivery import log as dlog
    from workers.keys import Keys

    keys = Keys()
    for job in dlog.list_jobs(client, keys, limit=None):
        if job.get("status") == "delivered":
            continue
        attempts = dlog.list_attempts(client, keys, job["alert_id"])
        shown = {k: v for k, v in dlog.public_job(job).items() if k != "body"}
        print(f"latency: undelivered job {shown} attempts={attempts}", file=sys.stderr)


def _report(rate: str, phase: Phase, seen: Observed, client: Any, log: Path, dlq: int) -> None:
    with seen.lock:
        record_ms, webhook_ms = [], []
        for url, pushed in zip(phase.urls, phase.pushed_at, strict=True):
            if url in seen.records:
                record_ms.append((seen.records[url][0] - pushed) * 1000)
            if url in seen.webhooks:
                webhook_ms.append((seen.webhooks[url][0] - pushed) * 1000)
        no_webhook = sum(u in seen.records and u not in seen.webhooks for u in phase.urls)
    print(
        summary_line(
            rate, len(phase.urls), record_ms, webhook_ms, no_webhook=no_webhook, dead_letters=dlq
        ),
        flush=True,
    )
    print(_stage_line(rate, phase, seen, client, log), flush=True)
    if no_webhook:
        _explain_missing(client)


def _steady(client: Any, articles: list[str], rate: float, start: int, seen: Observed) -> Phase:
    from workers.keys import Keys

    keys = Keys()
    urls = [json.loads(a)["url"] for a in articles]
    phase = Phase("steady", urls, [], start)
    began = time.monotonic()
    next_note = began + 2.0
    for i, payload in enumerate(articles):
        delay = began + i / rate - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        phase.pushed_at.append(time.time())
        client.xadd(keys.ingest, {"article": payload})
        if time.monotonic() >= next_note:
            _progress("steady", i + 1, len(articles), seen, urls)
            next_note += 2.0
    return phase


def _burst(client: Any, articles: list[str], start: int, name: str = "burst") -> Phase:
    from workers.ingest.client import push_many
    from workers.keys import Keys

    urls = [json.loads(a)["url"] for a in articles]
    pushed = time.time()
    push_many(client, articles, keys=Keys())
    return Phase(name, urls, [pushed] * len(urls), start)


# -- setup ---------------------------------------------------------------------------------
def _apply_watchlist(env: dict[str, str], path: Path, webhook: str, secret: str) -> None:
    from workers.runtime.processes import cli_argv

    path.write_text(
        "watchlists:\n"
        f"  - id: {_WATCHLIST_ID}\n"
        "    name: Latency bench\n"
        f"    query: '{MARKER}'\n"
        "    delivery:\n"
        f"      webhook: {webhook}/alerts\n"
        f"      secret: {secret}\n",
        encoding="utf-8",
    )
    done = subprocess.run(
        cli_argv("watchlist", "apply", str(path)), env=env, capture_output=True, timeout=120
    )
    if done.returncode != 0:
        raise RuntimeError(f"watchlist apply failed: {done.stderr.decode(errors='replace')}")


def main() -> None:
    import redis
    import wordfreq

    from workers.delivery.signing import generate_secret
    from workers.keys import Keys
    from workers.runtime.commands import ingest_argv
    from workers.runtime.embedded import start_server
    from workers.runtime.processes import ProcessGroup, cli_argv

    # SIGTERM unwinds like Ctrl-C, so the finally blocks stop every child process.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    rate = float(os.environ.get("BENCH_LATENCY_RATE", "5"))
    seconds = float(os.environ.get("BENCH_LATENCY_SECONDS", "30"))
    burst = int(os.environ.get("BENCH_LATENCY_BURST", "200"))
    timeout = float(os.environ.get("BENCH_LATENCY_TIMEOUT", "120"))
    if rate <= 0 or seconds <= 0 or burst < 0:
        raise SystemExit("BENCH_LATENCY_RATE and _SECONDS must be > 0, _BURST >= 0")
    run = f"{int(time.time())}"
    words = [w for w in wordfreq.top_n_list("en", 3000) if w.isalpha() and w != MARKER]
    count = max(1, round(rate * seconds))
    payloads = [
        json.dumps(make_article(n, run, words), ensure_ascii=False)
        for n in range(1 + count + burst)
    ]
    keys = Keys()
    seen = Observed()
    stop = threading.Event()
    with tempfile.TemporaryDirectory(prefix="bench-latency-") as tmp:
        logs = Path(tmp) / "logs"
        server = start_server(Path(tmp) / "redis", prefer_path=True, appendonly=False)
        env = {k: v for k, v in os.environ.items() if not k.startswith("WIREWATCH_")}
        # INFO: readiness is read from the workers' "ready." line; batch.sent from ingest's.
        env.update(
            WIREWATCH_REDIS_URL=server.url,
            WIREWATCH_LOG_LEVEL="INFO",
            WIREWATCH_LOG_FORMAT="json",
            WIREWATCH_DATA_DIR=str(Path(tmp) / "data"),
            WIREWATCH_WEBHOOK_ALLOW_HOSTS="127.0.0.1",  # the receiver is on loopback
        )
        client = redis.Redis.from_url(server.url)
        reader = threading.Thread(
            target=_read_enriched, args=(server.url, keys.enriched, seen, stop), daemon=True
        )
        ingest = ProcessGroup(env=env, log_dir=logs)
        workers: ProcessGroup | None = None
        receiver = _receiver(generate_secret(), seen)
        try:
            print("latency: starting workers", file=sys.stderr, flush=True)
            workers = start_workers(env, logs)
            receiver.start()
            _apply_watchlist(env, Path(tmp) / "watchlists.yaml", receiver.url, receiver.secret)
            ingest.start("ingest", cli_argv(*ingest_argv()[1:]))
            reader.start()
            warm = _burst(client, payloads[:1], 0, name="warm-up")
            _wait_done(warm, seen, timeout)
            if warm.urls[0] not in seen.webhooks:
                raise RuntimeError(f"warm-up article never alerted; logs in {logs}")
            steady = _steady(client, payloads[1 : 1 + count], rate, 1, seen)
            _wait_done(steady, seen, timeout)
            _report(f"{rate:g}", steady, seen, client, logs / "ingest.log", client.xlen(keys.dlq))
            if burst:
                phase = _burst(client, payloads[1 + count :], 1 + count)
                _wait_done(phase, seen, timeout)
                _report("burst", phase, seen, client, logs / "ingest.log", client.xlen(keys.dlq))
        finally:
            stop.set()
            ingest.stop()
            if workers is not None:
                workers.stop()
            receiver.stop()
            if reader.is_alive():
                reader.join(timeout=2)
            server.stop()
