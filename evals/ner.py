"""Score named entities on the development sets in ``<data>/ner`` with the rule of its README.

Each document goes through ``wirewatch process`` as ``{"id", "url", "text"}`` (no title,
no language): here the same ``OfflinePipeline`` the command runs, in-process. Predicted
mentions are mapped back onto the input text through ``difflib.SequenceMatcher``'s equal
blocks when the output text differs; the distinct mapped spans of all mentions of all
entities (record order, first type wins) are scored per set against the gold spans:

- span P/R/F1: predicted spans equal to a gold span, type ignored;
- typed P/R/F1: those whose type also matches (PERSON->PER, ORG, LOC, MISC);
- junk: predicted spans that overlap no gold span at all, over predicted;
- refused: documents that got an error record (their gold mentions count as misses).

Over sets: unweighted means of typed F1, span F1 and junk. Half of each set (even
document positions) is what tuning may look at; the odd half is reported apart as the
check that a change generalises (``typed_f1_even`` / ``typed_f1_odd``, ``junk_*``).
The per-set table goes to stderr; the metrics to the ``EVAL ner`` line.
"""

from __future__ import annotations

import difflib
import io
import json
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["Counts", "score_document", "run"]

SETS: dict[str, str] = {
    "de": "de-germeval2014-dev.jsonl",
    "pt": "pt-bosque-dev.jsonl",
    "da": "da-ddt-dev.jsonl",
    "en": "en-ewt-dev.jsonl",
}
_TYPES = {"PERSON": "PER", "ORG": "ORG", "LOC": "LOC", "MISC": "MISC"}

Span = tuple[int, int]


@dataclass
class Counts:
    """Summed counts of one set (or half of one)."""

    predicted: int = 0
    gold: int = 0
    span_tp: int = 0
    typed_tp: int = 0
    junk: int = 0
    refused: int = 0
    docs: int = 0

    def add(self, other: Counts) -> None:
        for name in self.__dataclass_fields__:
            setattr(self, name, getattr(self, name) + getattr(other, name))

    def scores(self) -> dict[str, float]:
        def prf(tp: int) -> tuple[float, float, float]:
            p = tp / self.predicted if self.predicted else 0.0
            r = tp / self.gold if self.gold else 0.0
            return p, r, (2 * p * r / (p + r) if p + r else 0.0)

        sp, sr, sf = prf(self.span_tp)
        tp, tr, tf = prf(self.typed_tp)
        junk = self.junk / self.predicted if self.predicted else 0.0
        return {
            "span_p": sp,
            "span_r": sr,
            "span_f1": sf,
            "typed_p": tp,
            "typed_r": tr,
            "typed_f1": tf,
            "junk": junk,
        }


@dataclass
class _Half:
    even: Counts = field(default_factory=Counts)
    odd: Counts = field(default_factory=Counts)

    def total(self) -> Counts:
        out = Counts()
        out.add(self.even)
        out.add(self.odd)
        return out


def _mapper(source: str, output: str) -> dict[int, int] | None:
    """Return input offset -> output offset over the equal blocks, or None when identical."""
    if source == output:
        return None
    matcher = difflib.SequenceMatcher(None, source, output, autojunk=False)
    out: dict[int, int] = {}
    for tag, i1, i2, j1, _j2 in matcher.get_opcodes():
        if tag == "equal":
            for k in range(i2 - i1):
                out[j1 + k] = i1 + k
    return out


def predicted_spans(record: dict[str, Any], source: str) -> dict[Span, str]:
    """Return the distinct predicted spans of ``record`` mapped onto ``source``, with types."""
    back = _mapper(source, record.get("text", ""))
    spans: dict[Span, str] = {}
    for entity in record.get("entities", []):
        etype = _TYPES.get(entity.get("type", ""), "?")
        for mention in entity.get("mentions", []):
            s, e = mention["start"], mention["end"]
            if back is not None:
                if s not in back or (e - 1) not in back:
                    continue
                ms, me = back[s], back[e - 1]
                if me < ms:
                    continue
                s, e = ms, me + 1
            spans.setdefault((s, e), etype)
    return spans


def score_document(predicted: dict[Span, str], gold: Iterable[dict[str, Any]]) -> Counts:
    """Count span and typed hits, junk and totals for one document."""
    golds = {(g["start"], g["end"]): g["type"] for g in gold}
    ordered = sorted(golds)
    counts = Counts(predicted=len(predicted), gold=len(golds), docs=1)
    for (s, e), etype in predicted.items():
        if (s, e) in golds:
            counts.span_tp += 1
            counts.typed_tp += golds[(s, e)] == etype
        if not any(gs < e and s < ge for gs, ge in ordered):
            counts.junk += 1
    return counts


def _process(docs: list[dict[str, Any]]) -> list[dict[str, Any] | None]:
    """Run the offline pipeline on ``docs``; return each one's record (None when refused)."""
    from workers.logs import configure_logging
    from workers.settings import Settings
    from workers.stages.offline import OfflinePipeline

    settings = Settings()
    configure_logging("WARNING", settings.log_format)  # as ``wirewatch process`` does
    pipeline = OfflinePipeline.from_settings(settings)
    lines = [
        json.dumps({"id": d["id"], "url": f"https://eval.invalid/{d['id']}", "text": d["text"]})
        for d in docs
    ]
    out = io.StringIO()
    pipeline.run(io.BytesIO(("\n".join(lines) + "\n").encode()), out)
    by_id: dict[str, dict[str, Any]] = {}
    for line in out.getvalue().splitlines():
        record = json.loads(line)
        if "error" not in record:
            by_id[record["id"]] = record
    return [by_id.get(d["id"]) for d in docs]


def evaluate_set(path: Path) -> _Half:
    docs = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]
    records = _process(docs)
    half = _Half()
    for n, (doc, record) in enumerate(zip(docs, records, strict=True)):
        if record is None:
            counts = score_document({}, doc["entities"])
            counts.refused = 1
        else:
            counts = score_document(predicted_spans(record, doc["text"]), doc["entities"])
        (half.odd if n % 2 else half.even).add(counts)
    return half


def run(data_dir: Path) -> dict[str, float]:
    root = data_dir / "ner"
    missing = [name for name in SETS.values() if not (root / name).is_file()]
    if missing:
        raise FileNotFoundError(f"NER development sets missing in {root}: {', '.join(missing)}")
    metrics: dict[str, float] = {}
    table = [
        f"{'set':<4} {'span P / R / F1':<20} {'typed P / R / F1':<20} {'junk':>6} "
        f"{'refused':>7} {'typed F1 even/odd':>18} {'junk even/odd':>14}"
    ]
    means: dict[str, list[float]] = {}
    for lang, name in SETS.items():
        half = evaluate_set(root / name)
        total = half.total()
        s, even, odd = total.scores(), half.even.scores(), half.odd.scores()
        for key, value in s.items():
            metrics[f"{lang}_{key}"] = round(value, 4)
        metrics[f"{lang}_refused"] = total.refused
        for key, value in (
            ("typed_f1", s["typed_f1"]),
            ("span_f1", s["span_f1"]),
            ("junk", s["junk"]),
            ("typed_f1_even", even["typed_f1"]),
            ("typed_f1_odd", odd["typed_f1"]),
            ("junk_even", even["junk"]),
            ("junk_odd", odd["junk"]),
        ):
            means.setdefault(key, []).append(value)
        table.append(
            f"{lang:<4} {s['span_p']:.2f} / {s['span_r']:.2f} / {s['span_f1']:.2f}   "
            f"{s['typed_p']:.2f} / {s['typed_r']:.2f} / {s['typed_f1']:.2f}   "
            f"{s['junk']:>6.3f} {total.refused:>7} "
            f"{even['typed_f1']:>9.3f} / {odd['typed_f1']:.3f} "
            f"{even['junk']:>6.3f} / {odd['junk']:.3f}"
        )
    for key, values in means.items():
        metrics[key] = round(sum(values) / len(values), 4)
    metrics["junk_max"] = max(metrics[f"{lang}_junk"] for lang in SETS)
    table.append(
        f"mean span F1 {metrics['span_f1']:.3f}  typed F1 {metrics['typed_f1']:.3f} "
        f"(even {metrics['typed_f1_even']:.3f}, odd {metrics['typed_f1_odd']:.3f})  "
        f"junk {metrics['junk']:.3f} (max {metrics['junk_max']:.3f})"
    )
    print("\n".join(table), file=sys.stderr, flush=True)
    return metrics
