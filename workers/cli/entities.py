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
from pipeline.entities.loaders import looks_like_ofac
from workers.cli import main
from workers.cli.common import connect, fail
from workers.keys import Keys
from workers.settings import get_settings

__all__ = ["entities"]

_BATCH = 5000  # entries per pipelined HSET: bounded memory and round trips for 100k imports


def _keys() -> Keys:
    return Keys(prefix=get_settings().prefix)


def _read(path: Path, fmt: str | None, alt: Path | None) -> list[EntityEntry]:
    if fmt is None and looks_like_ofac(path):
        fmt = "ofac"  # no header, a numeric ent_num first: the SDN legacy CSV
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
    "Default: ofac for a headerless CSV starting with a numeric ent_num, else from the suffix.",
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


def _file_entries() -> list[EntityEntry]:
    """Entries of ``WIREWATCH_ENTITY_FILES`` (every format ``import`` reads)."""
    from workers.stages.resources import load_entity_file

    out: list[EntityEntry] = []
    for item in filter(None, (p.strip() for p in get_settings().entity_files.split(","))):
        try:
            out.extend(load_entity_file(Path(item)))
        except EntityFileError as exc:
            fail(f"WIREWATCH_ENTITY_FILES: {exc}")
    return out


def _declared(client: Any, keys: Keys) -> list[EntityEntry]:
    """Entities declared in applied watchlist files."""
    from workers.watchlists.store import WatchlistStore

    return WatchlistStore(client, keys).entities()


@entities.command("list")
@click.option("--limit", type=click.IntRange(1), default=50, show_default=True)
def list_(limit: int) -> None:
    """List imported, declared (watchlist YAML) and file entries (id, type, name, source)."""
    client, keys = connect(), _keys()
    total = client.hlen(keys.entities)
    shown = 0
    for _, value in client.hscan_iter(keys.entities, count=1000):
        if shown >= limit:
            break
        entry = EntityEntry.model_validate_json(value)
        click.echo(f"{entry.id}\t{entry.type}\t{entry.name}\timported")
        shown += 1
    declared = _declared(client, keys)
    files = _file_entries()
    for entry, source in [*((e, "declared") for e in declared), *((e, "file") for e in files)]:
        if shown >= limit:
            break
        click.echo(f"{entry.id}\t{entry.type}\t{entry.name}\t{source}")
        shown += 1
    click.echo(
        f"({shown} shown of {total} imported, {len(declared)} declared in watchlists, "
        f"{len(files)} from WIREWATCH_ENTITY_FILES; built-in places are not listed)",
        err=True,
    )


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
    """Show which entries a name resolves to (as ``entity:"NAME"`` in a query would).

    Built-in places, ``WIREWATCH_ENTITY_FILES``, imported entries and entities
    declared in applied watchlists; close names and the unlinked id when none match.
    """
    client, keys = connect(), _keys()
    extra = _file_entries()
    extra.extend(EntityEntry.model_validate_json(v) for v in client.hvals(keys.entities))
    extra.extend(_declared(client, keys))
    kb = KnowledgeBase.builtin(recogniser=False).extended(extra)
    found = kb.lookup(name)
    if not found:
        from pipeline.entities.stream import key_of
        from pipeline.entities.tagging import unlinked_id

        for entry in kb.suggest(name):
            click.echo(f"did you mean: {entry.id}\t{entry.type}\t{entry.name}", err=True)
        words = [w for w in key_of(name).split() if w not in (",", "|")]
        if words:
            click.echo(f"articles tag it as {unlinked_id(words)} (not linked)", err=True)
        fail(f"no entity is called {name!r}", code=1)
    for entry in found:
        click.echo(f"{entry.id}\t{entry.type}\t{entry.name}")
    if len(found) > 1:
        click.echo(f"ambiguous: {len(found)} entities are called {name!r}", err=True)


@entities.group()
def variants() -> None:
    """Show and correct learned name variants (the name registry shared by the workers)."""


def _registry() -> Any:
    from workers.stages.names import RedisNameRegistry

    settings = get_settings()
    return RedisNameRegistry(
        connect(), _keys(), story_ttl_s=int(settings.story_window_hours * 3600)
    )


@variants.command("show")
@click.argument("entity_id", required=False)
@click.option("--limit", type=click.IntRange(1), default=50, show_default=True)
def variants_show(entity_id: str | None, limit: int) -> None:
    """List learned keys by owning id (``n|`` whole name, ``f|`` first+last, ``s|`` surname)."""
    registry = _registry()
    groups = registry.variants(entity_id)
    for owner, learned in list(groups.items())[:limit]:
        click.echo(f"{owner}\t{' '.join(learned)}")
    overrides = registry.overrides()
    for source, target in overrides.items():
        if entity_id is None or entity_id in (source, target):
            click.echo(f"{source}\t{'-> ' + target if target else 'split (never merged)'}")
    click.echo(f"({registry.size()} learned keys; '*' owns keys two ids claimed)", err=True)


@variants.command("merge")
@click.argument("source")
@click.argument("target")
def variants_merge(source: str, target: str) -> None:
    """Make SOURCE resolve to TARGET in every later article."""
    _registry().merge(source, target)
    click.echo(f"{source} -> {target}")


@variants.command("split")
@click.argument("entity_id")
def variants_split(entity_id: str) -> None:
    """Never merge ENTITY_ID into another id again (undo a wrong learned merge)."""
    _registry().split(entity_id)
    click.echo(f"{entity_id} is never merged")


@variants.command("forget")
@click.argument("entity_id")
def variants_forget(entity_id: str) -> None:
    """Drop the keys ENTITY_ID learned and its correction; later articles teach it again."""
    count = _registry().forget(entity_id)
    click.echo(f"forgot {count} learned key(s) of {entity_id}")
