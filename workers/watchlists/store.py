"""The watchlist store: watchlists (with their secrets) and declared entities in Redis.

Why Redis: every worker must see the same set and pick up changes without a
restart. Each write bumps one version counter; workers compare it at most once a
second (``workers.stages.resources``) and rebuild their compiled monitor when it moved.
``apply`` is idempotent like ``kubectl apply``: unchanged watchlists are not
rewritten and do not bump the version; watchlists absent from the file are kept.

Secrets are stored in clear in Redis (the webhook signer needs them) but are
never logged and never leave through ``public_dict``.
"""

from __future__ import annotations

import builtins
import json
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import SecretStr, ValidationError
from pydantic_core import to_jsonable_python

from pipeline.entities import EntityEntry, KnowledgeBase
from pipeline.errors import PermanentError, QueryError
from pipeline.matching import Monitor
from pipeline.watchlist import Watchlist, WatchlistFile
from workers.keys import Keys
from workers.logs import get_logger

__all__ = [
    "ApplyResult",
    "WatchlistStore",
    "dump_watchlist",
    "expand_env",
    "load_watchlist",
    "public_dict",
    "register_validator",
    "validate_file",
]

MASK = "whsec_****"

_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


def expand_env(text: str, env: Mapping[str, str]) -> str:
    """Replace every ``${NAME}`` in a watchlist file with ``env[NAME]``.

    Why: webhook secrets and URLs can then live in the environment (a Kubernetes
    Secret, a CI variable) instead of in a YAML file under version control. A
    reference to an unset variable is an error naming it, never an empty string.
    """
    missing = sorted({m.group(1) for m in _ENV_REF.finditer(text) if m.group(1) not in env})
    if missing:
        raise PermanentError(
            f"watchlist file refers to unset environment variable(s): {', '.join(missing)}",
            reason="unset_variable",
        )
    return _ENV_REF.sub(lambda m: env[m.group(1)], text)


# Extra apply-time checks (e.g. SSRF on webhook URLs); each raises PermanentError.
_VALIDATORS: list[Callable[[WatchlistFile, KnowledgeBase], None]] = []


def register_validator(fn: Callable[[WatchlistFile, KnowledgeBase], None]) -> None:
    """Run ``fn(file, kb)`` on every ``apply``; it raises ``PermanentError`` to refuse."""
    if fn not in _VALIDATORS:
        _VALIDATORS.append(fn)


def _reveal(value: Any) -> Any:
    if isinstance(value, SecretStr):
        return value.get_secret_value()
    if isinstance(value, dict):
        return {k: _reveal(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_reveal(v) for v in value]
    return value


def dump_watchlist(watchlist: Watchlist) -> str:
    """Serialise a watchlist *with* its secrets (for the store only), keys sorted."""
    data = _reveal(watchlist.model_dump(mode="python"))
    return json.dumps(data, sort_keys=True, default=to_jsonable_python, ensure_ascii=False)


def load_watchlist(raw: str | bytes) -> Watchlist:
    """Parse a stored watchlist."""
    return Watchlist.model_validate_json(raw)


def _mask(value: Any) -> Any:
    if isinstance(value, SecretStr):
        return MASK if value.get_secret_value() else ""
    if isinstance(value, dict):
        return {k: _mask(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_mask(v) for v in value]
    return value


def public_dict(watchlist: Watchlist) -> dict[str, Any]:
    """Return the watchlist as plain data with every secret masked (for ``show`` and logs)."""
    data = _mask(watchlist.model_dump(mode="python"))
    result: dict[str, Any] = to_jsonable_python(data)
    return result


def _check_webhooks(wfile: WatchlistFile, kb: KnowledgeBase) -> None:
    """Refuse webhook URLs that are unsafe on their face (the delivery module checks again)."""
    try:
        from workers.delivery.ssrf import check_url_static
    except ImportError:
        return
    from workers.settings import get_settings

    allow = get_settings().webhook_allow_hosts
    for w in wfile.watchlists:
        if w.delivery.webhook:
            try:
                check_url_static(w.delivery.webhook, allow)
            except ValueError as exc:
                raise PermanentError(
                    f"watchlist {w.id}: webhook URL refused: {exc}", reason="bad_webhook"
                ) from None
        if w.delivery.webhook and w.delivery.secret is None:
            raise PermanentError(
                f"watchlist {w.id}: a webhook needs a `secret` (whsec_...)", reason="bad_webhook"
            )


def _compile(watchlist: Watchlist, kb: KnowledgeBase) -> None:
    """Compile one watchlist's query the way every worker will; raise ``QueryError`` if it fails."""
    import pipeline.matching as matching

    compile_one = getattr(matching, "compile_watchlist", None)
    if callable(compile_one):
        compile_one(watchlist, kb)
        return
    monitor: Any = Monitor([watchlist])
    errors = getattr(monitor, "errors", None)
    if errors:
        raise next(iter(errors.values()))


def validate_file(wfile: WatchlistFile, kb: KnowledgeBase) -> None:
    """Compile every query of ``wfile`` against ``kb`` plus its declared entities; raise on error."""
    ids = [w.id for w in wfile.watchlists]
    dupes = sorted({i for i in ids if ids.count(i) > 1})
    if dupes:
        raise PermanentError(f"duplicate watchlist ids: {', '.join(dupes)}", reason="bad_watchlist")
    full_kb = kb.extended(wfile.entities)
    for w in wfile.watchlists:
        try:
            _compile(w, full_kb)
        except QueryError as exc:
            where = (
                "" if exc.position is None or "position" in exc.detail else f" at {exc.position}"
            )
            raise QueryError(
                f"watchlist {w.id}: query{where}: {exc.detail}", position=exc.position
            ) from None
        except PermanentError as exc:
            raise PermanentError(f"watchlist {w.id}: {exc.detail}", reason=exc.reason) from None
    _check_webhooks(wfile, full_kb)
    for fn in _VALIDATORS:
        fn(wfile, full_kb)


@dataclass
class ApplyResult:
    """What ``apply`` changed, by watchlist id."""

    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    entities_changed: int = 0
    version: int = 0

    @property
    def changed(self) -> bool:
        return bool(self.created or self.updated or self.entities_changed)


def _s(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


# Write watchlists (value "" deletes) and declared entities, bump the version once, and
# log each watchlist id with that version in the change set, atomically: a worker that
# reads version v and then the changes above its last version never misses a write.
_WRITE = """
local v = redis.call('INCR', KEYS[2])
local i = 2
for _ = 1, tonumber(ARGV[1]) do
  if ARGV[i + 1] == '' then
    redis.call('HDEL', KEYS[1], ARGV[i])
  else
    redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1])
  end
  redis.call('ZADD', KEYS[3], v, ARGV[i])
  i = i + 2
end
local entities = tonumber(ARGV[i])
i = i + 1
for _ = 1, entities do
  redis.call('HSET', KEYS[4], ARGV[i], ARGV[i + 1])
  i = i + 2
end
return v
"""
_CHUNK = 1000  # watchlists per script call: keeps each call short on a busy Redis


class WatchlistStore:
    """Watchlists and watchlist-declared entities in Redis hashes, with one version counter.

    Every write also records ``id -> version`` in ``keys.watchlists_changes`` so workers
    fetch only what changed since the version they hold (100,000 watchlists stay cheap).
    """

    def __init__(self, client: Any, keys: Keys) -> None:
        self.client = client
        self.keys = keys
        self._script = client.register_script(_WRITE)

    def version(self) -> int:
        """Return the version counter (0 before the first write)."""
        raw = self.client.get(self.keys.watchlists_version)
        return int(raw) if raw else 0

    def _write(
        self,
        watchlists: builtins.list[tuple[str, str]],
        entities: builtins.list[tuple[str, str]] = [],  # noqa: B006 - never mutated
    ) -> int:
        """Store (id, json) pairs (json "" deletes) and entities; return the new version."""
        keys = [
            self.keys.watchlists,
            self.keys.watchlists_version,
            self.keys.watchlists_changes,
            self.keys.watchlist_entities,
        ]
        version = 0
        chunks = [watchlists[i : i + _CHUNK] for i in range(0, len(watchlists), _CHUNK)] or [[]]
        for n, chunk in enumerate(chunks):
            ents = entities if n == len(chunks) - 1 else []
            args: builtins.list[Any] = [len(chunk)]
            for wid, value in chunk:
                args += [wid, value]
            args.append(len(ents))
            for eid, value in ents:
                args += [eid, value]
            version = int(self._script(keys=keys, args=args))
        return version

    def apply(
        self, wfile: WatchlistFile, *, kb: KnowledgeBase | None = None, validate: bool = True
    ) -> ApplyResult:
        """Create or update every watchlist and entity of ``wfile``; bump the version if anything changed."""
        if validate:
            validate_file(wfile, kb if kb is not None else KnowledgeBase.builtin())
        result = ApplyResult()
        writes: builtins.list[tuple[str, str]] = []
        existing = (
            self.client.hmget(self.keys.watchlists, [w.id for w in wfile.watchlists])
            if wfile.watchlists
            else []
        )
        for w, old in zip(wfile.watchlists, existing, strict=True):
            new = dump_watchlist(w)
            if old is None:
                result.created.append(w.id)
            elif _s(old) == new:
                result.unchanged.append(w.id)
                continue
            else:
                result.updated.append(w.id)
            writes.append((w.id, new))
        entity_writes: builtins.list[tuple[str, str]] = []
        if wfile.entities:
            old_entities = self.client.hmget(
                self.keys.watchlist_entities, [e.id for e in wfile.entities]
            )
            for e, old in zip(wfile.entities, old_entities, strict=True):
                new = e.model_dump_json()
                if old is None or _s(old) != new:
                    entity_writes.append((e.id, new))
        result.entities_changed = len(entity_writes)
        result.version = self._write(writes, entity_writes) if result.changed else self.version()
        get_logger().info(
            "watchlists.applied",
            created=result.created,
            updated=result.updated,
            unchanged=len(result.unchanged),
            entities_changed=result.entities_changed,
            version=result.version,
        )
        return result

    def put(self, watchlist: Watchlist) -> bool:
        """Store one watchlist (an update by id); return whether it changed."""
        new = dump_watchlist(watchlist)
        old = self.client.hget(self.keys.watchlists, watchlist.id)
        if old is not None and _s(old) == new:
            return False
        self._write([(watchlist.id, new)])
        get_logger().info("watchlist.stored", watchlist_id=watchlist.id)
        return True

    def changes_since(self, version: int) -> dict[str, str | None]:
        """Return id -> stored JSON (None when removed) of watchlists changed after ``version``."""
        ids = [
            _s(i)
            for i in self.client.zrangebyscore(self.keys.watchlists_changes, f"({version}", "+inf")
        ]
        if not ids:
            return {}
        values = self.client.hmget(self.keys.watchlists, ids)
        return {wid: (_s(v) if v is not None else None) for wid, v in zip(ids, values, strict=True)}

    def raw(self) -> dict[str, str]:
        """Return every stored watchlist as id -> JSON (secrets included)."""
        return {_s(k): _s(v) for k, v in self.client.hgetall(self.keys.watchlists).items()}

    def get(self, watchlist_id: str) -> Watchlist | None:
        """Return one watchlist with its secret, or None."""
        raw = self.client.hget(self.keys.watchlists, watchlist_id)
        return load_watchlist(raw) if raw is not None else None

    def list(self) -> list[Watchlist]:
        """Return every stored watchlist, sorted by id (unreadable entries are skipped and logged)."""
        out = []
        for wid, raw in sorted(self.client.hgetall(self.keys.watchlists).items()):
            try:
                out.append(load_watchlist(raw))
            except ValidationError as exc:
                get_logger().error(
                    "watchlist.unreadable", watchlist_id=_s(wid), error=str(exc)[:300]
                )
        return out

    def remove(self, watchlist_id: str) -> bool:
        """Delete one watchlist; return whether it existed."""
        if not self.client.hexists(self.keys.watchlists, watchlist_id):
            return False
        self._write([(watchlist_id, "")])
        get_logger().info("watchlist.removed", watchlist_id=watchlist_id)
        return True

    def entities(self) -> builtins.list[EntityEntry]:
        """Return the entities declared in applied watchlist files."""
        out = []
        for raw in self.client.hvals(self.keys.watchlist_entities):
            try:
                out.append(EntityEntry.model_validate_json(raw))
            except ValidationError:
                continue
        return out

    def put_entities(self, entries: Iterable[EntityEntry]) -> int:
        """Store declared entities; return how many changed (bumps the version if any)."""
        return self.apply(WatchlistFile(entities=list(entries)), validate=False).entities_changed
