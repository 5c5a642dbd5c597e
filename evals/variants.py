"""Evaluate the learned name registry (``pipeline.entities.registry``) on streams of articles.

The registry rewrites the ``x:`` id of an unlinked name to the id a variant of it
got earlier. A *merge* is a mention whose final id differs from the id the tagger
gave it; it is correct when the mention and the merged-into id are the same real
identity (the id's identity: the majority gold identity of the mentions the tagger
itself gave that id). ``*_merge_precision`` = correct / judged merges (both sides
with a gold identity). ``*_joined`` = of the ids one identity was split into
beyond the first, the share the registry joined: sum(ids before - ids after) /
sum(ids before - 1) over identities with more than one id.

``ofac_*`` -- a stream built from the OFAC SDN individuals (``LAST, First Middle``):
each person (a seeded sample of ``_OFAC_PEOPLE``) is named in full in one article,
then, in later articles (half in the same story, half in other stories), by first +
last name, by each alias (``a.k.a.`` spellings and transliterations), and by surname
alone; a tenth of the people appear only by surname (their full name never reaches
the stream), which is where a surname merge can go wrong. Entities are built as the tagger builds unlinked
ones (``x:`` + folded words; full names PERSON, a lone surname MISC). Articles are
interleaved in a seeded random order, a person's variants after their full name.

``gum_*`` -- the GUM news documents cut into articles of ``_GUM_CHUNK`` sentences,
read in order through ``tag`` (built-in knowledge base and recogniser) and the
registry; gold identities are GUM's Wikipedia links, matched to our mentions by span.
``gum_story_*`` reads each document's articles as one story (the story-scoped keys),
``gum_stream_*`` with no story (deployment-wide keys only).
"""

from __future__ import annotations

import random
from collections import Counter, defaultdict
from pathlib import Path

from evals.entities import gum_documents
from pipeline.entities import KnowledgeBase, load_ofac, tag
from pipeline.entities.registry import MemoryNameRegistry, apply_registry
from pipeline.entities.stream import key_of
from pipeline.entities.tagging import unlinked_id
from pipeline.models import Entity, EntityType, Mention

__all__ = ["run"]

_OFAC_PEOPLE = 4000
_ORPHANS = 0.1  # share of people named only by surname
_SAME_STORY = 0.5  # share of a person's later articles in the story that named them first
_GUM_CHUNK = 4  # sentences per article

# (mention key, gold identity or None, original id, final id)
_Row = tuple[str, str | None, str, str]


def _entity(name: str, etype: EntityType) -> Entity | None:
    words = [w for w in key_of(name).split() if w not in (",", "|")]
    if not words:
        return None
    return Entity(
        id=unlinked_id(words),
        name=name,
        type=etype,
        mentions=[Mention(start=0, end=len(name), text=name)],
        linked=False,
    )


def _score(rows: list[_Row]) -> tuple[float, float, int]:
    """Return (merge precision, joined share, judged merges) of resolved mentions."""
    owners: dict[str, Counter[str]] = defaultdict(Counter)
    for _, gold, original, _ in rows:
        if gold is not None:
            owners[original][gold] += 1
    identity = {i: c.most_common(1)[0][0] for i, c in owners.items()}
    judged = correct = 0
    before: dict[str, set[str]] = defaultdict(set)
    after: dict[str, set[str]] = defaultdict(set)
    for _, gold, original, final in rows:
        if gold is None:
            continue
        before[gold].add(original)
        after[gold].add(final)
        if final != original and final in identity:
            judged += 1
            correct += identity[final] == gold
    split = sum(len(ids) - 1 for ids in before.values())
    joined = sum(len(before[g]) - len(after[g]) for g in before)
    return correct / max(judged, 1), joined / max(split, 1), judged


def _person_name(listed: str) -> tuple[str, str, str] | None:
    """``SHOIGU, Sergei Kuzhugetovich`` -> (``Sergei Kuzhugetovich``, ``Shoigu``, as listed)."""
    if "," not in listed:
        return None
    last, _, given = (p.strip() for p in listed.partition(","))
    if not last or not given or len(last.split()) > 2:
        return None
    return " ".join(w.capitalize() for w in given.split()), last.title(), listed


def _ofac(data_dir: Path) -> dict[str, float]:
    folder = data_dir / "ofac-sdn-2022"
    entries = [e for e in load_ofac(folder / "sdn.csv", folder / "alt.csv") if e.type == "PERSON"]
    rng = random.Random(13)
    people = rng.sample(entries, min(_OFAC_PEOPLE, len(entries)))

    def story(n: int) -> str:
        """Half the later articles belong to the person's first story, half to others."""
        return f"p{n}" if rng.random() < _SAME_STORY else f"o{rng.random()}"

    events: list[tuple[float, int, str | None, str, EntityType, str]] = []
    for n, entry in enumerate(people):
        parsed = _person_name(entry.name)
        if parsed is None:
            continue
        given, last, _ = parsed
        start = rng.random()
        orphan = rng.random() < _ORPHANS
        if not orphan:
            events.append((start, n, entry.id, f"{given} {last}", "PERSON", f"p{n}"))
            first = given.split()[0]
            forms = [f"{first} {last}"] if first != given else []
            for alias in entry.aliases:
                alt = _person_name(alias)
                if alt is not None:
                    forms.append(f"{alt[0]} {alt[1]}")
            for form in forms:
                events.append((start + rng.random() * 0.2, n, entry.id, form, "PERSON", story(n)))
        events.append((start + 0.001 + rng.random() * 0.2, n, entry.id, last, "MISC", story(n)))
    events.sort()
    registry = MemoryNameRegistry()
    rows: list[_Row] = []
    for _, _, gold, name, etype, story_id in events:
        entity = _entity(name, etype)
        if entity is None:
            continue
        final = apply_registry([entity], registry, story_id=story_id)
        rows.append((name, gold, entity.id, final[0].id))
    precision, joined, judged = _score(rows)
    return {
        "ofac_merge_precision": precision,
        "ofac_joined": joined,
        "ofac_merges": float(judged),
        "ofac_mentions": float(len(rows)),
    }


def _gum_rows(docs: list, kb: KnowledgeBase, *, per_story: bool) -> list[_Row]:
    registry = MemoryNameRegistry()
    rows: list[_Row] = []
    for doc in docs:
        gold_spans = [
            (tokens[0][0], tokens[-1][1], title) for title, _, tokens in doc.mentions.values()
        ]
        lines = doc.text.split("\n")
        offset = 0
        for c in range(0, len(lines), _GUM_CHUNK):
            chunk = "\n".join(lines[c : c + _GUM_CHUNK])
            entities = tag(chunk, kb=kb)
            originals = {
                (m.start, m.end): e.id for e in entities if not e.linked for m in e.mentions
            }
            resolved = apply_registry(entities, registry, doc.name if per_story else None)
            for entity in resolved:
                for m in entity.mentions:
                    original = originals.get((m.start, m.end))
                    if original is None:
                        continue
                    start, end = m.start + offset, m.end + offset
                    inside = [(e - s, t) for s, e, t in gold_spans if s <= start and end <= e]
                    gold = min(inside)[1] if inside else None  # the tightest gold span
                    rows.append((m.text, gold, original, entity.id))
            offset += len(chunk) + 1
    return rows


def _gum(data_dir: Path) -> dict[str, float]:
    docs = gum_documents(data_dir / "gum-news" / "tsv")
    kb = KnowledgeBase.builtin()
    out: dict[str, float] = {}
    for label, per_story in (("gum_story", True), ("gum_stream", False)):
        precision, joined, judged = _score(_gum_rows(docs, kb, per_story=per_story))
        out[f"{label}_merge_precision"] = precision
        out[f"{label}_joined"] = joined
        out[f"{label}_merges"] = float(judged)
    return out


def run(data_dir: Path) -> dict[str, float]:
    """Return the registry metrics (see the module docstring)."""
    return {**_ofac(data_dir), **_gum(data_dir)}
