"""`wirewatch watchlist` commands: apply, list, show, remove.

Other command groups extend ``watchlist`` (test, backtest, enable, disable,
rotate-secret) by decorating more functions with ``@watchlist.command()`` here.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from workers.cli import main

__all__ = ["watchlist", "watchlist_store"]


def watchlist_store() -> Any:
    """Return a ``WatchlistStore`` on the configured Redis (exits with a message if none)."""
    from workers.connection import NoRedisConfigured, redis_client
    from workers.keys import Keys
    from workers.logs import configure_logging
    from workers.settings import get_settings
    from workers.watchlists import WatchlistStore

    settings = get_settings()
    configure_logging("WARNING", settings.log_format)
    try:
        client = redis_client(settings)
    except NoRedisConfigured as exc:
        click.echo(f"error: {exc}", err=True)
        raise SystemExit(2) from None
    return WatchlistStore(client, Keys(settings.prefix))


@main.group()
def watchlist() -> None:
    """Manage watchlists (declared in YAML, stored in Redis, picked up by every worker)."""


@watchlist.command()
@click.argument("file", metavar="FILE|-")
def apply(file: str) -> None:
    """Create or update the watchlists (and entities) of a YAML file; idempotent."""
    from pipeline.errors import PermanentError
    from pipeline.watchlist import parse_watchlists

    text = sys.stdin.read() if file == "-" else _read(Path(file))
    store = watchlist_store()
    try:
        wfile = parse_watchlists(text)
        from workers.resources import Resources
        from workers.settings import get_settings

        kb = Resources(store.client, store.keys, get_settings()).base_kb()
        result = store.apply(wfile, kb=kb)
    except PermanentError as exc:
        click.echo(f"error: {exc.detail}", err=True)
        raise SystemExit(1) from None
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
        click.echo(f"error: cannot read {path}: {exc}", err=True)
        raise SystemExit(2) from None


@watchlist.command("list")
@click.option("--json", "as_json", is_flag=True)
def list_(as_json: bool) -> None:
    """List watchlists: id, state, delivery, query."""
    from workers.watchlists import public_dict

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
    from workers.watchlists import public_dict

    w = watchlist_store().get(watchlist_id)
    if w is None:
        click.echo(f"error: no watchlist {watchlist_id!r}", err=True)
        raise SystemExit(1)
    click.echo(json.dumps(public_dict(w), indent=2, ensure_ascii=False))


@watchlist.command()
@click.argument("watchlist_id")
def remove(watchlist_id: str) -> None:
    """Delete one watchlist."""
    if not watchlist_store().remove(watchlist_id):
        click.echo(f"error: no watchlist {watchlist_id!r}", err=True)
        raise SystemExit(1)
    click.echo(f"watchlist/{watchlist_id} removed")


@watchlist.command()
@click.argument("watchlist_id")
def enable(watchlist_id: str) -> None:
    """Enable a watchlist and re-enable its webhook endpoint after it was disabled."""
    from workers.delivery import endpoint

    store = watchlist_store()
    w = store.get(watchlist_id)
    if w is None:
        click.echo(f"error: no watchlist {watchlist_id!r}", err=True)
        raise SystemExit(1)
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
    w = store.get(watchlist_id)
    if w is None:
        click.echo(f"error: no watchlist {watchlist_id!r}", err=True)
        raise SystemExit(1)
    if not w.delivery.webhook:
        click.echo(f"error: watchlist {watchlist_id!r} has no webhook", err=True)
        raise SystemExit(1)
    if new_secret is not None and not new_secret.startswith("whsec_"):
        click.echo("error: --secret must start with whsec_", err=True)
        raise SystemExit(2)
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
