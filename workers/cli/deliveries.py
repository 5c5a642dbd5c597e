"""`wirewatch deliveries` commands: list, show and replay webhook deliveries."""

from __future__ import annotations

import json
import re
import time
from datetime import UTC, datetime

import click

from workers.cli import main
from workers.cli.common import context, fail

__all__ = ["deliveries", "parse_since"]

_RELATIVE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def parse_since(text: str, now: float | None = None) -> float:
    """Turn ``2h`` / ``30m`` / ``1d``, an ISO 8601 time or epoch seconds into epoch seconds."""
    now = time.time() if now is None else now
    found = _RELATIVE.match(text)
    if found:
        return now - float(found.group(1)) * _UNITS[found.group(2)]
    try:
        return float(text)
    except ValueError:
        pass
    try:
        when = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise click.BadParameter(
            f"{text!r} is not a time: use 2h, 30m, 1d, an ISO 8601 time or epoch seconds"
        ) from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when.timestamp()


def _when(value: str | None) -> str:
    if not value:
        return "-"
    try:
        return datetime.fromtimestamp(float(value), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    except ValueError:
        return value


@main.group()
def deliveries() -> None:
    """Inspect and replay webhook deliveries (every attempt is on record)."""


@deliveries.command("list")
@click.option("--watchlist", "watchlist_id", default=None, help="Only this watchlist's deliveries.")
@click.option(
    "--failed", is_flag=True, help="Only deliveries that failed (retrying, dead, disabled)."
)
@click.option("-n", "--count", type=click.IntRange(1, 100_000), default=50, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
def list_(watchlist_id: str | None, failed: bool, count: int, as_json: bool) -> None:
    """List deliveries, newest first: alert, watchlist, status, attempts, last result."""
    from workers.delivery import log as dlog

    client, _, keys = context()
    jobs = dlog.list_jobs(client, keys, watchlist_id=watchlist_id, failed=failed, limit=count)
    if not jobs:
        if not as_json:
            click.echo("no deliveries")
        return
    pipe = client.pipeline(transaction=False)
    for job in jobs:
        pipe.llen(keys.delivery_attempts(job.get("alert_id", "")))
    on_record = pipe.execute()
    for job, total in zip(jobs, on_record, strict=True):
        public = dlog.public_job(job)
        public.pop("body", None)
        public["attempts_on_record"] = str(int(total))  # the job fields are strings
        if as_json:
            click.echo(json.dumps(public))
            continue
        last = job.get("last_status") or "-"
        if job.get("last_error"):
            last = f"{last} {job['last_error']}"
        click.echo(
            "\t".join(
                [
                    job.get("alert_id", "?"),
                    job.get("watchlist_id", "?"),
                    job.get("status", "?"),
                    f"attempts={_attempts(job.get('attempts'), int(total))}",
                    f"created={_when(job.get('created_at'))}",
                    f"next={_when(job.get('next_at'))}",
                    last[:120],
                ]
            )
        )


def _attempts(this_round: str | None, on_record: int) -> str:
    """Attempts on record, and those since the last replay when a replay restarted the count."""
    current = int(this_round or 0)
    return str(on_record) if current == on_record else f"{on_record} ({current} since replay)"


@deliveries.command()
@click.argument("alert_id")
@click.option("--json", "as_json", is_flag=True)
def show(alert_id: str, as_json: bool) -> None:
    """Show one delivery: its state, the endpoint's state and every attempt."""
    from workers.delivery import endpoint
    from workers.delivery import log as dlog

    client, _, keys = context()
    job = dlog.get_job(client, keys, alert_id)
    if job is None:
        click.echo(
            f"error: no delivery for alert {alert_id!r} (unknown or past retention)", err=True
        )
        raise SystemExit(1)
    attempts = dlog.list_attempts(client, keys, alert_id)
    state = endpoint.get_state(client, keys, job.get("watchlist_id", ""))
    public = dlog.public_job(job)
    if as_json:
        click.echo(json.dumps({"job": public, "endpoint": state, "attempts": attempts}, indent=2))
        return
    for name in ("alert_id", "watchlist_id", "status"):
        if public.get(name):
            click.echo(f"{name}: {public[name]}")
    click.echo(f"attempts: {_attempts(public.get('attempts'), len(attempts))}")
    if public.get("final_reason"):
        click.echo(f"final_reason: {public['final_reason']}")
    click.echo(f"created: {_when(public.get('created_at'))}")
    click.echo(f"next attempt: {_when(public.get('next_at'))}")
    if state.get("disabled") == "1":
        click.echo(
            f"endpoint: DISABLED ({state.get('disabled_reason', '?')}) since "
            f"{_when(state.get('disabled_at'))}; `wirewatch watchlist enable "
            f"{public.get('watchlist_id')}` re-enables it"
        )
    click.echo(f"attempts ({len(attempts)}):")
    for a in attempts:
        status = a.get("status") if a.get("status") is not None else "-"
        error = a.get("error") or ""
        click.echo(
            f"  #{a.get('n')} {a.get('at')} status={status} latency={a.get('latency_ms')}ms "
            f"outcome={a.get('outcome')} {error}".rstrip()
        )
        if a.get("excerpt"):
            click.echo(f"      response: {str(a['excerpt'])[:200]!r}")


@deliveries.command()
@click.argument("alert_id", required=False)
@click.option(
    "--watchlist", "watchlist_id", default=None, help="Replay this watchlist's deliveries."
)
@click.option("--since", default=None, help="With --watchlist: created since (2h, 1d, ISO 8601).")
@click.option("--all", "all_", is_flag=True, help="With --watchlist: include delivered ones too.")
def replay(alert_id: str | None, watchlist_id: str | None, since: str | None, all_: bool) -> None:
    """Deliver again: one alert, or a watchlist's failed deliveries since a time.

    The webhook-id stays the alert id, so a subscriber that already has it can drop it.
    """
    from workers.delivery import endpoint
    from workers.delivery import log as dlog
    from workers.delivery import replay as do_replay

    if bool(alert_id) == bool(watchlist_id):
        fail("give ALERT_ID or --watchlist ID --since T (not both)")
    if watchlist_id and since is None:
        fail("--watchlist needs --since (e.g. --since 2h)")
    client, settings, keys = context()
    if alert_id:
        targets = [alert_id]
    else:
        low = parse_since(since or "")
        jobs = dlog.list_jobs(client, keys, watchlist_id=watchlist_id, since=low, limit=None)
        targets = [j["alert_id"] for j in jobs if all_ or j.get("status") in dlog.FAILED_STATUSES]
    replayed = 0
    missing: list[str] = []
    warned: set[str] = set()
    for target in targets:
        job = dlog.get_job(client, keys, target)
        wid = job.get("watchlist_id", "") if job else ""
        if wid and wid not in warned and endpoint.get_state(client, keys, wid).get("disabled"):
            warned.add(wid)
            click.echo(
                f"warning: the endpoint of watchlist {wid} is disabled; run "
                f"`wirewatch watchlist enable {wid}` first or the replay is dead-lettered again",
                err=True,
            )
        if do_replay(client, settings, target):
            replayed += 1
        else:
            missing.append(target)
    click.echo(f"replayed {replayed}")
    for target in missing:
        click.echo(f"  {target}: no delivery on record (unknown or past retention)")
    if missing:
        raise SystemExit(1)
