"""A cache of the dashboards' answers, keyed by tenant, generation, question and parameters.

Correctness never rests on expiry: every key holds the tenant's current generation, and a commit that changes what
the tenant's dashboards show (a count, a rollup refresh, a catalog change; services.db.tenant_data_changed) moves
the tenant to the next generation, so older answers are never read again. A TTL (Redis) or a bounded LRU (memory)
only bounds what is kept. Keys also hold the role and sponsor scope (what the answer is allowed to show), the
tenant's "today" (so "last 30 days" rolls with the calendar), and the tenant's creation time and the database, so a
recreated tenant id or another database never meets an older answer."""
from __future__ import annotations

import copy
import dataclasses
import functools
import hashlib
import inspect
import json
import logging
import threading
from collections import OrderedDict
from datetime import date, datetime

import pandas as pd
from sqlalchemy import select

from services.errors import ConfigError

logger = logging.getLogger(__name__)

MODES = ("auto", "off", "memory", "redis")
MEMORY_ENTRIES = 512  # answers kept in memory (least recently used go first)
REDIS_TTL_SECONDS = 24 * 3600  # bounds what Redis keeps; never what is correct
PREFIX = "dashcache"
_MISS = object()


class MemoryStore:
    """In-process store (embedded mode): a bounded LRU of answers and a generation per tenant."""

    def __init__(self, max_entries: int = MEMORY_ENTRIES):
        self.max_entries = max_entries
        self._entries: OrderedDict[str, object] = OrderedDict()
        self._generations: dict[int, int] = {}
        self._lock = threading.Lock()

    def generation(self, tenant_id: int) -> int:
        with self._lock:
            return self._generations.get(tenant_id, 0)

    def bump(self, tenant_id: int) -> int:
        with self._lock:
            self._generations[tenant_id] = self._generations.get(tenant_id, 0) + 1
            stale = [k for k in self._entries if k.startswith(_tenant_prefix(tenant_id))]
            for key in stale:  # unreachable now; free them rather than wait for the LRU
                del self._entries[key]
            return self._generations[tenant_id]

    def get(self, key: str):
        with self._lock:
            if key not in self._entries:
                return _MISS
            self._entries.move_to_end(key)
            value = self._entries[key]
        return _copied(value)

    def put(self, key: str, value) -> None:
        value = _copied(value)  # the caller may change the frame it got back
        with self._lock:
            self._entries[key] = value
            self._entries.move_to_end(key)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)

    def __len__(self) -> int:
        return len(self._entries)


class RedisStore:
    """Shared store (web processes and workers): JSON bytes with a TTL, and a generation counter per tenant (INCR)."""

    def __init__(self, redis, ttl_seconds: int = REDIS_TTL_SECONDS):
        self.redis = redis
        self.ttl_seconds = ttl_seconds

    def generation(self, tenant_id: int) -> int:
        value = self.redis.get(f"{PREFIX}:gen:{tenant_id}")
        return int(value) if value is not None else 0

    def bump(self, tenant_id: int) -> int:
        return int(self.redis.incr(f"{PREFIX}:gen:{tenant_id}"))

    def get(self, key: str):
        from services.dashboards.cache_codec import decode

        data = self.redis.get(key)
        return _MISS if data is None else decode(data)

    def put(self, key: str, value) -> None:
        from services.dashboards.cache_codec import encode

        self.redis.set(key, encode(value), ex=self.ttl_seconds)


def _tenant_prefix(tenant_id: int) -> str:
    return f"{PREFIX}:t{tenant_id}:"


def _copied(value):
    if isinstance(value, pd.DataFrame):
        frame = value.copy(deep=True)
        frame.attrs = copy.deepcopy(value.attrs)
        return frame
    return copy.deepcopy(value)


class DashboardCache:
    """The answers of one database's dashboards (`namespace` names the database) in one store."""

    def __init__(self, store, namespace: str = ""):
        self.store = store
        self.namespace = hashlib.sha256(namespace.encode()).hexdigest()[:12]
        self.hits = 0
        self.misses = 0

    def bump(self, tenant_id: int) -> int:
        """Move the tenant to a new generation: every answer cached before is never read again."""
        generation = self.store.bump(tenant_id)
        logger.debug("dashboard cache generation", extra={"tenant_id": tenant_id, "generation": generation})
        return generation

    def generation(self, tenant_id: int) -> int:
        return self.store.generation(tenant_id)

    def key(self, tenant_id: int, generation: int, question: str, params: dict) -> str:
        digest = hashlib.sha256(json.dumps(params, sort_keys=True, default=_plain).encode()).hexdigest()[:32]
        return f"{_tenant_prefix(tenant_id)}{self.namespace}:g{generation}:{question}:{digest}"

    def get(self, key: str):
        try:
            return self.store.get(key)
        except Exception:  # noqa: BLE001 - a cache that fails is a miss, never a failed dashboard
            logger.warning("dashboard cache read failed", exc_info=True)
            return _MISS

    def put(self, key: str, value) -> None:
        try:
            self.store.put(key, value)
        except Exception:  # noqa: BLE001 - the answer is still returned, just not kept
            logger.warning("dashboard cache write failed", exc_info=True)


def _plain(value):
    if dataclasses.is_dataclass(value):
        return {"$": type(value).__name__, **dataclasses.asdict(value)}
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    raise TypeError(f"a {type(value).__name__} is not a cache key parameter")


def make_cache(mode: str, database_url: str, redis=None) -> DashboardCache | None:
    """The cache DASHBOARD_CACHE asks for: auto is Redis with REDIS_URL (given as `redis`), memory without."""
    if mode not in MODES:
        raise ConfigError("DASHBOARD_CACHE", f"expected one of {', '.join(MODES)}, got {mode!r}")
    if mode == "off":
        return None
    if mode == "redis" or (mode == "auto" and redis is not None):
        if redis is None:
            raise ConfigError("DASHBOARD_CACHE", "redis needs REDIS_URL")
        return DashboardCache(RedisStore(redis), database_url)
    return DashboardCache(MemoryStore(), database_url)


def cached(func):
    """Serve `func(db, ctx, ...)` from the database's cache (`db.cache`; None calls straight through).

    The key holds the tenant, its generation, the role and sponsor scope, every other argument, and the tenant's
    today, which is also passed on as `today` when the question takes one. Errors are never cached, so every call
    that is not a hit runs the question's own access checks; a hit was stored by a caller with the same role and
    scope. The generation is read before the question runs: an answer computed while a count commits is stored
    under the older generation, and never served after the bump."""
    question = f"{func.__module__.rsplit('.', 1)[-1]}.{func.__name__}"
    signature = inspect.signature(func)
    takes_today = "today" in signature.parameters

    @functools.wraps(func)
    def wrapper(db, ctx, *args, **kwargs):
        cache = getattr(db, "cache", None)
        if cache is None:
            return func(db, ctx, *args, **kwargs)
        bound = signature.bind(db, ctx, *args, **kwargs)
        bound.apply_defaults()
        tenant = _tenant_row(db, ctx.tenant_id)
        if tenant is None:
            return func(db, ctx, *args, **kwargs)
        try:
            generation = cache.generation(ctx.tenant_id)
        except Exception:  # noqa: BLE001 - without its generation no answer can be trusted: ask the database
            logger.warning("dashboard cache unavailable", exc_info=True)
            return func(db, ctx, *args, **kwargs)
        today = bound.arguments.get("today") or _today(tenant.timezone)
        if takes_today:
            bound.arguments["today"] = today
        params = {k: v for k, v in bound.arguments.items() if k not in ("db", "ctx")}
        params.update(_role=ctx.role, _sponsor=ctx.sponsor_id, _today=today, _tenant_created=tenant.created_at)
        key = cache.key(ctx.tenant_id, generation, question, params)
        value = cache.get(key)
        if value is not _MISS:
            cache.hits += 1
            return value
        cache.misses += 1
        value = func(*bound.args, **bound.kwargs)
        cache.put(key, value)
        return value

    wrapper.uncached = func
    return wrapper


def _tenant_row(db, tenant_id: int):
    from services.models import Tenant

    with db.read_session(tenant_id) as s:
        return s.execute(select(Tenant.timezone, Tenant.created_at).where(Tenant.id == tenant_id)).first()


def _today(timezone: str | None) -> date:
    from services.dashboards.periods import today_in

    return today_in(timezone)
