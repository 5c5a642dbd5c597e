"""Per-process heavy resources: knowledge base, compiled watchlist monitor, story index.

Why: building the entity automaton or compiling thousands of watchlists per task
would dwarf the work itself, so each worker process builds them once and rebuilds
only when the watchlist or entity version counters in Redis move. The counters
are read at most once per ``check_interval`` (1 s), which is how a ``watchlist
apply`` reaches every worker within about two seconds without a restart.

Knowledge base = built-in entries + ``WIREWATCH_ENTITY_FILES`` + entries imported
into Redis (``keys.entities``) + entities declared in applied watchlist YAML.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from pipeline.entities import EntityEntry, KnowledgeBase
from pipeline.entities.loaders import load_file
from pipeline.entities.registry import NameRegistry
from pipeline.errors import QueryError
from pipeline.flow import StoryIndex
from pipeline.matching import Monitor
from pipeline.story import MemoryStoryIndex
from pipeline.watchlist import Watchlist
from workers import metrics
from workers.keys import Keys
from workers.logs import get_logger
from workers.settings import Settings
from workers.watchlists.store import WatchlistStore, load_watchlist

__all__ = ["Resources", "get_resources", "load_entity_file", "reset_resources", "warm_up"]


def load_entity_file(path: Path) -> list[EntityEntry]:
    """Read knowledge-base entries from any file ``wirewatch entities import`` reads.

    CSV (id,name,type,aliases with ``|``), YAML, JSON, or an OFAC SDN legacy CSV
    (told by its content; aliases from the ``alt.csv`` next to it):
    ``pipeline.entities.loaders.load_file``.
    """
    return load_file(path)


def _build_monitor(watchlists: list[Watchlist], kb: KnowledgeBase) -> Monitor:
    """Compile every watchlist (the monitor indexes only enabled ones)."""
    return Monitor(watchlists, kb)


def _make_story_index(client: Any, keys: Keys, settings: Settings) -> StoryIndex:
    try:
        from workers.stages.stories import RedisStoryIndex
    except ImportError:
        get_logger().warning("story_index.memory_fallback")
        return MemoryStoryIndex()
    index: StoryIndex = RedisStoryIndex(client, keys, settings)
    return index


def _s(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


class Resources:
    """The knowledge base, monitor and story index of one process, refreshed on version change."""

    def __init__(
        self,
        client: Any,
        keys: Keys,
        settings: Settings,
        *,
        check_interval: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.client = client
        self.keys = keys
        self.settings = settings
        self.check_interval = check_interval
        self.clock = clock
        self.store = WatchlistStore(client, keys)
        self._base_kb: KnowledgeBase | None = None
        self._kb: KnowledgeBase | None = None
        self._monitor: Monitor | None = None
        self._watchlists: dict[str, Watchlist] = {}
        self._story_index: StoryIndex | None = None
        self._names: NameRegistry | None = None
        self._versions: tuple[str, str] | None = None
        self._imported: list[EntityEntry] = []
        self._declared_raw: dict[str, str] = {}
        self._raw: dict[str, str] = {}
        self._checked_at = float("-inf")

    def base_kb(self) -> KnowledgeBase:
        """Built-in entries plus ``WIREWATCH_ENTITY_FILES``, built once per process.

        Taken from ``preload_base_kb`` when the worker built it before its pool forked.
        """
        if self._base_kb is None:
            self._base_kb = _preloaded.get(self.settings.entity_files) or build_base_kb(
                self.settings
            )
        return self._base_kb

    def refresh(self, *, force: bool = False) -> bool:
        """Rebuild the knowledge base and monitor if a version moved; return whether it did."""
        now = self.clock()
        if (
            not force
            and self._versions is not None
            and now - self._checked_at < self.check_interval
        ):
            return False
        self._checked_at = now
        raw = self.client.mget([self.keys.watchlists_version, self.keys.entities_version])
        versions = (_s(raw[0] or "0"), _s(raw[1] or "0"))
        if versions == self._versions and not force:
            return False
        started = time.perf_counter()
        entities_moved = self._versions is None or versions[1] != self._versions[1]
        if entities_moved:  # the imported knowledge base is only re-read when its version moves
            self._imported = self._parse_entries(self.client.hvals(self.keys.entities))
        declared_raw = {
            _s(k): _s(v) for k, v in self.client.hgetall(self.keys.watchlist_entities).items()
        }
        held = int(self._versions[0]) if self._versions is not None else None
        if held is None or int(versions[0]) < held or self._monitor is None:
            # First load, or the store went back (FLUSHALL, restore): read everything.
            self._raw = self.store.raw()
            watchlists = self._parse(self._raw)
            delta: dict[str, str | None] = {}
        else:
            # Only what changed since the version this process holds.
            delta = {
                i: v for i, v in self.store.changes_since(held).items() if self._raw.get(i) != v
            }
            watchlists = dict(self._watchlists)
            for wid, value in delta.items():
                if value is None:
                    self._raw.pop(wid, None)
                    watchlists.pop(wid, None)
                else:
                    self._raw[wid] = value
            watchlists.update(self._parse({i: v for i, v in delta.items() if v is not None}))
        if self._monitor is None or entities_moved or declared_raw != self._declared_raw:
            # The knowledge base changed: entity references resolve differently, rebuild all.
            declared = self._parse_entries(declared_raw.values())
            extra = [*self._imported, *declared]
            # Nothing imported or declared: the base itself (a second build costs seconds).
            self._kb = self.base_kb().extended(extra) if extra else self.base_kb()
            self._monitor = _build_monitor(list(watchlists.values()), self._kb)
            mode = "full"
        else:
            for wid, value in delta.items():
                if value is None:
                    self._monitor.remove(wid)
                elif wid in watchlists:
                    self._update(watchlists[wid])
            mode = "incremental"
        self._declared_raw = declared_raw
        self._watchlists = watchlists
        self._versions = versions
        errors = getattr(self._monitor, "errors", {}) or {}
        metrics.resources_loaded(len(watchlists), len(self._kb) if self._kb is not None else 0)
        get_logger().info(
            "resources.reloaded",
            mode=mode,
            watchlists=len(watchlists),
            changed=len(delta),
            refused=sorted(errors)[:20],
            entities=len(self._kb) if self._kb is not None else 0,
            versions=list(versions),
            ms=round((time.perf_counter() - started) * 1000, 1),
        )
        return True

    def _update(self, watchlist: Watchlist) -> None:
        """Recompile one watchlist; one that no longer compiles is dropped and logged."""
        assert self._monitor is not None
        try:
            self._monitor.update(watchlist)
        except QueryError as exc:
            self._monitor.remove(watchlist.id)
            self._monitor.errors[watchlist.id] = exc
            get_logger().error("watchlist.refused", watchlist_id=watchlist.id, error=str(exc)[:300])

    @staticmethod
    def _parse_entries(values: Iterable[Any]) -> list[EntityEntry]:
        out = []
        for value in values:
            try:
                out.append(EntityEntry.model_validate_json(value))
            except ValueError:
                continue
        return out

    def _parse(self, raw: dict[str, str]) -> dict[str, Watchlist]:
        out = {}
        for wid, value in raw.items():
            try:
                out[wid] = load_watchlist(value)
            except ValueError as exc:
                get_logger().error("watchlist.unreadable", watchlist_id=wid, error=str(exc)[:300])
        return out

    def kb(self) -> KnowledgeBase:
        self.refresh()
        assert self._kb is not None
        return self._kb

    def monitor(self) -> Monitor:
        self.refresh()
        assert self._monitor is not None
        return self._monitor

    def watchlist(self, watchlist_id: str) -> Watchlist | None:
        """Return a watchlist (with its secret) as of the last refresh, else from the store."""
        self.refresh()
        return self._watchlists.get(watchlist_id) or self.store.get(watchlist_id)

    def story_index(self) -> StoryIndex:
        if self._story_index is None:
            self._story_index = _make_story_index(self.client, self.keys, self.settings)
        return self._story_index

    def name_registry(self) -> NameRegistry:
        """The learned name variants shared by every worker (``workers.stages.names``)."""
        if self._names is None:
            from workers.stages.names import RedisNameRegistry

            self._names = RedisNameRegistry(
                self.client,
                self.keys,
                story_ttl_s=int(self.settings.story_window_hours * 3600),
            )
        return self._names


def build_base_kb(settings: Settings) -> KnowledgeBase:
    """Build the built-in knowledge base plus ``WIREWATCH_ENTITY_FILES``."""
    kb = KnowledgeBase.builtin()
    extra: list[EntityEntry] = []
    for name in filter(None, (p.strip() for p in settings.entity_files.split(","))):
        extra.extend(load_entity_file(Path(name)))
    return kb.extended(extra) if extra else kb


# entity files setting -> base knowledge base built in the parent before the pool forked
_preloaded: dict[str, KnowledgeBase] = {}


def preload_base_kb(settings: Settings) -> None:
    """Build the base knowledge base now, in a worker's parent process, before it forks.

    Why: built lazily, each pool process spent seconds on its first batch (the built-in
    table has ~38,000 places), long enough for the ingest service to take the entry for
    stranded; built before the fork, the children share its pages (copy-on-write) and
    start ready. No sockets are opened: the Redis client is still made per child.
    """
    if settings.entity_files not in _preloaded:
        _preloaded[settings.entity_files] = build_base_kb(settings)


_resources: Resources | None = None


def get_resources() -> Resources:
    """Return this process's resources, created on first use (after a Celery fork)."""
    global _resources
    if _resources is None:
        from workers.connection import redis_client
        from workers.settings import get_settings

        settings = get_settings()
        _resources = Resources(redis_client(settings), Keys(settings.prefix), settings)
    return _resources


# An English article (HTML and text) that reaches every lazily loaded model of the stages.
_WARM_UP_TEXT = (
    "Finance ministers of the European Union met in Brussels on Tuesday. Christine Lagarde, "
    "president of the European Central Bank, said inflation in Germany and France had eased, "
    "and Reuters reported that the International Monetary Fund would publish its outlook."
)


def warm_up() -> float:
    """Load every per-process model now (knowledge base, monitor, language and entity models,
    word frequency tables) by enriching a sample article in memory; return the seconds taken.

    Why: otherwise the first batches of each pool process pay it (seconds of CPU, more under
    load), which is latency a subscriber sees and, in a prefork worker, CPU spent once per
    child. Called in the worker's main process before the pool forks, the children share
    the loaded pages instead of each building their own (``workers.stages.tasks``).
    """
    from pipeline import flow
    from pipeline.models import Article

    started = time.perf_counter()
    res = get_resources()
    kb, monitor = res.kb(), res.monitor()
    html = f"<html><head><title>EU ministers meet</title></head><body><article><h1>EU ministers meet</h1><p>{_WARM_UP_TEXT}</p><p>{_WARM_UP_TEXT}</p></article></body></html>"  # fmt: skip
    for n, article in enumerate(
        (
            Article(url="https://warm-up.invalid/html", html=html),
            Article(url="https://warm-up.invalid/text", text=_WARM_UP_TEXT, title="EU ministers"),
        )
    ):
        flow.enrich(article, kb=kb, monitor=monitor, index=MemoryStoryIndex())
        get_logger().debug("resources.warmed", article=n)
    return time.perf_counter() - started


def reset_resources() -> None:
    """Forget this process's resources (tests, and after a fork)."""
    global _resources
    _resources = None
