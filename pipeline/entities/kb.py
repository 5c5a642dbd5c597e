"""The entity knowledge base: canonical entries with aliases, compiled once per process.

Every name, alias and generated variant (``variants``) of every entry is folded
into a key (``stream.key_of``) and stored in one dict, with every word-level
prefix of a key (``kim``, ``kim jong`` for ``kim jong un``) under ``-1``. Tagging
walks the folded stream word by word from each word that can open a name and
stops as soon as the text so far is no key prefix: a few dict lookups per word
whatever the size of the knowledge base. (An Aho-Corasick automaton was used
first: building its failure links took longer than folding every name, and its
nodes half the memory.) Per key we keep the candidate entries (with the kind of
key they own it by) and the key's case rule, in flat arrays: 100,000 entries stay
well within a few hundred megabytes.

A declared (non-built-in) entry whose name is the name of a built-in place or
organisation takes that entry over: the built-in aliases and demonyms then
resolve to the declared id, so a watchlist declaring ``North Korea`` also
catches ``DPRK`` and ``North Korean``.
"""

from __future__ import annotations

import gc
from array import array
from collections.abc import Iterable
from itertools import repeat
from operator import itemgetter
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from pipeline.entities.ner import NameFinder
from pipeline.entities.stream import key_of, keys_of
from pipeline.entities.variants import CaseRule, Kind, case_rule, forms_of
from pipeline.models import EntityType

__all__ = ["Candidate", "EntityEntry", "KnowledgeBase", "load_entries"]

_MAX_KEY = 255  # longer keys are tables, not names
_KIND_BITS = 3
_CHUNK = 2000  # entries folded per batch while compiling
_SUGGEST_SIMILARITY = 0.75  # a suggested name is at least this similar (difflib ratio)
_INFO_CACHE = 100_000  # key infos cached for tagging (cleared when full)


class EntityEntry(BaseModel):
    """One knowledge-base entry: ``id``, ``name``, ``type`` and its ``aliases``.

    ``demonyms`` (optional) are adjectives and plurals for the people of a
    place (``North Korean``); they link to the place but never name it in a
    ``lookup``.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(min_length=1, max_length=512)
    name: str = Field(min_length=1, max_length=1024)
    type: EntityType = "MISC"
    aliases: list[str] = Field(default_factory=list)
    demonyms: list[str] = Field(default_factory=list)


Candidate = tuple[int, int]  # (entry index, ``Kind`` of the key as an int)


class KnowledgeBase:
    """A set of entries, compiled for tagging and name lookup."""

    def __init__(
        self,
        entries: Iterable[EntityEntry] = (),
        *,
        builtin_ids: Iterable[str] = (),
        strict_ids: Iterable[str] = (),
        minor_ids: Iterable[str] = (),
        name_finder: NameFinder | None = None,
    ) -> None:
        # Optional statistical finder for names outside the knowledge base (``ner``);
        # None = the capitalisation heuristic of ``tagging``.
        self.name_finder = name_finder
        by_id: dict[str, EntityEntry] = {}
        for entry in entries:
            by_id[entry.id] = entry
        self.entries: dict[str, EntityEntry] = by_id
        self.builtin_ids: frozenset[str] = frozenset(i for i in builtin_ids if i in by_id)
        # Entries named with ordinary words (a town called Mobile): their forms without a
        # comma must be written in capitals (a dateline) and never join a key another
        # entry has; their ``Name, Region`` forms link as usual.
        self.strict_ids: frozenset[str] = frozenset(i for i in strict_ids if i in by_id)
        # Smaller places (towns, subdivisions): unlike countries and major cities, not a
        # place when inside a longer capitalised name (``Hassan`` in ``Ali Hassan``).
        self.minor_ids: frozenset[str] = frozenset(i for i in minor_ids if i in by_id)
        self._list: list[EntityEntry] = list(by_id.values())
        # folded key -> key id; a word-level prefix of a key that is no key itself -> -1
        self._keys: dict[str, int] = {}
        self._single = array("q")  # per key id: packed candidate, or -1 when several
        self._multi: dict[int, list[int]] = {}
        self._rules = bytearray()
        # key id -> (candidates, only demonyms, only places), filled as tagging meets keys
        self._info: dict[int, tuple[tuple[Candidate, ...], bool, bool]] = {}
        self._particles: dict[frozenset[str], frozenset[str]] = {}
        self._words: dict[str, list[int]] | None = None  # folded word -> entries (``suggest``)
        self._context: dict[int, tuple[tuple[int, frozenset[str]], ...]] = {}
        # The build allocates millions of objects but no reference cycles: the cyclic
        # collector would only rescan the growing heap again and again (~25% of it).
        collecting = gc.isenabled()
        gc.disable()
        try:
            self._compile()
        finally:
            if collecting:
                gc.enable()

    # -- construction -------------------------------------------------------------

    @classmethod
    def builtin(cls, *, recogniser: bool = True) -> KnowledgeBase:
        """Return the built-in knowledge base: countries, capitals, major cities.

        With ``recogniser`` (the default), names outside it are found by the
        shipped named-entity model (``recogniser.default_recogniser``), which
        raises ``RecogniserError`` here, at start-up, when its file is missing or
        broken; ``recogniser=False`` keeps the capitalisation heuristic.
        """
        from pipeline.entities.builtin import builtin_entries, minor_ids, strict_ids

        finder: NameFinder | None = None
        if recogniser:
            from pipeline.entities.recogniser import default_recogniser

            finder = default_recogniser()
        entries = builtin_entries()
        return cls(
            entries,
            builtin_ids=[e.id for e in entries],
            strict_ids=strict_ids(),
            minor_ids=minor_ids(),
            name_finder=finder,
        )

    def extended(self, entries: Iterable[EntityEntry]) -> KnowledgeBase:
        """Return a new knowledge base with ``entries`` added (same id replaces)."""
        return KnowledgeBase(
            [*self.entries.values(), *entries],
            builtin_ids=self.builtin_ids,
            strict_ids=self.strict_ids,
            minor_ids=self.minor_ids,
            name_finder=self.name_finder,
        )

    def _forms(self, indexes: range | list[int]) -> tuple[list[tuple[str, Kind]], list[int]]:
        """Return the ``(form, kind)`` pairs of the entries at ``indexes``, and each one's entry.

        Flat lists, no tuple per form: this runs once per form of the knowledge base.
        """
        pairs: list[tuple[str, Kind]] = []
        owners: list[int] = []
        name_kind, alias_kind, demonym_kind = Kind.NAME, Kind.ALIAS, Kind.DEMONYM
        for n in indexes:
            entry = self._list[n]
            person = entry.type == "PERSON"
            place = entry.type == "LOC"
            found = forms_of(entry.name, person=person, kind=name_kind, place=place)
            for alias in entry.aliases:
                found += forms_of(alias, person=person, kind=alias_kind, place=place)
            for demonym in entry.demonyms:
                found.append((demonym, demonym_kind))
            pairs += found
            owners += repeat(n, len(found))
        return pairs, owners

    def _compile(self) -> None:
        """Fold every form into a key and add it (and its word prefixes) to the key dict.

        Declared entries go first so that one naming a built-in entry takes it
        over before the built-in keys are added. Entries are folded in chunks,
        so no list of every form outlives a chunk; the key dict is the only
        structure holding every key.
        """
        builtin = [n for n, e in enumerate(self._list) if e.id in self.builtin_ids]
        declared = [n for n, e in enumerate(self._list) if e.id not in self.builtin_ids]
        builtin_names: dict[str, list[int]] = {}
        for n, key in zip(builtin, keys_of([self._list[n].name for n in builtin]), strict=True):
            builtin_names.setdefault(key, []).append(n)
        takeovers: dict[int, int] = {}
        # The loop below runs once per form (~500,000 for 100,000 entries): locals only.
        table = self._keys
        get = table.get
        persons = bytearray(e.type == "PERSON" for e in self._list)
        strict = bytearray(e.id in self.strict_ids for e in self._list)
        places = bytearray(e.type == "LOC" for e in self._list)
        upper, title, capitalised = (
            int(CaseRule.UPPER),
            int(CaseRule.TITLE),
            int(CaseRule.CAPITALISED),
        )
        alias_kind = int(Kind.ALIAS)
        single, rules = self._single, self._rules
        any_upper, demonym, name_kind, variant = (
            int(CaseRule.ANY_UPPER),
            int(Kind.DEMONYM),
            int(Kind.NAME),
            int(Kind.VARIANT),
        )
        for order in (declared, builtin):
            check = bool(builtin_names) and order is declared
            for chunk in range(0, len(order), _CHUNK):
                pairs, owners = self._forms(order[chunk : chunk + _CHUNK])
                keys = keys_of(list(map(itemgetter(0), pairs)))
                for (form, kind), key, n in zip(pairs, keys, owners, strict=True):
                    person = persons[n] == 1
                    size = len(key)
                    if size < 2 or size > _MAX_KEY:
                        continue
                    if " " in key:
                        rule = any_upper
                    elif key.isdigit():
                        continue
                    else:
                        rule = int(case_rule(form, key, person=person and kind != demonym))
                    if rule == title and places[n] and size >= 4 and kind <= alias_kind:
                        rule = capitalised  # a place in a dateline: DUBAI, PARIS
                    if strict[n] and "," not in key:
                        if get(key, -1) >= 0:
                            continue  # an ordinary word another entry names: leave it to it
                        rule = upper
                    if check and not person and (kind == name_kind or kind == variant):
                        named = builtin_names.get(key, ())
                        if len(named) == 1:
                            takeovers.setdefault(named[0], n)
                    owner = takeovers.get(n, n) if takeovers else n
                    packed = (owner << _KIND_BITS) | kind
                    kid = get(key)
                    if kid is not None and kid >= 0:
                        self._merge(kid, packed, rule)
                        continue
                    table[key] = len(single)
                    single.append(packed)
                    rules.append(rule)
                    if kid is None:  # not yet a prefix: add its word-level prefixes
                        cut = key.rfind(" ")
                        while cut > 0:
                            if key[cut - 1] not in ",|":  # a prefix ends on a word
                                prefix = key[:cut]
                                if prefix in table:
                                    break  # its own prefixes are in already
                                table[prefix] = -1
                            cut = key.rfind(" ", 0, cut)

    def _merge(self, kid: int, packed: int, rule: int) -> None:
        """Add a candidate (packed entry index and kind) to an existing key."""
        owner, kind = packed >> _KIND_BITS, packed & 7
        if rule > self._rules[kid]:
            self._rules[kid] = rule
        first = self._single[kid]
        same = self._multi.get(kid) if first == -1 else [first]
        assert same is not None
        for m, old in enumerate(same):
            if old >> _KIND_BITS == owner:
                if kind < old & 7:
                    same[m] = packed
                break
        else:
            same.append(packed)
        if len(same) == 1:
            self._single[kid] = same[0]
            return
        self._single[kid] = -1
        # Strongest kind first; among equals a declared entry before a built-in one.
        same.sort(key=lambda p: (p & 7, self._list[p >> _KIND_BITS].id in self.builtin_ids, p))
        self._multi[kid] = same

    # -- queries ------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self.entries)

    def entry_at(self, index: int) -> EntityEntry:
        return self._list[index]

    def is_builtin(self, index: int) -> bool:
        return self._list[index].id in self.builtin_ids

    def candidates(self, kid: int) -> tuple[Candidate, ...]:
        """Return the ``(entry index, kind)`` pairs owning key ``kid``, strongest first."""
        packed = self._single[kid]
        if packed >= 0:
            return ((packed >> _KIND_BITS, packed & 7),)
        return tuple((p >> _KIND_BITS, p & 7) for p in self._multi[kid])

    def key_info(self, kid: int) -> tuple[tuple[Candidate, ...], bool, bool]:
        """Return key ``kid``'s candidates, whether all are demonyms, whether all are places
        and not all smaller ones (``minor_ids``).

        Cached per key: tagging asks for the same keys (country names) in every article.
        """
        info = self._info.get(kid)
        if info is None:
            cands = self.candidates(kid)
            demonym = int(Kind.DEMONYM)
            info = (
                cands,
                all(kind == demonym for _, kind in cands),
                all(self._list[e].type == "LOC" for e, _ in cands)
                and not all(self._list[e].id in self.minor_ids for e, _ in cands),
            )
            if len(self._info) >= _INFO_CACHE:
                self._info.clear()
            self._info[kid] = info
        return info

    def context_words(self, kid: int) -> tuple[tuple[int, frozenset[str]], ...]:
        """Return, for each entry sharing key ``kid`` (strongest first), the words only it has.

        The folded words of an entry's names and aliases minus any word another of the
        entries has (the key's own words among them): an article mentioning ``Walker``
        or ``Dubya`` supports ``George W. Bush`` over his father. Cached per key.
        """
        found = self._context.get(kid)
        if found is None:
            entries = [e for e, _ in self.candidates(kid)]
            words = []
            for e in entries:
                entry = self._list[e]
                words.append(
                    {
                        w
                        for form in (entry.name, *entry.aliases[:50])
                        for w in key_of(form).split()
                        if len(w) > 1 and w not in (",", "|")
                    }
                )
            shared: set[str] = set()
            for n, own in enumerate(words):
                for other in words[n + 1 :]:
                    shared |= own & other
            found = tuple(
                (e, frozenset(own - shared)) for e, own in zip(entries, words, strict=True)
            )
            if len(self._context) >= _INFO_CACHE:
                self._context.clear()
            self._context[kid] = found
        return found

    def minor_place(self, kid: int) -> bool:
        """Whether every entry owning key ``kid`` is a smaller place (``minor_ids``)."""
        if not self.minor_ids:
            return False
        return all(self._list[e].id in self.minor_ids for e, _ in self.key_info(kid)[0])

    def openers(self, words: frozenset[str]) -> frozenset[str]:
        """Return those of ``words`` that are keys or key prefixes (cached per word set)."""
        found = self._particles.get(words)
        if found is None:
            found = self._particles[words] = frozenset(w for w in words if w in self._keys)
        return found

    def rule(self, kid: int) -> CaseRule:
        return CaseRule(self._rules[kid])

    @property
    def rules(self) -> bytearray:
        """The ``CaseRule`` of every key id, as ints (the hot loop avoids enum lookups)."""
        return self._rules

    @property
    def keys(self) -> dict[str, int]:
        """Folded key -> key id, and each word-level prefix of a key that is no key -> -1.

        ``tagging`` extends a candidate name word by word while the text so far
        is in this dict, and keeps the spans whose value is a key id.
        """
        return self._keys

    def lookup(self, name: str) -> list[EntityEntry]:
        """Return the entries whose normalised name or alias equals the normalised ``name``.

        Used to resolve ``entity:"Name"`` in watchlist queries; more than one
        entry means the name is ambiguous. Demonyms do not count.
        """
        kid = self._keys.get(key_of(name), -1) if name else -1
        if kid < 0:
            return []
        return [self._list[i] for i, kind in self.candidates(kid) if kind != Kind.DEMONYM]

    def suggest(self, name: str, limit: int = 5) -> list[EntityEntry]:
        """Return up to ``limit`` entries whose names are closest to ``name`` (for a hint).

        Candidates share a word with ``name`` (folded, names and aliases); the 200 sharing
        the most words are ranked by string similarity and kept from a 0.75 ratio. The word index is built
        on the first call (``entity:"Name"`` refused at apply, ``entities lookup``).
        """
        import difflib

        words = [w for w in key_of(name).split() if w not in (",", "|") and len(w) > 1]
        if not words:
            return []
        index = self._word_index()
        scores: dict[int, int] = {}
        for word in words:
            for n in index.get(word, ())[:2000]:
                scores[n] = scores.get(n, 0) + 1
        folded = key_of(name)

        def similarity(n: int) -> float:
            entry = self._list[n]
            return max(
                difflib.SequenceMatcher(None, folded, key_of(form)).ratio()
                for form in (entry.name, *entry.aliases[:20])
            )

        best = sorted(scores, key=lambda n: (-scores[n], n))[:200]
        ranked = sorted((-similarity(n), n) for n in best)
        return [self._list[n] for score, n in ranked[:limit] if -score >= _SUGGEST_SIMILARITY]

    def _word_index(self) -> dict[str, list[int]]:
        if self._words is None:
            index: dict[str, list[int]] = {}
            for n, entry in enumerate(self._list):
                seen: set[str] = set()
                for form in (entry.name, *entry.aliases):
                    for word in key_of(form).split():
                        if len(word) > 1 and word not in seen and word not in (",", "|"):
                            seen.add(word)
                            index.setdefault(word, []).append(n)
            self._words = index
        return self._words


def load_entries(path: str | Path) -> list[EntityEntry]:
    """Read entries from a CSV or YAML file (see ``pipeline.entities.loaders.load_entries``)."""
    from pipeline.entities.loaders import load_entries as _load

    return _load(path)
