"""Fold text into a token stream that knowledge-base keys are matched against.

Text and names go through the same folding, so matching is a plain lookup of
runs of stream words in a dict of folded keys:

- case and Latin diacritics are folded (``Kim Jŏng-Un`` -> ``kim jong un``);
- words are runs of letters/digits; spaces, hyphens, apostrophes and periods
  between words are *soft* gaps (one space in the stream), so
  ``Jong-un``/``Jong Un`` and ``North Korea's`` (-> ``north korea s``) line up;
- a comma becomes its own ``,`` token and any other punctuation, a spaced dash
  or a line break (crawler text puts headlines, captions and bylines on lines
  of their own) a ``|`` token, so a key never matches across a clause, a
  sentence or a line;
- dotted abbreviations lose their dots (``U.S.`` -> ``us``);
- middle initials between capitalised words are dropped (``Vladimir V. Putin``
  -> ``vladimir putin``), in names and in text alike.

Folding is length-preserving on the original text, so every stream token keeps
the character span of the word it came from.
"""

from __future__ import annotations

import functools
import operator
import re
import unicodedata
from dataclasses import dataclass, field
from functools import lru_cache
from itertools import accumulate
from typing import cast

__all__ = ["COMMA", "HARD", "SOFT", "TokenStream", "fold", "key_of", "keys_of", "tokenize"]

_SPLIT = re.compile(r"((?:[^\W_]\.){2,}(?![^\W_])|[^\W_]+)")
# Without a dotted abbreviation anywhere, ``_SPLIT`` splits exactly like this cheaper
# pattern (its first branch is tried only where a word starts); ``_DOTTED`` is a
# cheap pre-check (a literal first character) that is true for every abbreviation.
_WORDS = re.compile(r"([^\W_]+)")
_DOTTED = re.compile(r"\.[^\W_]\.")
# The same two patterns for text whose only letters and digits are ASCII (checked on
# its non-ASCII characters alone): an ASCII class is a third cheaper than ``[^\W_]``.
_SPLIT_ASCII = re.compile(r"((?:[a-z0-9]\.){2,}(?![a-z0-9])|[a-z0-9]+)")
_WORDS_ASCII = re.compile(r"([a-z0-9]+)")
_NON_ASCII = re.compile(r"[^\x00-\x7f]")
# A middle initial: capital + period between capitalised words. Matched from its
# period (a literal first character lets the regex engine skip ahead); the capital
# and the word before it are checked in code (a look-behind is several times slower).
_MIDDLE_INITIAL = re.compile(r"\. (?=[A-ZÀ-Þ])")
_SOFT_GAP = re.compile(r"[ \t\xa0'’‘`´.\-‐‑‒&/]*")
_SENTENCE_END = re.compile(r"[.!?:;\"“”]\s|\n")
_SPACED_DASH = re.compile(r"\s[\-–—]+\s|[–—]")


def _build_table() -> dict[int, str]:
    """Map each Latin letter with a diacritic (and typographic quotes) to one plain character."""
    table: dict[int, str] = {}
    ranges = [(0x00C0, 0x0250), (0x1E00, 0x1F00)]
    for lo, hi in ranges:
        for cp in range(lo, hi):
            char = chr(cp)
            base = "".join(
                c for c in unicodedata.normalize("NFKD", char) if not unicodedata.combining(c)
            )
            if len(base) == 1 and base != char and base.isascii():
                table[cp] = base.lower()
    for cp, repl in {
        0x0131: "i",
        0x00F8: "o",
        0x00D8: "o",
        0x0142: "l",
        0x0141: "l",
        0x0111: "d",
    }.items():
        table[cp] = repl
    return table


_TABLE = _build_table()
# Only the characters the table changes: other non-ASCII characters (quotes, dashes)
# are common in news text and would each cost a Python call.
_FOLDABLE = re.compile("[" + "".join(sorted(re.escape(chr(cp)) for cp in _TABLE)) + "]")


def fold(text: str) -> str:
    """Lower-case ``text`` and strip Latin diacritics, keeping its length."""
    lowered = text.lower()
    if len(lowered) != len(text):  # a few characters grow when lowered ("İ" -> "i̇")
        lowered = text.replace("\u0130", "I").lower()
        if len(lowered) != len(text):  # other rare growers: fold character by character
            lowered = "".join(c.lower() if len(c.lower()) == 1 else c for c in text)
    if lowered.isascii():
        return lowered
    return _FOLDABLE.sub(_fold_char, lowered)


def _fold_char(m: re.Match[str]) -> str:
    return _TABLE[ord(m.group())]


@dataclass
class TokenStream:
    """The folded stream of one text and, for each word, where it came from.

    ``words[k]`` is the folded word, ``starts[k]``/``ends[k]`` its span in the
    original text, ``gaps[k]`` the kind of gap before it (``SOFT``, ``COMMA``,
    ``HARD``), ``sentence_start[k]`` whether it opens a sentence, ``caps[k]``
    whether it is written with a capital, ``seps[k]`` the separator after it
    in the folded stream (``" "``, ``" , "``, ``" | "``; ``""`` after the last
    word). ``string`` is the words joined by their separators: keys are looked
    up as ``words[i] + seps[i] + ... + words[j]``, built word by word.
    """

    text: str
    words: list[str] = field(default_factory=list)
    starts: list[int] = field(default_factory=list)
    ends: list[int] = field(default_factory=list)
    gaps: list[int] = field(default_factory=list)
    sentence_start: list[bool] = field(default_factory=list)
    caps: list[bool] = field(default_factory=list)
    seps: list[str] = field(default_factory=list)
    firsts: str = ""  # the first character of every word, as written

    @functools.cached_property
    def string(self) -> str:
        """The folded stream: every word followed by its separator."""
        return "".join(map(operator.add, self.words, self.seps))

    def surface(self, i: int, j: int) -> str:
        """Return the original text from word ``i`` to word ``j`` inclusive."""
        return self.text[self.starts[i] : self.ends[j]]


SOFT, COMMA, HARD = 0, 1, 2
_SEPARATORS = (" ", " , ", " | ")
_Gap = tuple[int, bool, str]  # (gap kind, ends a sentence, separator in the stream)
_GAP_CACHE: dict[str, _Gap] = {" ": (0, False, " ")}


def _classify(gap: str) -> _Gap:
    """Return (gap kind, ends a sentence, separator in the stream) for a gap between words."""
    known = _GAP_CACHE.get(gap)
    if known is not None:
        return known
    ends_sentence = _SENTENCE_END.search(gap) is not None
    if "," in gap:
        kind = COMMA
    elif _SOFT_GAP.fullmatch(gap) is None or _SPACED_DASH.search(gap):
        kind = HARD
    else:
        kind = SOFT
    known = (kind, ends_sentence, _SEPARATORS[kind])
    if len(_GAP_CACHE) < 10_000:
        _GAP_CACHE[gap] = known
    return known


def _blank_initials(text: str, folded: str) -> str:
    """Blank out middle initials (``V.`` in ``Vladimir V. Putin``) in the folded text.

    Built in one join: replacing them one by one would copy the whole text per
    initial, quadratic on a long list of names.
    """
    if ". " not in text:
        return folded
    pieces: list[str] = []
    last = 0
    for m in _MIDDLE_INITIAL.finditer(text):
        s = m.start() - 1  # the initial
        if (
            s >= 3
            and ("A" <= text[s] <= "Z" or "À" <= text[s] <= "Þ")
            and text[s - 1] == " "
            and text[s - 2].isalpha()
            and text[s - 3].isalpha()
        ):
            pieces.append(folded[last:s])
            pieces.append("  ")
            last = s + 2
    if not pieces:
        return folded
    pieces.append(folded[last:])
    return "".join(pieces)


def tokenize(text: str) -> TokenStream:
    """Fold ``text`` into a ``TokenStream`` (see the module docstring for the rules)."""
    folded = _blank_initials(text, fold(text))
    dotted = "." in folded and _DOTTED.search(folded) is not None
    if folded.isascii() or _WORDS.search("".join(_NON_ASCII.findall(folded))) is None:
        # Folded text is lower case: its ASCII letters are a-z.
        parts = (_SPLIT_ASCII if dotted else _WORDS_ASCII).split(folded)
    else:
        parts = (_SPLIT if dotted else _WORDS).split(folded)
    out = TokenStream(text=text)
    count = len(parts) // 2
    if not count:
        return out
    positions = list(accumulate(map(len, parts)))
    out.starts = starts = positions[0::2][:count]
    out.ends = positions[1::2]
    words = parts[1::2]
    if dotted:
        words = [w.replace(".", "") if "." in w else w for w in words]
    out.words = words
    between = parts[2:-1:2]
    # Almost every gap is a known one; the rare new ones (None here) are classified after.
    classes = cast("list[_Gap]", list(map(_GAP_CACHE.get, between)))
    if None in classes:
        classes = [c or _classify(g) for c, g in zip(classes, between, strict=True)]
    out.gaps = [HARD, *map(_KIND, classes)]
    out.sentence_start = [True, *map(_ENDS_SENTENCE, classes)]
    # One C call picks every first character (one start gives a str, joined the same).
    out.firsts = firsts = "".join(operator.itemgetter(*starts)(text))
    out.caps = list(map(str.isupper, firsts))
    out.seps = seps = list(map(_SEPARATOR, classes))
    seps.append("")
    return out


_KIND, _ENDS_SENTENCE, _SEPARATOR = (operator.itemgetter(n) for n in range(3))
_RECORD = "\x1e"  # separates names in one batched ``keys_of`` pass


def keys_of(names: list[str]) -> list[str]:
    """Return the folded key of each name (one regex pass over all of them).

    Equivalent to ``tokenize(name).string`` per name, batched because building
    a knowledge base folds hundreds of thousands of names.
    """
    if not names:
        return []
    joined = f"\n{_RECORD}\n".join(n.replace(_RECORD, "|") for n in names)
    folded = _blank_initials(joined, fold(joined))
    parts = _SPLIT.split(folded)
    words = parts[1::2]
    if "." in folded:
        words = [w.replace(".", "") if "." in w else w for w in words]
    # The gap after each word: a separator inside a name, record marks between names.
    sep_of = _KEY_SEPARATORS.get
    seps = [sep_of(g) or _key_separator(g) for g in parts[2::2]]
    head = _RECORD * parts[0].count(_RECORD)  # leading names without any word
    keys = (head + "".join(map(operator.add, words, seps))).split(_RECORD)
    return [k.strip(" ,|") if k[:1] in " ,|" or k[-1:] in " ,|" else k for k in keys]


_KEY_SEPARATORS = {" ": " ", f"\n{_RECORD}\n": _RECORD}


def _key_separator(gap: str) -> str:
    if _RECORD in gap:
        return _RECORD * gap.count(_RECORD)
    return _classify(gap)[2] if gap else ""


@lru_cache(maxsize=65_536)
def key_of(name: str) -> str:
    """Return the folded key of a name, matched against ``TokenStream.string``.

    Cached: tagging folds the canonical names of the entities it finds, which
    repeat from article to article.
    """
    return keys_of([name])[0]
