"""``wirewatch demo`` (``make run``): the whole flow on the bundled samples, in under 3 minutes.

Steps: start the embedded server in a temporary data directory; start the ingest
service and the workers as the real child processes ``wirewatch up`` runs; start a
local webhook receiver that verifies every signature with the ``standardwebhooks``
library; apply the demo watchlists (receiver URL and a fresh secret filled in);
push the samples (plus one broken entry, as a buggy crawler would send); wait until
every article is enriched or dead-lettered and every alert delivered; print a
summary; stop everything.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import click

from workers.delivery.receiver import WebhookReceiver

__all__ = ["SAMPLES", "run_demo"]

SAMPLES = Path(__file__).resolve().parent.parent / "data" / "samples"
_TIMEOUT_S = 150.0
_BROKEN_ENTRY = b'{"url": "https://broken-crawler.example/a", "text": "unterminated'


def _say(message: str) -> None:
    click.echo(message, err=True)


def _wait(predicate: Any, timeout: float, interval: float = 0.2) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return bool(predicate())


def _apply_watchlists(client: Any, keys: Any, receiver: WebhookReceiver) -> list[str]:
    from pipeline.watchlist import parse_watchlists
    from workers.settings import get_settings
    from workers.stages.resources import Resources
    from workers.watchlists.store import WatchlistStore, expand_env

    text = (SAMPLES / "watchlists.yaml").read_text(encoding="utf-8")
    text = expand_env(text, {"RECEIVER_URL": receiver.url, "WEBHOOK_SECRET": receiver.secret})
    store = WatchlistStore(client, keys)
    kb = Resources(client, keys, get_settings()).base_kb()
    result = store.apply(parse_watchlists(text), kb=kb)
    return result.created + result.updated + result.unchanged


def _push_samples(client: Any, keys: Any) -> tuple[int, list[str]]:
    from pipeline.errors import PipelineError
    from workers.ingest.client import push_many
    from workers.ingest.sources import Unreadable, iter_payloads
    from workers.ingest.validation import parse_article

    payloads, refused = [], []
    for label, raw in iter_payloads(str(SAMPLES)):
        if isinstance(raw, Unreadable):
            refused.append(f"{label}: {raw.reason}")
            continue
        try:
            parse_article(raw, max_body_bytes=5_000_000)
        except PipelineError as exc:
            refused.append(f"{label}: {exc.reason}")
            continue
        payloads.append(raw.decode() if isinstance(raw, bytes) else raw)
    push_many(client, payloads, keys=keys)
    client.xadd(keys.ingest, {"article": _BROKEN_ENTRY})  # what a buggy crawler might send
    return len(payloads) + 1, refused


def _summary(client: Any, keys: Any, receiver: WebhookReceiver, pushed: int, elapsed: float) -> int:
    records = [json.loads(f["record"]) for _, f in client.xrange(keys.enriched)]
    # The alerts stream also carries endpoint events (``type`` other than "alert").
    alerts = [
        a
        for a in (json.loads(f["alert"]) for _, f in client.xrange(keys.alerts) if "alert" in f)
        if a.get("type", "alert") == "alert"
    ]
    dead = [json.loads(f["entry"]) for _, f in client.xrange(keys.dlq)]
    verified = {d.webhook_id for d in receiver.deliveries if d.verified}
    bad_signatures = [d for d in receiver.deliveries if not d.verified]
    webhook_watchlists = {"offshore-wind", "chile-copper"}
    expected_webhooks = {a["alert_id"] for a in alerts if a["watchlist_id"] in webhook_watchlists}

    out = click.echo
    first_of_story: dict[str | None, str] = {}
    out("")
    out("wirewatch demo: what happened")
    out("=" * 72)
    for r in records:
        ents = sorted(r.get("entities", []), key=lambda e: -e.get("salience", 0))[:4]
        lang = r["language"]
        out(
            f"{r.get('source') or '?'}  [{lang['code']} {lang['confidence']:.2f}]  {r.get('title') or r['id']}"
        )
        names = ", ".join("{} ({})".format(e["name"], e["type"]) for e in ents)
        out(f"    entities: {names or '-'}")
        note = f"    story {r.get('story_id')}"
        if r.get("duplicate_of"):
            note += f"  (exact copy of {r['duplicate_of']})"
        elif r.get("story_id") in first_of_story:
            note += f"  (same story as {first_of_story[r['story_id']]}: no second alert)"
        first_of_story.setdefault(r.get("story_id"), r.get("source") or r["id"])
        out(note)
        for ref in r.get("alerts", []):
            if ref["watchlist_id"] in webhook_watchlists:
                mark = (
                    "delivered, signature verified"
                    if ref["alert_id"] in verified
                    else "NOT delivered"
                )
            else:
                mark = "stream only"
            out(f"    alert {ref['watchlist_id']}: {ref['alert_id']}  {mark}")
    for d in dead:
        out(f"dead letter [{d['stage']}] {d['reason']}: {d['detail'][:80]}")
    out("-" * 72)
    stories = {r.get("story_id") for r in records}
    out(
        f"pushed {pushed}  enriched {len(records)}  dead-lettered {len(dead)}  "
        f"stories {len(stories)}  languages {dict(Counter(r['language']['code'] for r in records))}"
    )
    out(
        f"alerts {len(alerts)} (webhook {len(expected_webhooks)}, stream only {len(alerts) - len(expected_webhooks)})  "
        f"webhooks delivered+verified {len(expected_webhooks & verified)}/{len(expected_webhooks)}  "
        f"bad signatures {len(bad_signatures)}"
    )
    out(f"took {elapsed:.1f} s")
    ok = (
        len(records) + len(dead) == pushed
        and expected_webhooks <= verified
        and not bad_signatures
        and len(expected_webhooks) > 0
    )
    out("OK" if ok else "INCOMPLETE: see the logs above")
    return 0 if ok else 1


def run_demo(*, keep: bool = False) -> int:
    """Run the demo; return the process exit code (0 when every alert arrived verified)."""
    from workers.delivery.signing import generate_secret
    from workers.keys import Keys
    from workers.logs import configure_logging
    from workers.runtime.embedded import start_server
    from workers.runtime.processes import ProcessGroup, cli_argv

    configure_logging("WARNING")
    # SIGTERM unwinds like Ctrl-C, so the finally block stops every child process.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    started = time.monotonic()
    workdir = Path(tempfile.mkdtemp(prefix="wirewatch-demo-"))
    # Named only if it is kept (--keep, or a failed run): it is removed at the end otherwise.
    _say(f"demo data and logs in {workdir}" if keep else "demo data in a temporary folder")
    server = start_server(workdir / "redis")
    _say(f"embedded server on {server.url}")
    env = {
        **os.environ,
        "WIREWATCH_REDIS_URL": server.url,
        "WIREWATCH_DATA_DIR": str(workdir),
        "WIREWATCH_WEBHOOK_ALLOW_HOSTS": "127.0.0.1",
        "WIREWATCH_BATCH_WAIT_MS": "100",
        "WIREWATCH_PREFIX": "wirewatch",
    }
    for name in ("WIREWATCH_REDIS_URL", "WIREWATCH_WEBHOOK_ALLOW_HOSTS", "WIREWATCH_PREFIX"):
        os.environ[name] = env[name]
    from workers.settings import get_settings

    get_settings.cache_clear()
    import redis

    client: Any = redis.Redis.from_url(server.url, decode_responses=True)
    keys = Keys("wirewatch")
    group = ProcessGroup(env=env, log_dir=workdir / "logs")
    code = 1
    try:
        with WebhookReceiver(generate_secret()) as receiver:
            applied = _apply_watchlists(client, keys, receiver)
            _say(f"watchlists applied: {', '.join(applied)}")
            group.start("ingest", cli_argv("ingest"))
            group.start(
                "worker",
                cli_argv("worker", "--queues", "clean,nlp,match,emit", "--concurrency", "2"),
            )
            group.start("worker-deliver", cli_argv("worker", "--queues", "deliver"))
            _say("started ingest and workers")
            pushed, refused = _push_samples(client, keys)
            for line in refused:
                _say(f"refused before pushing: {line}")
            _say(f"pushed {pushed} entries; waiting for the pipeline ...")

            def finished() -> bool:
                if group.dead():
                    raise RuntimeError(f"a process exited: {group.dead()}")
                return int(client.xlen(keys.enriched)) + int(client.xlen(keys.dlq)) >= pushed

            if not _wait(finished, _TIMEOUT_S - (time.monotonic() - started)):
                _say("timed out waiting for the pipeline")
            webhook_alerts = [
                f
                for _, f in client.xrange(keys.alerts)
                if '"watchlist_id":"offshore-wind"' in f.get("alert", "")
                or '"watchlist_id":"chile-copper"' in f.get("alert", "")
            ]
            _say(f"waiting for {len(webhook_alerts)} webhook deliveries ...")
            receiver.wait_for(
                len(webhook_alerts), max(5.0, _TIMEOUT_S - (time.monotonic() - started))
            )
            code = _summary(client, keys, receiver, pushed, time.monotonic() - started)
    except Exception as exc:
        _say(f"demo failed: {type(exc).__name__}: {exc}")
    finally:
        group.stop(timeout=20)
        client.close()
        server.stop()
        if keep or code != 0:  # a run that failed keeps its logs to read
            _say(f"kept {workdir} (logs in {workdir / 'logs'})")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
        sys.stdout.flush()
    return code
