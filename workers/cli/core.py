"""`wirewatch` core commands: up, ingest, worker, push, process, tail, status, demo."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sys
import threading
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import click

from workers.cli import main
from workers.cli.common import connect, fail
from workers.keys import QUEUES, Keys
from workers.settings import get_settings

# Default thread count of a worker that consumes only the ``deliver`` queue.
DELIVER_THREADS = 16

__all__ = ["demo", "ingest", "process", "push", "tail", "up", "worker"]


def _client(decode: bool = True) -> Any:
    return connect(decode=decode, log_level=get_settings().log_level)


# -- up / ingest / worker -------------------------------------------------------------------


@main.command()
@click.option(
    "--concurrency",
    "-c",
    type=click.IntRange(1, 64),
    default=None,
    help="Processes per worker (default: CPU count).",
)
def up(concurrency: int | None) -> None:
    """Run everything in the foreground: ingest and workers for all queues (Ctrl-C stops).

    With no WIREWATCH_REDIS_URL, starts the embedded server in WIREWATCH_DATA_DIR;
    other commands in another terminal find it there. One `up` per data directory; a
    child that dies is restarted; SIGTERM, SIGINT and SIGHUP stop everything.
    """
    from workers.runtime.embedded import DamagedAOF, DataDirBusy, hold_data_dir

    settings = get_settings()
    try:
        with hold_data_dir(settings.data_dir):
            _up(concurrency)
    except DataDirBusy as exc:
        fail(str(exc), code=1)
    except DamagedAOF as exc:
        fail(str(exc), code=1)


def _up(concurrency: int | None) -> None:
    """The body of ``up``, run while this process holds the data directory."""
    from workers.connection import URL_FILE
    from workers.logs import configure_logging
    from workers.runtime.processes import ProcessGroup, service_argvs

    settings = get_settings()
    configure_logging(settings.log_level, settings.log_format)
    server = None
    env = dict(os.environ)
    data_dir = settings.data_dir.resolve()
    if settings.redis_url is None or not settings.redis_url.get_secret_value():
        from workers.runtime.embedded import start_server

        server = start_server(data_dir / "redis")
        (data_dir / URL_FILE).write_text(server.url + "\n")
        env["WIREWATCH_REDIS_URL"] = server.url
        click.echo(f"embedded server: {server.url} (data in {data_dir / 'redis'})", err=True)
    stop = threading.Event()

    def _on_signal(signum: int, frame: object) -> None:
        stop.set()

    # SIGHUP too: a closed terminal must stop the services, not orphan them.
    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(signum, _on_signal)
    group = ProcessGroup(env=env)
    code = 0
    try:
        for n, (name, argv) in enumerate(service_argvs(concurrency=concurrency).items()):
            if settings.metrics_port:  # one port per process: ingest first, then each worker
                argv = [*argv, "--metrics-port", str(settings.metrics_port + n)]
            group.start(name, argv)
        click.echo(f"running: {', '.join(group.procs)} (Ctrl-C to stop)", err=True)
        while not stop.wait(0.5):
            if server is not None and server.process.poll() is not None:
                click.echo(
                    f"embedded server exited with {server.process.returncode}: restarting",
                    err=True,
                )
                server = start_server(data_dir / "redis", port=server.port)
            for name, died in group.restart_dead().items():
                click.echo(f"restarted {name}: it exited with {died}", err=True)
    finally:
        try:
            group.stop()
        finally:  # the server goes even if stopping a service failed
            if server is not None:
                url_file = data_dir / URL_FILE
                with contextlib.suppress(OSError):
                    if url_file.read_text().strip() == server.url:  # ours, nobody else's
                        url_file.unlink()
                server.stop()
    raise SystemExit(code)


_METRICS_PORT = click.option(
    "--metrics-port",
    type=click.IntRange(0, 65535),
    default=None,
    help="Serve Prometheus metrics on this port (default: WIREWATCH_METRICS_PORT; 0 = off).",
)


def _start_metrics(role: str, port: int | None) -> None:
    """Serve this process's metrics (workers/metrics.py), or exit when the port is taken."""
    from workers import metrics

    settings = get_settings()
    port = settings.metrics_port if port is None else port
    try:
        metrics.start(role, port, host=settings.metrics_host, directory=settings.metrics_dir)
    except OSError as exc:
        fail(f"cannot serve metrics on {settings.metrics_host}:{port}: {exc}")


@main.command()
@_METRICS_PORT
def ingest(metrics_port: int | None) -> None:
    """Run the ingest service: consumer group on the ingest stream -> validated micro-batches."""
    from workers.ingest.service import IngestService, install_signal_handlers
    from workers.logs import configure_logging

    settings = get_settings()
    configure_logging(settings.log_level, settings.log_format)
    _start_metrics("ingest", metrics_port)
    stop = threading.Event()
    install_signal_handlers(stop)
    IngestService(_client(decode=False), Keys(settings.prefix), settings).run(stop)


@main.command()
@click.option(
    "--queues",
    "-Q",
    default=",".join(QUEUES),
    show_default=True,
    help="Comma-separated queues to consume.",
)
@click.option(
    "--concurrency",
    "-c",
    type=click.IntRange(1, 256),
    default=None,
    help="Worker processes (default: CPU count).",
)
@click.option("--pool", type=click.Choice(["prefork", "solo", "threads"]), default=None)
@_METRICS_PORT
def worker(
    queues: str, concurrency: int | None, pool: str | None, metrics_port: int | None
) -> None:
    """Run a Celery worker on the given queues (the command compose and the tests run)."""
    names = [q.strip() for q in queues.split(",") if q.strip()]
    unknown = sorted(set(names) - set(QUEUES))
    if not names or unknown:
        fail(f"unknown queue(s) {unknown or names}; known: {', '.join(QUEUES)}")
    from workers.app import app

    settings = get_settings()
    argv = [
        "worker",
        "--queues", ",".join(names),
        "--hostname", f"{'-'.join(names)}-{os.getpid()}@%h",
        "--loglevel", settings.log_level,
        "--without-gossip", "--without-mingle",
    ]  # fmt: skip
    if names == ["deliver"] and not pool:
        # Delivery is I/O-bound (waiting on subscribers' endpoints): threads, many of them,
        # so one slow endpoint never occupies a whole process.
        pool = "threads"
        concurrency = concurrency or DELIVER_THREADS
    if concurrency:
        argv += ["--concurrency", str(concurrency)]
    if pool:
        argv += ["--pool", pool]
    _start_metrics("worker-" + "-".join(names), metrics_port)  # before the pool forks
    if {"nlp", "match"} & set(names):  # the knowledge base, built once for every child
        from workers.stages.resources import preload_base_kb

        preload_base_kb(settings)
    app.worker_main(argv)


# -- push -----------------------------------------------------------------------------------


@main.command()
@click.argument("source", metavar="FILE|DIR|-")
@click.option("--quiet", "-q", is_flag=True, help="No progress bar.")
def push(source: str, quiet: bool) -> None:
    """Validate and push articles: JSONL (one article per line), an RSS or Atom feed (one per item), a directory of .html/.txt/.jsonl/feed files, or - (stdin: JSONL or a feed).

    Prints how many were accepted and rejected, and why; a feed that is not well-formed is
    named with the line of its parse error, and the items it opens but could not give are
    rejected. Exit code 0 when all were accepted, 3 when some were rejected, 2 on usage
    errors.
    """
    from pipeline.errors import PipelineError
    from workers.ingest.client import push_many
    from workers.ingest.sources import Unreadable, count_payloads, iter_payloads
    from workers.ingest.validation import parse_article

    if source != "-" and not Path(source).exists():
        fail(f"{source}: no such file or directory")
    settings = get_settings()
    keys = Keys(settings.prefix)
    client = _client()
    accepted = 0
    reasons: Counter[str] = Counter()
    examples: list[tuple[str, str, str]] = []  # the first few, so memory stays bounded
    unreadable: list[Unreadable] = []  # one per broken file at most: all are reported
    chunk: list[str] = []
    with contextlib.ExitStack() as stack:
        bar = stack.enter_context(_progress(count_payloads(source), "pushing", quiet=quiet))
        for label, raw in _ticking(_checked(iter_payloads(source)), bar):
            if isinstance(raw, Unreadable):
                reasons[raw.reason] += raw.count
                unreadable.append(raw)
                continue
            try:
                parse_article(raw, max_body_bytes=settings.max_body_bytes)
            except PipelineError as exc:
                reasons[exc.reason] += 1
                if len(examples) < 20:
                    examples.append((label, exc.reason, exc.detail))
                continue
            chunk.append(raw.decode("utf-8") if isinstance(raw, bytes) else raw)
            if len(chunk) >= 200:
                accepted += len(push_many(client, chunk, keys=keys))
                chunk = []
        if chunk:
            accepted += len(push_many(client, chunk, keys=keys))
    rejected = sum(reasons.values())
    click.echo(f"accepted {accepted}, rejected {rejected}")
    if not accepted and not rejected:  # an empty file, an empty directory, nothing on stdin
        fail(f"{source}: no articles found (nothing was pushed)", code=3)
    for problem in unreadable:
        lost = f"{problem.count} not read" if problem.count else "every item read"
        click.echo(f"  {problem.reason}: {problem.detail} ({lost})")
    if rejected:
        for reason, count in reasons.most_common():
            if count:
                click.echo(f"  {reason}: {count}")
        for label, reason, detail in examples:
            click.echo(f"  {label}: {reason}: {detail}")
        if rejected > len(examples):
            click.echo(f"  ... and {rejected - len(examples)} more")
        raise SystemExit(3)


def _progress(total: int | None, desc: str, *, quiet: bool = False) -> Any:
    """A progress bar on stderr when it is a terminal (tqdm); silent otherwise or with -q."""
    from tqdm import tqdm

    return tqdm(
        total=total, desc=desc, unit=" articles", file=sys.stderr, dynamic_ncols=True,
        disable=quiet or not sys.stderr.isatty(), leave=False,
    )  # fmt: skip


def _ticking(items: Iterator[Any], bar: Any) -> Iterator[Any]:
    """Yield ``items``, advancing ``bar`` by one for each."""
    for item in items:
        yield item
        bar.update(1)


class _CountingWriter:
    """A text stream that advances a progress bar by one for each line written through it."""

    def __init__(self, stream: IO[str], bar: Any) -> None:
        self.stream, self.bar = stream, bar

    def write(self, text: str) -> int:
        self.bar.update(text.count("\n"))
        return self.stream.write(text)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.stream, name)


def _count_lines(stream: IO[bytes]) -> int | None:
    """Count the lines of a regular file and rewind it; ``None`` for pipes and stdin."""
    try:
        if not stream.seekable() or stream.fileno() == 0:
            return None
        start = stream.tell()
        total = sum(chunk.count(b"\n") for chunk in iter(lambda: stream.read(1 << 20), b""))
        stream.seek(start)
        return total
    except (OSError, ValueError):
        return None


def _checked(payloads: Iterator[tuple[str, Any]]) -> Iterator[tuple[str, Any]]:
    """Turn a missing input into a usage error instead of a traceback."""
    try:
        yield from payloads
    except FileNotFoundError as exc:
        fail(str(exc))


# -- process --------------------------------------------------------------------------------


@main.command()
@click.option(
    "-i",
    "--input",
    "input_",
    type=click.File("rb"),
    default="-",
    help="JSONL articles, or an RSS or Atom feed (default stdin).",
)
@click.option(
    "-o",
    "--output",
    type=click.File("w", encoding="utf-8"),
    default="-",
    help="Enriched JSONL (default stdout).",
)
@click.option(
    "--watchlists",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="Watchlist YAML to match against.",
)
@click.option(
    "--alerts",
    "alerts_out",
    type=click.File("w", encoding="utf-8"),
    default=None,
    help="Also write alerts as JSONL here.",
)
def process(
    input_: IO[bytes], output: IO[str], watchlists: Path | None, alerts_out: IO[str] | None
) -> None:
    """Run the pipeline in-process on JSONL or a feed (no Redis): one enriched record per line.

    Bad lines become error records ({"error": {...}, "line": N}; feed items: "item"); nothing
    crashes. This is also the offline / backfill mode.
    """
    from workers.logs import configure_logging
    from workers.stages.offline import OfflinePipeline

    settings = get_settings()
    # stdout carries the records; per-article logs would drown a backfill's stderr.
    configure_logging("WARNING", settings.log_format)
    try:
        pipeline = OfflinePipeline.from_settings(settings, watchlists)
    except Exception as exc:  # a bad watchlist file is a usage error, not a crash
        fail(f"cannot load watchlists: {exc}")
    jsonl = str(getattr(input_, "name", "")).endswith((".jsonl", ".ndjson"))
    with _progress(_count_lines(input_) if jsonl else None, "processing") as bar:
        stats = pipeline.run(input_, _CountingWriter(output, bar), alerts_out=alerts_out)  # type: ignore[arg-type]
    click.echo(
        f"processed {stats['records']} records, {stats['errors']} errors, {stats['alerts']} alerts",
        err=True,
    )


# -- tail -----------------------------------------------------------------------------

_TAIL_FIELDS = {"enriched": "record", "alerts": "alert", "dlq": "entry"}


@main.command()
@click.argument("stream", type=click.Choice(sorted(_TAIL_FIELDS)))
@click.option("-n", "--lines", type=click.IntRange(0, 100_000), default=10, show_default=True)
@click.option("-f", "--follow", is_flag=True, help="Keep printing new entries.")
def tail(stream: str, lines: int, follow: bool) -> None:
    """Print the last entries of the enriched, alerts or dead-letter stream as JSON lines."""
    keys = Keys(get_settings().prefix)
    name = getattr(keys, stream)
    client = _client()

    def show(fields: dict[str, str]) -> None:
        value = fields.get(_TAIL_FIELDS[stream])
        click.echo(value if value is not None else json.dumps(fields, ensure_ascii=False))

    last = "$"
    rows = list(reversed(client.xrevrange(name, count=lines))) if lines else []
    for entry_id, fields in rows:
        show(fields)
        last = entry_id
    if not follow:
        return
    if last == "$":
        newest = client.xrevrange(name, count=1)
        last = newest[0][0] if newest else "0-0"
    try:
        while True:
            for _, entries in client.xread({name: last}, block=1000, count=100) or []:
                for entry_id, fields in entries:
                    show(fields)
                    last = entry_id
    except KeyboardInterrupt:
        pass


# -- demo -----------------------------------------------------------------------------------


@main.command()
@click.option("--keep", is_flag=True, help="Keep the temporary data directory and logs.")
def demo(keep: bool) -> None:
    """Run the whole flow on the bundled samples and print what happened (what `make run` runs)."""
    from workers.cli.demo import run_demo

    raise SystemExit(run_demo(keep=keep))
