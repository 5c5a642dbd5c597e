"""The entity knowledge base: canonical entries with aliases, compiled once per process.

Every name, alias and generated variant (``variants``) of every entry is folded
into a key (``stream.key_of``) and stored in one Aho-Corasick automaton with an
integer payload, so tagging an article is one pass over its folded text whatever
the size of the knowledge base. Per key we keep the candidate entries (with the
kind of key they own it by) and the key's case rule, in flat arrays: 100,000
entries stay well within a few hundred megabytes.

A declared (non-built-in) entry whose name is the name of a built-in place or
organisation takes that entry over: the built-in aliases and demonyms then
resolve to the declared id, so a watchlist declaring ``North Korea`` also
catches ``DPRK`` and ``North Korean``.
"""

from __future__ import annotations

from array import array
from collections.abc import Iterable
from pathlib import Path

import ahocorasick
from pydantic import BaseModel, ConfigDict, Field

from pipeline.entities.ner import NameFinder
from pipeline.entities.stream import key_of, keys_of
from pipeline.entities.variants import CaseRule, Kind, case_rule, forms_of
from pipeline.models import EntityType

__all__ = ["Candidate", "EntityEntry", "KnowledgeBase", "load_entries"]

_MAX_KEY = 255  # key length is packed into the low byte of the automaton payload
_KIND_BITS = 3
_CHUNK = 2000  # entries folded per batch while compiling
_SEEN_MASK = (1 << 24) - 1  # 16M-bit (2 MB) bitmap: ~3% false positives at 500k keys


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
        self._list: list[EntityEntry] = list(by_id.values())
        self._automaton = ahocorasick.Automaton(ahocorasick.STORE_INTS)
        self._single = array("q")  # per key id: packed candidate, or -1 when several
        self._multi: dict[int, list[int]] = {}
        self._rules = bytearray()
        self._compile()

    # -- construction -------------------------------------------------------------

    @classmethod
    def builtin(cls) -> KnowledgeBase:
        """Return the built-in knowledge base: countries, capitals, major cities."""
        from pipeline.entities.builtin import builtin_entries

        entries = builtin_entries()
        return cls(entries, builtin_ids=[e.id for e in entries])

    def extended(self, entries: Iterable[EntityEntry]) -> KnowledgeBase:
        """Return a new knowledge base with ``entries`` added (same id replaces)."""
        return KnowledgeBase(
            [*self.entries.values(), *entries],
            builtin_ids=self.builtin_ids,
            name_finder=self.name_finder,
        )

    def _forms(self, indexes: range | list[int]) -> tuple[list[str], list[tuple[int, Kind, bool]]]:
        """Return the written forms of the entries at ``indexes``, with (index, kind, person)."""
        forms: list[str] = []
        owners: list[tuple[int, Kind, bool]] = []
        for n in indexes:
            entry = self._list[n]
            person = entry.type == "PERSON"
            place = entry.type == "LOC"
            pairs = forms_of(entry.name, person=person, kind=Kind.NAME, place=place)
            for alias in entry.aliases:
                pairs += forms_of(alias, person=person, kind=Kind.ALIAS, place=place)
            for demonym in entry.demonyms:
                pairs.append((demonym, Kind.DEMONYM))
            for form, kind in pairs:
                forms.append(form)
                owners.append((n, kind, person))
        return forms, owners

    def _compile(self) -> None:
        """Fold every form into a key and add it to the automaton.

        Declared entries go first so that one naming a built-in entry takes it
        over before the built-in keys are added. Entries are folded in chunks
        and the automaton itself is the key -> key id map: no Python structure
        holding every key outlives a chunk (that would double the resident
        memory of a 100,000-entry knowledge base).
        """
        builtin = [n for n, e in enumerate(self._list) if e.id in self.builtin_ids]
        declared = [n for n, e in enumerate(self._list) if e.id not in self.builtin_ids]
        builtin_names: dict[str, list[int]] = {}
        for n, key in zip(builtin, keys_of([self._list[n].name for n in builtin]), strict=True):
            builtin_names.setdefault(key, []).append(n)
        takeovers: dict[int, int] = {}
        # The loop below runs once per form (~500,000 for 100,000 entries): locals only.
        # A bitmap of key hashes answers "seen before?" far faster than a trie walk and
        # holds no Python objects; only a repeated key (or a false positive) pays for
        # ``get``.
        seen = bytearray((_SEEN_MASK + 1) // 8)
        get, add_word = self._automaton.get, self._automaton.add_word
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
                forms, owners = self._forms(order[chunk : chunk + _CHUNK])
                keys = keys_of(forms)
                for form, key, (n, kind, person) in zip(forms, keys, owners, strict=True):
                    size = len(key)
                    if size < 2 or size > _MAX_KEY:
                        continue
                    if " " in key:
                        rule = any_upper
                    elif key.isdigit():
                        continue
                    else:
                        rule = int(case_rule(form, key, person=person and kind != demonym))
                    if check and not person and (kind == name_kind or kind == variant):
                        named = builtin_names.get(key, ())
                        if len(named) == 1:
                            takeovers.setdefault(named[0], n)
                    owner = takeovers.get(n, n) if takeovers else n
                    packed = (owner << _KIND_BITS) | kind
                    slot = hash(key) & _SEEN_MASK
                    byte, bit = slot >> 3, 1 << (slot & 7)
                    payload = get(key, -1) if seen[byte] & bit else -1
                    if payload == -1:  # a new key: by far the most common case
                        seen[byte] |= bit
                        add_word(key, (len(single) << 8) | size)
                        single.append(packed)
                        rules.append(rule)
                    else:
                        self._merge(payload >> 8, packed, rule)
        if len(single):
            self._automaton.make_automaton()

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

    def rule(self, kid: int) -> CaseRule:
        return CaseRule(self._rules[kid])

    @property
    def rules(self) -> bytearray:
        """The ``CaseRule`` of every key id, as ints (the hot loop avoids enum lookups)."""
        return self._rules

    def scan(self, string: str) -> Iterable[tuple[int, int]]:
        """Yield ``(last index, payload)`` for every key in a folded stream string.

        The payload packs the key id (``payload >> 8``) and the key length
        (``payload & 0xFF``); callers unpack only the hits they keep.
        """
        if not self._single:
            return iter(())
        return self._automaton.iter(string)  # type: ignore[no-any-return]

    def lookup(self, name: str) -> list[EntityEntry]:
        """Return the entries whose normalised name or alias equals the normalised ``name``.

        Used to resolve ``entity:"Name"`` in watchlist queries; more than one
        entry means the name is ambiguous. Demonyms do not count.
        """
        key = key_of(name)
        if not key or not self._single:
            return []
        payload = self._automaton.get(key, None)
        if payload is None:
            return []
        return [self._list[i] for i, kind in self.candidates(payload >> 8) if kind != Kind.DEMONYM]


def load_entries(path: str | Path) -> list[EntityEntry]:
    """Read entries from a CSV or YAML file (see ``pipeline.entities.loaders.load_entries``)."""
    from pipeline.entities.loaders import load_entries as _load

    return _load(path)
