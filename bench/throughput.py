"""The running system against one in-process pipeline, same articles, same run: ``python -m bench throughput``.

Articles: the 181 pages of the Article Extraction Benchmark (``aeb/`` under the evaluation
data directory, ``WIREWATCH_EVAL_DATA_DIR``, default ``../shared/data``, as ``make eval``
reads it), each as its HTML and as its gold body sent as crawler text, two copies of
each: 724 articles, every one with its own id, url and one sentence of its own so the
story stage files it as a new article, not an exact copy.

Both paths first process a warm-up set (every page once, HTML and text, under ids of its
own): models and word lists load on first use per language and per process, and that is
start-up, not the steady state compared here.

1. **In-process** (the ``wirewatch process`` path, ``OfflinePipeline.run``, one process,
   one core): after the warm-up, articles/s over the 724, and CPU per stage (each
   ``pipeline.flow`` step timed).
2. **System** (what ``wirewatch up`` runs: the ingest service, one worker on the pipeline
   queues, one on ``deliver``, on their own server started as ``up`` starts it): after
   the same warm-up, the 724 pushed with plain ``XADD``; articles/s from the first push
   to the last enriched record (both read off the server's clock: stream entry ids).
   Also CPU per stage (the workers' ``batch.done`` lines), CPU and RSS per process,
   Redis commands and bytes per article (``INFO commandstats`` / ``INFO stats`` before
   and after: the server's own count, this process's pushes and polls included).
3. **Batch size 1** (one article per chain, the design micro-batching replaced): the same
   system with ``WIREWATCH_BATCH_SIZE=1`` on ``BENCH_THROUGHPUT_SINGLE`` articles.

Prints ``BENCH throughput ...`` lines; the ``ratio`` is system / in-process articles/s.
This machine is shared: absolute figures move with other load, so compare within one
run. Environment: ``BENCH_THROUGHPUT_COPIES`` (2), ``BENCH_THROUGHPUT_SINGLE`` (181;
0 skips), ``BENCH_THROUGHPUT_TIMEOUT`` (600 s), ``BENCH_THROUGHPUT_PROFILE`` (a directory:
record each worker process with ``py-spy`` into it, when py-spy is installed).
"""

from __future__ import annotations

import gzip
import io
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

from bench.pipeline import wait_until

__all__ = ["load_articles", "main"]

# Before timing, both paths process every page once (as HTML and as text, ids of their own):
# each language's models and word lists are loaded on first use, per process, which is
# start-up, not the steady state this bench compares (``BENCH_THROUGHPUT_WARMUP`` pages).
_WARMUP = int(os.environ.get("BENCH_THROUGHPUT_WARMUP", "181"))
_TICK = os.sysconf("SC_CLK_TCK")
_PAGE = os.sysconf("SC_PAGE_SIZE")


def _data_dir() -> Path:
    return Path(os.environ.get("WIREWATCH_EVAL_DATA_DIR", "../shared/data")).resolve()


def _with_sentence(html: str, sentence: str) -> str:
    """Put ``sentence`` in a paragraph right after the page's first paragraph (it is kept)."""
    at = html.find("</p>")
    if at < 0:
        at = html.rfind("</body>")
        return (
            html + f"<p>{sentence}</p>" if at < 0 else html[:at] + f"<p>{sentence}</p>" + html[at:]
        )
    at += len("</p>")
    return html[:at] + f"<p>{sentence}</p>" + html[at:]


def load_articles(root: Path, copies: int, tag: str) -> list[dict[str, Any]]:
    """Return the AEB pages as HTML and as text, ``copies`` times, each made unique by ``tag``."""
    truth = json.loads((root / "ground-truth.json").read_text(encoding="utf-8"))
    pages = []
    for page_id, item in sorted(truth.items()):
        with gzip.open(root / "html" / f"{page_id}.html.gz", "rt", encoding="utf-8") as handle:
            pages.append((page_id, item.get("url") or "https://example.invalid/", handle.read(), item["articleBody"]))  # fmt: skip
    out = []
    for copy in range(copies):
        for page_id, url, html, body in pages:
            for kind in ("html", "text"):
                n = len(out)
                ident = f"aeb-{page_id[:16]}-{kind}-{tag}{copy}"
                sentence = f"Reference {ident} was filed as item {n} of run {tag}."
                article: dict[str, Any] = {"id": ident, "url": url.split("#")[0].rstrip("/") + f"/{ident}"}  # fmt: skip
                if kind == "html":
                    article["html"] = _with_sentence(html, sentence)
                else:
                    article["text"] = body + "\n\n" + sentence
                out.append(article)
    return out


# -- in-process -------------------------------------------------------------------------------


def _in_process(articles: list[str], warmup: list[str]) -> dict[str, Any]:
    """Run ``OfflinePipeline`` (what ``wirewatch process`` runs) and time it and its stages."""
    from pipeline import flow
    from workers.logs import configure_logging
    from workers.settings import get_settings
    from workers.stages.offline import OfflinePipeline

    configure_logging("WARNING", "json")
    cpu: dict[str, float] = defaultdict(float)
    originals = {n: getattr(flow, n) for n in ("run_clean", "run_language", "run_entities", "run_story", "run_match")}  # fmt: skip

    def timed(name: str, fn: Any) -> Any:
        def run(*args: Any, **kwargs: Any) -> Any:
            started = time.process_time()
            try:
                return fn(*args, **kwargs)
            finally:
                cpu[name] += time.process_time() - started

        return run

    pipeline = OfflinePipeline.from_settings(get_settings())
    pipeline.run(io.BytesIO("\n".join(warmup).encode()), io.StringIO())
    for name, fn in originals.items():
        setattr(flow, name, timed(name.removeprefix("run_"), fn))
    try:
        src = io.BytesIO("\n".join(articles).encode())
        out = io.StringIO()
        cpu0, started = time.process_time(), time.perf_counter()
        stats = pipeline.run(src, out)
        elapsed, cpu_s = time.perf_counter() - started, time.process_time() - cpu0
    finally:
        for name, fn in originals.items():
            setattr(flow, name, fn)
    per = {k: v * 1000 / len(articles) for k, v in cpu.items()}
    per["emit+validate"] = cpu_s * 1000 / len(articles) - sum(per.values())
    return {
        "articles_per_s": len(articles) / elapsed,
        "seconds": elapsed,
        "records": stats["records"],
        "errors": stats["errors"],
        "cpu_ms_per_article": cpu_s * 1000 / len(articles),
        "stage_cpu_ms": per,
    }


# -- processes --------------------------------------------------------------------------------


def _children(pid: int) -> list[int]:
    out = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
            out.append(int(entry.name))
    return out


def _proc_sample(pid: int) -> tuple[float, int, int]:
    """Return (CPU seconds, RSS bytes, PSS bytes) of one process; zeros once it is gone.

    PSS (proportional set size) divides pages shared with other processes (the prefork
    children share what their parent loaded; every process maps the n-gram store) among
    them: summed over processes it is the memory actually used, where RSS counts shared
    pages once per process.
    """
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0, 0, 0
    pss = 0
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                pss = int(line.split()[1]) * 1024
    except OSError:
        pass
    return (int(fields[11]) + int(fields[12])) / _TICK, int(fields[21]) * _PAGE, pss


def _tree(procs: dict[str, int]) -> dict[str, int]:
    """Name -> pid for each service process and its direct children (the worker pool)."""
    out = dict(procs)
    for name, pid in procs.items():
        for n, child in enumerate(sorted(_children(pid))):
            out[f"{name}/{n}"] = child
    return out


def _redis_counts(client: Any) -> tuple[dict[str, int], dict[str, int]]:
    commands = {
        name.removeprefix("cmdstat_"): int(v["calls"])
        for name, v in client.info("commandstats").items()
    }
    stats = client.info("stats")
    return commands, {
        "in": int(stats.get("total_net_input_bytes", 0)),
        "out": int(stats.get("total_net_output_bytes", 0)),
    }


def _stage_cpu(log_dir: Path, since: float) -> dict[str, tuple[float, int, float]]:
    """Sum the workers' ``batch.done`` lines per task (after ``since``, epoch s): (CPU ms,
    items, wall ms)."""
    from datetime import datetime

    out: dict[str, list[float]] = defaultdict(lambda: [0.0, 0, 0.0])
    for path in log_dir.glob("worker*.log"):
        for line in path.read_text(errors="replace").splitlines():
            if '"batch.done"' not in line:
                continue
            try:
                event = json.loads(line[line.index("{") :])
            except ValueError:
                continue
            at = datetime.fromisoformat(event["timestamp"].replace("Z", "+00:00")).timestamp()
            if at < since:
                continue
            row = out[str(event.get("task", "?")).removeprefix("articles.")]
            row[0] += float(event["cpu_ms"])
            row[1] += int(event["items"])
            row[2] += float(event["ms"])
    return {k: (v[0], int(v[1]), v[2]) for k, v in out.items()}


def _show_logs(log_dir: Path, lines: int = 15) -> None:
    for path in sorted(log_dir.glob("*.log")):
        print(f"--- {path.name}", file=sys.stderr)
        for line in path.read_text(errors="replace").splitlines()[-lines:]:
            print(line[:400], file=sys.stderr)


def _ms_of(entry_id: Any) -> int:
    return int((entry_id.decode() if isinstance(entry_id, bytes) else entry_id).split("-")[0])


def _push(client: Any, stream: str, payloads: list[str]) -> int:
    """``XADD`` every payload (pipelined, 100 a round trip); return the first entry's ms."""
    first = None
    for i in range(0, len(payloads), 100):
        pipe = client.pipeline(transaction=False)
        for raw in payloads[i : i + 100]:
            pipe.xadd(stream, {"article": raw})
        ids = pipe.execute()
        first = first if first is not None else _ms_of(ids[0])
    assert first is not None
    return first


def _system(
    env: dict[str, str],
    tmp: Path,
    name: str,
    articles: list[str],
    warmup: list[str],
    timeout: float,
    profile: Path | None,
) -> dict[str, Any]:
    """Run ``up``'s processes on a fresh server, push, measure; stop everything."""
    import redis

    from workers.keys import Keys
    from workers.runtime.embedded import start_server
    from workers.runtime.processes import ProcessGroup, service_argvs

    keys = Keys()
    server = start_server(tmp / f"redis-{name}")  # as `wirewatch up` starts it (AOF everysec)
    env = {**env, "WIREWATCH_REDIS_URL": server.url}
    client = redis.Redis.from_url(server.url)
    log_dir = tmp / f"logs-{name}"
    group = ProcessGroup(env=env, log_dir=log_dir)
    spies: list[subprocess.Popen[bytes]] = []
    try:
        for proc_name, argv in service_argvs().items():
            group.start(proc_name, argv)
        wait_until(lambda: sum(" ready." in p.read_text(errors="replace") for p in log_dir.glob("worker*.log")) == 2, 180)  # fmt: skip
        _push(client, keys.ingest, warmup)
        if not wait_until(lambda: client.xlen(keys.enriched) + client.xlen(keys.dlq) >= len(warmup), timeout):  # fmt: skip
            _show_logs(log_dir)
            raise RuntimeError("warm-up did not finish (the logs' last lines are above)")
        time.sleep(1.0)  # let the warm-up's last acks and trims settle
        pids = _tree({n: p.pid for n, p in group.procs.items()})
        pids["redis"] = server.process.pid
        if profile is not None and shutil.which("py-spy"):
            profile.mkdir(parents=True, exist_ok=True)
            for proc_name, pid in pids.items():
                if proc_name != "redis":
                    out = profile / f"{name}-{proc_name.replace('/', '-')}.txt"
                    spies.append(subprocess.Popen(["py-spy", "record", "-p", str(pid), "-f", "raw", "-o", str(out), "-r", "50", "--nonblocking"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))  # fmt: skip
            time.sleep(1.0)
        before = {n: _proc_sample(p) for n, p in pids.items()}
        commands0, bytes0 = _redis_counts(client)
        done_before = client.xlen(keys.enriched) + client.xlen(keys.dlq)
        since = time.time()
        first_ms = _push(client, keys.ingest, articles)
        want = done_before + len(articles)
        complete = wait_until(lambda: client.xlen(keys.enriched) + client.xlen(keys.dlq) >= want, timeout)  # fmt: skip
        last = client.xrevrange(keys.enriched, count=1)
        dlq_last = client.xrevrange(keys.dlq, count=1)
        last_ms = max(_ms_of(r[0]) for r in [*last, *dlq_last])
        after = {n: _proc_sample(p) for n, p in pids.items()}
        commands1, bytes1 = _redis_counts(client)
        dead = client.xlen(keys.dlq)
        time.sleep(0.5)  # the last batch.done lines reach the log files
        stages = _stage_cpu(log_dir, since)
    finally:
        for spy in spies:
            spy.send_signal(signal.SIGINT)
        for spy in spies:
            try:
                spy.wait(30)
            except subprocess.TimeoutExpired:
                spy.kill()
        group.stop()
        server.stop()
    n = len(articles)
    calls = {k: v - commands0.get(k, 0) for k, v in commands1.items() if v - commands0.get(k, 0)}
    seconds = max(0.001, (last_ms - first_ms) / 1000)
    return {
        "articles_per_s": n / seconds,
        "seconds": seconds,
        "complete": complete,
        "dead_letters": dead,
        "stage_cpu_ms": {k: ms / max(1, items) for k, (ms, items, _) in stages.items()},
        "stage_wall_ms": {k: wall / max(1, items) for k, (_, items, wall) in stages.items()},
        "proc_cpu_ms": {k: (after[k][0] - before[k][0]) * 1000 / n for k in pids},
        "rss_mb": {k: after[k][1] / 2**20 for k in pids},
        "pss_mb": {k: after[k][2] / 2**20 for k in pids},
        "redis_commands": sum(calls.values()) / n,
        "redis_top": dict(
            sorted(((k, v / n) for k, v in calls.items()), key=lambda kv: -kv[1])[:8]
        ),  # fmt: skip
        "redis_kb_in": (bytes1["in"] - bytes0["in"]) / n / 1024,
        "redis_kb_out": (bytes1["out"] - bytes0["out"]) / n / 1024,
    }


def _fmt(values: dict[str, float], digits: int = 2) -> str:
    return ",".join(f"{k}:{v:.{digits}f}" for k, v in values.items())


def _system_line(label: str, r: dict[str, Any]) -> None:
    print(
        f"BENCH throughput {label} articles_per_s={r['articles_per_s']:.1f} "
        f"seconds={r['seconds']:.1f} complete={r['complete']} dead_letters={r['dead_letters']}\n"
        f"  stage_cpu_ms_per_article={_fmt(r['stage_cpu_ms'])}\n"
        f"  stage_wall_ms_per_article={_fmt(r['stage_wall_ms'])}\n"
        f"  process_cpu_ms_per_article={_fmt(r['proc_cpu_ms'])} total={sum(r['proc_cpu_ms'].values()):.2f}\n"
        f"  rss_mb={_fmt(r['rss_mb'], 0)}\n"
        f"  pss_mb={_fmt(r['pss_mb'], 0)} total={sum(r['pss_mb'].values()):.0f}\n"
        f"  redis_commands_per_article={r['redis_commands']:.1f} ({_fmt(r['redis_top'], 1)}) "
        f"redis_kb_per_article_in={r['redis_kb_in']:.1f} out={r['redis_kb_out']:.1f}",
        flush=True,
    )


def main() -> None:
    # SIGTERM unwinds like Ctrl-C, so the finally blocks stop every child process.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    root = _data_dir() / "aeb"
    if not (root / "ground-truth.json").is_file():
        print(f"BENCH throughput skipped: no AEB data at {root} (set WIREWATCH_EVAL_DATA_DIR)")
        return
    copies = int(os.environ.get("BENCH_THROUGHPUT_COPIES", "2"))
    single = int(os.environ.get("BENCH_THROUGHPUT_SINGLE", "181"))
    timeout = float(os.environ.get("BENCH_THROUGHPUT_TIMEOUT", "600"))
    profile_dir = os.environ.get("BENCH_THROUGHPUT_PROFILE")
    run = f"r{int(time.time()) % 100000}"
    articles = [json.dumps(a, ensure_ascii=False) for a in load_articles(root, copies, run)]
    warm = load_articles(root, 1, f"w{run}")
    warmup = [json.dumps(a, ensure_ascii=False) for a in warm[: 2 * _WARMUP]]
    mb = sum(len(a.encode()) for a in articles) / 2**20
    print(f"BENCH throughput articles={len(articles)} payload_mb={mb:.1f} cpus={os.cpu_count()}", flush=True)  # fmt: skip
    # The system first: the in-process run's memory (models) is then not this process's yet.
    env = {k: v for k, v in os.environ.items() if not k.startswith("WIREWATCH_")}
    with tempfile.TemporaryDirectory(prefix="bench-throughput-") as tmp_name:
        tmp = Path(tmp_name)
        profile = Path(profile_dir) if profile_dir else None
        system = _system(env, tmp, "system", articles, warmup, timeout, profile)
        _system_line("system", system)
        local = _in_process(articles, warmup)
        print(
            f"BENCH throughput in-process articles_per_s={local['articles_per_s']:.1f} "
            f"seconds={local['seconds']:.1f} records={local['records']} errors={local['errors']} "
            f"cpu_ms_per_article={local['cpu_ms_per_article']:.2f}\n"
            f"  stage_cpu_ms_per_article={_fmt(local['stage_cpu_ms'])}",
            flush=True,
        )
        print(
            f"BENCH throughput ratio={system['articles_per_s'] / local['articles_per_s']:.2f} "
            f"system={system['articles_per_s']:.1f} in_process={local['articles_per_s']:.1f} "
            f"(same articles, same run; system / in-process)",
            flush=True,
        )
        if single > 0:
            one = _system(
                {**env, "WIREWATCH_BATCH_SIZE": "1"},
                tmp,
                "batch1",
                articles[:single],
                warmup[:64],
                timeout,
                None,
            )
            _system_line("batch=1", one)
            print(
                f"BENCH throughput batch1_ratio={one['articles_per_s'] / local['articles_per_s']:.2f}",
                flush=True,
            )
