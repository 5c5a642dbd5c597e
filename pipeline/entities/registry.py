"""Learned name variants: unlinked names that are variants of one another share one id.

An unlinked name gets ``x:<slug of its words>`` (``tagging.unlinked_id``), so
``Sergei Shoigu``, ``Sergei Kuzhugetovich Shoigu``, ``Сергей Шойгу`` and a later
lone ``Shoigu`` would be four ids. The registry remembers, per deployment (in
Redis for the workers, in memory for ``wirewatch process``), which id each
*name key* of the names it has seen belongs to, and rewrites the ids of later
names to the id their variant got first, the way the Europe Media Monitor
collects name variants over days:

- ``n|<skeleton>``: the whole name spelled loosely (``skeleton``: Cyrillic and
  Greek transliterated to Latin, ``y`` as ``i``, ``w`` as ``v``, ``ph`` as ``f``,
  ``sch`` as ``sh``, a final ``j`` as ``i``, doubled letters once, words run
  together), so ``Kim Jong-un`` / ``Kim Jongun``
  and ``Sergei Shoigu`` / ``Сергей Шойгу`` share a key;
- ``f|<first+last>``: the first and last word of a longer name, so a later
  ``Sergei Shoigu`` joins ``Sergei Kuzhugetovich Shoigu`` (a longer name never
  joins by it: ``Kyong Il Kim`` and ``Kyong Hyok Kim`` are two people);
- ``s|<surname>``: the last word of a person's name, so a lone ``Shoigu`` joins
  ``Sergei Shoigu``.

Precision guards, because a wrong merge is silent: a first+last or surname key
claimed by two different ids becomes *ambiguous* (``AMBIGUOUS``) and never
merges again (two people called Smith: a lone ``Smith`` stays ``x:smith``); a
surname key is only learned from names typed PERSON (``House`` of ``White
House`` never; on GUM news a rare last word of a MISC name as well cost merge
precision 1.0 -> 0.976); a one-word name merges only
through a surname key, and one typed a place or an organisation only within
the story.

Within a story the same keys are kept per story (``story|<story id>|...``)
and consulted first: the articles of one story are about the same people, so
a lone surname there joins the story's full name even when the deployment has
seen two people of that name.

An id typed PERSON once is remembered (``t|<id>``): a lone surname merged into it
takes the type (the recogniser types full names more surely than lone surnames).

Operators correct it (``wirewatch entities variants``): ``merge A B`` makes id A
resolve to B, ``split A`` stops A from being merged anywhere, ``forget`` drops
learned keys. Memory is bounded: every key has a last-seen tick, and past
``max_keys`` the least recently seen are dropped.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Protocol

from pipeline.entities.stream import key_of
from pipeline.entities.variants import HONORIFICS
from pipeline.models import Entity, EntityType

__all__ = [
    "AMBIGUOUS",
    "DEFAULT_MAX_KEYS",
    "MemoryNameRegistry",
    "NameKeys",
    "NameRegistry",
    "Update",
    "apply_registry",
    "decide",
    "merge_entities",
    "name_keys",
    "skeleton",
    "transliterate",
    "updates_for",
]

AMBIGUOUS = "*"  # a key two different ids claimed: it never merges again
_PERSON = "t|"  # t|<id> -> PERSON: the id was typed PERSON in some article
DEFAULT_MAX_KEYS = 200_000  # learned keys kept (least recently seen dropped past it)
_MAX_WORDS = 6  # longer runs are titles of things, not names
# Particles that open a surname (``Al-Ubaidi``, ``van Gogh``): with one word after them
# the name is a surname alone.
_PARTICLES = frozenset("al el bin ibn abu ben bint van von de di da du le la del der den".split())

# Deterministic Cyrillic and Greek -> Latin (BGN/PCGN-like, simplified).
_CYRILLIC = dict(
    zip(
        "абвгдеёжзийклмнопрстуфхцчшщъыьэюяіїєґўђјљњћџ",
        "a b v g d e e zh z i y k l m n o p r s t u f kh ts ch sh shch - y - e yu ya i yi ye g u dj j lj nj c dz".split(),
        strict=True,
    )
)
_GREEK = dict(
    zip(
        "αβγδεζηθικλμνξοπρσςτυφχψωάέήίόύώϊϋΐΰ",
        "a v g d e z i th i k l m n x o p r s s t y f ch ps o a e i i o y o i y i y".split(),
        strict=True,
    )
)
_TRANSLIT = {ord(k): ("" if v == "-" else v) for k, v in {**_CYRILLIC, **_GREEK}.items()}
_DOUBLED = re.compile(r"(.)\1+")
_NOT_LETTER = re.compile(r"[^a-z0-9]")


def transliterate(word: str) -> str:
    """Return ``word`` (folded, lower case) in Latin letters: ``шойгу`` -> ``shoygu``."""
    return word.translate(_TRANSLIT)


@lru_cache(maxsize=65_536)
def _loose(word: str) -> str:
    word = transliterate(word)
    # German and Slavic spellings of one sound: Schoigu/Shoigu, Sergej/Sergei, Wladimir.
    word = word.replace("tsch", "ch").replace("sch", "sh").replace("ph", "f")
    word = word.replace("y", "i").replace("w", "v").replace("ij", "i")
    if word.endswith("j"):
        word = word[:-1] + "i"
    return _DOUBLED.sub(r"\1", _NOT_LETTER.sub("", word))


def skeleton(words: Iterable[str]) -> str:
    """Return the loose spelling of a name's folded words, run together.

    ``("sergey", "shoygu")`` and ``("sergei", "shoigu")`` both give ``sergeishoigu``,
    ``("kim", "jong", "un")`` and ``("kim", "jongun")`` both ``kimjongun``.
    """
    return "".join(_loose(w) for w in words)


@dataclass(frozen=True)
class NameKeys:
    """The registry keys of one unlinked name (empty string: the name has none)."""

    whole: str = ""  # n|<skeleton>: two words or more
    first_last: str = ""  # f|<first+last>: three words or more
    surname: str = ""  # s|<last word>: one word (a lone surname) or a learnable full name
    single: bool = False  # a one-word name: looked up by surname only
    story_only: bool = False  # ... and then only in the story's keys
    last: str = ""  # s|<last word> of a longer name: guards its first+last merge

    def all(self) -> list[str]:
        return [k for k in (self.whole, self.first_last, self.surname) if k]


def _words(entity: Entity) -> list[str]:
    words = [w for w in key_of(entity.name).split() if w not in (",", "|")]
    while len(words) > 1 and words[0] in HONORIFICS:
        words.pop(0)
    return [w for w in words if len(w) > 1 or len(words) == 1]


def name_keys(entity: Entity) -> NameKeys:
    """Return the registry keys of an unlinked entity (none for linked or odd names)."""
    if entity.linked or not entity.id.startswith("x:"):
        return NameKeys()
    words = _words(entity)
    if not words or len(words) > _MAX_WORDS:
        return NameKeys()
    if all(w in _PARTICLES for w in words[:-1]):  # ``Al-Ubaidi``: one surname
        if not words[-1].isalpha():
            return NameKeys()
        # Typed a place or an organisation, a lone word joins a person only in the story
        # that named the person (a town called Jackson is not Michael Jackson elsewhere).
        story_only = entity.type in ("ORG", "LOC")
        return NameKeys(surname="s|" + _loose(words[-1]), single=True, story_only=story_only)
    whole = "n|" + skeleton(words)
    first_last = "f|" + skeleton((words[0], words[-1])) if len(words) >= 3 else ""
    surname = ""
    last = words[-1]
    if entity.type == "PERSON" and last.isalpha():
        surname = "s|" + _loose(last)
    last_key = "s|" + _loose(last) if last.isalpha() else ""
    return NameKeys(whole=whole, first_last=first_last, surname=surname, last=last_key)


def _lookups(keys: NameKeys) -> list[str]:
    """The keys that can merge a name, strongest first."""
    if keys.single:
        return [keys.surname]
    if keys.first_last:
        # A longer name merges only by its whole spelling: two names sharing first and
        # last word but not the middle are mostly two people (``Kyong Il Kim``,
        # ``Kyong Hyok Kim``; Arabic chains of patronymics).
        return [keys.whole]
    # A two-word name may be the first+last form of a longer name seen before.
    return [keys.whole, "f|" + keys.whole[2:]] if keys.whole else []


def _first_last_ok(keys: NameKeys, table: Mapping[str, str]) -> bool:
    """Whether a two-word name may join a longer one by first+last word.

    Only when its surname is not shared by two people the registry knows: ``Sergei
    Shoigu`` joins ``Sergei Kuzhugetovich Shoigu``, ``Muhammad Ahmad`` joins nobody.
    """
    return not keys.last or table.get(keys.last) != AMBIGUOUS


def decide(
    entity: Entity,
    keys: NameKeys,
    known: Mapping[str, str],
    story: Mapping[str, str] | None = None,
    overrides: Mapping[str, str] | None = None,
) -> str | None:
    """Return the id ``entity`` should take, or None to keep its own.

    ``known`` / ``story`` map keys to the id that owns them (or ``AMBIGUOUS``);
    ``overrides`` maps an id to the id it was merged into by hand ("" = split:
    never merge it). The story's keys are asked first; a key the entity's own
    id owns means it is already the canonical id.
    """
    overrides = overrides or {}
    target = overrides.get(entity.id)
    if target is not None:
        return target or None
    tables = (story or {},) if keys.story_only else (story or {}, known)
    for table in tables:
        for key in _lookups(keys):
            owner = table.get(key)
            if not owner or owner == AMBIGUOUS:
                continue
            if key.startswith("f|") and not _first_last_ok(keys, table):
                continue
            if owner == entity.id:
                return None
            return overrides.get(owner) or owner
    return None


@dataclass(frozen=True)
class Update:
    """One key to learn: ``key`` belongs to ``owner`` (becomes ambiguous if another has it)."""

    key: str
    owner: str


def updates_for(pairs: Iterable[tuple[Entity, str]]) -> list[Update]:
    """Return the keys unlinked entities teach the registry: (entity, the id it ended with).

    A name merged into another id teaches its keys under that id, so ``Сергей
    Шойгу`` merged into ``x:sergei-shoigu`` adds no second claimant. One-word
    names teach nothing: they only ever follow a full name.
    """
    out: list[Update] = []
    for entity, final in pairs:
        keys = name_keys(entity)
        if keys.single:
            continue
        for key in keys.all():
            out.append(Update(key, final))
        if entity.type == "PERSON":
            out.append(Update(_PERSON + final, "PERSON"))
        if keys.whole and not keys.first_last:  # a two-word name is its own first+last
            out.append(Update("f|" + keys.whole[2:], final))
    return out


def merge_entities(
    entities: list[Entity], targets: Mapping[str, str], persons: Iterable[str] = ()
) -> list[Entity]:
    """Rewrite entity ids by ``targets`` (old id -> new id), merging entities that meet.

    Mentions are combined and sorted, salience is the larger one, the name is
    that of the entity already holding the id (else the first), the type is
    PERSON when either was or the new id is in ``persons`` (the registry saw it typed
    PERSON: a recogniser often types only the full name, not a lone surname).
    """
    if not targets:
        return entities
    persons = frozenset(persons)
    merged: dict[str, Entity] = {}
    for entity in entities:
        new_id = targets.get(entity.id, entity.id)
        current = merged.get(new_id)
        if current is None:
            update: dict[str, object] = {"id": new_id} if new_id != entity.id else {}
            if new_id in persons and entity.type != "PERSON":
                update["type"] = "PERSON"
            merged[new_id] = entity.model_copy(update=update) if update else entity
            continue
        name = entity.name if entity.id == new_id else current.name
        etype: EntityType = "PERSON" if "PERSON" in (current.type, entity.type) else current.type
        spans = {(m.start, m.end): m for m in [*current.mentions, *entity.mentions]}
        merged[new_id] = current.model_copy(
            update={
                "name": name,
                "type": etype,
                "mentions": [spans[k] for k in sorted(spans)],
                "salience": max(current.salience, entity.salience),
            }
        )
    out = list(merged.values())
    out.sort(key=lambda e: (-e.salience, e.mentions[0].start if e.mentions else -1, e.id))
    return out


class NameRegistry(Protocol):
    """Where learned name keys live (``MemoryNameRegistry``; Redis in ``workers``)."""

    def lookup(
        self, keys: list[str], story_id: str | None
    ) -> tuple[dict[str, str], dict[str, str], dict[str, str]]:
        """Return (deployment keys -> owner, story keys -> owner, overrides id -> target)."""
        ...

    def learn(self, updates: list[Update], story_id: str | None) -> None:
        """Record ``updates`` for the deployment and the story, and mark them seen."""
        ...


def apply_registry(
    entities: list[Entity], registry: NameRegistry, story_id: str | None = None
) -> list[Entity]:
    """Resolve the unlinked names of one article through ``registry`` and learn from them."""
    keyed = [(e, name_keys(e)) for e in entities if not e.linked]
    wanted = sorted(
        {k for _, keys in keyed for k in _lookups(keys)} | {k.last for _, k in keyed if k.last}
    )
    if not wanted:
        return entities
    known, story, overrides = registry.lookup(wanted, story_id)
    targets: dict[str, str] = {}
    for entity, keys in keyed:
        target = decide(entity, keys, known, story, overrides)
        if target and target != entity.id:
            targets[entity.id] = target
    persons: set[str] = set()
    if targets:  # the ids merged into: typed PERSON anywhere before?
        typed, _, _ = registry.lookup(sorted({_PERSON + t for t in targets.values()}), None)
        persons = {k[len(_PERSON) :] for k, v in typed.items() if v == "PERSON"}
    updates = updates_for((e, targets.get(e.id, e.id)) for e, _ in keyed)
    if updates:
        registry.learn(updates, story_id)
    return merge_entities(entities, targets, persons)


@dataclass
class MemoryNameRegistry:
    """The registry in one process (``wirewatch process``, tests, evaluations)."""

    max_keys: int = DEFAULT_MAX_KEYS
    max_story_keys: int = 50_000
    keys: dict[str, str] = field(default_factory=dict)
    stories: dict[str, dict[str, str]] = field(default_factory=dict)
    overrides: dict[str, str] = field(default_factory=dict)
    _seen: dict[str, int] = field(default_factory=dict)
    _tick: int = 0

    def lookup(
        self, keys: list[str], story_id: str | None
    ) -> tuple[dict[str, str], dict[str, str], dict[str, str]]:
        known = {k: self.keys[k] for k in keys if k in self.keys}
        story = self.stories.get(story_id or "", {}) if story_id else {}
        return known, {k: story[k] for k in keys if k in story}, self.overrides

    def learn(self, updates: list[Update], story_id: str | None) -> None:
        self._tick += 1
        tables = [self.keys]
        if story_id:
            tables.append(self.stories.setdefault(story_id, {}))
        for update in updates:
            for table in tables:
                old = table.get(update.key)
                if old is None:
                    table[update.key] = update.owner
                elif old != update.owner and old != AMBIGUOUS and not update.key.startswith("n|"):
                    table[update.key] = AMBIGUOUS
            self._seen[update.key] = self._tick
        if len(self.keys) > self.max_keys:
            self._evict()
        if len(self.stories) > self.max_story_keys:
            for sid in list(self.stories)[: len(self.stories) // 2]:
                del self.stories[sid]

    def _evict(self) -> None:
        """Drop the least recently seen tenth of the keys."""
        drop = sorted(self.keys, key=lambda k: self._seen.get(k, 0))[: max(1, self.max_keys // 10)]
        for key in drop:
            self.keys.pop(key, None)
            self._seen.pop(key, None)

    # -- corrections (``wirewatch entities variants``) ----------------------------

    def merge(self, source: str, target: str) -> None:
        self.overrides[source] = target

    def split(self, entity_id: str) -> None:
        self.overrides[entity_id] = ""

    def forget(self, entity_id: str) -> int:
        """Drop every learned key owned by ``entity_id`` and its override; return how many."""
        drop = [k for k, v in self.keys.items() if v == entity_id]
        for key in drop:
            del self.keys[key]
        self.keys.pop(_PERSON + entity_id, None)
        self.overrides.pop(entity_id, None)
        return len(drop)

    def variants(self, entity_id: str) -> list[str]:
        """Return the keys owned by ``entity_id`` and the ids merged into it by hand."""
        return sorted(
            [k for k, v in self.keys.items() if v == entity_id]
            + [f"merged:{s}" for s, t in self.overrides.items() if t == entity_id]
        )
