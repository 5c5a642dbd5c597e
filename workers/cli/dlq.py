"""`wirewatch dlq` commands: list, replay and purge dead letters."""

from __future__ import annotations

import json
import re

import click

from workers.cli import main
from workers.cli.common import connect, fail

__all__ = ["dlq"]


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
    """Inspect, replay and purge the dead-letter stream."""


@dlq.command("list")
@click.option("-n", "--count", type=click.IntRange(1, 100_000), default=50, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
def list_(count: int, as_json: bool) -> None:
    """List the newest dead letters: id, stage, reason, detail."""
    from workers.dlq import list_entries
    from workers.keys import Keys
    from workers.settings import get_settings

    rows = list_entries(connect(), Keys(get_settings().prefix), count=count)
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
        fail("give dead-letter ids or --all (not both)")
    bad = [i for i in ids if not re.fullmatch(r"\d+-\d+", i)]
    if bad:  # Redis would answer "Invalid stream ID": say what an id looks like instead
        fail(
            f"not a dead-letter id: {', '.join(bad)} (ids look like 1700000000000-0; "
            "`wirewatch dlq list` prints them)"
        )
    _register_delivery_replayer()
    result = do_replay(connect(), Keys(get_settings().prefix), None if all_ else list(ids))
    click.echo(f"replayed {len(result.replayed)}")
    for entry_id in result.missing:
        click.echo(f"  {entry_id}: not found")
    for entry_id, why in result.skipped.items():
        click.echo(f"  {entry_id}: skipped: {why}")
    if result.missing or result.skipped:
        raise SystemExit(1)


@dlq.command()
@click.option(
    "--before",
    required=True,
    metavar="ID|AGE",
    help="Delete dead letters older than this id (from `dlq list`; the id itself is kept) "
    "or this age: 90s, 30m, 12h, 7d, 2w.",
)
@click.option(
    "--yes",
    is_flag=True,
    help="Delete. Without it, only count what would go (exit 1 if anything would).",
)
def purge(before: str, yes: bool) -> None:
    """Delete handled dead letters older than an id or an age (never done automatically)."""
    from datetime import UTC, datetime

    from workers.dlq import count_before, purge_bound, server_ms
    from workers.dlq import purge as do_purge
    from workers.keys import Keys
    from workers.settings import get_settings

    client = connect()
    try:
        bound = purge_bound(before, server_ms(client))
    except ValueError as exc:
        fail(f"--before: {exc}")
    keys = Keys(get_settings().prefix)
    try:
        stamp = datetime.fromtimestamp(int(bound.split("-")[0]) / 1000, UTC)
        at = stamp.isoformat(timespec="seconds")
    except (OverflowError, OSError, ValueError):  # an id far beyond any clock
        at = "beyond any date"
    if not yes:
        count = count_before(client, keys, bound)
        click.echo(
            f"would delete {count} of {client.xlen(keys.dlq)} dead letters older than "
            f"{bound} ({at}); run again with --yes to delete them"
        )
        raise SystemExit(1 if count else 0)
    click.echo(f"deleted {do_purge(client, keys, bound)} dead letters older than {bound} ({at})")
