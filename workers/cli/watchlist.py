"""`wirewatch watchlist` commands: apply, list, show, remove.

Other command groups extend ``watchlist`` (test, backtest, enable, disable,
rotate-secret) by decorating more functions with ``@watchlist.command()`` here.
"""

from __future__ import annotations

import json
import os
import re
import sys
from pathlib import Path
from typing import Any

import click

from workers.cli import main
from workers.cli.common import connect, fail

__all__ = ["watchlist", "watchlist_store"]


def watchlist_store() -> Any:
    """Return a ``WatchlistStore`` on the configured Redis (exits with a message if none)."""
    from workers.keys import Keys
    from workers.settings import get_settings
    from workers.watchlists.store import WatchlistStore

    return WatchlistStore(connect(), Keys(get_settings().prefix))


def _existing(store: Any, watchlist_id: str) -> Any:
    """Return the stored watchlist, or exit 1 saying there is none."""
    w = store.get(watchlist_id)
    if w is None:
        fail(f"no watchlist {watchlist_id!r}", code=1)
    return w


@main.group()
def watchlist() -> None:
    """Manage watchlists (declared in YAML, stored in Redis, picked up by every worker)."""


@watchlist.command()
@click.argument("file", metavar="FILE|-")
def apply(file: str) -> None:
    """Create or update the watchlists (and entities) of a YAML file; idempotent."""
    from pipeline.errors import PermanentError
    from pipeline.watchlist import parse_watchlists
    from workers.watchlists.store import expand_env

    text = sys.stdin.read() if file == "-" else _read(Path(file))
    store = watchlist_store()
    try:
        wfile = parse_watchlists(expand_env(text, os.environ))
        from workers.settings import get_settings
        from workers.stages.resources import Resources

        kb = Resources(store.client, store.keys, get_settings()).base_kb()
        result = store.apply(wfile, kb=kb)
    except PermanentError as exc:
        fail(f"{exc.detail}", code=1)
    for wid in result.created:
        click.echo(f"watchlist/{wid} created")
    for wid in result.updated:
        click.echo(f"watchlist/{wid} configured")
    for wid in result.unchanged:
        click.echo(f"watchlist/{wid} unchanged")
    if result.entities_changed:
        click.echo(f"{result.entities_changed} entities stored")
    click.echo(f"version {result.version}")


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        fail(f"cannot read {path}: {exc}")


@watchlist.command("list")
@click.option("--json", "as_json", is_flag=True)
def list_(as_json: bool) -> None:
    """List watchlists: id, state, delivery, query."""
    from workers.watchlists.store import public_dict

    items = watchlist_store().list()
    if as_json:
        click.echo(json.dumps([public_dict(w) for w in items]))
        return
    if not items:
        click.echo("no watchlists")
        return
    for w in items:
        state = "enabled" if w.enabled else "disabled"
        target = "webhook" if w.delivery.webhook else "stream"
        click.echo(f"{w.id}\t{state}\t{target}\t{w.query}")


@watchlist.command()
@click.argument("watchlist_id")
def show(watchlist_id: str) -> None:
    """Show one watchlist as JSON (secrets masked)."""
    from workers.watchlists.store import public_dict

    w = _existing(watchlist_store(), watchlist_id)
    click.echo(json.dumps(public_dict(w), indent=2, ensure_ascii=False))


@watchlist.command()
@click.argument("watchlist_id")
def remove(watchlist_id: str) -> None:
    """Delete one watchlist."""
    if not watchlist_store().remove(watchlist_id):
        fail(f"no watchlist {watchlist_id!r}", code=1)
    click.echo(f"watchlist/{watchlist_id} removed")


@watchlist.command()
@click.argument("watchlist_id")
def enable(watchlist_id: str) -> None:
    """Enable a watchlist and re-enable its webhook endpoint after it was disabled."""
    from workers.delivery import endpoint

    store = watchlist_store()
    w = _existing(store, watchlist_id)
    if not w.enabled:
        store.put(w.model_copy(update={"enabled": True}))
    was_disabled = endpoint.enable(store.client, store.keys, watchlist_id)
    note = " (webhook endpoint re-enabled)" if was_disabled else ""
    click.echo(f"watchlist/{watchlist_id} enabled{note}")


@watchlist.command("rotate-secret")
@click.argument("watchlist_id")
@click.option(
    "--grace",
    default="24h",
    show_default=True,
    help="How long the old secret still signs (e.g. 24h, 30m, 0s).",
)
@click.option(
    "--secret",
    "new_secret",
    default=None,
    help="Use this whsec_ secret instead of a generated one.",
)
def rotate_secret(watchlist_id: str, grace: str, new_secret: str | None) -> None:
    """Give a webhook a new signing secret; both sign during the grace period.

    Prints the new secret once: configure it in the receiver before the grace ends.
    """
    from datetime import UTC, datetime, timedelta

    from pydantic import SecretStr

    from workers.cli.deliveries import parse_since
    from workers.delivery.signing import generate_secret

    store = watchlist_store()
    w = _existing(store, watchlist_id)
    if not w.delivery.webhook:
        fail(f"watchlist {watchlist_id!r} has no webhook", code=1)
    if new_secret is not None and not new_secret.startswith("whsec_"):
        fail("--secret must start with whsec_")
    now = datetime.now(UTC)
    grace_s = now.timestamp() - parse_since(grace, now.timestamp())
    secret = new_secret or generate_secret()
    delivery = w.delivery.model_copy(
        update={
            "secret": SecretStr(secret),
            "previous_secret": w.delivery.secret if grace_s > 0 else None,
            "previous_secret_expires_at": now + timedelta(seconds=grace_s) if grace_s > 0 else None,
        }
    )
    store.put(w.model_copy(update={"delivery": delivery}))
    click.echo(f"watchlist/{watchlist_id} secret rotated; new secret (shown once):")
    click.echo(secret)
    if grace_s > 0:
        click.echo(
            f"the previous secret also signs until {(now + timedelta(seconds=grace_s)).isoformat()}"
        )


@watchlist.command()
@click.argument("watchlist_id")
def disable(watchlist_id: str) -> None:
    """Disable a watchlist: it stays stored but no longer matches (``enable`` turns it back on)."""
    store = watchlist_store()
    w = _existing(store, watchlist_id)
    if w.enabled:
        store.put(w.model_copy(update={"enabled": False}))
    click.echo(f"watchlist/{watchlist_id} disabled")


def _query_error(exc: Any, query: str) -> None:
    click.echo(f"error: {exc.detail}", err=True)
    if exc.position is not None and "\n" not in query and len(query) <= 200:
        click.echo(f"  {query}", err=True)
        click.echo("  " + " " * min(exc.position, len(query)) + "^", err=True)


def _kb_and_store() -> tuple[Any, Any]:
    """Return the knowledge base the workers use and the store, or the local one and None."""
    from pipeline.entities import KnowledgeBase
    from workers.connection import NoRedisConfigured, redis_client
    from workers.keys import Keys
    from workers.settings import get_settings
    from workers.stages.resources import Resources, load_entity_file
    from workers.watchlists.store import WatchlistStore

    settings = get_settings()
    try:
        client = redis_client(settings)
        client.ping()
    except (NoRedisConfigured, OSError, ConnectionError) as exc:
        click.echo(
            f"note: no Redis ({exc.__class__.__name__}); using the built-in knowledge base",
            err=True,
        )
        kb = KnowledgeBase.builtin()
        extra = []
        for name in filter(None, (p.strip() for p in settings.entity_files.split(","))):
            extra.extend(load_entity_file(Path(name)))
        return (kb.extended(extra) if extra else kb), None
    keys = Keys(settings.prefix)
    return Resources(client, keys, settings).kb(), WatchlistStore(client, keys)


@watchlist.command("test")
@click.argument("query_or_id")
@click.option(
    "-i",
    "--input",
    "input_path",
    required=True,
    help="Article JSON: an ingest article (run through the pipeline) or an enriched record; - for stdin.",
)
def test_(query_or_id: str, input_path: str) -> None:
    """Explain why a watchlist (by id) or a query matches one article, or why not.

    Exit status: 0 match, 1 no match, 2 error (bad query or article).
    """
    from pipeline.errors import PermanentError, QueryError
    from pipeline.matching import compile_watchlist
    from pipeline.watchlist import Watchlist
    from workers.settings import get_settings
    from workers.watchlists.backtest import check_record, describe_match, record_from_json

    raw = sys.stdin.read() if input_path == "-" else _read(Path(input_path))
    kb, store = _kb_and_store()
    stored = store.get(query_or_id) if store is not None else None
    w = stored or Watchlist(id="query", name="command line", query=query_or_id)
    if stored is None and re.fullmatch(r"[\w.-]+", query_or_id):
        # One bare word: maybe a mistyped id. Say how it was taken, not only in the verdict.
        click.echo(
            f"note: no watchlist has the id {query_or_id!r}; testing it as a query", err=True
        )
    try:
        compiled = compile_watchlist(w.model_copy(update={"enabled": True}), kb)
    except QueryError as exc:
        _query_error(exc, w.query)
        raise SystemExit(2) from None
    try:
        record = record_from_json(raw, kb=kb, max_body_bytes=get_settings().max_body_bytes)
    except PermanentError as exc:
        fail(f"article: {exc.detail}")
    verdict = check_record(compiled, record)
    label = f"watchlist/{w.id}" if stored else "query"
    click.echo(
        f"{'MATCH' if verdict.matched else 'NO MATCH'}: {label} {w.query!r} on article {record.id}"
    )
    if stored is not None and not stored.enabled:
        click.echo("  (the watchlist is disabled: it would not alert now)")
    for match in verdict.matches:
        click.echo(f"  + {describe_match(match)}")
    for reason in verdict.reasons:
        click.echo(f"  - {reason}")
    raise SystemExit(0 if verdict.matched else 1)


@watchlist.command()
@click.argument("watchlist_id")
@click.option(
    "--last",
    default=1000,
    show_default=True,
    type=click.IntRange(1, 1_000_000),
    help="Records to replay.",
)
@click.option("--examples", default=5, show_default=True, type=click.IntRange(0, 100))
def backtest(watchlist_id: str, last: int, examples: int) -> None:
    """Replay the newest enriched records against a watchlist and count the alerts it would send."""
    from pipeline.errors import QueryError
    from workers.watchlists.backtest import backtest as run_backtest
    from workers.watchlists.backtest import describe_match

    kb, store = _kb_and_store()
    if store is None:
        fail("backtest reads the enriched stream: set WIREWATCH_REDIS_URL")
    w = _existing(store, watchlist_id)
    try:
        result = run_backtest(
            store.client, store.keys.enriched, w, kb, last=last, examples=examples
        )
    except QueryError as exc:
        _query_error(exc, w.query)
        raise SystemExit(2) from None
    click.echo(
        f"watchlist/{watchlist_id}: {result.records} records replayed, {result.matched} matched, "
        f"{result.alerts} alerts (one per story)"
        + (f", {result.unreadable} unreadable" if result.unreadable else "")
    )
    for record, matches in result.examples:
        click.echo(f"* {record.id} {record.title or record.url}")
        for match in matches[:3]:
            click.echo(f"    {describe_match(match)}")
