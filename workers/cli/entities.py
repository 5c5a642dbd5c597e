"""`wirewatch entities`: import, list, show, look up and remove knowledge-base entries.

Imported entries live in the Redis hash ``keys.entities`` (id -> ``EntityEntry``
JSON); every change increments ``keys.entities_version`` so each worker rebuilds
its knowledge base on its next version check, without a restart.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from pipeline.entities import EntityEntry, EntityFileError, KnowledgeBase, load_entries, load_ofac
from workers.cli import main
from workers.cli.common import connect, fail
from workers.keys import Keys
from workers.settings import get_settings

__all__ = ["entities"]

_BATCH = 5000  # entries per pipelined HSET: bounded memory and round trips for 100k imports


def _keys() -> Keys:
    return Keys(prefix=get_settings().prefix)


def _read(path: Path, fmt: str | None, alt: Path | None) -> list[EntityEntry]:
    fmt = fmt or ("yaml" if path.suffix.lower() in (".yaml", ".yml", ".json") else "csv")
    if fmt == "ofac":
        if alt is None and (path.parent / "alt.csv").is_file():
            alt = path.parent / "alt.csv"
            click.echo(f"using aliases from {alt}", err=True)
        return load_ofac(path, alt)
    if alt is not None:
        fail("--alt only goes with --format ofac")
    return load_entries(path)


def store_entries(
    client: Any, keys: Keys, entries: list[EntityEntry], *, replace: bool = False
) -> int:
    """Write ``entries`` to the entities hash and bump its version; return the new version."""
    pipe = client.pipeline(transaction=False)
    if replace:
        pipe.delete(keys.entities)
    for start in range(0, len(entries), _BATCH):
        chunk = entries[start : start + _BATCH]
        pipe.hset(keys.entities, mapping={e.id: e.model_dump_json() for e in chunk})
        pipe.execute()
    pipe.incr(keys.entities_version)
    return int(pipe.execute()[-1])


@main.group()
def entities() -> None:
    """Manage the entity knowledge base (imported lists; built-in places are always there)."""


@entities.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["csv", "yaml", "ofac"]),
    default=None,
    help="csv (id,name,type,aliases with '|'), yaml (list of entries), or ofac (legacy sdn.csv). "
    "Default: from the file suffix.",
)
@click.option(
    "--alt",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="OFAC alt.csv with the aliases (default: alt.csv next to FILE, if present).",
)
@click.option("--replace", is_flag=True, help="Remove every imported entry first.")
def import_(file: Path, fmt: str | None, alt: Path | None, replace: bool) -> None:
    """Import entries from FILE into Redis; workers pick them up without a restart."""
    try:
        entries = _read(file, fmt, alt)
    except EntityFileError as exc:
        fail(str(exc))
    ids = [e.id for e in entries]
    if len(set(ids)) != len(ids):
        click.echo(f"note: {len(ids) - len(set(ids))} duplicate id(s); the last one wins", err=True)
    version = store_entries(connect(), _keys(), entries, replace=replace)
    click.echo(f"imported {len(set(ids))} entities from {file} (entities version {version})")


@entities.command("list")
@click.option("--limit", type=click.IntRange(1), default=50, show_default=True)
def list_(limit: int) -> None:
    """List imported entries (id, type, name)."""
    client, keys = connect(), _keys()
    total = client.hlen(keys.entities)
    shown = 0
    for _, value in client.hscan_iter(keys.entities, count=1000):
        entry = EntityEntry.model_validate_json(value)
        click.echo(f"{entry.id}\t{entry.type}\t{entry.name}")
        shown += 1
        if shown >= limit:
            break
    click.echo(f"({shown} of {total} imported entries)", err=True)


@entities.command()
@click.argument("entity_id")
def show(entity_id: str) -> None:
    """Print one imported entry as JSON."""
    value = connect().hget(_keys().entities, entity_id)
    if value is None:
        fail(f"no imported entity with id {entity_id!r}", code=1)
    click.echo(json.dumps(json.loads(value), indent=2, ensure_ascii=False))


@entities.command()
@click.argument("entity_ids", nargs=-1, required=True)
def remove(entity_ids: tuple[str, ...]) -> None:
    """Remove imported entries by id."""
    client, keys = connect(), _keys()
    removed = client.hdel(keys.entities, *entity_ids)
    version = client.incr(keys.entities_version)
    click.echo(f"removed {removed} of {len(entity_ids)} (entities version {version})")


@entities.command()
@click.argument("name")
def lookup(name: str) -> None:
    """Show which entries a name resolves to (as ``entity:"NAME"`` in a query would)."""
    from workers.stages.resources import load_entity_file

    extra: list[EntityEntry] = []
    for item in filter(None, (p.strip() for p in get_settings().entity_files.split(","))):
        extra.extend(load_entity_file(Path(item)))
    client = connect()
    extra.extend(EntityEntry.model_validate_json(v) for v in client.hvals(_keys().entities))
    kb = KnowledgeBase.builtin().extended(extra)
    found = kb.lookup(name)
    if not found:
        fail(f"no entity is called {name!r}", code=1)
    for entry in found:
        click.echo(f"{entry.id}\t{entry.type}\t{entry.name}")
    if len(found) > 1:
        click.echo(f"ambiguous: {len(found)} entities are called {name!r}", err=True)
