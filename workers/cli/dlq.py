"""`wirewatch dlq` commands: list and replay dead letters."""

from __future__ import annotations

import json
from typing import Any

import click

from workers.cli import main

__all__ = ["dlq"]


def _client() -> Any:
    from workers.connection import NoRedisConfigured, redis_client
    from workers.logs import configure_logging
    from workers.settings import get_settings

    configure_logging("WARNING", get_settings().log_format)
    try:
        return redis_client(get_settings())
    except NoRedisConfigured as exc:
        click.echo(f"error: {exc}", err=True)
        raise SystemExit(2) from None


def _register_delivery_replayer() -> None:
    """Send ``deliver``-stage dead letters back to webhook delivery, not to ingest."""
    try:
        from workers.delivery import replay_dead_letter
    except ImportError:
        return
    from workers.dlq import register_replayer
    from workers.settings import get_settings

    register_replayer(
        "deliver", lambda client, keys, entry: replay_dead_letter(client, get_settings(), entry)
    )


@main.group()
def dlq() -> None:
    """Inspect and replay the dead-letter stream."""


@dlq.command("list")
@click.option("-n", "--count", type=click.IntRange(1, 100_000), default=50, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
def list_(count: int, as_json: bool) -> None:
    """List the newest dead letters: id, stage, reason, detail."""
    from workers.dlq import list_entries
    from workers.keys import Keys
    from workers.settings import get_settings

    rows = list_entries(_client(), Keys(get_settings().prefix), count=count)
    if not rows:
        if not as_json:
            click.echo("no dead letters")
        return
    for entry_id, entry in rows:
        if as_json:
            click.echo(json.dumps({"id": entry_id, **entry.model_dump(mode="json")}))
        else:
            click.echo(f"{entry_id}\t{entry.stage}\t{entry.reason}\t{entry.detail[:120]}")


@dlq.command()
@click.argument("ids", nargs=-1)
@click.option("--all", "all_", is_flag=True, help="Replay every dead letter.")
def replay(ids: tuple[str, ...], all_: bool) -> None:
    """Re-submit dead letters (by id, or --all); each replayed entry leaves the stream."""
    from workers.dlq import replay as do_replay
    from workers.keys import Keys
    from workers.settings import get_settings

    if bool(ids) == all_:
        click.echo("error: give dead-letter ids or --all (not both)", err=True)
        raise SystemExit(2)
    _register_delivery_replayer()
    result = do_replay(_client(), Keys(get_settings().prefix), None if all_ else list(ids))
    click.echo(f"replayed {len(result.replayed)}")
    for entry_id in result.missing:
        click.echo(f"  {entry_id}: not found")
    for entry_id, why in result.skipped.items():
        click.echo(f"  {entry_id}: skipped: {why}")
    if result.missing or result.skipped:
        raise SystemExit(1)
