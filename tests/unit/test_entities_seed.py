"""The two seed articles: every variant of each person and of North Korea resolves to one id in both."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.entities import EntityEntry, KnowledgeBase, tag

SEED = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "seed-articles"

pytestmark = pytest.mark.skipif(not SEED.is_dir(), reason="../shared/data/seed-articles is absent")

# Declared the way a watchlist declares them: one canonical name each, no aliases.
PEOPLE = [
    EntityEntry(id="person:kim-jong-un", name="Kim Jong-un", type="PERSON"),
    EntityEntry(id="person:putin", name="Vladimir Putin", type="PERSON"),
    EntityEntry(id="person:shoigu", name="Sergei Shoigu", type="PERSON"),
    EntityEntry(id="person:kirby", name="John Kirby", type="PERSON"),
]
EXPECTED = {
    "person:kim-jong-un": {"Kim Jong-un", "Kim Jong Un", "Kim"},
    "person:putin": {"Vladimir V. Putin", "Vladimir Putin", "Putin"},
    "country:KP": {"North Korea", "DPRK", "Democratic People’s Republic of Korea"},
    "person:shoigu": {"Sergei K. Shoigu", "Sergei Shoigu", "Shoigu"},
    "person:kirby": {"John F. Kirby", "John Kirby", "Kirby"},
}


def test_seed_articles_resolve_each_name_to_one_id_in_both() -> None:
    kb = KnowledgeBase.builtin().extended(PEOPLE)
    seen: dict[str, set[str]] = {key: set() for key in EXPECTED}
    per_article = []
    for path in sorted(SEED.glob("*.txt")):
        entities = tag(path.read_text(encoding="utf-8"), kb=kb)
        per_article.append({e.id for e in entities})
        for e in entities:
            if e.id in seen:
                seen[e.id] |= {m.text for m in e.mentions}
        # No variant of these names ends up under any other id.
        surfaces = set().union(*EXPECTED.values()) - {"Kim"}
        for e in entities:
            if e.id not in EXPECTED:
                assert not {m.text for m in e.mentions} & surfaces, (path.name, e.id)
    assert len(per_article) == 2
    for entity_id, surfaces in EXPECTED.items():
        assert all(entity_id in ids for ids in per_article), entity_id
        assert surfaces <= seen[entity_id], (entity_id, surfaces - seen[entity_id])
