"""Evaluate entity tagging and linking on OFAC SDN names and on GUM news documents.

``ofac_alias_recall`` / ``ofac_alias_precision``
    The whole SDN list (sdn.csv + alt.csv) is loaded on top of the built-in
    knowledge base. For every primary name and every alias we write one short
    news sentence around it (``_TEMPLATES``: fixed sentences, chosen and cased
    by a seeded hash of the item, never looked at per item), rendered the way
    running text writes it: individuals' ``LAST, First`` as ``First Last`` in
    title case (a fifth of them family-name-first without the comma, a tenth
    as the raw list entry), organisations in title case or as listed,
    possessives in some templates. Distractor sentences carry names not on
    the list: a given name and a surname of two different listed people, or
    words of two different listed organisations, kept only when no run of
    their words is a name or alias the knowledge base knows (``lookup``, the
    exact-name query, not the tagger). A prediction is an SDN-linked entity
    in a sentence; it is correct when it overlaps the rendered name and is the
    entry the name came from, or another entry that lists the very same name
    (the list itself cannot tell those apart). Recall counts rendered names
    whose entry (or such a twin) was found on the name; precision counts
    correct predictions among all SDN-linked predictions, distractors included.

``gum_linked_recall``
    GUM news documents (WebAnno TSV). The knowledge base is the built-in one
    plus one entry per Wikipedia identity of the documents: id = Wikidata id,
    name = the Wikipedia title (underscores to spaces), no aliases, type from
    the majority GUM entity type. Gold mentions are the proper-name mentions
    of Wikidata-linked entities (the first non-determiner word is
    capitalised and is not a sentence-initial stop word; a lone pronoun such as
    a quoted ``I`` is not a name). A (document, gold
    entity) pair is a hit when one of our ids covers every one of its
    proper-name mentions; the score is hits / pairs. ``gum_kb_id_recall`` is
    stricter: the shared id must be the entity's own Wikidata id.

``ms_per_article``
    Median process CPU time of ``tag`` on the GUM documents (median 3,500
    characters) with that knowledge base. CPU time, not wall-clock: the
    machines this runs on share their cores with other jobs, and waiting for a
    core is not our cost.
"""

from __future__ import annotations

import hashlib
import re
import statistics
import time
import urllib.parse
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path

from pipeline.entities import EntityEntry, KnowledgeBase, load_ofac, tag
from pipeline.entities.stream import key_of

__all__ = ["gum_documents", "run"]

_TEMPLATES: dict[str, tuple[str, ...]] = {
    "PERSON": (
        "Treasury officials said {X} had been added to the sanctions list on Tuesday.",
        "{X} denied any involvement, according to a statement released by his lawyers.",
        "The report describes {X}'s role in the network in some detail.",
        "In an interview, a former associate of {X} said the accounts were moved abroad.",
        "Prosecutors accuse {X} of laundering money through a series of shell companies.",
        "Sources close to {X}, who could not be reached for comment, disputed the claims.",
        "According to the filing, {X} travelled twice to the region last year.",
        "Asked about {X} on Monday, the spokesman declined to comment.",
        "The designation also covers several relatives of {X}.",
        "{X}'s lawyer said the sanctions were politically motivated.",
    ),
    "ORG": (
        "The Treasury Department on Monday designated {X}, citing its links to the government.",
        "{X} said in a statement that it would challenge the decision in court.",
        "Shipments handled by {X} were seized at the port, officials said.",
        "Analysts said {X}'s operations had expanded rapidly over the past decade.",
        "A spokesperson for {X} did not respond to requests for comment.",
        "Banks were told to freeze any funds held by {X} and its subsidiaries.",
        "The investigation found that {X} had used front companies to move cargo.",
    ),
    "MISC": (
        "Satellite images showed the {X} anchored off the coast last week.",
        "The {X} was last tracked in international waters, the monitoring group said.",
        "Officials said the {X} had switched off its transponder before the transfer.",
    ),
}
_LIST_TEMPLATE = "The following were designated today: {X}."
_SMALL_WORDS = frozenset(
    "of de del la le el al and y the for in du des da di bin ibn van von".split()
)
_VOWELS = set("AEIOUY")


def _rng(*parts: object) -> int:
    return int.from_bytes(hashlib.sha1("|".join(map(str, parts)).encode()).digest()[:8], "big")


def _title_word(word: str, first: bool) -> str:
    if not word.isupper() and not word.islower():
        return word
    low = word.lower()
    if not first and low in _SMALL_WORDS:
        return low
    if "." in word or any(c.isdigit() for c in word):
        return word
    letters = [c for c in word if c.isalpha()]
    if len(letters) <= 4 and not (set(letters) & _VOWELS):
        return word  # acronym-like (LLC, GMBH stays upper when it has no vowel)
    return "-".join(_capitalise(p) for p in word.split("-"))


def _capitalise(part: str) -> str:
    """Upper-case the first letter (after leading punctuation such as an apostrophe)."""
    low = part.lower()
    for n, ch in enumerate(low):
        if ch.isalpha():
            return low[:n] + ch.upper() + low[n + 1 :]
    return low


def _title(name: str) -> str:
    words = name.split()
    return " ".join(_title_word(w, n == 0) for n, w in enumerate(words))


def _render(name: str, etype: str, seed: int) -> tuple[str, bool]:
    """Return (surface as running text writes it, is_list_form)."""
    roll = seed % 100
    if etype == "PERSON" and "," in name:
        last, _, given = (p.strip() for p in name.partition(","))
        if roll < 10:
            return name, True
        if roll < 30:
            return _title(f"{last} {given}"), False
        return _title(f"{given} {last}"), False
    if etype == "PERSON":
        return (_title(name), False) if roll >= 10 else (name, True)
    if roll < 30:
        return name, False
    return _title(name), False


@dataclass
class _Item:
    text: str
    start: int
    end: int
    expected: str | None  # SDN id, or None for a distractor
    key: str


def _sentence(template: str, surface: str) -> tuple[str, int, int]:
    start = template.index("{X}")
    text = template.replace("{X}", surface)
    return text, start, start + len(surface)


def _unknown(name: str, kb: KnowledgeBase) -> bool:
    """Whether no run of words of ``name`` is a name the knowledge base knows (list or built-in)."""
    words = name.split()
    return not any(
        kb.lookup(" ".join(words[a:b]))
        for a in range(len(words))
        for b in range(a + 1, len(words) + 1)
    )


def _ofac_items(entries: list[EntityEntry], kb: KnowledgeBase) -> list[_Item]:
    items: list[_Item] = []
    for entry in entries:
        for n, name in enumerate([entry.name, *entry.aliases]):
            seed = _rng(entry.id, n)
            surface, listed = _render(name, entry.type, seed)
            templates = _TEMPLATES[entry.type]
            template = _LIST_TEMPLATE if listed else templates[(seed >> 8) % len(templates)]
            text, start, end = _sentence(template, surface)
            items.append(_Item(text, start, end, entry.id, key_of(name)))
    # Distractors: names the list does not contain, built from parts of listed names.
    people = [e for e in entries if e.type == "PERSON" and "," in e.name]
    orgs = [e for e in entries if e.type == "ORG" and len(e.name.split()) >= 2]
    made = 0
    for n in range(len(people)):
        a, b = people[n], people[_rng("pair", n) % len(people)]
        given = a.name.partition(",")[2].split()
        surname = b.name.partition(",")[0].strip()
        if not given or a.id == b.id:
            continue
        candidate = _title(f"{given[0]} {surname}")
        if not _unknown(candidate, kb):
            continue
        template = _TEMPLATES["PERSON"][_rng("t", n) % len(_TEMPLATES["PERSON"])]
        text, start, end = _sentence(template, candidate)
        items.append(_Item(text, start, end, None, key_of(candidate)))
        made += 1
    for n in range(len(orgs)):
        a, b = orgs[n], orgs[_rng("org", n) % len(orgs)]
        words = a.name.split()[:1] + b.name.split()[-2:]
        candidate = _title(" ".join(words))
        if a.id == b.id or not _unknown(candidate, kb):
            continue
        template = _TEMPLATES["ORG"][_rng("t", n) % len(_TEMPLATES["ORG"])]
        text, start, end = _sentence(template, candidate)
        items.append(_Item(text, start, end, None, key_of(candidate)))
    return items


def _ofac(data_dir: Path) -> dict[str, float]:
    folder = data_dir / "ofac-sdn-2022"
    entries = load_ofac(folder / "sdn.csv", folder / "alt.csv")
    kb = KnowledgeBase.builtin().extended(entries)
    sdn_ids = {e.id for e in entries}
    owners_of_key: dict[str, set[str]] = defaultdict(set)
    for entry in entries:
        for name in (entry.name, *entry.aliases):
            owners_of_key[key_of(name)].add(entry.id)
    items = _ofac_items(entries, kb)
    found = correct = predicted = expected = 0
    for item in items:
        entities = tag(item.text, kb=kb)
        acceptable = owners_of_key[item.key] | {item.expected} if item.expected else set()
        hit = False
        for entity in entities:
            if entity.id not in sdn_ids:
                continue
            predicted += 1
            on_name = any(m.start < item.end and m.end > item.start for m in entity.mentions)
            if on_name and entity.id in acceptable:
                correct += 1
                hit = True
        if item.expected:
            expected += 1
            found += hit
    return {
        "ofac_alias_recall": found / max(expected, 1),
        "ofac_alias_precision": correct / max(predicted, 1),
        "ofac_items": float(expected),
        "ofac_distractors": float(len(items) - expected),
    }


# -- GUM ---------------------------------------------------------------------------

_GUM_TYPES = {"person": "PERSON", "organization": "ORG", "place": "LOC"}
_BRACKET = re.compile(r"^(.*?)(?:\[(\d+)\])?$")


@dataclass
class _GumDoc:
    name: str
    text: str
    # span id -> (wikipedia title, entity type, [(start, end)], first token is capitalised proper)
    mentions: dict[str, tuple[str, str, list[tuple[int, int, str, bool]]]]


def gum_documents(folder: Path) -> list[_GumDoc]:
    """Parse the GUM WebAnno TSV files: document text and identity-linked mentions."""
    docs = []
    for path in sorted(folder.glob("*.tsv")):
        chars: dict[int, str] = {}
        spans: dict[str, list[tuple[int, int, str, bool]]] = defaultdict(list)
        ident: dict[str, str] = {}
        etypes: dict[str, str] = {}
        length = 0
        sentence_first = True
        breaks: set[int] = set()
        for line in path.read_text(encoding="utf-8").splitlines():
            if not line or line.startswith("#"):
                if not sentence_first:
                    breaks.add(length)
                sentence_first = True
                continue
            cols = line.split("\t")
            if len(cols) < 7:
                continue
            start, end = (int(x) for x in cols[1].split("-"))
            token = cols[2]
            for n, ch in enumerate(token[: end - start]):
                chars[start + n] = ch
            length = max(length, end)
            ents = cols[3].split("|") if cols[3] != "_" else []
            ids = cols[6].split("|") if cols[6] != "_" else []
            for value in ents:
                kind, num = _BRACKET.match(value).groups()  # type: ignore[union-attr]
                span_id = f"{num}" if num else f"t{cols[0]}"
                etypes.setdefault(span_id, kind)
                spans[span_id].append((start, end, token, sentence_first))
            for value in ids:
                title, num = _BRACKET.match(value).groups()  # type: ignore[union-attr]
                ident[num if num else f"t{cols[0]}"] = title
            sentence_first = False
        # Sentences are one per line (the TSV keeps no layout; headlines have no full stop).
        text = "".join(chars.get(i, "\n" if i in breaks else " ") for i in range(length))
        mentions = {
            sid: (ident[sid], etypes.get(sid, ""), tokens)
            for sid, tokens in spans.items()
            if sid in ident
        }
        docs.append(_GumDoc(path.stem, text, mentions))
    return docs


_PRONOUNS = frozenset(
    "i me my we us our you your he him his she her it its they them their this that these those here there".split()
)


def _is_proper(tokens: list[tuple[int, int, str, bool]], stop: frozenset[str]) -> bool:
    words = [(t, first) for _, _, t, first in tokens if t[:1].isalnum()]
    while words and words[0][0].lower() in ("the", "a", "an"):
        words.pop(0)
    if not words or (len(words) == 1 and words[0][0].lower() in _PRONOUNS):
        return False
    word, first = words[0]
    if not word[:1].isupper():
        return False
    return not (first and word.lower() in stop)


def _gum(data_dir: Path) -> dict[str, float]:
    from pipeline.entities.tagging import _stopwords

    folder = data_dir / "gum-news"
    wikidata: dict[str, str] = {}
    for line in (folder / "wiki_map.tab").read_text(encoding="utf-8").splitlines()[1:]:
        cols = line.split("\t")
        if len(cols) >= 3:
            wikidata[cols[0]] = cols[2]
            wikidata[cols[1]] = cols[2]
    docs = gum_documents(folder / "tsv")
    types: dict[str, Counter[str]] = defaultdict(Counter)
    for doc in docs:
        for title, etype, _ in doc.mentions.values():
            types[title][_GUM_TYPES.get(etype, "MISC")] += 1
    entries = []
    for title, counter in sorted(types.items()):
        name = urllib.parse.unquote(title).replace("_", " ")
        entity_id = (
            wikidata.get(title) or wikidata.get(urllib.parse.unquote(title)) or f"wiki:{title}"
        )
        entries.append(EntityEntry(id=entity_id, name=name, type=counter.most_common(1)[0][0]))  # type: ignore[arg-type]
    kb = KnowledgeBase.builtin().extended(entries)
    own_id = {title: e.id for title, e in zip(sorted(types), entries, strict=True)}
    stop = _stopwords()
    pairs = hits = exact = 0
    times = []
    for doc in docs:
        started = time.process_time()
        entities = tag(doc.text, kb=kb)
        times.append((time.process_time() - started) * 1000)
        spans = [(m.start, m.end, e.id) for e in entities for m in e.mentions]
        gold: dict[str, list[tuple[int, int]]] = defaultdict(list)
        for title, _, tokens in doc.mentions.values():
            if _is_proper(tokens, stop):
                gold[title].append((tokens[0][0], tokens[-1][1]))
        for title, mentions in gold.items():
            shared: set[str] | None = None
            for start, end in mentions:
                ids = {i for s, e, i in spans if s < end and e > start}
                shared = ids if shared is None else shared & ids
            pairs += 1
            hits += bool(shared)
            exact += bool(shared and own_id.get(title) in shared)
    return {
        "gum_linked_recall": hits / max(pairs, 1),
        "gum_kb_id_recall": exact / max(pairs, 1),
        "gum_pairs": float(pairs),
        "ms_per_article": statistics.median(times) if times else 0.0,
    }


def run(data_dir: Path) -> dict[str, float]:
    """Return the entity metrics (see the module docstring)."""
    metrics = _ofac(data_dir)
    gum = _gum(data_dir)
    ordered = {
        "ofac_alias_recall": metrics.pop("ofac_alias_recall"),
        "ofac_alias_precision": metrics.pop("ofac_alias_precision"),
        "gum_linked_recall": gum.pop("gum_linked_recall"),
        "ms_per_article": gum.pop("ms_per_article"),
    }
    return {**ordered, **gum, **metrics}
