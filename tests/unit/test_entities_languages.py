"""One name, one id across languages: an English and a German report of one story."""

from __future__ import annotations

from pipeline.entities import KnowledgeBase, tag
from pipeline.entities.registry import MemoryNameRegistry, apply_registry

EN = (
    "German Chancellor Friedrich Merz met an envoy of Russian President Vladimir Putin in "
    "Berlin on Monday. Merz said Germany would keep supporting Ukraine. Defense Minister "
    "Boris Pistorius joined the talks."
)
DE = (
    "Bundeskanzler Friedrich Merz hat am Montag in Berlin einen Gesandten des russischen "
    "Präsidenten Wladimir Putin getroffen. Merz sagte, Deutschland werde die Ukraine weiter "
    "unterstützen. Verteidigungsminister Boris Pistorius nahm an den Gesprächen teil."
)


def _ids(entities: list, surface: str) -> set[str]:
    return {e.id for e in entities for m in e.mentions if m.text == surface}


def test_an_english_and_a_german_report_give_each_name_one_id() -> None:
    kb = KnowledgeBase.builtin()
    registry = MemoryNameRegistry()
    en = apply_registry(tag(EN, kb=kb, language="en"), registry, "story")
    de = apply_registry(tag(DE, kb=kb, language="de"), registry, "story")
    for surface in ("Friedrich Merz", "Merz", "Boris Pistorius"):
        assert _ids(en, surface) == _ids(de, surface) != set(), surface
    assert _ids(de, "Wladimir Putin") == _ids(en, "Vladimir Putin") == {"x:vladimir-putin"}
    assert _ids(en, "Germany") == _ids(de, "Deutschland") == {"country:DE"}
