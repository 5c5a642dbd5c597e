"""Score the cleaning stage on the Article Extraction Benchmark (AEB), and trafilatura beside it.

The metric is the benchmark's own (scrapinghub/article-extraction-benchmark,
``evaluate.py``): ``\\w+`` tokens, multisets of 4-token shingles, per-page
TP/FP/FN normalised by their sum, precision and recall averaged over pages,
F1 the harmonic mean of the two averages. Scoring trafilatura's default output
with it must reproduce the published 0.953 / 0.928 / 0.978; ``metric_check`` is
1 when it does, so a broken metric breaks the floors instead of flattering us.

Timing: both extractors run on every page in the same process, alternating, so
machine noise hits both; the floor is on their ratio of medians.
"""

from __future__ import annotations

import gzip
import json
import re
import statistics
import time
from collections import Counter
from pathlib import Path

import trafilatura

from pipeline.cleaning import clean
from pipeline.errors import ContentError
from pipeline.models import Article

__all__ = ["TRAFILATURA_REFERENCE", "run", "score", "shingle_counts"]

_TOKEN = re.compile(r"\w+")
_SHINGLE = 4
# trafilatura 2.3.1, extract(html) with defaults, on these 181 pages (data README).
TRAFILATURA_REFERENCE = {"f1": 0.953, "precision": 0.928, "recall": 0.978}


def _shingles(text: str) -> Counter[tuple[str, ...]]:
    tokens = _TOKEN.findall(text or "")
    return Counter(
        tuple(tokens[i : i + _SHINGLE])
        for i in range(max(1, len(tokens) - _SHINGLE + 1))
        if tokens[i : i + _SHINGLE]
    )


def shingle_counts(true: str, pred: str) -> tuple[float, float, float]:
    """Return one page's (TP, FP, FN) over 4-token shingles, normalised to sum to 1."""
    gold, guess = _shingles(true), _shingles(pred)
    tp = sum((gold & guess).values())
    fp = sum((guess - gold).values())
    fn = sum((gold - guess).values())
    total = tp + fp + fn
    if total == 0:
        return 0.0, 0.0, 0.0
    return tp / total, fp / total, fn / total


def _precision(tp: float, fp: float, fn: float) -> float:
    if fp == fn == 0:
        return 1.0
    return tp / (tp + fp) if tp + fp else 0.0


def _recall(tp: float, fp: float, fn: float) -> float:
    if fp == fn == 0:
        return 1.0
    return tp / (tp + fn) if tp + fn else 0.0


def score(pages: list[tuple[float, float, float]]) -> dict[str, float]:
    """Return f1/precision/recall averaged over pages as the benchmark does."""
    precision = statistics.mean(_precision(*p) for p in pages if p[0] + p[1] > 0)
    recall = statistics.mean(_recall(*p) for p in pages if p[0] + p[2] > 0)
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"f1": f1, "precision": precision, "recall": recall}


def _ours(html: str, url: str) -> str:
    try:
        return clean(Article(url=url, html=html), max_bytes=5_000_000).text
    except ContentError:
        return ""


def run(data_dir: Path) -> dict[str, float]:
    """Extract every AEB page with ``clean`` and with trafilatura's defaults; score and time both."""
    root = data_dir / "aeb"
    truth = json.loads((root / "ground-truth.json").read_text(encoding="utf-8"))
    ours: list[tuple[float, float, float]] = []
    theirs: list[tuple[float, float, float]] = []
    our_ms: list[float] = []
    their_ms: list[float] = []
    for page_id, item in sorted(truth.items()):
        with gzip.open(root / "html" / f"{page_id}.html.gz", "rt", encoding="utf-8") as handle:
            html = handle.read()
        started = time.perf_counter()
        reference = trafilatura.extract(html) or ""
        their_ms.append((time.perf_counter() - started) * 1000)
        started = time.perf_counter()
        text = _ours(html, item.get("url") or "https://example.invalid/")
        our_ms.append((time.perf_counter() - started) * 1000)
        ours.append(shingle_counts(item["articleBody"], text))
        theirs.append(shingle_counts(item["articleBody"], reference))
    mine, ref = score(ours), score(theirs)
    check = all(round(ref[k], 3) == v for k, v in TRAFILATURA_REFERENCE.items())
    ms, ref_ms = statistics.median(our_ms), statistics.median(their_ms)
    return {
        "f1": mine["f1"],
        "precision": mine["precision"],
        "recall": mine["recall"],
        "ms_per_page": ms,
        "trafilatura_ms_per_page": ref_ms,
        "time_ratio": ms / ref_ms,
        "trafilatura_f1": ref["f1"],
        "trafilatura_precision": ref["precision"],
        "trafilatura_recall": ref["recall"],
        "metric_check": 1.0 if check else 0.0,
    }
