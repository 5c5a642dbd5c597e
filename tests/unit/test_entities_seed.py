"""The two seed articles, nothing declared: every variant of each person and of North Korea
resolves to one id, the same in both articles, whichever of the two is read first.

The articles are two reports of one story; they go through ``tag`` and then the name
registry with that story's id, as ``wirewatch process`` and the workers run them.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import pytest

from pipeline.entities import KnowledgeBase, tag
from pipeline.entities.registry import MemoryNameRegistry, apply_registry
from pipeline.models import Entity

SEED = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "seed-articles"

pytestmark = pytest.mark.skipif(not SEED.is_dir(), reason="../shared/data/seed-articles is absent")

# Surfaces of one entity each; a mention of any of them must carry the group's one id.
GROUPS = {
    "kim": {"Kim Jong Un", "Kim Jong-un", "Kim"},
    "putin": {"Vladimir V. Putin", "Vladimir Putin", "Putin"},
    "north korea": {"North Korea", "DPRK", "Democratic People’s Republic of Korea"},
    "shoigu": {"Sergei K. Shoigu", "Sergei Shoigu", "Shoigu"},
    "kirby": {"John F. Kirby", "John Kirby", "Kirby"},
}
PEOPLE = ("kim", "putin", "shoigu", "kirby")


@lru_cache(maxsize=1)
def _kb() -> KnowledgeBase:
    return KnowledgeBase.builtin()


def _read(order: list[Path]) -> list[list[Entity]]:
    registry = MemoryNameRegistry()
    return [
        apply_registry(tag(path.read_text(encoding="utf-8"), kb=_kb()), registry, "seed-story")
        for path in order
    ]


def _by_surface(articles: list[list[Entity]]) -> dict[str, dict[str, set[str]]]:
    """group -> surface -> ids its mentions carry (in both articles)."""
    out: dict[str, dict[str, set[str]]] = {g: {} for g in GROUPS}
    for entities in articles:
        for entity in entities:
            for mention in entity.mentions:
                for group, surfaces in GROUPS.items():
                    if mention.text in surfaces:
                        out[group].setdefault(mention.text, set()).add(entity.id)
    return out


@pytest.mark.parametrize("reverse", [False, True], ids=["cbs-first", "nyt-first"])
def test_each_name_has_one_id_in_both_articles(reverse: bool) -> None:
    order = sorted(SEED.glob("*.txt"), reverse=reverse)
    assert len(order) == 2
    articles = _read(order)
    found = _by_surface(articles)
    for group, surfaces in found.items():
        ids = set().union(*surfaces.values()) if surfaces else set()
        assert len(ids) == 1, (group, surfaces)
        (only,) = ids
        assert all(only in {e.id for e in entities} for entities in articles), (group, only)
    assert found["north korea"]["DPRK"] == {"country:KP"}


def test_the_four_people_are_typed_person() -> None:
    articles = _read(sorted(SEED.glob("*.txt")))
    for group in PEOPLE:
        types = {
            e.type
            for entities in articles
            for e in entities
            if any(m.text in GROUPS[group] for m in e.mentions)
        }
        assert types == {"PERSON"}, (group, types)
