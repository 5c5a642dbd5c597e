"""Exact and near-duplicate detection: fingerprints and story grouping.

An article's ``Fingerprint`` carries three things:

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

Everything is computed from ``zlib.crc32`` and ``hashlib``, never from ``hash()``, so the
same text gives the same fingerprint in every process and on every machine.

The story index (``MemoryStoryIndex`` here, ``workers.stories.RedisStoryIndex`` on Redis)
looks the candidates up and verifies each with ``similar``: estimated Jaccard at least the
threshold, or estimated containment of the shorter text at least the containment threshold.
Both indexes implement one decision rule, ``decide``. Two outlets' own reports of one
event share few shingles and are deliberately not grouped (see docs/decisions.md).
"""

from __future__ import annotations

import hashlib
import re
import struct
import unicodedata
import zlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Literal
from urllib.parse import parse_qsl, urlencode, urlsplit

__all__ = [
    "ANCHOR_MAX_STORIES",
    "BINS",
    "MAX_ANCHORS",
    "MAX_CANDIDATES",
    "MAX_MEMBERS",
    "MIN_AGREE",
    "MIN_NEAR_SHINGLES",
    "Assignment",
    "Fingerprint",
    "Match",
    "MemoryStoryIndex",
    "canonical_url",
    "decide",
    "domain_of",
    "fingerprint",
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

_MASK = (1 << 32) - 1
_BORROW = 0x9E3779B9  # 2^32 / golden ratio: offset marking densified (empty) bins
_BIN_SHIFT = 32 - (BINS.bit_length() - 1)
# Scripts written without spaces (Han, kana, Thai) count one character as one word, so
# their shingles are character trigrams; every other script splits on non-word characters.
_UNSPACED = "\u0e00-\u0e7f\u3040-\u30ff\u31f0-\u31ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_WORD = re.compile(rf"[{_UNSPACED}]|[^\W{_UNSPACED}]+")
_HAS_UNSPACED = re.compile(rf"[{_UNSPACED}]")
_SPACED_WORD = re.compile(r"\w+")  # the same split, faster, for texts without such scripts
_SIG = struct.Struct(f"<{BINS}I")

MatchKind = Literal["new", "url", "text", "near"]

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

    @property
    def near_eligible(self) -> bool:
        """Whether the text is long enough for near-duplicate matching."""
        return self.size >= MIN_NEAR_SHINGLES and len(self.minhash) == BINS


@dataclass(frozen=True)
class Assignment:
    """The story index's answer for one article.

    ``duplicate_of`` is the id of the first copy when this one is an exact duplicate
    (same canonical URL or same normalised text) of a different record; ``match`` says how
    the story was found, ``similarity`` the verified score (1.0 for exact, 0.0 for new).
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


def fingerprint(text: str, *, title: str | None = None, url: str = "") -> Fingerprint:
    """Compute the exact and near-duplicate fingerprint of one article's cleaned text.

    ``title`` is not part of it: outlets retitle syndicated copies, and the body is what
    makes two articles one story. ``url`` gives the exact re-crawl key.
    """
    del title  # deliberately unused, see above
    tokens = normalise(text)
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
        return Fingerprint(content_hash=content_hash, url_key=url_key, minhash=sig, size=size)
    return Fingerprint(
        content_hash=content_hash,
        url_key=url_key,
        minhash=sig,
        bands=_bands(sig),
        anchors=_anchors(hashes),
        size=size,
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


def story_id_for(fp: Fingerprint) -> str:
    """Name a new story after its founding article's normalised text (deterministic)."""
    return "s_" + fp.content_hash[:24]


@dataclass
class _Story:
    members: list[tuple[tuple[int, ...], int]]  # (signature, size) of up to MAX_MEMBERS
    expires: datetime


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
    _exact: dict[str, tuple[str, str, datetime]] = field(default_factory=dict)
    _stories: dict[str, _Story] = field(default_factory=dict)
    _keys: dict[str, set[str]] = field(default_factory=dict)
    _assigned: int = 0

    def assign(self, record_id: str, fp: Fingerprint, at: datetime) -> Assignment:
        """Return the story of ``fp`` seen at ``at``, creating one when nothing matches."""
        self._assigned += 1
        if self._assigned % self.PRUNE_EVERY == 0:
            self.prune(at)
        for kind, key in (("url", "u:" + fp.url_key), ("text", "h:" + fp.content_hash)):
            if key == "u:":
                continue
            hit = self._exact.get(key)
            if hit is not None and hit[2] > at:
                story_id, first, _ = hit
                self._remember(fp, story_id, first, at)
                return Assignment(story_id, first if first != record_id else None, kind, 1.0)  # type: ignore[arg-type]
        found = decide(
            fp, self._candidates(fp, at), threshold=self.threshold, containment=self.containment
        )
        if found is not None:
            self._remember(fp, found[0], record_id, at)
            story = self._stories[found[0]]
            if len(story.members) < MAX_MEMBERS:
                story.members.append((fp.minhash, fp.size))
                self._index(fp, found[0])
            return Assignment(found[0], None, "near", round(found[1], 4))
        story_id = story_id_for(fp)
        self._remember(fp, story_id, record_id, at)
        if fp.near_eligible:
            self._stories[story_id] = _Story([(fp.minhash, fp.size)], at + self.window)
            self._index(fp, story_id)
        return Assignment(story_id)

    def prune(self, at: datetime) -> None:
        """Drop every entry that has expired by ``at``."""
        self._exact = {k: v for k, v in self._exact.items() if v[2] > at}
        self._stories = {k: v for k, v in self._stories.items() if v.expires > at}
        live = self._stories.keys()
        pruned = {k: {s for s in v if s in live} for k, v in self._keys.items()}
        self._keys = {k: v for k, v in pruned.items() if v}

    def _index(self, fp: Fingerprint, story_id: str) -> None:
        for key in (*("b:" + b for b in fp.bands), *("a:" + a for a in fp.anchors)):
            self._keys.setdefault(key, set()).add(story_id)

    def _remember(self, fp: Fingerprint, story_id: str, record_id: str, at: datetime) -> None:
        for key in ("u:" + fp.url_key, "h:" + fp.content_hash):
            if key != "u:" and (key not in self._exact or self._exact[key][2] <= at):
                self._exact[key] = (story_id, record_id, at + self.window)

    def _candidates(self, fp: Fingerprint, at: datetime) -> list[tuple[str, tuple[int, ...], int]]:
        if not fp.near_eligible:
            return []
        counts: dict[str, int] = {}
        for key in (*("b:" + b for b in fp.bands), *("a:" + a for a in fp.anchors)):
            members = self._keys.get(key)
            if not members or len(members) > ANCHOR_MAX_STORIES:
                continue
            for story_id in list(members):
                story = self._stories.get(story_id)
                if story is None or story.expires <= at:
                    members.discard(story_id)
                    continue
                counts[story_id] = counts.get(story_id, 0) + 1
        ranked = sorted(counts, key=lambda s: (-counts[s], s))[:MAX_CANDIDATES]
        return [(s, sig, size) for s in ranked for sig, size in self._stories[s].members]
