"""Generate the spelling variants of a knowledge-base name.

Folding (``stream.key_of``) already absorbs case, diacritics, hyphen/space,
punctuation and middle initials; what is left here is structure:

- a place written ``City, Region`` is also its head (``Irving, Texas`` -> ``Irving``);
- list order: ``KIM, Jong Un`` -> ``Kim Jong Un`` (as written, without the
  comma: the family-name-first reading) and ``Jong Un KIM`` (given name first);
  ``Korea, Republic of`` -> ``Republic of Korea``;
- a person's first + last name when more names sit between
  (``Vladimir Vladimirovich Putin`` -> ``Vladimir Putin``);
- a trailing parenthetical is dropped (``Georgia (country)`` -> ``Georgia``);
- a leading article is dropped (``The Hague`` keeps ``The Hague`` and ``Hague``
  is *not* generated; ``the Gambia`` -> ``Gambia`` only when the name starts
  with a lowercase ``the``).

Each variant carries a case rule (``CaseRule``) deciding how the text must be
written for a match: acronyms must be upper case, one-word names capitalised.
"""

from __future__ import annotations

import re
from enum import IntEnum

__all__ = ["HONORIFICS", "CaseRule", "Kind", "case_rule", "forms_of"]

_PAREN = re.compile(r"\s*[(\[][^)\]]*[)\]]\s*")


class Kind(IntEnum):
    """Where a key came from; lower is stronger when two entries share a key."""

    NAME = 0
    ALIAS = 1
    VARIANT = 2
    ACRONYM = 3
    DEMONYM = 4


class CaseRule(IntEnum):
    """How a matched span must be written in the text (stricter is larger)."""

    ANY_UPPER = 0  # multi-word names: first word capitalised, or a particle then a capital
    CAPITALISED = 1  # the word starts with an upper-case letter
    TITLE = 2  # capitalised but not all capitals (``Usi`` must not match the acronym ``USI``)
    UPPER = 3  # the word is written in capitals (acronyms: US, DPRK)


def case_rule(source: str, key: str, *, person: bool) -> CaseRule:
    """Return the case rule for ``key`` generated from ``source``.

    A one-word key is an acronym (must be upper case in text) when its source
    writes it in capitals among lower-case letters elsewhere (``US``), or when
    the source is an all-capitals list entry (OFAC style) of at most three
    letters naming something other than a person; longer all-capitals list
    words may be names (``HASM``, vessel ``SAVIZ``) and need a capital only.
    A short word written in title case (``Usi``) must be capitalised and not
    all capitals (that would be an acronym); other one-word keys must be
    capitalised. Multi-word keys need a capital on the first word, or on a
    later one after a lower-case particle (``al-Qaida``, ``bin Laden``).
    """
    if " " in key:
        return CaseRule.ANY_UPPER
    letters = [c for c in source if c.isalpha()]
    if not letters:
        return CaseRule.UPPER
    all_caps = all(c.isupper() for c in letters)
    if not all_caps:
        word = re.sub(r"[^\w]", "", source)
        if len(word) <= 5 and word.isupper():
            return CaseRule.UPPER
        return CaseRule.TITLE if len(word) <= 5 else CaseRule.CAPITALISED
    if not person and len(key) <= 3:
        return CaseRule.UPPER
    return CaseRule.CAPITALISED


HONORIFICS = frozenset(
    "mr mrs ms miss dr prof sir dame lord lady president vice prime minister secretary "
    "gen general col colonel lt capt captain adm admiral sgt sen senator rep representative "
    "gov governor mayor judge justice king queen prince princess pope rev sheikh shaykh ayatollah "
    "chancellor premier chairman chairwoman ambassador commissioner professor".split()
)


def _drop_honorifics(given: str) -> str:
    words = given.split()
    if len(words) < 2 or words[0].rstrip(".").lower() not in HONORIFICS:
        return " ".join(words)
    while len(words) > 1 and words[0].rstrip(".").lower() in HONORIFICS:
        words.pop(0)
    return " ".join(words)


def forms_of(name: str, *, person: bool, kind: Kind, place: bool = False) -> list[tuple[str, Kind]]:
    """Return ``(form, kind)`` for every written variant of ``name`` (keys come from ``keys_of``).

    The name itself keeps ``kind``; generated variants are ``Kind.VARIANT`` (or
    ``kind`` when it is weaker). Built as a flat list: a knowledge base calls
    this half a million times.
    """
    derived = Kind.VARIANT if kind <= Kind.ALIAS else kind
    out = [(name, kind)]
    if "(" in name or "[" in name:
        bare = _PAREN.sub(" ", name).strip()
        if bare and bare != name:
            out.append((bare, derived))
            name = bare
    if name.startswith("the ") and len(name) > 4:
        out.append((name[4:], derived))
    if "," in name:
        head, _, tail = name.partition(",")
        head, tail = head.strip(), tail.strip()
        if head and tail:
            if place and tail[:1].isupper() and tail.split()[-1][:1].isupper():
                # "Irving, Texas" -> "Irving" (not "Korea, Republic of")
                out.append((head, derived))
            plain = _drop_honorifics(tail) if person else tail
            out.append((f"{plain} {head}", derived))
            if person:
                out.append((f"{head} {plain}", derived))
                if plain != tail:  # as listed, honorific kept: "Shaykh Muhammad FADLALLAH"
                    out.append((f"{tail} {head}", derived))
                    out.append((f"{head} {tail}", derived))
                given = plain.split()
                if len(given) >= 2:
                    out.append((f"{given[0]} {head}", derived))
        return out
    if person:
        parts = name.split()
        if len(parts) >= 3:
            out.append((f"{parts[0]} {parts[-1]}", derived))
    return out
