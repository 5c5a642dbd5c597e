"""`watchlist test` logic: article input (hostile too), verdicts with reasons."""

from __future__ import annotations

import json

import pytest

from pipeline.entities import EntityEntry, KnowledgeBase
from pipeline.errors import PermanentError
from pipeline.matching import compile_watchlist
from pipeline.watchlist import Watchlist
from workers.watchlists.backtest import check_record, describe_match, record_from_json

KB = KnowledgeBase([EntityEntry(id="ru-putin", name="Vladimir Putin", type="PERSON")])
ARTICLE = {
    "url": "https://www.reuters.com/world/x",
    "title": "Putin visits Vladivostok",
    "text": "Russian President Vladimir Putin arrived in Vladivostok on Thursday for talks on sanctions.",
}


def test_ingest_article_runs_through_the_pipeline() -> None:
    record = record_from_json(json.dumps(ARTICLE), kb=KB)
    assert "Vladivostok" in record.text
    assert record.language.code == "en"
    verdict = check_record(
        compile_watchlist(Watchlist(id="w", query="sanction* AND lang:en"), KB), record
    )
    assert verdict.matched and not verdict.reasons
    assert any("«sanctions»" in m.snippet for m in verdict.matches)
    assert "sanction* in text" in describe_match(verdict.matches[0])


def test_enriched_record_is_used_as_is() -> None:
    record = record_from_json(json.dumps(ARTICLE), kb=KB)
    again = record_from_json(record.model_dump_json(), kb=KB)
    assert again == record
    wrapped = record_from_json(json.dumps({"record": record.model_dump(mode="json")}), kb=KB)
    assert wrapped == record


def test_no_match_says_why() -> None:
    record = record_from_json(json.dumps(ARTICLE), kb=KB)
    w = Watchlist(id="w", query="putin AND merkel", languages=["de"])
    verdict = check_record(compile_watchlist(w, KB), record)
    assert not verdict.matched and not verdict.matches
    assert any("language 'en'" in r for r in verdict.reasons)
    assert any("merkel absent" in r and "putin found" in r for r in verdict.reasons)


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "not json",
        "[1, 2]",
        '{"text": "no url"}',
        '{"url": "https://x.example/a", "language": {"code": "en"}, "text": 5}',
        json.dumps({"url": "https://x.example/a", "text": ""}),
        "\udcff",
    ],
)
def test_hostile_article_input_is_a_clear_permanent_error(raw: str) -> None:
    with pytest.raises(PermanentError):
        record_from_json(raw, kb=KB)
