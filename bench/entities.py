"""Benchmark entity tagging with a 100,000-entry knowledge base.

Prints ``BENCH entities kb_entries=... load_s=... build_s=... kb_rss_mb=...
tag_ms_median=... tag_cpu_ms_median=... article_chars=...``:

- ``default_rss_mb``: the process's resident memory once the default models are
  loaded and used (built-in knowledge base, named-entity recogniser, wordfreq
  lists): what a worker holds before any declared list;
- ``default_tag_cpu_ms_median``: process CPU time of the entity stage (``tag``
  with the built-in knowledge base and the recogniser, the article's language
  given) on the 5,000-character article, median of ``RUNS``;
  ``recognise_cpu_ms_median``: the recogniser's share of it;

- entries are generated (seeded) names in the shapes real lists have: half
  people written ``LAST, First Middle`` with zero to three aliases, half
  organisations of two to four words with a legal suffix; plus the built-in
  places;
- ``load_s``: parse the entries from JSON (what a worker reads from Redis) and
  build the knowledge base; ``build_s``: the build alone; ``load_cpu_s``: the
  process CPU time of the load (wall-clock includes waiting for a shared core);
- ``kb_rss_mb``: resident memory added by the entries and the compiled
  knowledge base (``/proc/self/status``); the recogniser is the built-in one;
- ``tag_ms_median`` / ``tag_cpu_ms_median``: wall-clock and process CPU time of
  ``tag`` on a 5,000-character article (the two seed articles when
  ../shared/data is present, else generated text), median of 200 runs. On a
  machine shared with other work wall-clock is noisy; CPU time less so;
- ``ref_loop_ms``: CPU time of a fixed pure-Python loop (a million additions),
  to compare machines: about 30-50 ms on an idle current x86 core.
"""

from __future__ import annotations

import gc
import os
import random
import statistics
import time
from pathlib import Path

from evals.measure import ref_loop_ms, rss_mb
from pipeline.entities import EntityEntry, KnowledgeBase, tag
from pipeline.entities.recogniser import Recogniser
from pipeline.entities.stream import tokenize
from pipeline.entities.tagging import _sentence_breaks

__all__ = ["main"]

N_ENTRIES = 100_000
ARTICLE_CHARS = 5000
RUNS = 200
_SYLLABLES = "ba ka ri mo tan lee su vin dar o el za hu ne gor am is ul fe sha tek ro mi".split()
_SUFFIXES = ["LTD.", "LLC", "S.A.", "TRADING CO.", "GROUP", "HOLDING", "FZE", "COMPANY"]


def _word(rng: random.Random) -> str:
    return "".join(rng.choice(_SYLLABLES) for _ in range(rng.randint(2, 3))).upper()


def generate_entries(n: int = N_ENTRIES, seed: int = 7) -> list[EntityEntry]:
    """Return ``n`` deterministic synthetic entries shaped like sanctions-list rows."""
    rng = random.Random(seed)
    out = []
    for i in range(n):
        if i % 2 == 0:
            last, first, middle = _word(rng), _word(rng).title(), _word(rng).title()
            name = f"{last}, {first} {middle}"
            aliases = [f"{_word(rng)}, {first}" for _ in range(rng.randint(0, 3))]
            out.append(EntityEntry(id=f"bench:{i}", name=name, type="PERSON", aliases=aliases))
        else:
            words = " ".join(_word(rng) for _ in range(rng.randint(2, 4)))
            name = f"{words} {rng.choice(_SUFFIXES)}"
            aliases = [_word(rng) + " " + _word(rng) for _ in range(rng.randint(0, 2))]
            out.append(EntityEntry(id=f"bench:{i}", name=name, type="ORG", aliases=aliases))
    return out


def _article() -> str:
    seed_dir = Path(os.environ.get("WIREWATCH_EVAL_DATA_DIR", "../shared/data")) / "seed-articles"
    texts = (
        [p.read_text(encoding="utf-8") for p in sorted(seed_dir.glob("*.txt"))]
        if seed_dir.is_dir()
        else []
    )
    text = "\n\n".join(texts)
    if len(text) < ARTICLE_CHARS:
        rng = random.Random(3)
        words = [
            "the",
            "minister",
            "said",
            "on",
            "Monday",
            "that",
            "Russia",
            "and",
            "North Korea",
            "talks",
        ]
        while len(text) < ARTICLE_CHARS:
            text += " ".join(rng.choice(words) for _ in range(12)).capitalize() + ". "
    return text[:ARTICLE_CHARS]


def _cpu_median(call: object, runs: int = RUNS) -> float:
    """Return the median process CPU milliseconds of ``call()`` over ``runs`` calls."""
    times = []
    for _ in range(runs):
        c0 = time.process_time()
        call()  # type: ignore[operator]
        times.append(time.process_time() - c0)
    return round(statistics.median(times) * 1000, 3)


def main() -> None:
    builtin = KnowledgeBase.builtin()  # built once per process in workers too; not part of the load
    builtin_entries = list(builtin.entries.values())
    text = _article()
    tag(text, kb=builtin, language="en")
    gc.collect()
    default_rss = rss_mb()
    default_cpu = _cpu_median(lambda: tag(text, kb=builtin, language="en"))
    recogniser = builtin.name_finder
    recognise_cpu = 0.0
    if isinstance(recogniser, Recogniser):
        stream = tokenize(text)
        breaks = _sentence_breaks(stream)
        recognise_cpu = _cpu_median(lambda: recogniser.recognise(stream, "en", breaks, {}))
    gc.collect()
    before = rss_mb()
    payload = [e.model_dump_json() for e in generate_entries()]
    started, cpu_started = time.perf_counter(), time.process_time()
    entries = [EntityEntry.model_validate_json(p) for p in payload]
    build_started = time.perf_counter()
    kb = KnowledgeBase(
        builtin_entries + entries,
        builtin_ids=builtin.builtin_ids,
        strict_ids=builtin.strict_ids,
        minor_ids=builtin.minor_ids,
        name_finder=builtin.name_finder,
    )
    done, cpu_done = time.perf_counter(), time.process_time()
    del payload, entries
    gc.collect()
    rss = rss_mb() - before
    tag(text, kb=kb)
    wall, cpu = [], []
    for _ in range(RUNS):
        w0, c0 = time.perf_counter(), time.process_time()
        tag(text, kb=kb)
        cpu.append(time.process_time() - c0)
        wall.append(time.perf_counter() - w0)
    metrics = {
        "default_rss_mb": round(default_rss, 1),
        "default_tag_cpu_ms_median": default_cpu,
        "recognise_cpu_ms_median": recognise_cpu,
        "kb_entries": len(kb),
        "load_s": round(done - started, 2),
        "build_s": round(done - build_started, 2),
        "load_cpu_s": round(cpu_done - cpu_started, 2),
        "kb_rss_mb": round(rss, 1),
        "tag_ms_median": round(statistics.median(wall) * 1000, 3),
        "tag_cpu_ms_median": round(statistics.median(cpu) * 1000, 3),
        "article_chars": len(text),
        "ref_loop_ms": round(ref_loop_ms(), 1),
    }
    print("BENCH entities " + " ".join(f"{k}={v}" for k, v in metrics.items()), flush=True)
