"""Evaluate language identification against lingua high-accuracy on the langid data.

``run(data_dir)`` reads ``langid/{sentences,word-pairs}/<iso>.txt`` (one item per line,
label = file name) and returns the mean accuracy over languages for each kind, the median
CPU time per text (thread time around each call) of ``pipeline.language.detect`` and of
lingua in high-accuracy mode over all languages on the same texts in the same run, their
ratio, and the process RSS after preloading every model our detector can use and running
it (taken before lingua's all-language high-accuracy models are loaded for comparison,
which alone take more than a gigabyte).

``python -m evals.langid --table docs/language.md`` also writes the per-language table.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

from pipeline import language
from pipeline.language.backends import get_backends

__all__ = ["run"]

KINDS = {"sentences": "sentences", "word-pairs": "word_pairs"}
CLOSE_GROUPS = (("hr", "sr", "bs"), ("id", "ms"), ("nb", "nn", "da"), ("xh", "zu"), ("st", "tn"))

_LAST: dict[str, object] = {}  # details of the last run, for the table


def _load(data_dir: Path) -> dict[str, dict[str, list[str]]]:
    root = data_dir / "langid"
    data: dict[str, dict[str, list[str]]] = {}
    for kind in KINDS:
        data[kind] = {}
        for path in sorted((root / kind).glob("*.txt")):
            lines = [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
            data[kind][path.stem] = lines
    return data


_RSS_PROBE = """
import json, sys
from pipeline import language
from pipeline.language.backends import get_backends
from evals.measure import rss_mb
get_backends().preload()
for text in json.load(sys.stdin):
    language.detect(text)
print(rss_mb())
"""


def _detector_rss_mb(data: dict[str, dict[str, list[str]]]) -> float:
    """Return the RSS of a fresh process after loading every model and detecting texts.

    Measured in a child so that what other evaluations loaded into this process
    (trafilatura, the entity knowledge base) does not count against the detector.
    """
    sample = [line for by_lang in data.values() for lines in by_lang.values() for line in lines[:5]]
    done = subprocess.run(
        [sys.executable, "-c", _RSS_PROBE],
        input=json.dumps(sample),
        capture_output=True,
        text=True,
        check=True,
        cwd=Path(__file__).resolve().parent.parent,
    )
    return float(done.stdout.strip().splitlines()[-1])


Hits = dict[str, dict[str, list[bool]]]  # kind -> language -> right or wrong per line


def _score(
    data: dict[str, dict[str, list[str]]], guess: Callable[[str], str]
) -> tuple[Hits, dict[str, Counter[tuple[str, str]]], list[float]]:
    """Run ``guess`` on every item; return per-item hits, confusions and CPU times."""
    hits: Hits = {}
    confusions: dict[str, Counter[tuple[str, str]]] = {}
    times: list[float] = []
    for kind, by_lang in data.items():
        hits[kind] = {}
        confusions[kind] = Counter()
        for gold, lines in by_lang.items():
            hits[kind][gold] = []
            for line in lines:
                started = time.thread_time()
                got = guess(line)
                times.append(time.thread_time() - started)
                hits[kind][gold].append(got == gold)
                if got != gold:
                    confusions[kind][(gold, got)] += 1
    return hits, confusions, times


def _accuracy(hits: dict[str, list[bool]], start: int = 0, step: int = 1) -> dict[str, float]:
    """Per-language accuracy over the lines ``start::step``."""
    return {gold: sum(h[start::step]) / len(h[start::step]) for gold, h in hits.items()}


def run(data_dir: Path) -> dict[str, float]:
    """Return accuracy, speed and memory figures (see the module docstring)."""
    data = _load(Path(data_dir))
    # load every model up front, as a worker does at start: timings exclude loading and the
    # RSS below is the worst case a long-running worker reaches
    get_backends().preload()
    our_hits, our_conf, our_times = _score(data, lambda text: language.detect(text).code)
    rss = _detector_rss_mb(data)

    from lingua import LanguageDetectorBuilder

    high = LanguageDetectorBuilder.from_all_languages().build()

    def lingua_guess(text: str) -> str:
        found = high.detect_language_of(text)
        return found.iso_code_639_1.name.lower() if found is not None else "und"

    their_hits, _, their_times = _score(data, lingua_guess)
    ours = {kind: _accuracy(h) for kind, h in our_hits.items()}
    theirs = {kind: _accuracy(h) for kind, h in their_hits.items()}
    ours_us = statistics.median(our_times) * 1e6
    theirs_us = statistics.median(their_times) * 1e6
    _LAST.update(ours=ours, theirs=theirs, confusions=our_conf, hits=our_hits)
    metrics: dict[str, float] = {}
    for kind, key in KINDS.items():
        metrics[key] = statistics.mean(ours[kind].values())
    metrics["us_per_text"] = ours_us
    metrics["lingua_high_us_per_text"] = theirs_us
    metrics["time_ratio"] = ours_us / theirs_us
    metrics["mean_us_per_text"] = statistics.mean(our_times) * 1e6
    metrics["lingua_high_mean_us_per_text"] = statistics.mean(their_times) * 1e6
    for kind, key in KINDS.items():
        metrics[f"lingua_high_{key}"] = statistics.mean(theirs[kind].values())
        # thresholds were chosen on even lines: odd lines show how well they carry over
        for start, name in ((0, "even"), (1, "odd")):
            metrics[f"{key}_{name}"] = statistics.mean(_accuracy(our_hits[kind], start, 2).values())
    metrics["rss_mb"] = rss
    return metrics


def write_table(path: Path, metrics: dict[str, float]) -> None:
    """Write the per-language accuracy table and main confusions as Markdown."""
    ours: dict[str, dict[str, float]] = _LAST["ours"]  # type: ignore[assignment]
    theirs: dict[str, dict[str, float]] = _LAST["theirs"]  # type: ignore[assignment]
    confusions: dict[str, Counter[tuple[str, str]]] = _LAST["confusions"]  # type: ignore[assignment]
    lines = [
        "# Language identification: measured accuracy",
        "",
        "Generated by `python -m evals.langid --table docs/language.md` on the langid",
        "evaluation data (75 languages, 200 sentences and 200 word pairs each, from lingua's",
        "test set). `ours` is `pipeline.language.detect`; `lingua` is lingua high-accuracy",
        "mode over all languages, run on the same texts in the same process. Timings are CPU",
        "time per text on a shared 2-core machine and are noisy.",
        "",
        "| metric | value |",
        "|---|---|",
    ]
    lines += [f"| {k} | {v:.4f} |" for k, v in metrics.items()]
    lines += [
        "",
        "## Per language",
        "",
        "| language | sentences ours | sentences lingua | word pairs ours | word pairs lingua |",
        "|---|---|---|---|---|",
    ]
    for code in sorted(ours["sentences"]):
        lines.append(
            f"| {code} | {ours['sentences'][code]:.3f} | {theirs['sentences'][code]:.3f} "
            f"| {ours['word-pairs'][code]:.3f} | {theirs['word-pairs'][code]:.3f} |"
        )
    hits: Hits = _LAST["hits"]  # type: ignore[assignment]
    lines += ["", "## Close groups (ours: rows gold, columns detected, counts)"]
    for kind in KINDS:
        for group in CLOSE_GROUPS:
            lines += ["", f"{kind}, {'/'.join(group)}:", ""]
            lines += [
                "| gold | " + " | ".join(group) + " | other |",
                "|---" * (len(group) + 2) + "|",
            ]
            for gold in group:
                right, total = sum(hits[kind][gold]), len(hits[kind][gold])
                cells = [
                    str(right) if got == gold else str(confusions[kind][(gold, got)])
                    for got in group
                ]
                other = total - right - sum(confusions[kind][(gold, g)] for g in group if g != gold)
                lines.append(f"| {gold} | " + " | ".join(cells) + f" | {other} |")
    for kind in KINDS:
        lines += ["", f"## Main confusions ({kind}, ours: gold -> detected, count)", ""]
        lines += ["| gold | detected | count |", "|---|---|---|"]
        for (gold, got), count in confusions[kind].most_common(25):
            lines.append(f"| {gold} | {got} | {count} |")
    Path(path).write_text("\n".join(lines) + "\n", encoding="utf-8")


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="../shared/data", help="evaluation data directory")
    parser.add_argument("--table", help="write the per-language Markdown table here")
    args = parser.parse_args(argv)
    metrics = run(Path(args.data))
    print("EVAL langid " + " ".join(f"{k}={v:.4f}" for k, v in metrics.items()))
    if args.table:
        write_table(Path(args.table), metrics)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
