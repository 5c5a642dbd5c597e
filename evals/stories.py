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
article and articles on the same topic; each counts as its own story. A second set puts the
20 shortest articles inside one outlet's identical header and footer: each must join its
own article's story and not the other 19.

All documents go through one ``MemoryStoryIndex`` in a shuffled order. Precision and recall
are pairwise: over all pairs of documents, a pair is positive when both come from the same
article. The sweep metrics (``recall_<edit><level>``) feed the 181 originals and then one
copy of each at that edit level alone, and report the share of copies that joined their
original's story; ``false_join_<...>`` the share that joined a different one.

Every document goes through the real language detector (run once per article: edits do not
change the language) and the real entity tagger (run on every edited document), so the
event tier (``pipeline.story.decide_event``) is active as in the pipeline.

Event tier. The 181 articles include independent reports of one event by different outlets.
``SAME_EVENT`` lists them (labelled by reading the articles among the pairs most similar by
words or entities, before thresholds were chosen; see docs/decisions.md), and
``AMBIGUOUS`` groups articles on one running story whose event is a matter of judgement
(e.g. different days of one hearing). Every other pair of articles is a different story.
``precision`` does not count pairs of same-event or ambiguous articles against the index;
``recall`` is still copy-level (a copy joins its own article). On the 181 originals alone:
``aeb_false_joins`` counts pairs of different stories merged (must stay 0),
``aeb_event_recall`` the share of same-event pairs merged. ``hard_negative_*``: every pair of
different-story articles that share one of their three most salient entities, decided
pairwise by both tiers.

Headline tier (``flash_*``): each AEB page's own ``<title>`` pushed alone (a flash, title
only), then the article it announces, from the same outlet (the flash as its title) or
from another (the body alone). ``flash_same_outlet`` / ``flash_other_outlet`` are the
shares of articles that join their flash's story (``_even`` / ``_odd``: thresholds were
chosen on the even pages, the odd ones are held out); ``flash_false_joins`` counts pairs of
different stories merged in either pass (same-event and ambiguous pairs do not count).

``seed_pair_*`` reports the two seed articles (one event, two outlets' own reports): their
word 3-shingles overlap too little for near-duplicate grouping; ``seed_pair_event_*`` are
their event-tier scores and ``seed_pair_grouped`` whether either tier groups them.
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
from typing import Any

from pipeline import language
from pipeline.entities import KnowledgeBase, tag
from pipeline.models import Entity
from pipeline.story import Fingerprint, MemoryStoryIndex, event_similar, fingerprint, similar

__all__ = ["run"]

SEED = 20231105
_WORD = re.compile(r"\w+")

# Independent reports of one event among the AEB articles (ids by their first 8 hex digits),
# labelled by hand from the articles themselves; one group per event.
SAME_EVENT: tuple[tuple[str, ...], ...] = (
    ("9cb8224b", "ac1bfdd4", "35b15891"),  # Doobie Brothers reunion tour announced
    ("6ebac05f", "7a457a4f"),  # New York man pleads guilty to threatening Rep. Omar
    ("c50845a7", "d1c57d78", "42aad16b"),  # NASA adds five companies to lunar lander program
    ("06e5123e", "1ace8c85"),  # New York attorney general investigating WeWork
    ("156770d6", "776a1c04", "3f65af7b"),  # South Dakota "Meth. We're on it." campaign
    ("7bb1ca90", "bd673bd7", "9eef8162", "a078b365"),  # "feather duvet lung" case report
    ("c7e39ac4", "dc7ccccc"),  # Sweden drops the Assange investigation
    ("432362af", "8b194530"),  # hunter in China catches bubonic plague
    ("70cb2d5b", "eb62ac84"),  # Taylor Swift / Big Machine row
    ("14cc2a0c", "686bb170", "f344ca5f"),  # water vapour confirmed on Europa
    ("2c46804d", "51d066b0"),  # Fort Worth kidnapped girl rescued on video
    ("51374560", "f8ff621a"),  # Home Depot quarterly results
)
# One running story, different events or angles: neither right nor wrong to merge.
AMBIGUOUS: tuple[tuple[str, ...], ...] = (
    ("7a664e40", "82b6d780", "c90731f0"),  # impeachment hearings, different witnesses/days
    ("ba4dfe2d", "ea25dd7e", "8b194530", "432362af"),  # plague cases in China
    ("08f79376", "7ab16ade"),  # Garrett/Rudolph fight; is football violence a crime
    ("aade2ec8", "e100c961", "680c2848", "8267acac"),  # Stadia launch coverage
    ("39d5c43b", "702d1da6"),  # US-China trade deal, farm purchases
    ("05844573", "06ee193d"),  # Los Angeles auto show; one of its concept cars
    ("5fa3154e", "e4c6a3b4", "624fcd90"),  # Hong Kong protests, news and opinion
)

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


Relation = Callable[[int, int], str | None]


def _relations(ids: list[str]) -> Relation:
    """Map a pair of article indexes to ``"same"``, ``"ambiguous"`` or None (different)."""
    index = {article_id[:8]: n for n, article_id in enumerate(ids)}
    table: dict[tuple[int, int], str] = {}
    for label, groups in (("ambiguous", AMBIGUOUS), ("same", SAME_EVENT)):  # same wins
        for group in groups:
            members = [index[g] for g in group if g in index]
            for a in members:
                for b in members:
                    if a != b:
                        table[(a, b)] = label
    return lambda a, b: table.get((a, b))


def _pairwise(gold: list[int], pred: list[str], relation: Relation) -> tuple[float, float, int]:
    """Return pairwise precision, recall and the number of wrongly merged pairs.

    A merged pair of documents from two different articles counts against precision unless
    the two articles are labelled the same event or ambiguous.
    """
    clusters: dict[str, list[int]] = {}
    for g, p in zip(gold, pred, strict=True):
        clusters.setdefault(p, []).append(g)
    tp = wrong = 0
    for members in clusters.values():
        counts = sorted(Counter(members).items())
        tp += sum(comb(n, 2) for _, n in counts)
        for x, (a, na) in enumerate(counts):
            for b, nb in counts[x + 1 :]:
                if relation(a, b) is None:
                    wrong += na * nb
    gold_pairs = sum(comb(n, 2) for n in Counter(gold).values())
    return (
        (tp / (tp + wrong) if tp + wrong else 1.0),
        (tp / gold_pairs if gold_pairs else 1.0),
        wrong,
    )


class _Fingerprinter:
    """Tag and fingerprint documents as the pipeline does, timing ``fingerprint`` alone."""

    def __init__(self) -> None:
        self.kb = KnowledgeBase.builtin()
        self.seconds = 0.0
        self.count = 0

    def entities(self, text: str, lang: str | None = None) -> list[Entity]:
        return tag(text, kb=self.kb, language=lang)

    def __call__(self, text: str, url: str, lang: str, title: str | None = None) -> Fingerprint:
        entities = self.entities(text, lang)
        started = time.process_time()
        fp = fingerprint(text, title=title, url=url, entities=entities, language=lang)
        self.seconds += time.process_time() - started
        self.count += 1
        return fp


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
    items = sorted(truth.items())
    ids = [article_id for article_id, _ in items]
    bodies = [item["articleBody"] for _, item in items]
    langs = [language.detect(b).code for b in bodies]
    relation = _relations(ids)
    vocabulary = sorted({w for b in bodies for w in _WORD.findall(b) if len(w) > 3})
    rng = random.Random(SEED)
    now = datetime(2024, 1, 1, tzinfo=UTC)
    fingerprinter = _Fingerprinter()

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
    event_joins = 0
    for n, (story, url, text) in enumerate(docs):
        fp = fingerprinter(text, url, langs[story])
        assignment = index.assign(f"d{n}", fp, now + timedelta(seconds=n))
        event_joins += assignment.match == "event"
        gold.append(story)
        pred.append(assignment.story_id)
    precision, recall, wrong = _pairwise(gold, pred, relation)

    metrics: dict[str, float] = {
        "precision": round(precision, 4),
        "recall": round(recall, 4),
        "documents": float(len(docs)),
        "ms_per_article": round(fingerprinter.seconds / fingerprinter.count * 1000, 3),
        "ms_per_5kb": round(_ms_per_5kb(bodies), 3),
        "false_join_pairs": float(wrong),
        "event_joins": float(event_joins),
    }
    originals = [fingerprinter(b, f"https://o{i}.example/", langs[i]) for i, b in enumerate(bodies)]
    metrics.update(_originals(originals, relation, now))
    metrics.update(_hard_negatives(originals, bodies, relation, fingerprinter))
    metrics.update(_seed_pair(data_dir, fingerprinter))
    metrics.update(_flashes(data_dir, ids, bodies, langs, relation, fingerprinter, now))
    for kind, levels in _SWEEP.items():
        for level in levels:
            edit = _edit(kind, level, vocabulary)
            joined, wrong_share, by_event = _sweep(
                originals, bodies, langs, edit, fingerprinter, now
            )
            tag_ = f"{kind}{round(level * 100)}"
            metrics[f"recall_{tag_}"] = round(joined, 4)
            metrics[f"false_join_{tag_}"] = round(wrong_share, 4)
            if kind == "sub":
                metrics[f"event_share_{tag_}"] = round(by_event, 4)
    return metrics


def _originals(fps: list[Fingerprint], relation: Relation, now: datetime) -> dict[str, float]:
    """Group the 181 different articles alone; count merged pairs by their label."""
    order = list(range(len(fps)))
    random.Random(SEED + 2).shuffle(order)
    index = MemoryStoryIndex()
    story: dict[int, str] = {}
    for n, i in enumerate(order):
        story[i] = index.assign(f"o{i}", fps[i], now + timedelta(seconds=n)).story_id
    counts = Counter(
        relation(a, b) or "different"
        for a in range(len(fps))
        for b in range(a + 1, len(fps))
        if story[a] == story[b]
    )
    same_pairs = sum(
        relation(a, b) == "same" for a in range(len(fps)) for b in range(a + 1, len(fps))
    )
    return {
        "aeb_false_joins": float(counts["different"]),
        "aeb_ambiguous_joins": float(counts["ambiguous"]),
        "aeb_event_pairs": float(same_pairs),
        "aeb_event_recall": round(counts["same"] / same_pairs, 4) if same_pairs else 1.0,
    }


def _scores(a: Fingerprint, b: Fingerprint, index: MemoryStoryIndex) -> tuple[Any, Any]:
    """Score a pair with the index's thresholds: (MinHash tier result, event tier result)."""
    near = similar(a.minhash, a.size, b.minhash, b.size, threshold=index.threshold)
    event = event_similar(
        a.event_terms,
        a.event_entities,
        b.event_terms,
        b.event_entities,
        cosine=index.event_cosine,
        entities=index.event_entities,
    )
    return near, event


def _joined(a: Fingerprint, b: Fingerprint, index: MemoryStoryIndex) -> tuple[bool, bool]:
    """Decide a pair as the index would: (MinHash tier accepts, event tier accepts)."""
    near, event = _scores(a, b, index)
    return near.accepted, event.accepted


def _hard_negatives(
    fps: list[Fingerprint], bodies: list[str], relation: Relation, fingerprinter: _Fingerprinter
) -> dict[str, float]:
    """Pairs of different stories sharing one of their 3 most salient entities."""
    top = []
    for body in bodies:
        ranked = sorted(fingerprinter.entities(body), key=lambda e: (-e.salience, e.id))
        top.append({e.id for e in ranked[:3]})
    index = MemoryStoryIndex()
    pairs = joined = 0
    for a in range(len(bodies)):
        for b in range(a + 1, len(bodies)):
            if relation(a, b) is not None or not top[a] & top[b]:
                continue
            pairs += 1
            joined += any(_joined(fps[a], fps[b], index))
    return {
        "hard_negative_pairs": float(pairs),
        "hard_negative_false_join": round(joined / pairs, 4) if pairs else 0.0,
    }


def _seed_pair(data_dir: Path, fingerprinter: _Fingerprinter) -> dict[str, float]:
    """Similarity of the two seed articles: one event, reported independently by two outlets."""
    paths = sorted((data_dir / "seed-articles").glob("*.txt"))
    if len(paths) != 2:
        return {}
    texts = [p.read_text(encoding="utf-8") for p in paths]
    a, b = (fingerprinter(t, "", language.detect(t).code) for t in texts)
    m, e = _scores(a, b, MemoryStoryIndex())
    return {
        "seed_pair_jaccard": round(m.jaccard, 4),
        "seed_pair_containment": round(m.containment, 4),
        "seed_pair_event_cosine": round(e.cosine, 4),
        "seed_pair_event_entities": round(e.entities, 4),
        "seed_pair_grouped": float(m.accepted or e.accepted),
    }


def _flashes(
    data_dir: Path,
    ids: list[str],
    bodies: list[str],
    langs: list[str],
    relation: Relation,
    fingerprinter: _Fingerprinter,
    now: datetime,
) -> dict[str, float]:
    """A flash (the page's own title, alone) and then its article, from two outlets."""
    from evals.shortform import page_titles

    titles = page_titles(data_dir)
    pages = [i for i, article_id in enumerate(ids) if titles.get(article_id)]
    flashes = {
        i: fingerprinter(
            titles[ids[i]],
            f"https://flash{i}.example/",
            language.detect(titles[ids[i]]).code,
            title=titles[ids[i]],
        )
        for i in pages
    }
    metrics: dict[str, float] = {}
    wrong_pairs = 0
    for name, own_title in (("same_outlet", True), ("other_outlet", False)):
        index = MemoryStoryIndex()
        flash_story = {i: index.assign(f"f{i}", flashes[i], now).story_id for i in pages}
        gold, pred = list(pages), [flash_story[i] for i in pages]
        joined: dict[int, bool] = {}
        for i in pages:
            fp = fingerprinter(
                bodies[i],
                f"https://{name}{i}.example/",
                langs[i],
                title=titles[ids[i]] if own_title else None,
            )
            story = index.assign(f"a{i}", fp, now).story_id
            joined[i] = story == flash_story[i]
            gold.append(i)
            pred.append(story)
        wrong_pairs += _pairwise(gold, pred, relation)[2]
        metrics[f"flash_{name}"] = round(sum(joined.values()) / len(pages), 4)
        for half, rest in (("even", 0), ("odd", 1)):
            part = [joined[i] for i in pages if i % 2 == rest]
            metrics[f"flash_{name}_{half}"] = round(sum(part) / len(part), 4)
    metrics["flash_false_joins"] = float(wrong_pairs)
    return metrics


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
    originals: list[Fingerprint],
    bodies: list[str],
    langs: list[str],
    edit: Callable[[str, random.Random], str],
    fingerprinter: _Fingerprinter,
    now: datetime,
) -> tuple[float, float, float]:
    """Return the share of copies joining their original, joining another, joining by event."""
    rng = random.Random(SEED + 1)
    index = MemoryStoryIndex()
    order = list(range(len(bodies)))
    rng.shuffle(order)
    origin: dict[int, str] = {}
    for i in order:
        origin[i] = index.assign(f"o{i}", originals[i], now).story_id
    joined = wrong = by_event = 0
    for i in order:
        copy = index.assign(
            f"c{i}", fingerprinter(edit(bodies[i], rng), f"https://c{i}.example/", langs[i]), now
        )
        joined += copy.story_id == origin[i]
        by_event += copy.story_id == origin[i] and copy.match == "event"
        wrong += copy.story_id != origin[i] and copy.story_id in origin.values()
    n = len(bodies)
    return joined / n, wrong / n, by_event / n
