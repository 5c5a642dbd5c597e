"""Word-level language evidence from ``wordfreq``'s frequency lists.

Why: character n-gram detectors see only a dozen n-grams in a two-word title and confuse
close languages (es/pt/gl, da/nb/sv, fr/it, ...). Whether each word is a common word of a
language, and how common, is much stronger evidence there. ``wordfreq`` (already a
dependency) ships frequency lists for about 40 of the supported languages, each word in a
centibel bucket (bucket ``b`` holds words of frequency ``10 ** (-b / 100)``).

The lists are packed into one sorted ``array('Q')`` of 64-bit keys (48 bits of word hash,
the list, the bucket; about 1.7 million entries, ~14 MB) and looked up by bisection, a few
microseconds a word. They are built once per process from the wheel's files (about 1.3 s of
CPU; no cache, no download), one list at a time so that the transient Python strings never
pile up. Python's ``hash`` is salted per process, which is fine because the keys never
leave the process.

``WordEvidence.log_frequencies`` returns, per list, the summed natural-log frequency of the
text's words, with words missing from a list scored at the list's floor; the caller turns
that into a score relative to languages without a list (see ``pipeline.language``).
"""

from __future__ import annotations

import bisect
import math
import threading
import unicodedata
from array import array

__all__ = ["MAX_WORDS", "WordEvidence", "get_word_evidence", "words_of"]

MAX_WORDS = 24  # the first words settle it; bounds the cost of long bodies
MAX_WORD_CHARS = 40  # longer "words" are not words (URLs, hashes): skipped
# wordfreq list name -> the supported language(s) it speaks for. Serbo-Croatian is one list
# for hr/bs/sr (the Latin spelling; Serbian Cyrillic is added by transliteration).
LIST_LANGUAGES: dict[str, tuple[str, ...]] = {
    "ar": ("ar",),
    "bg": ("bg",),
    "bn": ("bn",),
    "ca": ("ca",),
    "cs": ("cs",),
    "da": ("da",),
    "de": ("de",),
    "el": ("el",),
    "en": ("en",),
    "es": ("es",),
    "fa": ("fa",),
    "fi": ("fi",),
    "fil": ("tl",),
    "fr": ("fr",),
    "he": ("he",),
    "hi": ("hi",),
    "hu": ("hu",),
    "id": ("id",),
    "is": ("is",),
    "it": ("it",),
    "lt": ("lt",),
    "lv": ("lv",),
    "mk": ("mk",),
    "ms": ("ms",),
    "nb": ("nb",),
    "nl": ("nl",),
    "pl": ("pl",),
    "pt": ("pt",),
    "ro": ("ro",),
    "ru": ("ru",),
    "sh": ("hr", "bs", "sr"),
    "sk": ("sk",),
    "sl": ("sl",),
    "sv": ("sv",),
    "ta": ("ta",),
    "tr": ("tr",),
    "uk": ("uk",),
    "ur": ("ur",),
    "vi": ("vi",),
}
_CENTIBEL_TO_LN = -math.log(10) / 100  # bucket b holds words of frequency 10 ** (-b / 100)
_HASH_MASK = (1 << 48) - 1  # 48 bits of hash: a false match about once in 10 ** 8 look-ups
_MAX_BUCKET = 1023  # 10 bits in a key
# Punctuation, symbols, digits, spaces and controls (Latin-1 to General Punctuation) are
# stripped from both ends of a whitespace-separated token; apostrophes are kept.
_EDGE = "".join(
    chr(c)
    for c in range(0x2070)
    if unicodedata.category(chr(c))[0] in "PSNZC" and chr(c) not in "'"
)
_APOSTROPHES = str.maketrans({"\u2019": "'", "\u02bc": "'"})
_SERBIAN_DIGRAPHS = {"lj": "љ", "nj": "њ", "dž": "џ"}
_SERBIAN_LETTERS = dict(
    zip(
        "abvgdđežzijklmnoprstćufhcčš",
        "абвгдђежзијклмнопрстћуфхцчш",
        strict=True,
    )
)


def words_of(text: str, limit: int = MAX_WORDS) -> list[str]:
    """Return up to ``limit`` normalised words of ``text`` as wordfreq spells them.

    NFC, case-folded, punctuation and digits trimmed from the ends; a token with an
    apostrophe counts as its parts (``l'homme`` -> ``l``, ``homme``), as in wordfreq's lists.
    """
    out: list[str] = []
    for raw in text.split():
        token = raw.strip(_EDGE)
        if not token or len(token) > MAX_WORD_CHARS:
            continue
        token = unicodedata.normalize("NFC", token).casefold().translate(_APOSTROPHES)
        parts = token.split("'") if "'" in token else (token,)
        for part in parts:
            if part and not part.isdigit():
                out.append(part)
                if len(out) >= limit:
                    return out
    return out


def _to_cyrillic(word: str) -> str | None:
    """Serbian Latin -> Cyrillic (one-to-one by design of the two alphabets); None if not."""
    out = []
    i = 0
    while i < len(word):
        pair = word[i : i + 2]
        if pair in _SERBIAN_DIGRAPHS:
            out.append(_SERBIAN_DIGRAPHS[pair])
            i += 2
            continue
        letter = _SERBIAN_LETTERS.get(word[i])
        if letter is None:
            return None
        out.append(letter)
        i += 1
    return "".join(out)


class WordEvidence:
    """Frequency of words in each wordfreq list, packed into one sorted array of keys.

    A key is ``hash48(word) << 16 | list << 10 | bucket``: one 64-bit integer per entry
    (about 14 MB in all), looked up by bisection.
    """

    def __init__(self, lists: dict[str, list[list[str]]] | None = None) -> None:
        """Build from ``lists`` (name -> centibel buckets), or from wordfreq's small lists.

        Only names in ``LIST_LANGUAGES`` are used.
        """
        names = [n for n in LIST_LANGUAGES if lists is None or n in lists]
        self.names: tuple[str, ...] = tuple(names)
        keys: list[int] = []
        longest = 0
        for index, name in enumerate(names):
            table = lists[name] if lists is not None else _read_list(name)
            table = table[: _MAX_BUCKET + 1]
            keys.extend(_keys(table, index, serbian=name == "sh"))
            longest = max(longest, len(table))
        keys.sort()
        self._keys = array("Q", keys)
        del keys
        # a word missing from a list is rarer than anything in it: one bucket past the last
        self.floor_bucket = max(longest, 1)

    def __len__(self) -> int:
        return len(self._keys)

    def buckets(self, word: str) -> dict[str, int]:
        """Return the centibel bucket of ``word`` (normalised) in each list that has it."""
        return {self.names[i]: b for i, b in self._entries(word)}

    def log_frequencies(self, words: list[str]) -> list[float]:
        """Return, per list in ``names`` order, the summed ln-frequency of ``words``.

        A word absent from a list counts as ``floor_bucket`` there. No words -> zeros.
        """
        totals = [float(self.floor_bucket * len(words))] * len(self.names)
        for word in words:
            for index, bucket in self._entries(word):
                totals[index] += bucket - self.floor_bucket
        return [t * _CENTIBEL_TO_LN for t in totals]

    def _entries(self, word: str) -> list[tuple[int, int]]:
        prefix = hash(word) & _HASH_MASK
        keys = self._keys
        i = bisect.bisect_left(keys, prefix << 16)
        found = []
        while i < len(keys) and keys[i] >> 16 == prefix:
            found.append(((keys[i] >> 10) & 0x3F, keys[i] & 0x3FF))
            i += 1
        return found


def _keys(table: list[list[str]], index: int, *, serbian: bool) -> list[int]:
    """Return the keys of one list's words; Serbian also in its Cyrillic spelling."""
    out = []
    for bucket, words in enumerate(table):
        tag = index << 10 | bucket
        for word in words:
            out.append((hash(word) & _HASH_MASK) << 16 | tag)
            if serbian:
                cyrillic = _to_cyrillic(word)
                if cyrillic is not None and cyrillic != word:
                    out.append((hash(cyrillic) & _HASH_MASK) << 16 | tag)
    return out


def _read_list(name: str) -> list[list[str]]:
    """Read one small wordfreq list from the installed wheel ([] if it has none).

    ``read_cBpack`` rather than ``get_frequency_list``, which would keep every list cached.
    """
    import wordfreq

    path = wordfreq.available_languages("small").get(name)
    if path is None:
        return []
    return wordfreq.read_cBpack(path)


_EVIDENCE: WordEvidence | None = None
_LOCK = threading.Lock()


def get_word_evidence() -> WordEvidence:
    """Return the process-wide word evidence, building it on first use (thread-safe)."""
    global _EVIDENCE
    if _EVIDENCE is None:
        with _LOCK:
            if _EVIDENCE is None:
                _EVIDENCE = WordEvidence()
    return _EVIDENCE
