"""Kill soak: nothing pushed is lost when ingest, the workers or Redis are SIGKILLed.

``python -m bench.soak [--articles 2000] [--bad 40] [--runs 3] [--broker amqp://...]``
(``make soak``). Per run: its own ``redis-server`` (from PATH, else the embedded binary)
with ``appendonly yes`` / ``appendfsync everysec``; ``wirewatch ingest`` and one
``wirewatch worker`` per worker group, all with default settings; a stream-only watchlist
that alerts on every story; the articles (distinct) and the bad entries pushed with plain
``XADD``. During processing each of these is SIGKILLed once and started again: the
ingest service, the main process of every worker group, and ``redis-server`` (after every
push was acknowledged and 2 s passed, so Redis's own one-second window is out of play).

Prints one line per run::

    SOAK run=1 broker=redis pushed=2040 enriched=2000 dead_lettered=40 lost=0
    duplicates=0 alert_duplicates=0 recovery_s=41.3 ...

``lost``: a pushed article with neither an enriched record nor a dead letter, or a bad
entry with no dead letter, when the run ends (everything accounted for, or ``--timeout``
seconds after the last fault). ``duplicates``: enriched records beyond one per article;
``alert_duplicates``: alerts beyond one per alert id. ``recovery_s``: from the last fault
(Redis answering again) to the last record or dead letter written. Exit status 1 when a
run misses the bar (lost 0, every bad entry and no good one dead-lettered, no duplicates,
recovery within ``--max-recovery``, 90 s); such a run keeps its logs and prints where.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["main"]

# Fault -> share of the input written out (records + dead letters) when it strikes.
_FAULTS: tuple[tuple[float, str], ...] = (
    (0.08, "ingest"),
    (0.16, "worker-clean"),
    (0.24, "worker-nlp"),
    (0.32, "worker-match"),
    (0.40, "worker-emit"),
    (0.44, "worker-deliver"),
    (0.55, "redis"),
)
_WATCHLISTS = """
watchlists:
  - id: soak-all
    name: Every story
    query: 'revised'
"""


def _bad_entries(count: int) -> list[dict[bytes, bytes]]:
    """Bad input of eight kinds, each carrying a unique marker ``soak-bad-<n>``."""
    out: list[dict[bytes, bytes]] = []
    for n in range(count):
        mark = f"soak-bad-{n}"
        kind = n % 8
        if kind == 0:
            fields = {b"article": f'{{"url": "{mark}", not json'.encode()}
        elif kind == 1:
            fields = {b"article": b"\xff\xfe\x00" + mark.encode() + b"\x80"}
        elif kind == 2:
            fields = {b"article": json.dumps({"text": f"No url here {mark}."}).encode()}
        elif kind == 3:
            fields = {b"article": json.dumps({"url": f"https://bad.example/{mark}"}).encode()}
        elif kind == 4:
            fields = {b"article": json.dumps([mark, 1, 2]).encode()}
        elif kind == 5:
            fields = {b"other": json.dumps({"url": f"https://bad.example/{mark}"}).encode()}
        elif kind == 6:
            fields = {b"article": json.dumps({"url": 5, "text": mark}).encode()}
        else:
            fields = {b"article": json.dumps({"url": f"ftp://bad.example/{mark}", "text": " "}).encode()}  # fmt: skip
        out.append(fields)
    return out


@dataclass
class _Run:
    """One soak run's servers, processes and bookkeeping."""

    tmp: Path
    broker: str | None
    concurrency: int | None
    env: dict[str, str] = field(default_factory=dict)
    server: Any = None
    group: Any = None
    orphans: list[int] = field(default_factory=list)  # process groups of killed mains
    faults: list[tuple[str, float]] = field(default_factory=list)

    def start(self) -> None:
        from workers.runtime.commands import WORKER_GROUPS, ingest_argv, worker_argv
        from workers.runtime.embedded import start_server
        from workers.runtime.processes import ProcessGroup, cli_argv

        self.server = start_server(self.tmp / "redis", prefer_path=True, appendonly=True)
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("WIREWATCH_")}
        self.env.update(WIREWATCH_REDIS_URL=self.server.url, WIREWATCH_LOG_LEVEL="INFO")
        if self.broker:
            self.env["WIREWATCH_BROKER_URL"] = self.broker
            _purge_rabbitmq(self.broker)
        self.group = ProcessGroup(env=self.env, log_dir=self.tmp / "logs")
        self.group.start("ingest", cli_argv(*ingest_argv()[1:]))
        for name in WORKER_GROUPS:
            argv = worker_argv(name, concurrency=self.concurrency)
            self.group.start(f"worker-{name}", cli_argv(*argv[1:]))

    def ready(self) -> bool:
        logs = [p.read_text(errors="replace") for p in (self.tmp / "logs").glob("worker-*.log")]
        return len(logs) == len(self.group.procs) - 1 and all(" ready." in t for t in logs)

    def kill(self, target: str) -> None:
        """SIGKILL ``target`` (a service name, or ``redis``) and start it again."""
        from workers.runtime.embedded import start_server

        if target == "redis":
            port = self.server.port
            self.server.process.kill()
            self.server.process.wait()
            self.server = start_server(
                self.tmp / "redis", port=port, prefer_path=True, appendonly=True, timeout=60
            )
        else:
            proc = self.group.procs[target]
            os.kill(proc.pid, signal.SIGKILL)  # the main process only, as a crash would
            proc.wait()
            self.orphans.append(proc.pid)  # its pool children, if any, are in its group
            self.group.start(target, self.group._argvs[target])
        self.faults.append((target, time.monotonic()))

    def stop(self) -> None:
        if self.group is not None:
            self.group.stop(timeout=20)
        for pgid in self.orphans:
            try:
                os.killpg(pgid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        if self.server is not None:
            self.server.stop()


def _purge_rabbitmq(broker: str) -> None:
    """Empty the pipeline's queues: a message left over from an earlier run is not ours."""
    from kombu import Connection

    from workers.keys import QUEUES

    with Connection(broker) as conn:
        for queue in QUEUES:
            channel = conn.channel()
            try:
                channel.queue_purge(queue)
            except conn.channel_errors:
                pass  # not declared yet
            finally:
                try:
                    channel.close()
                except conn.connection_errors + conn.channel_errors:
                    pass


def _read_stream(client: Any, stream: str, name: bytes) -> list[bytes]:
    out: list[bytes] = []
    start = "-"
    while True:
        rows = client.xrange(stream, min=start, count=1000)
        out += [f[name] for _, f in rows if name in f]
        if len(rows) < 1000:
            return out
        start = "(" + rows[-1][0].decode()


def _tally(client: Any, keys: Any, good: set[str], bad: set[str]) -> dict[str, Any]:
    from workers.dlq import _parse as parse_dead_letter
    from workers.dlq import payload_bytes

    urls = Counter(json.loads(r)["url"] for r in _read_stream(client, keys.enriched, b"record"))
    alerts = Counter(json.loads(a)["alert_id"] for a in _read_stream(client, keys.alerts, b"alert"))
    dead_good: set[str] = set()
    dead_bad: set[str] = set()
    letters = 0
    for raw in _read_stream(client, keys.dlq, b"entry"):
        letter = parse_dead_letter(raw)
        if letter is None:
            continue
        letters += 1
        text = payload_bytes(letter).decode("utf-8", "replace")
        marks = [m for m in bad if m in text]
        if marks:
            dead_bad.update(marks)
            continue
        try:
            dead_good.add(json.loads(text)["url"])
        except (ValueError, KeyError, TypeError):
            pass
    enriched = set(urls) & good
    return {
        "enriched": len(enriched),
        "dead_lettered": letters,
        "good_dead_lettered": len(dead_good & good),
        "bad_dead_lettered": len(dead_bad),
        "lost": len(good - enriched - dead_good) + len(bad - dead_bad),
        "duplicates": sum(c - 1 for c in urls.values() if c > 1),
        "alerts": len(alerts),
        "alert_duplicates": sum(c - 1 for c in alerts.values() if c > 1),
    }


def _wait(predicate: Callable[[], Any], timeout: float, interval: float = 0.25) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if predicate():
                return True
        except Exception:  # noqa: BLE001 - Redis restarting under the probe
            pass
        time.sleep(interval)
    return False


def run_once(
    n: int,
    *,
    articles: int,
    bad: int,
    broker: str | None,
    concurrency: int | None,
    timeout: float,
    keep: bool,
    max_recovery: float = 90.0,
) -> dict[str, Any]:
    import redis

    from bench.pipeline import _payloads
    from pipeline.watchlist import parse_watchlists
    from workers.keys import Keys
    from workers.settings import Settings
    from workers.stages.resources import Resources
    from workers.watchlists.store import WatchlistStore

    keys = Keys()
    tmp = Path(tempfile.mkdtemp(prefix="soak-"))
    run = _Run(tmp, broker, concurrency)
    result: dict[str, Any] = {"run": n, "broker": "rabbitmq" if broker else "redis"}
    try:
        run.start()
        client = redis.Redis.from_url(run.server.url, socket_timeout=5)
        kb = Resources(client, keys, Settings()).base_kb()
        WatchlistStore(client, keys).apply(parse_watchlists(_WATCHLISTS), kb=kb)
        if not _wait(run.ready, 300):
            raise RuntimeError(f"workers not ready; logs in {tmp / 'logs'}")
        good_payloads = _payloads(articles)
        good = {json.loads(p)["url"] for p in good_payloads}
        bad_fields = _bad_entries(bad)
        marks = {f"soak-bad-{i}" for i in range(bad)}
        entries: list[dict[bytes, bytes]] = [{b"article": p.encode()} for p in good_payloads]
        entries += bad_fields
        random.Random(n).shuffle(entries)
        started = time.monotonic()
        for i in range(0, len(entries), 200):
            pipe = client.pipeline(transaction=False)
            for fields in entries[i : i + 200]:
                pipe.xadd(keys.ingest, fields)  # type: ignore[arg-type]
            pipe.execute()
        pushed_at = time.monotonic()
        total = len(entries)

        state = {"out": 0, "last_out": time.monotonic()}

        def written() -> int:
            c = redis.Redis.from_url(run.server.url, socket_timeout=5)
            try:
                count = int(c.xlen(keys.enriched)) + int(c.xlen(keys.dlq))
            finally:
                c.close()
            if count > state["out"]:
                state["out"], state["last_out"] = count, time.monotonic()
            return count

        for share, target in _FAULTS:
            _wait(lambda share=share: written() >= share * total, timeout)
            if target == "redis":  # every push acknowledged 2 s ago: in the AOF
                time.sleep(max(0.0, pushed_at + 2.0 - time.monotonic()))
            run.kill(target)
        last_fault = run.faults[-1][1]

        def finished() -> bool:
            written()
            c = redis.Redis.from_url(run.server.url, socket_timeout=5)
            try:
                pending = int(c.xpending(keys.ingest, keys.ingest_group)["pending"])
                if pending or int(c.xlen(keys.ingest)) and _unread(c, keys):
                    return False
                tally = _tally(c, keys, good, marks)
            finally:
                c.close()
            return tally["lost"] == 0

        _wait(finished, timeout, interval=1.0)
        client = redis.Redis.from_url(run.server.url, socket_timeout=10)
        tally = _tally(client, keys, good, marks)
        result.update(
            pushed=total,
            articles=articles,
            bad=bad,
            **tally,
            recovery_s=round(max(0.0, state["last_out"] - last_fault), 1),
            total_s=round(state["last_out"] - started, 1),
            redriven=_redriven(tmp / "logs"),
            faults=",".join(t.removeprefix("worker-") for t, _ in run.faults),
        )
        result["clean"] = "yes" if _clean(result, max_recovery) else "no"
        return result
    finally:
        run.stop()
        if keep or result.get("clean") != "yes":  # a run that misses the bar keeps its logs
            result["logs"] = str(tmp)
        else:
            shutil.rmtree(tmp, ignore_errors=True)


def _unread(client: Any, keys: Any) -> bool:
    """Whether the ingest group has entries it has not read yet."""
    for group in client.xinfo_groups(keys.ingest):
        name = group["name"].decode() if isinstance(group["name"], bytes) else group["name"]
        if name == keys.ingest_group:
            return bool(group.get("lag"))
    return True


def _redriven(log_dir: Path) -> int:
    total = 0
    for path in log_dir.glob("ingest*.log"):
        for line in path.read_text(errors="replace").splitlines():
            if '"ingest.redriven"' in line:
                try:
                    total += int(json.loads(line).get("entries", 0))
                except ValueError:
                    pass
    return total


def _clean(result: dict[str, Any], max_recovery: float) -> bool:
    return (
        result.get("lost") == 0
        and result.get("bad_dead_lettered") == result.get("bad")
        and result.get("good_dead_lettered") == 0
        and result.get("duplicates") == 0
        and result.get("alert_duplicates") == 0
        and result.get("recovery_s", 1e9) <= max_recovery
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.soak", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--articles", type=int, default=2000)
    parser.add_argument("--bad", type=int, default=40)
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--broker", default=None, help="amqp://... to run on RabbitMQ")
    parser.add_argument("--concurrency", type=int, default=None, help="per worker (default: CPUs)")
    parser.add_argument("--timeout", type=float, default=600.0, help="seconds per wait")
    parser.add_argument("--max-recovery", type=float, default=90.0)
    parser.add_argument("--keep", action="store_true", help="keep logs and data")
    raw = sys.argv[1:] if argv is None else argv
    args = parser.parse_args([a for a in raw if a != "soak"])  # ``python -m bench soak``
    # SIGTERM unwinds like Ctrl-C, so the finally blocks stop every child process.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    ok = True
    for n in range(1, args.runs + 1):
        result = run_once(
            n,
            articles=args.articles,
            bad=args.bad,
            broker=args.broker,
            concurrency=args.concurrency,
            timeout=args.timeout,
            keep=args.keep,
            max_recovery=args.max_recovery,
        )
        ok = ok and result["clean"] == "yes"
        print("SOAK " + " ".join(f"{k}={v}" for k, v in result.items()), flush=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
