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

from pipeline.entities.stream import key_of, keys_of
from pipeline.entities.variants import CaseRule, Kind, case_rule, forms_of
from pipeline.models import EntityType

__all__ = ["Candidate", "EntityEntry", "KnowledgeBase", "load_entries"]

_MAX_KEY = 255  # key length is packed into the low byte of the automaton payload
_KIND_BITS = 3


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

    def __init__(self, entries: Iterable[EntityEntry] = (), *, builtin_ids: Iterable[str] = ()) -> None:
        by_id: dict[str, EntityEntry] = {}
        for entry in entries:
            by_id[entry.id] = entry
        self.entries: dict[str, EntityEntry] = by_id
        self.builtin_ids: frozenset[str] = frozenset(i for i in builtin_ids if i in by_id)
        self._list: list[EntityEntry] = list(by_id.values())
        self._index: dict[str, int] = {e.id: n for n, e in enumerate(self._list)}
        self._automaton = ahocorasick.Automaton(ahocorasick.STORE_INTS)
        self._single = array("q")  # per key id: packed candidate, or -1 when several
        self._multi: dict[int, tuple[int, ...]] = {}
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
        return KnowledgeBase([*self.entries.values(), *entries], builtin_ids=self.builtin_ids)

    def _forms(self) -> tuple[list[str], list[tuple[int, Kind, bool]]]:
        """Return every written form of every entry, and (entry index, kind, person) for each."""
        forms: list[str] = []
        owners: list[tuple[int, Kind, bool]] = []
        for n, entry in enumerate(self._list):
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

    def _takeovers(self, keys: list[str], owners: list[tuple[int, Kind, bool]]) -> dict[int, int]:
        """Map built-in entry index -> declared entry index that names it."""
        if not self.builtin_ids:
            return {}
        builtin_names: dict[str, set[int]] = {}
        for key, (n, kind, _) in zip(keys, owners, strict=True):
            if kind == Kind.NAME and self._list[n].id in self.builtin_ids:
                builtin_names.setdefault(key, set()).add(n)
        taken: dict[int, int] = {}
        for key, (n, kind, person) in zip(keys, owners, strict=True):
            # The declared name as written, or without its parenthetical ("Georgia (country)").
            if kind not in (Kind.NAME, Kind.VARIANT) or person or self._list[n].id in self.builtin_ids:
                continue
            found = builtin_names.get(key, set())
            if len(found) == 1:
                taken.setdefault(next(iter(found)), n)
        return taken

    def _compile(self) -> None:
        forms, owners = self._forms()
        keys = keys_of(forms)
        takeovers = self._takeovers(keys, owners)
        kids: dict[str, int] = {}
        cands: list[list[int]] = []
        rules = self._rules
        for form, key, (n, kind, person) in zip(forms, keys, owners, strict=True):
            if len(key) < 2 or len(key) > _MAX_KEY or key.isdigit():
                continue
            owner = takeovers.get(n, n)
            rule = int(case_rule(form, key, person=person and kind != Kind.DEMONYM))
            kid = kids.get(key)
            packed = (owner << _KIND_BITS) | int(kind)
            if kid is None:
                kid = kids[key] = len(cands)
                cands.append([packed])
                rules.append(rule)
                continue
            if rule > rules[kid]:
                rules[kid] = rule
            same = cands[kid]
            for m, old in enumerate(same):
                if old >> _KIND_BITS == owner:
                    if int(kind) < old & 7:
                        same[m] = packed
                    break
            else:
                same.append(packed)
        automaton = self._automaton
        single = self._single
        for key, kid in kids.items():
            automaton.add_word(key, (kid << 8) | len(key))
        for kid, same in enumerate(cands):
            if len(same) == 1:
                single.append(same[0])
            else:
                single.append(-1)
                # Strongest kind first; among equals a declared entry before a built-in one.
                self._multi[kid] = tuple(
                    sorted(same, key=lambda p: (p & 7, self._list[p >> _KIND_BITS].id in self.builtin_ids, p))
                )
        if kids:
            automaton.make_automaton()

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
