"""`wirewatch status` and `wirewatch url`: what the deployment is doing, read from Redis.

What it reports and where each figure comes from:

- backlog per stage in articles: each Celery message carries a batch, so the messages
  of each queue (and those a worker holds, kombu's ``unacked`` hash) are read and their
  batches' items counted; past ``_SCAN_LIMIT`` messages a queue's count is extrapolated
  from the ones read and marked ``estimated``;
- the ingest group: entries not yet read, entries pending (read, not yet enriched or
  dead-lettered) and the age of the oldest one (from its id, the server's clock at XADD);
  its readers, live or stale by their idle time (a live reader polls every second);
- rates over the last minute, from the streams' ``entries-added`` counters sampled by
  each `status` run (kept in Redis); with no sample between one and five minutes old,
  it measures over a one-second window and says how long;
- worker health: a Celery ``ping`` with a short timeout, answers grouped by queue.
"""

from __future__ import annotations

import base64
import json
import threading
import time
from typing import Any

import click

from workers.cli import main
from workers.cli.common import connect, fail
from workers.keys import QUEUES, Keys
from workers.settings import get_settings

__all__ = ["collect_status", "status", "url"]

STALE_AFTER_S = 30.0  # a live ingest reader polls every second
PING_TIMEOUT_S = 1.0
_SCAN_LIMIT = 2000  # messages read per queue before the rest is extrapolated
_RATE_WINDOW_S = 60.0
_MAX_WINDOW_S = 300.0  # a sample older than this is not "the last minute"
_SHORT_WINDOW_S = 1.0  # with no usable sample, measure over this long
_HISTORY_KEEP = 200  # samples kept (one per `status` run)
_RATE_STREAMS = ("ingest", "enriched", "alerts", "dlq")


def _s(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _server_ms(client: Any) -> int:
    seconds, micros = client.time()
    return int(seconds) * 1000 + int(micros) // 1000


def _id_ms(entry_id: Any) -> int:
    return int(_s(entry_id).split("-", 1)[0])


# -- backlog ------------------------------------------------------------------------------


def _articles_in_message(raw: Any) -> tuple[str | None, int]:
    """Return (task name, articles) of one kombu message as the Redis transport stores it."""
    try:
        message = json.loads(raw)
        body = message.get("body", "")
        if message.get("properties", {}).get("body_encoding") == "base64":
            body = base64.b64decode(body)
        args = json.loads(body)[0]
        task = message.get("headers", {}).get("task")
    except (ValueError, TypeError, KeyError, IndexError, AttributeError):
        return None, 1
    batch = args[0] if args and isinstance(args[0], dict) else None
    if batch is None:  # a delivery attempt: one alert
        return task, 1
    items = batch.get("items")
    return task, len(items) if isinstance(items, list) else int(batch.get("size", 1) or 1)


def _queue_lists(keys: Keys, queue: str) -> list[str]:
    base = keys.celery_queue(queue)
    # kombu's Redis transport keeps one list per priority step: q, q\x06\x163, ...
    return [base, *(f"{base}\x06\x16{p}" for p in (3, 6, 9))]


def _backlog(client: Any, keys: Keys) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for queue in QUEUES:
        messages = articles = read = 0
        for name in _queue_lists(keys, queue):
            length = int(client.llen(name))
            messages += length
            if not length:
                continue
            rows = (
                client.lrange(name, 0, max(0, _SCAN_LIMIT - read) - 1) if read < _SCAN_LIMIT else []
            )
            read += len(rows)
            articles += sum(_articles_in_message(r)[1] for r in rows)
        estimated = read < messages
        if estimated and read:
            articles = round(articles / read * messages)
        elif estimated:
            articles = messages
        out[queue] = {
            "articles": articles,
            "messages": messages,
            "in_progress": 0,
            "estimated": estimated,
        }
    # Messages a worker took and has not acknowledged: [message, exchange, routing key].
    for raw in client.hvals(keys.celery_prefix + "unacked"):
        try:
            message, _exchange, routing_key = json.loads(raw)
        except (ValueError, TypeError):
            continue
        if routing_key in out:
            out[routing_key]["in_progress"] += _articles_in_message(json.dumps(message))[1]
    return out


# -- ingest -------------------------------------------------------------------------------


def _ingest(client: Any, keys: Keys, now_ms: int, stale_after_s: float) -> dict[str, Any]:
    info: dict[str, Any] = {
        "length": int(client.xlen(keys.ingest)),
        "waiting": None,
        "pending": 0,
        "oldest_pending_age_s": None,
        "in_pipeline": 0,
        "readers": [],
        "stale_readers": [],
    }
    try:
        groups = client.xinfo_groups(keys.ingest)
    except Exception:  # no stream or group yet
        return info
    group = next((g for g in groups if _s(g["name"]) == keys.ingest_group), None)
    if group is None:
        return info
    pending = int(group["pending"])
    lag = group.get("lag")
    info["pending"] = pending
    # The group's lag (Redis 7+) counts unread entries even when acknowledged ones are kept
    # (WIREWATCH_INGEST_RETENTION=false); length - pending is the fallback.
    info["waiting"] = int(lag) if lag is not None else max(0, info["length"] - pending)
    if pending:
        oldest = client.xpending(keys.ingest, keys.ingest_group).get("min")
        if oldest is not None:
            info["oldest_pending_age_s"] = round(max(0, now_ms - _id_ms(oldest)) / 1000, 1)
    pipeline = getattr(keys, "pipeline_consumer", None)
    for c in client.xinfo_consumers(keys.ingest, keys.ingest_group):
        name, idle_s = _s(c["name"]), int(c["idle"]) / 1000
        if name == pipeline:  # not a reader: the entries the stages are working on
            info["in_pipeline"] = int(c["pending"])
            continue
        row = {"name": name, "idle_s": round(idle_s, 1), "pending": int(c["pending"])}
        # Redis 7.2+ resets `idle` on every read attempt (and adds `inactive`); before 7.2
        # only a read that returned entries does, so a quiet reader is stale only while
        # entries wait that a live one would have read.
        quiet_ok = "inactive" not in c and not info["waiting"]
        live = idle_s < stale_after_s or quiet_ok
        info["readers" if live else "stale_readers"].append(row)
    return info


# -- rates --------------------------------------------------------------------------------


def _added(client: Any, keys: Keys) -> dict[str, int]:
    out = {}
    for name in _RATE_STREAMS:
        try:
            stream = client.xinfo_stream(getattr(keys, name))
        except Exception:  # no such stream yet
            out[name] = 0
            continue
        added = stream.get("entries-added")
        out[name] = int(added) if added is not None else int(stream.get("length", 0))
    return out


def _rates(client: Any, keys: Keys, now_ms: int) -> dict[str, Any]:
    """Per-minute rates from the newest sample at least a minute old (or a short wait)."""
    current = _added(client, keys)
    key = keys.status_samples
    # The newest sample at least a minute old, if it is not much older (rare runs would
    # otherwise report an hour's average as the last minute's).
    old = client.xrevrange(
        key,
        max=str(now_ms - int(_RATE_WINDOW_S * 1000)),
        min=str(now_ms - int(_MAX_WINDOW_S * 1000)),
        count=1,
    )
    if old:
        then_ms, then = _id_ms(old[0][0]), json.loads(old[0][1]["added"])
    else:
        then_ms, then = now_ms, current
        time.sleep(_SHORT_WINDOW_S)
        now_ms, current = _server_ms(client), _added(client, keys)
    client.xadd(key, {"added": json.dumps(current)}, maxlen=_HISTORY_KEEP, approximate=True)
    window_s = max(0.001, (now_ms - then_ms) / 1000)
    per_min = {
        ("pushed" if n == "ingest" else "dead_letters" if n == "dlq" else n): round(
            max(0, current[n] - int(then.get(n, 0))) * 60 / window_s, 1
        )
        for n in _RATE_STREAMS
    }
    return {"window_s": round(window_s, 1), "per_minute": per_min}


# -- workers ------------------------------------------------------------------------------


def _workers(timeout_s: float) -> dict[str, Any]:
    """Ping the workers; group the answers by the queues in their host names."""
    from workers.app import app

    try:
        replies = app.control.ping(timeout=timeout_s) or []
    except Exception as exc:  # noqa: BLE001 - health is reported, never a crash
        return {"responding": [], "by_queue": {}, "error": str(exc)[:200]}
    names = sorted(name for reply in replies for name in reply)
    by_queue = {q: 0 for q in QUEUES}
    for name in names:
        # Host names are "<queue>-<queue>-<pid>@host" (`wirewatch worker`).
        for queue in name.split("@", 1)[0].rsplit("-", 1)[0].split("-"):
            if queue in by_queue:
                by_queue[queue] += 1
    return {"responding": names, "by_queue": by_queue, "timeout_s": timeout_s}


def collect_status(
    client: Any,
    keys: Keys,
    *,
    ping: bool = True,
    rates: bool = True,
    stale_after_s: float = STALE_AFTER_S,
) -> dict[str, Any]:
    """Return backlog, ingest ledger, rates, worker health and stream lengths as one dict."""
    from workers.connection import redis_url

    now_ms = _server_ms(client)
    # The ping waits its whole timeout: run it while the rest is read (and the rates wait).
    pinged: dict[str, Any] = {}
    pinger = threading.Thread(target=lambda: pinged.update(_workers(PING_TIMEOUT_S)), daemon=True)
    if ping:
        pinger.start()
    info: dict[str, Any] = {
        "server": _redacted(redis_url(get_settings())),
        "backlog": _backlog(client, keys),
        "ingest": _ingest(client, keys, now_ms, stale_after_s),
        "rates": _rates(client, keys, now_ms) if rates else None,
        "workers": None,
        "enriched": int(client.xlen(keys.enriched)),
        "alerts": int(client.xlen(keys.alerts)),
        "dead_letters": int(client.xlen(keys.dlq)),
        "watchlists": int(client.hlen(keys.watchlists)),
        "watchlists_version": int(client.get(keys.watchlists_version) or 0),
        "deliveries_scheduled": int(client.zcard(keys.delivery_schedule)),
    }
    if ping:
        pinger.join(PING_TIMEOUT_S + 10)
        info["workers"] = pinged or {"responding": [], "by_queue": {}, "error": "no answer"}
    return info


def _redacted(url: str) -> str:
    """The URL without its password (status output is pasted into tickets)."""
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.rsplit("@", 1)
    return urlunsplit(parts._replace(netloc=netloc[0].split(":", 1)[0] + ":***@" + netloc[1]))


def _print(info: dict[str, Any]) -> None:
    echo = click.echo
    echo(f"server:       {info['server']}")
    echo("backlog per stage (counted in articles; a queue message carries a batch of them):")
    for queue, b in info["backlog"].items():
        approx = "~" if b["estimated"] else ""
        unit = "alerts" if queue == "deliver" else "articles"  # one delivery attempt each
        echo(
            f"  {queue:<8} {approx}{b['articles']} {unit} waiting, {b['in_progress']} in progress"
            f"  ({b['messages']} messages)"
        )
    ing = info["ingest"]
    age = ing["oldest_pending_age_s"]
    echo(
        f"ingest:       unread={ing['waiting'] if ing['waiting'] is not None else '-'}"
        f"  pending={ing['pending']} (in the pipeline: {ing['in_pipeline']})"
        f"  oldest pending: {f'{age:g} s' if age is not None else '-'}"
    )
    readers = ", ".join(r["name"] for r in ing["readers"]) or "none"
    echo(f"  readers:    {len(ing['readers'])} live ({readers})")
    for r in ing["stale_readers"]:
        echo(f"  stale:      {r['name']} (idle {r['idle_s']:g} s, {r['pending']} pending)")
    if info["rates"] is not None:
        r = info["rates"]
        per = "  ".join(f"{k}={v:g}" for k, v in r["per_minute"].items())
        echo(f"per minute:   {per}  (measured over {r['window_s']:g} s)")
    w = info["workers"]
    if w is not None:
        if w.get("error"):
            echo(f"workers:      ping failed: {w['error']}")
        else:
            queues = "  ".join(f"{q}={n}" for q, n in w["by_queue"].items())
            missing = [q for q, n in w["by_queue"].items() if not n]
            note = f"  NO WORKER for: {', '.join(missing)}" if missing else ""
            echo(f"workers:      {len(w['responding'])} answered ping: {queues}{note}")
    echo(f"enriched:     {info['enriched']}")
    echo(f"alerts:       {info['alerts']}  (deliveries scheduled: {info['deliveries_scheduled']})")
    echo(f"dead letters: {info['dead_letters']}")
    echo(f"watchlists:   {info['watchlists']} (version {info['watchlists_version']})")


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.option("--no-ping", is_flag=True, help="Skip the worker ping (saves a second).")
@click.option("--no-rates", is_flag=True, help="Skip the rates (no sample is taken or kept).")
@click.option(
    "--stale-after",
    type=click.FloatRange(min=0.1),
    default=STALE_AFTER_S,
    show_default=True,
    help="Seconds without a read after which an ingest reader counts as stale.",
)
def status(as_json: bool, no_ping: bool, no_rates: bool, stale_after: float) -> None:
    """Show backlog per stage (in articles), ingest readers and oldest pending entry, rates
    over the last minute, worker health, stream lengths and dead letters."""
    keys = Keys(get_settings().prefix)
    info = collect_status(
        connect(), keys, ping=not no_ping, rates=not no_rates, stale_after_s=stale_after
    )
    if as_json:
        click.echo(json.dumps(info))
    else:
        _print(info)


@main.command()
def url() -> None:
    """Print the Redis URL the other commands use (the embedded server's, under `wirewatch up`).

    For scripts: ``redis-cli -u "$(wirewatch url)" XLEN wirewatch:enriched``.
    """
    from workers.connection import NoRedisConfigured, redis_url

    try:
        click.echo(redis_url(get_settings()))
    except NoRedisConfigured as exc:
        fail(str(exc))
