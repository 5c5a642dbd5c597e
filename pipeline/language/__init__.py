"""Identify the language of an article (ISO 639-1 code and confidence).

A hybrid, because no single detector is both fast and accurate on short text:

1. Clean a bounded sample (title first, then the body): control characters out, whitespace
   folded, at most ``SAMPLE_CHARS`` characters. Fewer than ``MIN_LETTERS`` letters -> ``und``.
2. Word evidence (``pipeline.language.words``): ln P(word | language) from wordfreq's
   frequency lists, relative to a reference frequency that languages without a list get,
   capped at ``WORD_CAP`` words. Computed up front for a text of at most ``SHORT_WORDS``
   words (cheap there), otherwise only on the slow path.
3. Fast path: CLD2 and fastText (microseconds each). CLD2 alone decides a sentence-long
   text it is sure of, outside the languages it is known to mix up. Otherwise, when both
   name the same language,
   fastText is at least ``FAST_MIN_PROBABILITY`` sure, CLD2 calls it reliable, the language
   is not in a group of close languages the two cannot tell apart, and it agrees with the
   declared language (if any), that is the answer. For the few languages fastText's model
   lacks, CLD2's reliable answer alone stands. On a text of one or two words the fast path
   stands only if no language has more word evidence than its answer.
4. Slow path: character n-gram evidence over all 75 languages, fused with the fast
   detectors' (weights ``FASTTEXT_WEIGHT``, ``CLD2_WEIGHT``), the word evidence
   (``WORD_WEIGHT``) and the declared language as a prior (``DECLARED_PRIOR``, in nats:
   confident detection overrules it). The n-gram evidence is ``NGRAM_WEIGHT`` times the
   log-posterior of a 1- to 5-gram character model per language built from lingua's
   high-accuracy models (``pipeline.language.ngrams``: a mapped store, no lingua detector
   loaded). When the winner belongs to nb/nn, xh/zu or st/tn, the same models alone,
   restricted to the pair, re-decide on one or two words (where CLD2 and fastText only add
   noise between the pair) and join the fusion otherwise. Where the store cannot be built
   (an unknown lingua layout), lingua's own low-accuracy detector, and high accuracy for
   those pairs, take its place. Within a close group (hr/sr/bs, id/ms, nb/nn/da, ...) a
   declared language wins over the detected one; ``detected`` keeps both.

The weights and thresholds are global and were chosen on the even lines of the evaluation
data (see docs/decisions.md); nothing is tuned per item.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Iterable

from pipeline.language.backends import HIGH_ACCURACY_LANGUAGES, SUPPORTED, get_backends
from pipeline.language.words import LIST_LANGUAGES, get_word_evidence, words_of
from pipeline.models import Language

__all__ = ["MIN_LETTERS", "SAMPLE_CHARS", "detect", "normalize_code"]

SAMPLE_CHARS = 1000  # detectors saturate well before this; bounds the cost of huge bodies
MIN_LETTERS = 2  # below this nothing can be told
MIN_LETTER_SHARE = 0.5  # digits and ASCII symbols above half the text: not prose
CLD2_ALONE_MIN_CHARS = 40  # shorter text needs fastText's second opinion
CLD2_ALONE_MIN_SHARE = 90  # percent of the text CLD2 gives its top language
FAST_MIN_PROBABILITY = 0.5
FASTTEXT_WEIGHT = 0.2
CLD2_WEIGHT = 5.0
DECLARED_PRIOR = 3.0  # nats: detection must be e^3 ~ 20x more likely to overrule the publisher
# Word evidence (pipeline.language.words): ln P(word | language) from wordfreq's lists, in
# nats relative to WORD_REFERENCE, the ln-frequency a word is given in a language without a
# list; weighted by WORD_WEIGHT and counted for at most WORD_CAP words (words of one text are
# far from independent: uncapped, a sentence's words swamp the character models).
WORD_WEIGHT = 1.5
WORD_REFERENCE = -5.25 * math.log(10)  # a word of frequency 10 ** -5.25
WORD_CAP = 2
SHORT_WORDS = 2  # texts of at most this many words skip the fast paths: CLD2 and fastText
# "agree" on two words far more often than they are right
# The n-gram store (pipeline.language.ngrams): weight of its log-posterior in the fusion, and
# the close languages it re-decides alone (among themselves) on one or two words.
NGRAM_WEIGHT = 2.0
PAIR_LANGUAGES: frozenset[str] = HIGH_ACCURACY_LANGUAGES
MIXED_MIN_LETTERS = 200  # only long texts can be judged mixed
MIXED_MAX_SHARE = 40  # percent: no language covers more than this -> too mixed to say
_FLOOR = 1e-7

# Close languages that CLD2 and fastText confuse with each other even when they agree.
_GROUPS: tuple[frozenset[str], ...] = (
    frozenset({"id", "ms"}),
    frozenset({"bs", "hr", "sr"}),
    frozenset({"nb", "nn", "da"}),
    frozenset({"xh", "zu"}),
    frozenset({"st", "tn"}),
    frozenset({"hi", "mr"}),
)
_GROUP_OF: dict[str, frozenset[str]] = {code: group for group in _GROUPS for code in group}
_NEVER_FAST = frozenset({"id", "ms", "bs", "hr", "sr", "nb", "nn", "da"})
# Where CLD2 alone is not trusted even on a full sentence: the close groups, the Iberian
# and Czech/Slovak pairs, and English (CLD2's fallback guess for text it barely knows).
_CLD2_NOT_ALONE = frozenset(_GROUP_OF) | {"en", "es", "ca", "pt", "cs", "sk"}
# Languages lid.176 does not know, outside the close groups: CLD2's reliable answer stands.
_FASTTEXT_LACKS = frozenset({"lg", "mi", "sn", "ts"})

_WHITESPACE = re.compile(r"\s+")
# C0/C1 controls, surrogates (cannot be encoded, CLD2 rejects them) and private use.
_UNPRINTABLE = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff\ue000-\uf8ff\ufffe\uffff]")
_JUNK = str.maketrans("", "", "0123456789!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~")
_KANA = re.compile("[\u3040-\u30ff\u31f0-\u31ff]")
_HAN = re.compile("[\u3400-\u4dbf\u4e00-\u9fff]")

# Non-ISO-639-1 spellings of declared languages seen in HTML and feeds. Serbo-Croatian
# (sh, hbs) is left out on purpose: it does not say which of hr/sr/bs the text is.
_DECLARED_ALIASES = {
    "no": "nb",
    "nob": "nb",
    "nor": "nb",
    "nno": "nn",
    "iw": "he",
    "in": "id",
    "ji": "yi",
    "fil": "tl",
    "zho": "zh",
    "chi": "zh",
    "cmn": "zh",
    "yue": "zh",
    "zsm": "ms",
    "msa": "ms",
    "may": "ms",
    "ind": "id",
    "per": "fa",
    "pes": "fa",
    "arb": "ar",
}


@functools.lru_cache(maxsize=4096)
def normalize_code(value: str | None) -> str | None:
    """Return the ISO 639-1 code of a declared language tag, or None when unrecognised.

    Accepts BCP 47 tags (``en-US``, ``zh_Hant_TW``), any case, and ISO 639-2/3 codes
    (``eng``, ``fra``/``fre``), because publishers write all of these.
    """
    if not value or not isinstance(value, str) or len(value) > 64:
        return None
    primary = re.split(r"[-_\s.;,]", value.strip().lower(), maxsplit=1)[0]
    if not primary.isascii() or not primary.isalpha():
        return None
    primary = _DECLARED_ALIASES.get(primary, primary)
    if len(primary) == 2:
        return primary if primary in SUPPORTED else None
    if len(primary) == 3:
        import pycountry

        found = pycountry.languages.get(alpha_3=primary)
        if found is None:
            try:
                found = pycountry.languages.get(bibliographic=primary)
            except KeyError:
                found = None
        code = getattr(found, "alpha_2", None) if found is not None else None
        return code if code in SUPPORTED else None
    return None


def detect(text: str, *, title: str | None = None, declared: str | None = None) -> Language:
    """Return the language of ``title`` + ``text`` (``und`` when it cannot be told)."""
    prior = normalize_code(declared) if isinstance(declared, str) else None
    sample = _sample(title, text)
    junk = len(sample) - len(sample.translate(_JUNK))
    visible = len(sample) - sample.count(" ")
    letters = sum(map(str.isalpha, sample))
    if letters < MIN_LETTERS or junk > (1 - MIN_LETTER_SHARE) * visible:
        return Language(code="und", confidence=0.0, declared=prior, detected=None)
    backends = get_backends()
    # word evidence is cheap on a title of a few words; on a longer text only the slow
    # path needs it (counting words up to SHORT_WORDS + 1 says which case this is)
    words = words_of(sample, SHORT_WORDS + 1)
    short = len(words) <= SHORT_WORDS
    word_scores = _word_scores(words) if short else {}
    cld2 = backends.cld2(sample)
    if letters >= MIXED_MIN_LETTERS and cld2.languages and cld2.languages[0][1] < MIXED_MAX_SHARE:
        return Language(code="und", confidence=0.0, declared=prior, detected=cld2.languages[0][0])
    fast = cld2.languages[0][0] if cld2.languages else None
    # On a text of a word or two, the fast paths stand only where no language has more
    # word evidence than their answer (languages without a word list count as 0).
    skip_fast = short and (
        fast is None
        or word_scores.get(fast, 0.0) < max(0.0, max(word_scores.values(), default=0.0))
    )
    if (
        fast is not None
        and not skip_fast
        and cld2.reliable
        and len(sample) >= CLD2_ALONE_MIN_CHARS
        and cld2.languages[0][1] >= CLD2_ALONE_MIN_SHARE
        and fast not in _CLD2_NOT_ALONE
        and prior in (None, fast)
    ):
        code = _script_fix(fast, sample)
        share = cld2.languages[0][1] / 100
        return Language(code=code, confidence=_clip(share), declared=prior, detected=code)

    fasttext = backends.fasttext(sample)
    if (
        fast is not None
        and not skip_fast
        and cld2.reliable
        and fast not in _NEVER_FAST
        and prior in (None, fast)
    ):
        share = cld2.languages[0][1] / 100
        agreed: float | None = None
        if fast in _FASTTEXT_LACKS:  # fastText cannot vote: CLD2 alone
            agreed = share
        elif next(iter(fasttext), None) == fast and fasttext[fast] >= FAST_MIN_PROBABILITY:
            agreed = (fasttext[fast] + share) / 2
        if agreed is not None:
            code = _script_fix(fast, sample)
            return Language(code=code, confidence=_clip(agreed), declared=prior, detected=code)

    cld2_share = dict(cld2.languages)
    ngrams = backends.ngram_log_likelihoods(sample) if backends.store is not None else None
    char = (
        _char_scores(ngrams) if ngrams is not None else _lingua_scores(backends.lingua_low(sample))
    )
    if not short:
        word_scores = _word_scores(words_of(sample))
    ranked = _fuse(
        char,
        fasttext,
        cld2_share,
        prior,
        char.keys() | fasttext.keys() | cld2_share.keys(),
        word_scores,
    )
    if not ranked:
        return Language(code="und", confidence=0.0, declared=prior, detected=None)
    best = ranked[0][1]
    pairs = PAIR_LANGUAGES if ngrams is not None else HIGH_ACCURACY_LANGUAGES
    if best in pairs:
        group = {best} | _GROUP_OF.get(best, frozenset()) | {c for _, c in ranked[:3]}
        group &= pairs
        if len(group) > 1:
            if ngrams is not None:
                high = _pair_scores(ngrams, group)
            else:
                high = _lingua_scores(backends.lingua_high(sample, group))
            if high and short:  # the fast detectors cannot split a pair on two words
                ranked = _fuse(high, {}, {}, prior, group, {}, fast_weights=False)
            elif high:
                ranked = _fuse(high, fasttext, cld2_share, prior, group, {})
    score, code = ranked[0]
    code = _script_fix(code, sample)
    if prior is not None and prior != code and prior in _GROUP_OF.get(code, ()):
        # Text cannot separate close languages reliably (id/ms, hr/sr/bs, nb/nn/da, ...);
        # the publisher knows which one it writes.
        return Language(code=prior, confidence=0.5, declared=prior, detected=code)
    confidence = 1.0 / sum(math.exp(s - score) for s, _ in ranked[:10])
    return Language(code=code, confidence=_clip(confidence), declared=prior, detected=code)


def _word_scores(words: list[str]) -> dict[str, float]:
    """Return each listed language's word evidence in nats (unlisted languages: 0).

    ``WORD_WEIGHT`` times the summed ln-frequency of the words relative to
    ``WORD_REFERENCE``, scaled down to ``WORD_CAP`` words.
    """
    if not words:
        return {}
    evidence = get_word_evidence()
    totals = evidence.log_frequencies(words)
    scale = WORD_WEIGHT * min(1.0, WORD_CAP / len(words))
    offset = len(words) * WORD_REFERENCE
    scores: dict[str, float] = {}
    for name, total in zip(evidence.names, totals, strict=True):
        for code in LIST_LANGUAGES[name]:
            scores[code] = scale * (total - offset)
    return scores


def _char_scores(log_likelihoods: dict[str, float]) -> dict[str, float]:
    """Turn the n-gram store's ln P(text | language) into weighted log-posteriors (nats).

    Scaled by ``NGRAM_WEIGHT`` against the other evidence (a global weight chosen on the even
    lines); floored at ln ``_FLOOR`` like lingua's confidences were, so that one letter a
    language never saw cannot outweigh everything else.
    """
    if not log_likelihoods:
        return {}
    top = max(log_likelihoods.values())
    norm = top + math.log(sum(math.exp(v - top) for v in log_likelihoods.values()))
    floor = math.log(_FLOOR)
    return {c: max(NGRAM_WEIGHT * (v - norm), floor) for c, v in log_likelihoods.items()}


def _pair_scores(log_likelihoods: dict[str, float], group: set[str]) -> dict[str, float]:
    """ln P(language | text) within a close group, from the n-gram store alone (unweighted)."""
    within = {c: log_likelihoods[c] for c in group if c in log_likelihoods}
    if len(within) < 2:
        return {}
    top = max(within.values())
    norm = top + math.log(sum(math.exp(v - top) for v in within.values()))
    return {c: v - norm for c, v in within.items()}


def _lingua_scores(confidences: dict[str, float]) -> dict[str, float]:
    """lingua's confidence values as log-probabilities (floored at ln ``_FLOOR``)."""
    return {c: math.log(max(v, _FLOOR)) for c, v in confidences.items()}


def _fuse(
    char: dict[str, float],
    fasttext: dict[str, float],
    cld2: dict[str, int],
    prior: str | None,
    candidates: Iterable[str],
    words: dict[str, float],
    *,
    fast_weights: bool = True,
) -> list[tuple[float, str]]:
    """Score each candidate by weighted log-evidence of the detectors plus the prior.

    ``char`` holds the character models' log-probabilities (missing: ln ``_FLOOR``).
    ``fast_weights=False`` leaves fastText and CLD2 out entirely (not even their floors).
    """
    floor = math.log(_FLOOR)
    scored = []
    for code in candidates:
        if code not in SUPPORTED:
            continue
        score = (
            char.get(code, floor)
            + words.get(code, 0.0)
            + (DECLARED_PRIOR if code == prior else 0.0)
        )
        if fast_weights:
            score += FASTTEXT_WEIGHT * math.log(max(fasttext.get(code, 0.0), 1e-4))
            score += CLD2_WEIGHT * cld2.get(code, 0) / 100
        scored.append((score, code))
    if prior is not None and prior not in {c for _, c in scored}:
        scored.append((math.log(_FLOOR) + DECLARED_PRIOR, prior))
    scored.sort(key=lambda item: (-item[0], item[1]))
    return scored


def _script_fix(code: str, sample: str) -> str:
    """Return ``zh`` for Han text without kana called Japanese (kana is what marks Japanese)."""
    if code == "ja" and _HAN.search(sample) and not _KANA.search(sample):
        return "zh"
    return code


def _sample(title: str | None, text: str | None) -> str:
    """Return a bounded, cleaned detection sample: title first, then the body."""
    parts = [p[: SAMPLE_CHARS * 2] for p in (title, text) if isinstance(p, str) and p]
    raw = " . ".join(parts)
    if raw.isprintable():  # the common case: one line, nothing to fold
        return raw.strip()[:SAMPLE_CHARS]
    cleaned = _UNPRINTABLE.sub(" ", raw)
    return _WHITESPACE.sub(" ", cleaned).strip()[:SAMPLE_CHARS]


def _clip(value: float) -> float:
    return min(1.0, max(0.0, round(value, 4)))
