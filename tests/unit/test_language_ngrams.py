"""The n-gram store: reading lingua's embedded models, the cache file, scoring, fallback."""

from __future__ import annotations

import logging
import math
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from pipeline.language import backends as language_backends
from pipeline.language import detect
from pipeline.language.backends import SUPPORTED, Backends
from pipeline.language.ngrams import (
    MAX_CHARS,
    Q_SCALE,
    LayoutError,
    NgramStore,
    _try_open,
    cache_path,
    get_store,
    hash_ngrams,
    lingua_library,
    load_store,
    read_models,
)


@pytest.fixture(scope="session")
def store() -> NgramStore:
    """The shared store (built once into the cache if missing: extraction must work here)."""
    found = get_store()
    assert found is not None, "lingua's embedded models could not be read on this version"
    return found


def test_reads_the_installed_lingua_models() -> None:
    language, order, ngrams = next(read_models())
    assert language.isupper() and 1 <= order <= 5
    fraction, joined = next(iter(ngrams.items()))
    numerator, denominator = (int(part) for part in fraction.split("/"))
    assert 0 < numerator <= denominator
    assert all(len(ngram) == order for ngram in joined.split(" "))


def test_store_covers_every_supported_language(store: NgramStore) -> None:
    assert set(store.codes) == SUPPORTED
    assert len(store) > 10_000_000  # all orders of all languages, nothing pruned
    assert np.all(store.keys[:-1:997] <= store.keys[1::997])  # sorted (sampled)


def test_single_letter_scores_its_unigram_probability(store: NgramStore) -> None:
    ngrams = next(n for lang, order, n in read_models() if order == 1 and lang == "ENGLISH")
    fraction, joined = max(ngrams.items(), key=lambda item: Fraction(item[0]))  # most frequent
    letter = joined.split(" ")[0]
    scores = store.log_likelihoods(letter)
    assert scores is not None
    expected = math.log(Fraction(fraction))
    assert abs(scores[store.codes.index("en")] - expected) <= 0.5 / Q_SCALE + 1e-9


def test_hash_is_the_same_at_build_and_query_time() -> None:
    grams = np.frombuffer("abcdebcdef".encode("utf-32-le"), dtype="<u4").reshape(2, 5)
    first, second = hash_ngrams(grams)
    assert first != second
    again = hash_ngrams(grams[:1])
    assert again[0] == first


def test_scores_prefer_the_right_language(store: NgramStore) -> None:
    cases = {"ukuthi umuntu": "zu", "de kinderen spelen buiten": "nl", "kwa sababu": "sw"}
    for text, code in cases.items():
        scores = store.log_likelihoods(text)
        assert scores is not None
        assert store.codes[int(np.argmax(scores))] == code, text


@pytest.mark.parametrize(
    "text",
    [
        "",
        "12345 67890",
        "\x00\x01\x02\x7f",
        "   \n\t  ",
        "\ud800abc\udfff",
        "a" * 1_000_000,
        "ab" * 500_000 + "\ud800",
        "x",
        "\U0001f600\U0001f600 ok",
    ],
)
def test_hostile_input_to_the_scorer(store: NgramStore, text: str) -> None:
    scores = store.log_likelihoods(text)
    if not any(c.isalpha() for c in text[:MAX_CHARS]):
        assert scores is None
    else:
        assert scores is not None and scores.shape == (len(store.codes),)
        assert np.all(np.isfinite(scores)) and np.all(scores < 0)


def test_damaged_cache_files_are_refused(store: NgramStore, tmp_path: Path) -> None:
    source = cache_path()
    truncated = tmp_path / "truncated.npy"
    with source.open("rb") as whole, truncated.open("wb") as part:
        part.write(whole.read(1_000_000))
    garbage = tmp_path / "garbage.npy"
    garbage.write_bytes(b"\x93NUMPY not really" * 100)
    wrong = tmp_path / "wrong.npy"
    np.save(wrong, np.arange(100, dtype=np.uint64))
    bad_header = tmp_path / "bad_header.npy"  # numpy raises a tokenize error on this one
    with source.open("rb") as whole:
        head = whole.read(4096)
    bad_header.write_bytes(head[:10] + b"{((((((((" + head[19:])
    for path in (truncated, garbage, wrong, bad_header, tmp_path / "missing.npy"):
        assert _try_open(path) is None


def test_truncated_cache_is_rebuilt(
    store: NgramStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shared = cache_path()
    monkeypatch.setenv("WIREWATCH_CACHE_DIR", str(tmp_path))
    target = cache_path()
    assert target.parent == tmp_path
    with shared.open("rb") as whole, target.open("wb") as out:
        out.write(whole.read(5_000_000))
    assert load_store(build=False) is None  # refused as it is
    rebuilt = load_store()  # rebuilt in a child process, then mapped
    assert rebuilt is not None
    assert len(rebuilt) == len(store) and rebuilt.codes == store.codes
    assert target.stat().st_size == shared.stat().st_size
    assert not list(tmp_path.glob("*.tmp"))


def test_unreadable_library_is_a_layout_error(tmp_path: Path) -> None:
    not_elf = tmp_path / "lingua.so"
    not_elf.write_bytes(b"definitely not an ELF file" * 10)
    with pytest.raises(LayoutError):
        list(read_models(not_elf))
    head = tmp_path / "head.so"
    with lingua_library().open("rb") as whole:
        head.write_bytes(whole.read(4096))
    with pytest.raises(LayoutError):
        list(read_models(head))


def test_unwritable_cache_falls_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("a file where the cache directory should be")
    monkeypatch.setenv("WIREWATCH_CACHE_DIR", str(blocker / "cache"))
    with caplog.at_level(logging.WARNING, logger="pipeline.language.ngrams"):
        assert load_store() is None
    assert [r.message for r in caplog.records if "n-gram store unavailable" in r.message]


def test_detection_without_the_store_uses_lingua(monkeypatch: pytest.MonkeyPatch) -> None:
    fallback = Backends(use_store=False)
    assert fallback.store is None and fallback.ngram_log_likelihoods("some text") == {}
    monkeypatch.setattr(language_backends, "_BACKENDS", fallback)
    assert detect("Der Stadtrat hat den neuen Haushalt beschlossen.").code == "de"
    assert detect("kundene kompensasjon").code in {"nb", "nn", "da"}
    assert detect("").code == "und"
