"""`wirewatch entities import|list|show|lookup|remove` against a real Redis."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import redis

from pipeline.entities import EntityEntry
from tests.cli import wirewatch as run_cli
from workers.keys import Keys

pytestmark = pytest.mark.integration


def wirewatch(redis_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    return run_cli(redis_url, "entities", *args)


def test_import_csv_then_list_show_lookup_remove(redis_url: str, tmp_path: Path) -> None:
    path = tmp_path / "people.csv"
    path.write_text(
        'id,name,type,aliases\nkim,"KIM, Jong Un",PERSON,Kim Jong-un\nacme,Acme Corp,ORG,ACME\n'
    )
    done = wirewatch(redis_url, "import", str(path))
    assert done.returncode == 0, done.stderr
    assert "imported 2 entities" in done.stdout
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    keys = Keys()
    stored = EntityEntry.model_validate_json(client.hget(keys.entities, "kim") or "")
    assert stored.name == "KIM, Jong Un"
    assert client.get(keys.entities_version) == "1"

    listed = wirewatch(redis_url, "list")
    assert "kim\tPERSON\tKIM, Jong Un" in listed.stdout
    shown = wirewatch(redis_url, "show", "acme")
    assert '"ACME"' in shown.stdout
    found = wirewatch(redis_url, "lookup", "Kim Jong Un")
    assert found.returncode == 0 and found.stdout.startswith("kim\t")
    assert wirewatch(redis_url, "lookup", "Nobody Atall").returncode == 1
    assert wirewatch(redis_url, "show", "nobody").returncode == 1

    removed = wirewatch(redis_url, "remove", "acme")
    assert "removed 1 of 1" in removed.stdout
    assert client.hkeys(keys.entities) == ["kim"]
    assert client.get(keys.entities_version) == "2"


def test_import_ofac_pair_with_alt(redis_url: str, tmp_path: Path) -> None:
    sdn = tmp_path / "sdn.csv"
    sdn.write_text("306,BANCO NACIONAL DE CUBA,-0- ,CUBA,-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- \n")
    alt = tmp_path / "other-alt.csv"
    alt.write_text("306,220,aka,NATIONAL BANK OF CUBA,-0- \n")
    done = wirewatch(redis_url, "import", str(sdn), "--format", "ofac", "--alt", str(alt))
    assert done.returncode == 0, done.stderr
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    entry = EntityEntry.model_validate_json(client.hget(Keys().entities, "ofac:306") or "")
    assert entry.aliases == ["NATIONAL BANK OF CUBA"]


def test_import_refuses_bad_files_and_stores_nothing(redis_url: str, tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("id,name,type\nx,foo,ALIEN\n")
    done = wirewatch(redis_url, "import", str(bad))
    assert done.returncode == 2
    assert "ALIEN" in done.stderr and "line 2" in done.stderr
    assert "Traceback" not in done.stderr
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    assert client.exists(Keys().entities) == 0
    assert client.get(Keys().entities_version) is None
    other = tmp_path / "x.csv"
    other.write_text("id,name\na,b\n")
    assert wirewatch(redis_url, "import", str(other), "--alt", str(other)).returncode == 2


def test_replace_drops_previous_imports(redis_url: str, tmp_path: Path) -> None:
    first = tmp_path / "a.yaml"
    first.write_text("- {id: a, name: Alpha Group, type: ORG}\n")
    second = tmp_path / "b.yaml"
    second.write_text("- {id: b, name: Beta Group, type: ORG}\n")
    assert wirewatch(redis_url, "import", str(first)).returncode == 0
    assert wirewatch(redis_url, "import", str(second), "--replace").returncode == 0
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    assert client.hkeys(Keys().entities) == ["b"]


def test_declared_entities_are_listed_and_looked_up(redis_url: str) -> None:
    from workers.watchlists.store import WatchlistStore

    client = redis.Redis.from_url(redis_url, decode_responses=True)
    WatchlistStore(client, Keys()).put_entities(
        [EntityEntry(id="person:merz", name="Friedrich Merz", type="PERSON")]
    )
    listed = wirewatch(redis_url, "list")
    assert "person:merz\tPERSON\tFriedrich Merz\tdeclared" in listed.stdout
    found = wirewatch(redis_url, "lookup", "Friedrich Merz")
    assert found.returncode == 0 and found.stdout.startswith("person:merz\t"), found.stderr
    missed = wirewatch(redis_url, "lookup", "Nort Korea")
    assert missed.returncode == 1
    assert "did you mean: country:KP" in missed.stderr
    assert "x:nort-korea" in missed.stderr


def test_entity_files_read_the_ofac_pair(
    redis_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "sdn.csv").write_text(
        "306,BANCO NACIONAL DE CUBA,-0- ,CUBA,-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- \n"
    )
    (tmp_path / "alt.csv").write_text("306,220,aka,NATIONAL BANK OF CUBA,-0- \n")
    monkeypatch.setenv("WIREWATCH_ENTITY_FILES", str(tmp_path / "sdn.csv"))
    found = wirewatch(redis_url, "lookup", "National Bank of Cuba")
    assert found.returncode == 0 and found.stdout.startswith("ofac:306\t"), found.stderr
    listed = wirewatch(redis_url, "list")
    assert "ofac:306\tORG\tBANCO NACIONAL DE CUBA\tfile" in listed.stdout


def test_variants_show_merge_split_forget(redis_url: str) -> None:
    from pipeline.entities.registry import apply_registry
    from pipeline.models import Entity, Mention
    from workers.stages.names import RedisNameRegistry

    client = redis.Redis.from_url(redis_url)
    registry = RedisNameRegistry(client, Keys(), story_ttl_s=60)
    kirby = Entity(
        id="x:john-kirby",
        name="John Kirby",
        type="PERSON",
        mentions=[Mention(start=0, end=10, text="John Kirby")],
        linked=False,
    )
    apply_registry([kirby], registry)
    shown = run_cli(redis_url, "entities", "variants", "show")
    assert "x:john-kirby\tf|johnkirbi n|johnkirbi s|kirbi" in shown.stdout, shown.stderr
    assert (
        run_cli(redis_url, "entities", "variants", "merge", "x:kirby", "x:john-kirby").returncode
        == 0
    )
    assert registry.overrides() == {"x:kirby": "x:john-kirby"}
    assert run_cli(redis_url, "entities", "variants", "split", "x:kirby").returncode == 0
    assert registry.overrides() == {"x:kirby": ""}
    forgot = run_cli(redis_url, "entities", "variants", "forget", "x:john-kirby")
    assert "forgot 3" in forgot.stdout
    assert registry.variants() == {}
