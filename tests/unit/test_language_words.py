"""Word evidence for language identification: tokenising, packing, look-up, hostile input."""

from __future__ import annotations

import math
import threading

import pytest

from pipeline.language import detect
from pipeline.language.words import (
    LIST_LANGUAGES,
    MAX_WORD_CHARS,
    WordEvidence,
    _to_cyrillic,
    get_word_evidence,
    words_of,
)


def test_words_are_normalised_like_wordfreq() -> None:
    assert words_of("Él DIJO: «Straße»!") == ["él", "dijo", "strasse"]
    assert words_of("L’homme d'affaires") == ["l", "homme", "d", "affaires"]


def test_decomposed_accents_are_composed() -> None:
    assert words_of("e\u0301te\u0301") == ["\u00e9t\u00e9"]


def test_digits_and_punctuation_are_not_words() -> None:
    assert words_of("2024 ... 3,5% -- (12)") == []


def test_word_limit_and_overlong_tokens() -> None:
    assert words_of("a b c d e", limit=3) == ["a", "b", "c"]
    assert words_of("x" * (MAX_WORD_CHARS + 1) + " ok") == ["ok"]


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   \t\n",
        "\x00\x01\x7f\x9f",
        "\ud800 lone \udfff surrogates",
        "1234567890 " * 10,
        "mot " * 250_000,  # 1 MB
        "\u200b\ufeff\u202e",
    ],
)
def test_hostile_text_gives_words_or_nothing(text: str) -> None:
    words = words_of(text)
    assert len(words) <= 24
    assert all(isinstance(w, str) and w for w in words)
    evidence = get_word_evidence()
    totals = evidence.log_frequencies(words)
    assert len(totals) == len(evidence.names)
    assert all(math.isfinite(t) and t <= 0.0 for t in totals)


def _small() -> WordEvidence:
    # bucket b holds words of frequency 10 ** (-b / 100)
    return WordEvidence({"en": [[], ["the"], ["news"]], "fr": [["le"], [], ["news", "nouvelles"]]})


def test_buckets_per_list() -> None:
    evidence = _small()
    assert evidence.names == ("en", "fr")
    assert evidence.buckets("news") == {"en": 2, "fr": 2}
    assert evidence.buckets("le") == {"fr": 0}
    assert evidence.buckets("absent") == {}
    assert len(evidence) == 5


def test_missing_word_counts_at_the_floor() -> None:
    evidence = _small()
    assert evidence.floor_bucket == 3
    en, fr = evidence.log_frequencies(["the", "nouvelles"])
    per_bucket = -math.log(10) / 100
    assert en == pytest.approx((1 + 3) * per_bucket)
    assert fr == pytest.approx((3 + 2) * per_bucket)
    assert evidence.log_frequencies([]) == [0.0, 0.0]


def test_lists_not_named_are_ignored_and_empty_build_works() -> None:
    assert WordEvidence({"xx": [["word"]]}).names == ()
    assert WordEvidence({}).log_frequencies(["word"]) == []


def test_serbian_latin_is_also_stored_in_cyrillic() -> None:
    assert _to_cyrillic("njegova") == "његова"
    assert _to_cyrillic("džep") == "џеп"
    assert _to_cyrillic("quiz") is None  # q is not a Serbian letter
    evidence = WordEvidence({"sh": [["grad"]]})
    assert evidence.buckets("град") == {"sh": 0}


def test_real_lists_rank_common_words() -> None:
    evidence = get_word_evidence()
    assert set(evidence.names) <= set(LIST_LANGUAGES)
    totals = dict(zip(evidence.names, evidence.log_frequencies(["und", "nicht"]), strict=True))
    assert max(totals, key=totals.__getitem__) == "de"
    totals = dict(zip(evidence.names, evidence.log_frequencies(["também", "não"]), strict=True))
    assert max(totals, key=totals.__getitem__) == "pt"


def test_word_evidence_loads_once_per_process() -> None:
    first = get_word_evidence()
    found: list[object] = []
    threads = [threading.Thread(target=lambda: found.append(get_word_evidence())) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert all(item is first for item in found)


@pytest.mark.parametrize(
    ("title", "code"),
    [
        ("Também não", "pt"),
        ("Nicht heute", "de"),
        ("Pourquoi maintenant", "fr"),
        ("Perché adesso", "it"),
        ("Waarom nu", "nl"),
    ],
)
def test_two_word_titles(title: str, code: str) -> None:
    assert detect("", title=title).code == code
