"""Exact, near-duplicate and same-event detection: fingerprints and story grouping.

An article's ``Fingerprint`` carries five things:

1. ``url_key`` and ``content_hash`` -- exact identity: a re-crawl of the same canonical URL,
   or the same text after normalisation (case, punctuation, whitespace), is an exact
   duplicate of the first copy (``duplicate_of``) and never alerts again.
2. ``minhash`` -- a one-permutation MinHash of the text's word 3-shingles (128 bins,
   densified by rotation), whose agreement estimates the Jaccard similarity of two texts;
   ``size`` (distinct shingles) turns that into an estimate of containment, so a short copy
   (the lead of a long story) is recognised too.
3. ``bands`` and ``anchors`` -- candidate keys for the index: LSH bands (32 bands x 4 rows)
   find texts of similar length with Jaccard above about 0.4; anchors (the shingles whose
   hash falls in a fixed 1/32 sample of the hash space) are subset-consistent, so a short
   copy shares most of its anchors with the story it was cut from.
4. ``event_terms``, ``event_entities`` and ``event_keys`` -- the event signature (below),
   only when the record's entities are given.
5. ``lead_terms`` -- the headline signature (below): the content words of the title and
   the first ``LEAD_WORDS`` words of the text, weighted by rarity.

Everything is computed from ``zlib.crc32`` and ``hashlib``, never from ``hash()``, so the
same text gives the same fingerprint in every process and on every machine.

The story index (``MemoryStoryIndex`` here, ``workers.stages.stories.RedisStoryIndex`` on Redis)
looks the candidates up and verifies each with ``similar``: estimated Jaccard at least the
threshold, or estimated containment of the shorter text at least the containment threshold.
Both indexes implement one decision rule, ``decide``.

A second tier groups two outlets' own reports of one event, which share few shingles. When
``fingerprint`` is given the record's linked entities (and its language), it adds an *event
signature*: the ``EVENT_TERMS`` content words weighted highest by log term frequency times
rarity in the language (``wordfreq`` Zipf frequencies), and the entity ids with their
salience. An article that matched no story by MinHash joins a story when, against one of
its members, the cosine of the term vectors is at least ``event_cosine`` *and* the
salience-weighted Jaccard of the entity sets is at least ``event_entities``
(``decide_event``). Candidates come from posting keys of the top entities and terms.
Weights are integers, so both indexes compute exactly the same scores.

A third tier joins a *brief* (a flash, a headline, a feed item: fewer than
``BRIEF_MAX_SHINGLES`` distinct shingles, too short for either tier above) with the story
it announces: the brief's own words reappear in the headline and lead of the full article
that follows, from the same outlet or another, and in other outlets' flashes. Two
headline signatures match (``lead_similar``) when at least ``LEAD_MIN_SHARED`` content
words are shared and the shared words carry at least ``lead_containment`` of the brief's
rarity weight (of the heavier one's, between two briefs); at least one of the two must be
a brief, so full articles are never joined on their headlines alone. Briefs are posted under every headline word
(``f`` keys), other articles under their ``LEAD_INDEX_TERMS`` rarest (``l`` keys); a brief
looks both up, a longer article only the briefs'. Like the event tier, it needs the
language's word-frequency list (rarity decides which words count).
"""

from __future__ import annotations

import hashlib
import math
import re
import struct
import unicodedata
import zlib
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Literal, Protocol
from urllib.parse import parse_qsl, urlencode, urlsplit

from pipeline.language.words import LIST_LANGUAGES, get_word_evidence

__all__ = [
    "ANCHOR_MAX_STORIES",
    "BINS",
    "DEFAULT_EVENT_COSINE",
    "DEFAULT_EVENT_ENTITIES",
    "EVENT_KEY_MAX_STORIES",
    "MAX_ANCHORS",
    "MAX_CANDIDATES",
    "MAX_MEMBERS",
    "MIN_AGREE",
    "MIN_NEAR_SHINGLES",
    "BRIEF_MAX_SHINGLES",
    "DEFAULT_LEAD_CONTAINMENT",
    "LEAD_KEY_MAX_STORIES",
    "LEAD_MIN_SHARED",
    "Assignment",
    "EventMatch",
    "Fingerprint",
    "Match",
    "MemoryStoryIndex",
    "canonical_url",
    "decide",
    "decide_event",
    "decide_lead",
    "decode_weights",
    "domain_of",
    "encode_weights",
    "event_similar",
    "fingerprint",
    "headline_of",
    "lead_similar",
    "normalise",
    "pack_signature",
    "similar",
    "story_id_for",
    "unpack_signature",
    "url_id",
]

SHINGLE = 3  # words per shingle: tolerant of word edits, specific enough across stories
BINS = 128  # MinHash bins: standard error of a Jaccard estimate about 0.04 at J = 0.5
ROWS = 4  # rows per LSH band -> 32 bands; P(candidate) 0.56 at J=0.4, 0.87 at 0.5, 0.99 at 0.6
ANCHOR_BITS = 5  # anchors are 1/32 of shingles: about 25 for a 5 KB article
MAX_ANCHORS = 128  # the smallest 128 only (texts over about 25 KB), to bound index writes
MIN_NEAR_SHINGLES = 20  # fewer distinct shingles than this: exact matching only
# Containment is only trusted on this many agreeing bins: a short text inside a long one
# agrees on about BINS * short / long bins, and one or two chance agreements must not count.
MIN_AGREE = 8
MAX_TOKENS = 50_000  # shingles are taken from the first 50k words (about 300 KB of text)
ANCHOR_MAX_STORIES = 16  # a band or anchor shared by more stories is boilerplate: skip it
MAX_CANDIDATES = 8  # verify at most this many candidate stories (most shared keys first)
# A story is represented by up to this many of its members (the founder first): a copy
# joins when it matches any of them, so a lead-only founder does not lock out full copies.
MAX_MEMBERS = 8
DEFAULT_CONTAINMENT = 0.65

# Event tier (independent reports of one event). Thresholds were chosen on the evaluation's
# different-article pairs and controlled rewrites, see docs/decisions.md.
EVENT_TERMS = 32  # content words in a signature, highest weight first
EVENT_MIN_TERMS = 8  # fewer weighted content words: no event signature
# Shorter texts (about 100 words) are not matched as reports of an event: a brief or a
# lead-only copy is mostly names and furniture, and scored too noisily.
EVENT_MIN_SHINGLES = 100
EVENT_ENTITIES = 16  # most salient entities kept
EVENT_MIN_SALIENCE = 0.05  # entities below this salience are passing mentions
EVENT_KEY_ENTITIES = 6  # posting keys: the most salient entities ...
EVENT_KEY_TERMS = 4  # ... and the heaviest terms
EVENT_KEY_MAX_STORIES = 32  # a posting key shared by more stories is too common to use
ZIPF_CEILING = 6.5  # words at least this frequent (Zipf) carry no weight: "said", "year"
MIN_ZIPF = 2.0  # rarer words (below 1 per 10 million words) count as unknown: fully rare
WEIGHT_SCALE = 1000  # weights are integers: identical arithmetic in Python and Lua
DEFAULT_EVENT_COSINE = 0.4
DEFAULT_EVENT_ENTITIES = 0.3

# Headline tier (a brief and the story it announces), see the module docstring. Thresholds
# were chosen on the even AEB pages' own titles against their articles, see docs/decisions.md.
BRIEF_MAX_SHINGLES = EVENT_MIN_SHINGLES  # briefs are exactly the texts the event tier skips
LEAD_WORDS = 60  # a lead: the title and about the first two sentences of the text
LEAD_TERMS = 24  # content words kept in a headline signature, rarest first
LEAD_INDEX_TERMS = 8  # a longer article is posted under its rarest lead words only
LEAD_MIN_SHARED = 3  # fewer shared words is coincidence ("rug works for me")
LEAD_KEY_MAX_STORIES = 32  # a headline word shared by more stories is too common to use
SITE_SEGMENT_WORDS = 4  # "- BBC News", "| Smart News | Smithsonian": a site, not the headline
DEFAULT_LEAD_CONTAINMENT = 0.6
# wordfreq needs extra tokenisers for these; unspaced scripts give no event signature anyway.
_NO_EVENT_LANGUAGES = frozenset({"ja", "zh", "ko", "und"})

_MASK = (1 << 32) - 1
_BORROW = 0x9E3779B9  # 2^32 / golden ratio: offset marking densified (empty) bins
_BIN_SHIFT = 32 - (BINS.bit_length() - 1)
# Scripts written without spaces (Han, kana, Thai) count one character as one word, so
# their shingles are character trigrams; every other script splits on non-word characters.
_UNSPACED = "\u0e00-\u0e7f\u3040-\u30ff\u31f0-\u31ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_WORD = re.compile(rf"[{_UNSPACED}]|[^\W{_UNSPACED}]+")
_HAS_UNSPACED = re.compile(rf"[{_UNSPACED}]")
_SPACED_WORD = re.compile(r"\w+")  # the same split, faster, for texts without such scripts
_TITLE_SEPARATORS = re.compile(r"\s+[|–—·•:»/-]{1,2}\s+")
_SIG = struct.Struct(f"<{BINS}I")

MatchKind = Literal["new", "url", "text", "near", "event", "lead"]
Weights = tuple[tuple[int, int], ...]  # (32-bit key hash, integer weight), heaviest first

# Query parameters that identify a campaign or a click, never the article.
_TRACKING = re.compile(
    r"^(utm_\w+|fbclid|gclid|dclid|gclsrc|msclkid|mc_cid|mc_eid|igshid|ocid|cmpid|smid|"
    r"ref_src|ref_url|_ga|_gl|yclid|twclid|li_fat_id|s_cid|ncid|sr_share|at_\w+)$",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Fingerprint:
    """What the story index needs of one article."""

    content_hash: str
    url_key: str
    minhash: tuple[int, ...] = ()
    bands: tuple[str, ...] = ()
    anchors: tuple[str, ...] = ()
    size: int = 0  # distinct shingles
    event_terms: Weights = ()  # content-word hashes and weights (event tier)
    event_entities: Weights = ()  # entity-id hashes and salience weights (event tier)
    event_keys: tuple[str, ...] = ()  # posting keys for event candidates
    lead_terms: Weights = ()  # headline-word hashes and rarity weights (headline tier)

    @property
    def near_eligible(self) -> bool:
        """Whether the text is long enough for near-duplicate matching."""
        return self.size >= MIN_NEAR_SHINGLES and len(self.minhash) == BINS

    @property
    def event_eligible(self) -> bool:
        """Whether the article can join a story as another report of the same event."""
        return (
            self.near_eligible
            and self.size >= EVENT_MIN_SHINGLES
            and len(self.event_terms) >= EVENT_MIN_TERMS
            and bool(self.event_entities)
        )

    @property
    def brief(self) -> bool:
        """Whether the text is a brief (a flash, a headline): too short for the event tier."""
        return self.size < BRIEF_MAX_SHINGLES

    @property
    def lead_eligible(self) -> bool:
        """Whether the article takes part in the headline tier at all."""
        return len(self.lead_terms) >= LEAD_MIN_SHARED

    @property
    def lead_keys(self) -> tuple[str, ...]:
        """The posting keys the article is filed under: every word of a brief (``f``), the
        ``LEAD_INDEX_TERMS`` rarest of a longer article's lead (``l``)."""
        if not self.lead_eligible:
            return ()
        if self.brief:
            return tuple(f"f{h:08x}" for h, _ in self.lead_terms)
        return tuple(f"l{h:08x}" for h, _ in self.lead_terms[:LEAD_INDEX_TERMS])

    @property
    def lead_lookup(self) -> tuple[str, ...]:
        """The posting keys searched for headline candidates: a brief searches briefs and
        articles, a longer article only briefs (two articles never join on headlines)."""
        if not self.lead_eligible:
            return ()
        briefs = tuple(f"f{h:08x}" for h, _ in self.lead_terms)
        if not self.brief:
            return briefs
        return briefs + tuple(f"l{h:08x}" for h, _ in self.lead_terms)


class EntityLike(Protocol):
    """What the event tier reads of an entity (``pipeline.models.Entity`` fits)."""

    @property
    def id(self) -> str: ...

    @property
    def salience(self) -> float: ...


@dataclass(frozen=True)
class Assignment:
    """The story index's answer for one article.

    ``duplicate_of`` is the id of the first copy when this one is an exact duplicate
    (same canonical URL or same normalised text) of a different record; ``match`` says how
    the story was found (``event``: another report of the same event, by the event tier),
    ``similarity`` the verified score (1.0 for exact, 0.0 for new, the term cosine for event).
    """

    story_id: str
    duplicate_of: str | None = None
    match: MatchKind = "new"
    similarity: float = 0.0


@dataclass(frozen=True)
class Match:
    """The verdict of comparing two signatures."""

    jaccard: float
    containment: float
    accepted: bool

    @property
    def score(self) -> float:
        return max(self.jaccard, self.containment if self.accepted else 0.0)


@dataclass(frozen=True)
class EventMatch:
    """The verdict of comparing two event signatures."""

    cosine: float  # of the content-word vectors
    entities: float  # salience-weighted Jaccard of the entity sets
    accepted: bool


def domain_of(url: str) -> str | None:
    """Return the URL's host without a leading ``www.``, or None when it has none."""
    try:
        host = urlsplit(url.strip()).hostname
    except ValueError:
        return None
    if not host:
        return None
    return host[4:] if host.startswith("www.") else host


def canonical_url(url: str) -> str:
    """Return the URL reduced to what identifies the page.

    Scheme, ``www.``/``m.``/``amp.`` host prefixes, default ports, fragments, tracking
    parameters (``utm_*``, ``fbclid``, ...), parameter order and a trailing slash all vary
    between re-crawls of one page, so none of them is kept. A URL that cannot be parsed is
    kept whole (stripped and lower-cased) rather than rejected.
    """
    raw = url.strip()
    try:
        parts = urlsplit(raw)
        host = (parts.hostname or "").lower().rstrip(".")
        port = parts.port
    except ValueError:
        return raw.lower()
    for prefix in ("www.", "m.", "amp."):
        if host.startswith(prefix) and host.count(".") >= 2:
            host = host[len(prefix) :]
            break
    if port and port not in (80, 443):
        host = f"{host}:{port}"
    path = parts.path.rstrip("/")
    query = sorted(
        (k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if not _TRACKING.match(k)
    )
    return f"{host}{path}" + (f"?{urlencode(query)}" if query else "")


def url_id(url: str) -> str:
    """Derive a stable article id from a URL (its canonical form, hashed)."""
    return (
        "a_" + hashlib.sha256(canonical_url(url).encode("utf-8", "surrogatepass")).hexdigest()[:24]
    )


def normalise(text: str) -> list[str]:
    """Split ``text`` into case-folded word tokens after Unicode compatibility folding.

    Why: re-crawls differ in whitespace, punctuation, quotes and case, none of which
    changes the story. Letters and digits of every script are kept; scripts written
    without spaces yield one token per character.
    """
    folded = unicodedata.normalize("NFKC", text).casefold()
    return (_WORD if _HAS_UNSPACED.search(folded) else _SPACED_WORD).findall(folded)


def _shingle_hashes(tokens: list[str]) -> set[int]:
    """Hash every distinct word 3-shingle to 32 bits.

    crc32 runs in C and is the same everywhere; as a MinHash base it estimates Jaccard as
    well as a cryptographic hash on this data (bias under 0.004, spread 0.04 at 128 bins,
    the theoretical spread) at a third of the cost.
    """
    words = tokens[:MAX_TOKENS]
    if len(words) < SHINGLE:
        return {zlib.crc32(" ".join(words).encode("utf-8", "surrogatepass"))} if words else set()
    crc = zlib.crc32
    grams = zip(*(words[i:] for i in range(SHINGLE)), strict=False)
    return {crc(s.encode("utf-8", "surrogatepass")) for s in map(" ".join, grams)}


def _signature(distinct: set[int]) -> tuple[int, ...]:
    if not distinct:
        return ()
    hashes = sorted(distinct, reverse=True)
    # Later (smaller) values overwrite earlier ones: each bin keeps its minimum.
    filled = dict(zip([h >> _BIN_SHIFT for h in hashes], hashes, strict=True))
    sig = [filled.get(b, -1) for b in range(BINS)]
    if len(filled) < BINS:
        # Rotation densification: an empty bin borrows the next filled bin's value, marked
        # with its distance, so two texts agree on it exactly when they agree on the source.
        for b in range(BINS):
            if sig[b] < 0:
                dist = 1
                while (b + dist) % BINS not in filled:
                    dist += 1
                sig[b] = (filled[(b + dist) % BINS] + dist * _BORROW) & _MASK
    return tuple(sig)


def _bands(sig: tuple[int, ...]) -> tuple[str, ...]:
    out = []
    for i in range(0, len(sig), ROWS):
        digest = hashlib.blake2b(
            struct.pack(f"<H{ROWS}I", i // ROWS, *sig[i : i + ROWS]), digest_size=8
        )
        out.append(digest.hexdigest())
    return tuple(out)


def _anchors(hashes: Iterable[int]) -> tuple[str, ...]:
    # Bits 8..12: independent of the bin (the top bits).
    mask = (1 << ANCHOR_BITS) - 1
    sampled = sorted(h for h in hashes if (h >> 8) & mask == 0)[:MAX_ANCHORS]
    return tuple(f"{h:08x}" for h in sampled)


# Languages whose words wordfreq lists under another code (Serbo-Croatian, Filipino).
_WORDFREQ_LISTS = {"hr": "sh", "bs": "sh", "sr": "sh", "tl": "fil"}
# The word store's list for each language it covers (the headline tier's rarity).
_WORD_LIST_OF = {code: name for name, codes in LIST_LANGUAGES.items() for code in codes}


@lru_cache(maxsize=8)
def _zipf_table(language: str) -> dict[str, float]:
    """Return Zipf frequencies (log10 per billion words) of the language's common words.

    Only words of Zipf 2 and above are kept (about 100k for English, 12 MB instead of the
    full list's 37 MB per language and process); a rarer word counts as unknown, i.e. as
    rare as a word can be. Empty for a language wordfreq has no list for. wordfreq is
    imported here: it takes half a second, and only the event tier needs it.
    """
    import wordfreq

    # wordfreq answers a language it lacks with its "nearest match" (English for Yoruba),
    # whose frequencies would call every Yoruba word rare: only its own lists count.
    code = _WORDFREQ_LISTS.get(language, language)
    if code not in wordfreq.available_languages("best"):
        return {}
    try:
        freq = wordfreq.get_frequency_dict(code)
    except (LookupError, ValueError):
        return {}
    table = {}
    for word, f in freq.items():
        z = math.log10(f * 1e9)
        if z >= MIN_ZIPF:
            table[word] = z
    return table


def _hash_key(value: str) -> int:
    return zlib.crc32(value.encode("utf-8", "surrogatepass"))


def _event_terms(tokens: list[str], language: str) -> Weights:
    """Weight content words by (1 + ln tf) x rarity and keep the ``EVENT_TERMS`` heaviest.

    Rarity is ``ZIPF_CEILING`` minus the word's Zipf frequency in the language (a word the
    list does not know is as rare as it gets), so function words and everyday news words
    weigh nothing and names, places and topic words dominate. L2-normalised, then scaled to
    integers.
    """
    zipf = _zipf_table(language)
    if not zipf:
        return ()
    counts = Counter(t for t in tokens[:MAX_TOKENS] if len(t) >= 3 and not t.isdigit())
    weights: dict[str, float] = {}
    for term, n in counts.items():
        rarity = ZIPF_CEILING - zipf.get(term, 0.0)
        if rarity > 0:
            weights[term] = (1.0 + math.log(n)) * rarity
    top = sorted(weights.items(), key=lambda kv: (-kv[1], kv[0]))[:EVENT_TERMS]
    norm = math.sqrt(sum(w * w for _, w in top)) or 1.0
    out: dict[int, int] = {}
    for term, w in top:
        q = round(w / norm * WEIGHT_SCALE)
        if q > 0:
            key = _hash_key(term)
            out[key] = out.get(key, 0) + q
    return tuple(sorted(out.items(), key=lambda kv: (-kv[1], kv[0])))


def headline_of(title: str) -> str:
    """Return ``title`` without the short trailing segments that name the site or section.

    "Sweden drops rape investigation - BBC News" and "Classement | Autoracing | F1 | Indy"
    end in furniture that every headline of the outlet shares; two of its flashes must
    not be one story by that. Trailing segments of at most ``SITE_SEGMENT_WORDS`` words
    after a spaced separator go while another segment remains.
    """
    parts = _TITLE_SEPARATORS.split(title)
    while len(parts) > 1 and len(_SPACED_WORD.findall(parts[-1])) <= SITE_SEGMENT_WORDS:
        parts.pop()
    return " - ".join(parts)


def _lead_words(text: str, title: str | None, tokens: list[str]) -> tuple[list[str], list[str]]:
    """Return the words of the headline (without site furniture) and those of the lead."""
    if not title:
        return [], tokens[:LEAD_WORDS]
    body = normalise(text[len(title) :]) if text.startswith(title) else tokens
    return normalise(headline_of(title)), body[:LEAD_WORDS]


def _lead_terms(head: list[str], lead: list[str], language: str) -> Weights:
    """Weight the distinct content words of a headline and lead by rarity alone.

    No term frequency and no normalisation: a word weighs the same in a flash and in the
    article it announces (same language), so shared weight compares directly. Rarity as in
    ``_event_terms``, but read from the word store language detection already holds
    (``pipeline.language.words``: every list in one array, a few microseconds a word)
    rather than a per-language table: every brief needs it, in whatever language it comes,
    and loading a table costs up to a second. Every headline word is kept (a flash is
    another outlet's headline), then the rarest lead words, ``LEAD_TERMS`` in all; headline
    words come first, so a longer article is posted under them.
    """
    name = _WORD_LIST_OF.get(language)
    if name is None:
        return ()
    evidence = get_word_evidence()

    def weighed(words: list[str], seen: set[int]) -> list[tuple[int, int]]:
        weights: dict[str, int] = {}
        for term in words:
            if term in weights or len(term) < 3 or term.isdigit():
                continue
            bucket = evidence.buckets(term).get(name)
            # bucket b holds words of frequency 10 ** (-b / 100): Zipf 9 - b / 100
            rarity = ZIPF_CEILING - (9 - bucket / 100 if bucket is not None else 0.0)
            if rarity > 0:
                weights[term] = round(rarity * WEIGHT_SCALE)
        out: list[tuple[int, int]] = []
        for term, w in sorted(weights.items(), key=lambda kv: (-kv[1], kv[0])):
            key = _hash_key(term)
            if key not in seen:
                seen.add(key)
                out.append((key, w))
        return out

    seen: set[int] = set()
    first = weighed(head, seen)[:LEAD_TERMS]
    return tuple(first + weighed(lead, seen)[: LEAD_TERMS - len(first)])


def _event_entities(entities: Sequence[EntityLike]) -> Weights:
    """Keep the ``EVENT_ENTITIES`` most salient entities as (id hash, salience x 1000)."""
    best: dict[int, int] = {}
    for entity in entities:
        if entity.salience < EVENT_MIN_SALIENCE or not entity.id:
            continue
        key, weight = _hash_key(entity.id), max(1, round(entity.salience * WEIGHT_SCALE))
        best[key] = max(best.get(key, 0), weight)
    return tuple(sorted(best.items(), key=lambda kv: (-kv[1], kv[0]))[:EVENT_ENTITIES])


def _event_keys(terms: Weights, entities: Weights) -> tuple[str, ...]:
    return (
        *(f"e{h:08x}" for h, _ in entities[:EVENT_KEY_ENTITIES]),
        *(f"t{h:08x}" for h, _ in terms[:EVENT_KEY_TERMS]),
    )


def fingerprint(
    text: str,
    *,
    title: str | None = None,
    url: str = "",
    entities: Sequence[EntityLike] | None = None,
    language: str | None = None,
) -> Fingerprint:
    """Compute the exact, near-duplicate, event and headline fingerprint of one article.

    ``title`` is only part of the headline signature: outlets retitle syndicated copies,
    and the body is what makes two articles one story, but a flash is its headline. ``url``
    gives the exact re-crawl key. ``entities`` (the record's linked entities) and
    ``language`` (ISO 639-1; None means English) add the event signature; without entities,
    or in a language without a word-frequency list, the article is matched by the exact
    and MinHash tiers only (and, without the list, not by its headline either).
    """
    tokens = normalise(text)
    lang = (language or "en").lower()
    lead: Weights = ()
    if lang not in _NO_EVENT_LANGUAGES:
        lead = _lead_terms(*_lead_words(text, title, tokens), lang)
    content_hash = hashlib.sha256(" ".join(tokens).encode("utf-8", "surrogatepass")).hexdigest()[
        :32
    ]
    url_key = (
        hashlib.sha256(canonical_url(url).encode("utf-8", "surrogatepass")).hexdigest()[:32]
        if url.strip()
        else ""
    )
    hashes = _shingle_hashes(tokens)
    size = len(hashes)
    sig = _signature(hashes)
    if size < MIN_NEAR_SHINGLES:
        return Fingerprint(
            content_hash=content_hash, url_key=url_key, minhash=sig, size=size, lead_terms=lead
        )
    terms: Weights = ()
    ents: Weights = ()
    if entities and lang not in _NO_EVENT_LANGUAGES:
        ents = _event_entities(entities)
        terms = _event_terms(tokens, lang) if ents else ()
        if len(terms) < EVENT_MIN_TERMS:
            terms, ents = (), ()
    return Fingerprint(
        content_hash=content_hash,
        url_key=url_key,
        minhash=sig,
        bands=_bands(sig),
        anchors=_anchors(hashes),
        size=size,
        event_terms=terms,
        event_entities=ents,
        event_keys=_event_keys(terms, ents) if terms else (),
        lead_terms=lead,
    )


def pack_signature(sig: tuple[int, ...]) -> bytes:
    """Serialise a signature as fixed-width little-endian bytes (what Redis stores)."""
    return _SIG.pack(*sig)


def unpack_signature(data: bytes) -> tuple[int, ...]:
    """Inverse of ``pack_signature``."""
    return tuple(_SIG.unpack(data))


def similar(
    a: tuple[int, ...],
    a_size: int,
    b: tuple[int, ...],
    b_size: int,
    *,
    threshold: float,
    containment: float = DEFAULT_CONTAINMENT,
) -> Match:
    """Estimate Jaccard and containment of two signed texts and decide if they are one story.

    Containment of the shorter text in the longer is estimated from Jaccard and the two
    set sizes: |A n B| = J (|A| + |B|) / (1 + J); it counts only with ``MIN_AGREE`` agreeing
    bins, so a copy shorter than about a tenth of the original is not recognised.
    """
    if len(a) != BINS or len(b) != BINS or min(a_size, b_size) < MIN_NEAR_SHINGLES:
        return Match(0.0, 0.0, False)
    agree = sum(1 for x, y in zip(a, b, strict=True) if x == y)
    jac = agree / BINS
    inter = jac * (a_size + b_size) / (1.0 + jac)
    cont = min(1.0, inter / min(a_size, b_size))
    return Match(jac, cont, jac >= threshold or (cont >= containment and agree >= MIN_AGREE))


def decide(
    fp: Fingerprint,
    candidates: Iterable[tuple[str, tuple[int, ...], int]],
    *,
    threshold: float,
    containment: float = DEFAULT_CONTAINMENT,
) -> tuple[str, float] | None:
    """Return the best accepted candidate ``(story_id, score)``, or None.

    Ties go to the smaller story id so every process decides alike.
    """
    best: tuple[str, float] | None = None
    for story_id, sig, size in candidates:
        m = similar(fp.minhash, fp.size, sig, size, threshold=threshold, containment=containment)
        if not m.accepted:
            continue
        if best is None or m.score > best[1] or (m.score == best[1] and story_id < best[0]):
            best = (story_id, m.score)
    return best


def encode_weights(weights: Weights) -> str:
    """Serialise an event vector as ``"hash:weight hash:weight ..."`` (what Redis stores)."""
    return " ".join(f"{h}:{w}" for h, w in weights)


def decode_weights(data: str) -> Weights:
    """Inverse of ``encode_weights``."""
    out = []
    for pair in data.split():
        h, _, w = pair.partition(":")
        out.append((int(h), int(w)))
    return tuple(out)


def event_similar(
    a_terms: Weights,
    a_entities: Weights,
    b_terms: Weights,
    b_entities: Weights,
    *,
    cosine: float,
    entities: float,
) -> EventMatch:
    """Decide whether two event signatures report one event: both scores above threshold.

    Why both: different stories of one company or one person share their entities, and
    one site's different articles share their vocabulary; reports of one event share both.
    The arithmetic (integer sums, one square root, one division) is mirrored in the Lua
    script, so both indexes get bit-identical scores.
    """
    if not (a_terms and b_terms and a_entities and b_entities):
        return EventMatch(0.0, 0.0, False)
    bt = dict(b_terms)
    dot = sum(w * bt.get(h, 0) for h, w in a_terms)
    na = sum(w * w for _, w in a_terms)
    nb = sum(w * w for _, w in b_terms)
    cos = dot / math.sqrt(na * nb) if dot else 0.0
    be = dict(b_entities)
    inter = sum(min(w, be[h]) for h, w in a_entities if h in be)
    union = sum(w for _, w in a_entities) + sum(w for _, w in b_entities) - inter
    jac = inter / union if union else 0.0
    return EventMatch(cos, jac, cos >= cosine and jac >= entities)


def decide_event(
    fp: Fingerprint,
    candidates: Iterable[tuple[str, Weights, Weights]],
    *,
    cosine: float,
    entities: float,
) -> tuple[str, float] | None:
    """Return the best accepted event candidate ``(story_id, term cosine)``, or None.

    Ties go to the smaller story id so every process decides alike.
    """
    best: tuple[str, float] | None = None
    for story_id, terms, ents in candidates:
        m = event_similar(
            fp.event_terms, fp.event_entities, terms, ents, cosine=cosine, entities=entities
        )
        if not m.accepted:
            continue
        if best is None or m.cosine > best[1] or (m.cosine == best[1] and story_id < best[0]):
            best = (story_id, m.cosine)
    return best


def lead_similar(
    a: Weights, a_brief: bool, b: Weights, b_brief: bool, *, containment: float
) -> tuple[float, bool]:
    """Return the headline score of two signatures and whether they are one story.

    The score is the shared weight (the smaller of the two weights of each shared word)
    over the brief's total weight: a flash's words inside an article's headline and lead
    score 1. Between two briefs it is over the heavier total, so both must be mostly the
    same words: a brief that is little more than an outlet's furniture ("Breaking news,
    live updates") must not swallow every other brief carrying the same furniture.
    Accepted when at least one side is a brief, at least ``LEAD_MIN_SHARED`` words are
    shared and the score reaches ``containment``. The arithmetic (integer sums, one
    division) is mirrored in the Lua script.
    """
    if not (a_brief or b_brief) or len(a) < LEAD_MIN_SHARED or len(b) < LEAD_MIN_SHARED:
        return 0.0, False
    bw = dict(b)
    shared = [min(w, bw[h]) for h, w in a if h in bw]
    a_total, b_total = sum(w for _, w in a), sum(w for _, w in b)
    if a_brief and b_brief:
        total = max(a_total, b_total)
    else:
        total = a_total if a_brief else b_total
    score = sum(shared) / total if total else 0.0
    return score, len(shared) >= LEAD_MIN_SHARED and score >= containment


def decide_lead(
    fp: Fingerprint,
    candidates: Iterable[tuple[str, Weights, bool]],
    *,
    containment: float,
) -> tuple[str, float] | None:
    """Return the best accepted headline candidate ``(story_id, containment)``, or None.

    Candidates are story members' ``(story id, lead terms, brief)``. Ties go to the smaller
    story id so every process decides alike.
    """
    best: tuple[str, float] | None = None
    for story_id, terms, brief in candidates:
        score, accepted = lead_similar(
            fp.lead_terms, fp.brief, terms, brief, containment=containment
        )
        if not accepted:
            continue
        if best is None or score > best[1] or (score == best[1] and story_id < best[0]):
            best = (story_id, score)
    return best


def story_id_for(fp: Fingerprint) -> str:
    """Name a new story after its founding article's normalised text (deterministic)."""
    return "s_" + fp.content_hash[:24]


@dataclass(frozen=True)
class _Member:
    sig: tuple[int, ...]
    size: int
    terms: Weights = ()
    entities: Weights = ()
    lead: Weights = ()


@dataclass
class _Story:
    members: list[_Member]  # up to MAX_MEMBERS, the founder first
    expires: datetime


def _member(fp: Fingerprint) -> _Member:
    lead = fp.lead_terms if fp.lead_eligible else ()
    sig = fp.minhash if fp.near_eligible else ()
    if fp.event_eligible:
        return _Member(sig, fp.size, fp.event_terms, fp.event_entities, lead)
    return _Member(sig, fp.size, lead=lead)


@dataclass
class MemoryStoryIndex:
    """An in-process story index (``wirewatch process``, unit tests and evaluations).

    Same decision rule as the Redis index. A story accepts copies for ``window`` after its
    first article; exact keys live for ``window`` after the copy that set them. Expired
    entries are ignored, and dropped every ``PRUNE_EVERY`` assignments so a long backfill
    holds only one window's worth.
    """

    PRUNE_EVERY = 10_000

    threshold: float = 0.4
    containment: float = DEFAULT_CONTAINMENT
    window: timedelta = timedelta(hours=72)
    event_cosine: float = DEFAULT_EVENT_COSINE
    event_entities: float = DEFAULT_EVENT_ENTITIES
    lead_containment: float = DEFAULT_LEAD_CONTAINMENT
    _exact: dict[str, tuple[str, str, datetime]] = field(default_factory=dict)
    _stories: dict[str, _Story] = field(default_factory=dict)
    _keys: dict[str, set[str]] = field(default_factory=dict)
    _events: dict[str, set[str]] = field(default_factory=dict)
    _leads: dict[str, set[str]] = field(default_factory=dict)
    _assigned: int = 0

    def assign(self, record_id: str, fp: Fingerprint, at: datetime) -> Assignment:
        """Return the story of ``fp`` seen at ``at``, creating one when nothing matches."""
        self._assigned += 1
        if self._assigned % self.PRUNE_EVERY == 0:
            self.prune(at)
        exact_keys: tuple[tuple[MatchKind, str], ...] = (
            ("url", "u:" + fp.url_key),
            ("text", "h:" + fp.content_hash),
        )
        for exact, key in exact_keys:
            if key == "u:":
                continue
            hit = self._exact.get(key)
            if hit is not None and hit[2] > at:
                story_id, first, _ = hit
                self._remember(fp, story_id, first, at)
                return Assignment(story_id, first if first != record_id else None, exact, 1.0)
        found = decide(
            fp, self._candidates(fp, at), threshold=self.threshold, containment=self.containment
        )
        kind: MatchKind = "near"
        if found is None and fp.event_eligible:
            found = decide_event(
                fp,
                self._event_candidates(fp, at),
                cosine=self.event_cosine,
                entities=self.event_entities,
            )
            kind = "event"
        if found is None and fp.lead_eligible:
            found = decide_lead(
                fp, self._lead_candidates(fp, at), containment=self.lead_containment
            )
            kind = "lead"
        if found is not None:
            self._remember(fp, found[0], record_id, at)
            story = self._stories[found[0]]
            if len(story.members) < MAX_MEMBERS:
                story.members.append(_member(fp))
                self._index(fp, found[0])
            return Assignment(found[0], None, kind, round(found[1], 4))
        story_id = story_id_for(fp)
        self._remember(fp, story_id, record_id, at)
        if fp.near_eligible or fp.lead_eligible:
            self._stories[story_id] = _Story([_member(fp)], at + self.window)
            self._index(fp, story_id)
        return Assignment(story_id)

    def prune(self, at: datetime) -> None:
        """Drop every entry that has expired by ``at``."""
        self._exact = {k: v for k, v in self._exact.items() if v[2] > at}
        self._stories = {k: v for k, v in self._stories.items() if v.expires > at}
        live = self._stories.keys()
        for name in ("_keys", "_events", "_leads"):
            pruned = {k: {s for s in v if s in live} for k, v in getattr(self, name).items()}
            setattr(self, name, {k: v for k, v in pruned.items() if v})

    def _index(self, fp: Fingerprint, story_id: str) -> None:
        for key in (*("b:" + b for b in fp.bands), *("a:" + a for a in fp.anchors)):
            self._keys.setdefault(key, set()).add(story_id)
        if fp.event_eligible:
            for key in fp.event_keys:
                self._events.setdefault(key, set()).add(story_id)
        for key in fp.lead_keys:
            self._leads.setdefault(key, set()).add(story_id)

    def _remember(self, fp: Fingerprint, story_id: str, record_id: str, at: datetime) -> None:
        for key in ("u:" + fp.url_key, "h:" + fp.content_hash):
            if key != "u:" and (key not in self._exact or self._exact[key][2] <= at):
                self._exact[key] = (story_id, record_id, at + self.window)

    def _ranked(
        self, postings: dict[str, set[str]], keys: Iterable[str], limit: int, at: datetime
    ) -> list[str]:
        counts: dict[str, int] = {}
        for key in keys:
            members = postings.get(key)
            if not members or len(members) > limit:
                continue
            for story_id in list(members):
                story = self._stories.get(story_id)
                if story is None or story.expires <= at:
                    members.discard(story_id)
                    continue
                counts[story_id] = counts.get(story_id, 0) + 1
        return sorted(counts, key=lambda s: (-counts[s], s))[:MAX_CANDIDATES]

    def _candidates(self, fp: Fingerprint, at: datetime) -> list[tuple[str, tuple[int, ...], int]]:
        if not fp.near_eligible:
            return []
        keys = (*("b:" + b for b in fp.bands), *("a:" + a for a in fp.anchors))
        ranked = self._ranked(self._keys, keys, ANCHOR_MAX_STORIES, at)
        return [(s, m.sig, m.size) for s in ranked for m in self._stories[s].members]

    def _event_candidates(
        self, fp: Fingerprint, at: datetime
    ) -> list[tuple[str, Weights, Weights]]:
        ranked = self._ranked(self._events, fp.event_keys, EVENT_KEY_MAX_STORIES, at)
        return [
            (s, m.terms, m.entities) for s in ranked for m in self._stories[s].members if m.terms
        ]

    def _lead_candidates(self, fp: Fingerprint, at: datetime) -> list[tuple[str, Weights, bool]]:
        ranked = self._ranked(self._leads, fp.lead_lookup, LEAD_KEY_MAX_STORIES, at)
        return [
            (s, m.lead, m.size < BRIEF_MAX_SHINGLES)
            for s in ranked
            for m in self._stories[s].members
            if m.lead
        ]
