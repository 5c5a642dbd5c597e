"""The AEB metric as the benchmark defines it, checked on small cases and on trafilatura's output."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from evals.cleaning_aeb import TRAFILATURA_REFERENCE, score, shingle_counts

AEB_DIR = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "aeb"


def test_identical_texts_score_one() -> None:
    page = shingle_counts("One two three four five, six.", "One two three four five six")
    assert page == (1.0, 0.0, 0.0)
    assert score([page]) == {"f1": 1.0, "precision": 1.0, "recall": 1.0}


def test_counts_are_multisets_normalised_per_page() -> None:
    # gold: abcd bcde cdef; prediction adds defa efab fabc and a second abcd (counted again)
    tp, fp, fn = shingle_counts("a b c d e f", "a b c d e f a b c d")
    assert (tp, fp, fn) == pytest.approx((3 / 7, 4 / 7, 0.0))


def test_short_texts_are_one_shingle() -> None:
    assert shingle_counts("Hello world", "hello world") == (0.0, 0.5, 0.5)
    assert shingle_counts("Hello world", "Hello, world!") == (1.0, 0.0, 0.0)


def test_empty_prediction_counts_for_recall_only() -> None:
    pages = [shingle_counts("a b c d e", ""), shingle_counts("a b c d e", "a b c d e")]
    result = score(pages)
    assert result["precision"] == 1.0  # the empty page has TP + FP = 0 and is left out
    assert result["recall"] == 0.5


@pytest.mark.skipif(not AEB_DIR.is_dir(), reason="AEB data not available")
@pytest.mark.timeout(120)
def test_trafilatura_default_reproduces_the_published_scores() -> None:
    import trafilatura

    truth = json.loads((AEB_DIR / "ground-truth.json").read_text(encoding="utf-8"))
    pages = []
    for page_id, item in truth.items():
        with gzip.open(AEB_DIR / "html" / f"{page_id}.html.gz", "rt", encoding="utf-8") as handle:
            pages.append(
                shingle_counts(item["articleBody"], trafilatura.extract(handle.read()) or "")
            )
    result = score(pages)
    assert {k: round(v, 3) for k, v in result.items()} == TRAFILATURA_REFERENCE
