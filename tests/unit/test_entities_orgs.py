"""International organisations in the built-in knowledge base: local names, case, acronyms."""

from __future__ import annotations

import pytest

from pipeline.entities import KnowledgeBase, tag
from pipeline.entities.builtin import builtin_entries


@pytest.fixture(scope="module")
def kb() -> KnowledgeBase:
    return KnowledgeBase.builtin()


def _ids(text: str, kb: KnowledgeBase, language: str) -> dict[str, list[str]]:
    return {
        e.id: [text[m.start : m.end] for m in e.mentions]
        for e in tag(text, kb=kb, language=language)
    }


@pytest.mark.parametrize(
    ("text", "language", "surface"),
    [
        ("Les ministres de l'Union européenne se sont réunis hier.", "fr", "Union européenne"),
        ("Ein Treffen der Europäischen Union in Brüssel.", "de", "Europäischen Union"),
        ("La Unión Europea aprobó el plan.", "es", "Unión Europea"),
        ("EU ministers met on Monday.", "en", "EU"),
    ],
)
def test_local_names_link_to_one_id(
    kb: KnowledgeBase, text: str, language: str, surface: str
) -> None:
    assert _ids(text, kb, language).get("org:eu") == [surface]


def test_acronyms_in_other_languages(kb: KnowledgeBase) -> None:
    found = _ids("L'OTAN et l'ONU ont appelé le FMI à agir.", kb, "fr")
    assert found.get("org:nato") == ["OTAN"]
    assert found.get("org:un") == ["ONU"]
    assert found.get("org:imf") == ["FMI"]


def test_short_acronyms_need_capitals(kb: KnowledgeBase) -> None:
    # "who" and Italian "uno" are words; only the capitalised acronyms name the bodies.
    assert "org:who" not in _ids("The man who came in said uno, due, tre.", kb, "en")
    assert "org:un" not in _ids("Ho visto uno spettacolo.", kb, "it")
    assert "org:who" in _ids("The WHO said on Friday that cases rose.", kb, "en")


def test_no_organisation_id_is_claimed_twice() -> None:
    ids = [e.id for e in builtin_entries() if e.id.startswith("org:")]
    assert ids and len(ids) == len(set(ids))


def test_watchlist_entity_name_resolves_to_the_organisation(kb: KnowledgeBase) -> None:
    assert [e.id for e in kb.lookup("NATO")] == ["org:nato"]
    assert [e.id for e in kb.lookup("OTAN")] == ["org:nato"]


@pytest.mark.parametrize(
    ("text", "language", "surface"),
    [
        ("Die Lage in Europa bleibt angespannt.", "de", "Europa"),
        ("The crisis spread across Europe last year.", "en", "Europe"),
        ("La tensión en Oriente Medio crece.", "es", "Oriente Medio"),
    ],
)
def test_regions_are_places(kb: KnowledgeBase, text: str, language: str, surface: str) -> None:
    found = {e.id: e for e in tag(text, kb=kb, language=language)}
    region = next(e for i, e in found.items() if i.startswith("region:"))
    assert [text[m.start : m.end] for m in region.mentions] == [surface]
    assert region.type == "LOC"
