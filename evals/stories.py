"""Story grouping: pairwise precision and recall on real articles with controlled edits.

The gold bodies of the Article Extraction Benchmark (``aeb/ground-truth.json``, 181 real
articles from 126 sites) are each one story. For every article a seeded RNG makes copies
the way other outlets and re-crawls produce them:

- ``exact``: the same text under another URL (syndication);
- ``recrawl``: the same URL again with whitespace and punctuation changed;
- ``boiler``: another outlet's header and footer around the body;
- ``drop``: 25% of the paragraphs dropped and two swapped, plus a header;
- ``rewrite``: a quarter of the sentences rewritten (40% of their words replaced) and a footer;
- ``lead``: only the first 40% of the words, under a header.

Timings are CPU time (``time.process_time``) of ``fingerprint`` alone: ``ms_per_article``
over all documents, ``ms_per_5kb`` over the articles of 4.5-5.5 KB.

Hard negatives come for free: the 181 articles include several sites with more than one
article, articles on the same topic, and independent reports of the same event by
different outlets (the benchmark crawled many pages on the same days); each counts as its
own story, since only copies are to be grouped. A second set puts the 20 shortest articles
inside one outlet's identical header and footer: each must join its own article's story
and not the other 19.

All documents go through one ``MemoryStoryIndex`` in a shuffled order. Precision and recall
are pairwise: over all pairs of documents, a pair is positive when both come from the same
article. The sweep metrics (``recall_<edit><level>``) feed the 181 originals and then one
copy of each at that edit level alone, and report the share of copies that joined their
original's story; ``false_join_<...>`` the share that joined a different one.

``seed_pair_*`` reports the two seed articles (one event, two outlets' own reports): their
word 3-shingles overlap too little for near-duplicate grouping, and they are not grouped.
"""

from __future__ import annotations

import json
import random
import re
import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from math import comb
from pathlib import Path

from pipeline.story import MemoryStoryIndex, fingerprint, similar

__all__ = ["run"]

SEED = 20231105
_WORD = re.compile(r"\w+")

# Generic outlet furniture (written for this evaluation, not taken from any page).
_HEADERS = [
    "Home | News | World | Business | Sport | Opinion | Subscribe",
    "Skip to main content. Sign in to your account. Menu. Search.",
    "Advertisement. Continue reading the main story below.",
    "Share this article on Facebook, Twitter, WhatsApp or by email.",
    "Breaking news, live updates and analysis from our newsroom.",
    "By Staff Reporter and agencies. Updated a few minutes ago.",
]
_FOOTERS = [
    "Sign up for our daily newsletter to get the top stories delivered to your inbox.",
    "Copyright {outlet}. All rights reserved. This material may not be published, broadcast, rewritten or redistributed.",
    "Follow {outlet} on Facebook, Twitter and Instagram for the latest news.",
    "Read more: the most popular stories on {outlet} this week.",
    "We welcome your comments. Please keep them civil and on topic. Report abuse.",
    "Related articles. Most read. Most shared. Editor's picks. Trending now.",
]


def _outlet(rng: random.Random) -> str:
    return (
        rng.choice(["The Daily", "Metro", "Evening", "Morning", "National", "City"])
        + " "
        + rng.choice(["Herald", "Courier", "Times", "Post", "Gazette", "Chronicle", "Observer"])
    )


def _header(rng: random.Random, outlet: str) -> str:
    return "\n\n".join([outlet, *rng.sample(_HEADERS, 2)])


def _footer(rng: random.Random, outlet: str) -> str:
    return "\n\n".join(f.format(outlet=outlet) for f in rng.sample(_FOOTERS, 3))


def _paragraphs(text: str) -> list[str]:
    paras = [p.strip() for p in re.split(r"\n\s*\n|\n", text) if p.strip()]
    return paras or [text]


def with_boilerplate(
    text: str, rng: random.Random, *, header: bool = True, footer: bool = True
) -> str:
    outlet = _outlet(rng)
    parts = [_header(rng, outlet)] if header else []
    parts.append(text)
    if footer:
        parts.append(_footer(rng, outlet))
    return "\n\n".join(parts)


def drop_paragraphs(text: str, rng: random.Random, share: float) -> str:
    paras = _paragraphs(text)
    keep = max(1, round(len(paras) * (1 - share)))
    kept = sorted(rng.sample(range(len(paras)), keep))
    out = [paras[i] for i in kept]
    if len(out) >= 3:  # swap two paragraphs after the lead
        i, j = rng.sample(range(1, len(out)), 2)
        out[i], out[j] = out[j], out[i]
    return "\n\n".join(out)


def substitute_words(text: str, rng: random.Random, share: float, vocabulary: list[str]) -> str:
    """Replace ``share`` of the words by others (a rewrite at word level)."""
    return _WORD.sub(lambda m: rng.choice(vocabulary) if rng.random() < share else m.group(0), text)


def rewrite_sentences(text: str, rng: random.Random, share: float, vocabulary: list[str]) -> str:
    """Rewrite ``share`` of the sentences, replacing 40% of the words in each (an edit pass)."""
    sentences = re.split(r"(?<=[.!?])\s+", text)
    return " ".join(
        substitute_words(s, rng, 0.4, vocabulary) if rng.random() < share else s for s in sentences
    )


def lead(text: str, share: float) -> str:
    """Keep the first ``share`` of the words (a truncated copy)."""
    spans = [m.end() for m in _WORD.finditer(text)]
    if not spans:
        return text
    cut = spans[max(0, round(len(spans) * share) - 1)]
    return text[:cut]


def recrawl(text: str, rng: random.Random) -> str:
    text = re.sub(r"[ \t]+", lambda m: " " * rng.randint(1, 2), text)
    return text.replace("\u2019", "'").replace("\u201c", '"').replace("\u201d", '"')


def _variants(text: str, rng: random.Random, vocabulary: list[str]) -> dict[str, str]:
    return {
        "exact": text,
        "recrawl": recrawl(text, rng),
        "boiler": with_boilerplate(text, rng),
        "drop": with_boilerplate(drop_paragraphs(text, rng, 0.25), rng, footer=False),
        "rewrite": with_boilerplate(
            rewrite_sentences(text, rng, 0.25, vocabulary), rng, header=False
        ),
        "lead": with_boilerplate(lead(text, 0.4), rng, footer=False),
    }


_SWEEP: dict[str, tuple[float, ...]] = {
    "sub": (0.05, 0.1, 0.2, 0.3, 0.4),
    "drop": (0.25, 0.5, 0.75),
    "lead": (0.5, 0.3, 0.2, 0.1),
}


def _edit(kind: str, level: float, vocabulary: list[str]) -> Callable[[str, random.Random], str]:
    if kind == "sub":
        return lambda t, r: substitute_words(t, r, level, vocabulary)
    if kind == "drop":
        return lambda t, r: drop_paragraphs(t, r, level)
    return lambda t, r: with_boilerplate(lead(t, level), r, footer=False)


def _pairwise(gold: list[int], pred: list[str]) -> tuple[float, float]:
    cells = Counter(zip(gold, pred, strict=True))
    tp = sum(comb(n, 2) for n in cells.values())
    pred_pairs = sum(comb(n, 2) for n in Counter(pred).values())
    gold_pairs = sum(comb(n, 2) for n in Counter(gold).values())
    return (tp / pred_pairs if pred_pairs else 1.0), (tp / gold_pairs if gold_pairs else 1.0)


def _short_negatives(bodies: list[str], rng: random.Random) -> list[tuple[int, str]]:
    """The 20 shortest articles inside one outlet's identical header and footer.

    Each belongs to its own article's story and must not join the other 19.
    """
    outlet = _outlet(rng)
    header, footer = _header(rng, outlet), _footer(rng, outlet)
    shortest = sorted(range(len(bodies)), key=lambda i: len(bodies[i]))[:20]
    return [(i, f"{header}\n\n{bodies[i]}\n\n{footer}") for i in shortest]


def run(data_dir: Path) -> dict[str, float]:
    """Build the documents, group them, return precision, recall, sweep and timing."""
    truth = json.loads((data_dir / "aeb" / "ground-truth.json").read_text(encoding="utf-8"))
    bodies = [item["articleBody"] for _, item in sorted(truth.items())]
    vocabulary = sorted({w for b in bodies for w in _WORD.findall(b) if len(w) > 3})
    rng = random.Random(SEED)
    now = datetime(2024, 1, 1, tzinfo=UTC)

    docs: list[tuple[int, str, str]] = []  # (gold story, url, text)
    for i, body in enumerate(bodies):
        docs.append((i, f"https://origin{i}.example/story", body))
        for kind, text in _variants(body, rng, vocabulary).items():
            url = (
                f"https://origin{i}.example/story?utm_source=x"
                if kind == "recrawl"
                else f"https://{kind}{i}.example/s"
            )
            docs.append((i, url, text))
    for i, text in _short_negatives(bodies, rng):
        docs.append((i, f"https://furniture.example/{i}", text))
    rng.shuffle(docs)

    index = MemoryStoryIndex()
    gold: list[int] = []
    pred: list[str] = []
    fp_seconds = 0.0
    for n, (story, url, text) in enumerate(docs):
        started = time.process_time()
        fp = fingerprint(text, url=url)
        fp_seconds += time.process_time() - started
        assignment = index.assign(f"d{n}", fp, now + timedelta(seconds=n))
        gold.append(story)
        pred.append(assignment.story_id)
    precision, recall = _pairwise(gold, pred)

    metrics: dict[str, float] = {
        "precision": round(precision, 4),
        "recall": round(recall, 4),
        "documents": float(len(docs)),
        "ms_per_article": round(fp_seconds / len(docs) * 1000, 3),
        "ms_per_5kb": round(_ms_per_5kb(bodies), 3),
    }
    metrics.update(_seed_pair(data_dir))
    for kind, levels in _SWEEP.items():
        for level in levels:
            joined, wrong = _sweep(bodies, _edit(kind, level, vocabulary), now)
            tag = f"{kind}{round(level * 100)}"
            metrics[f"recall_{tag}"] = round(joined, 4)
            metrics[f"false_join_{tag}"] = round(wrong, 4)
    return metrics


def _seed_pair(data_dir: Path) -> dict[str, float]:
    """Similarity of the two seed articles: one event, reported independently by two outlets."""
    paths = sorted((data_dir / "seed-articles").glob("*.txt"))
    if len(paths) != 2:
        return {}
    a, b = (fingerprint(p.read_text(encoding="utf-8")) for p in paths)
    m = similar(a.minhash, a.size, b.minhash, b.size, threshold=MemoryStoryIndex().threshold)
    return {
        "seed_pair_jaccard": round(m.jaccard, 4),
        "seed_pair_containment": round(m.containment, 4),
        "seed_pair_grouped": float(m.accepted),
    }


def _ms_per_5kb(bodies: list[str]) -> float:
    """CPU milliseconds to fingerprint one 4.5-5.5 KB article (median of 5 rounds)."""
    sample = [b for b in bodies if 4500 <= len(b.encode()) <= 5500]
    rounds = []
    for _ in range(5):
        started = time.process_time()
        for body in sample:
            fingerprint(body, url="https://example.org/a")
        rounds.append((time.process_time() - started) / len(sample) * 1000)
    return sorted(rounds)[len(rounds) // 2]


def _sweep(
    bodies: list[str], edit: Callable[[str, random.Random], str], now: datetime
) -> tuple[float, float]:
    rng = random.Random(SEED + 1)
    index = MemoryStoryIndex()
    order = list(range(len(bodies)))
    rng.shuffle(order)
    origin: dict[int, str] = {}
    for i in order:
        origin[i] = index.assign(
            f"o{i}", fingerprint(bodies[i], url=f"https://o{i}.example/"), now
        ).story_id
    joined = wrong = 0
    for i in order:
        copy = index.assign(
            f"c{i}", fingerprint(edit(bodies[i], rng), url=f"https://c{i}.example/"), now
        ).story_id
        joined += copy == origin[i]
        wrong += copy != origin[i] and copy in origin.values()
    return joined / len(bodies), wrong / len(bodies)
