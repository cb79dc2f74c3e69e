"""The live bus: one message per tenant per shipped batch, published on the tenant's channel, and a rolling
per-minute state (about an hour, then it expires) so that a page load shows the last 60 minutes at once.

A message is `{"minutes": {"<epoch minute>": {field: count}}, "recent": [event, ...]}` (newest event last) and
carries the tenant's sequence number, so a subscriber that loaded a snapshot at sequence n applies only n+1, n+2...
and reloads when it sees a gap. Fields: `hits`, `conversions`, `e:<episode>`, `a:<app>`, `c:<country>`.

RedisBus: a Lua script adds the counts (HINCRBY on one hash per tenant and minute, with a TTL), keeps the recent
events (a capped list), bumps the sequence and PUBLISHes, atomically; a snapshot reads it all in one MULTI.
MemoryBus: the same in process, for embedded mode (no Redis)."""
from __future__ import annotations

import json
import logging
import threading
import time
from collections import Counter, deque
from collections.abc import Callable

logger = logging.getLogger(__name__)

WINDOW_MINUTES = 60
RECENT_EVENTS = 20
STATE_TTL_SECONDS = 65 * 60

Handler = Callable[[int, int, dict], None]  # (tenant id, sequence, message)
Snapshot = dict  # {"seq": int, "minutes": {epoch minute: {field: count}}, "recent": [event, ...] newest last}

_PUBLISH = """
local batch = cjson.decode(ARGV[2])
local ttl = tonumber(ARGV[3])
for minute, fields in pairs(batch.minutes) do
  local key = ARGV[4] .. minute
  for field, n in pairs(fields) do redis.call('HINCRBY', key, field, n) end
  redis.call('EXPIRE', key, ttl)
end
for i = 1, #batch.recent do redis.call('LPUSH', KEYS[2], cjson.encode(batch.recent[i])) end
redis.call('LTRIM', KEYS[2], 0, tonumber(ARGV[5]) - 1)
redis.call('EXPIRE', KEYS[2], ttl)
local seq = redis.call('INCR', KEYS[1])
redis.call('EXPIRE', KEYS[1], ttl)
redis.call('PUBLISH', ARGV[1], seq .. ' ' .. ARGV[2])
return seq
"""


class MemoryBus:
    """Embedded mode: the state in dictionaries, handlers called in the publishing thread."""

    def __init__(self, clock: Callable[[], float] = time.time):
        self._clock = clock
        self._lock = threading.Lock()
        self._seq: dict[int, int] = {}
        self._minutes: dict[int, dict[int, Counter]] = {}
        self._recent: dict[int, deque] = {}
        self._handlers: list[Handler] = []

    def publish(self, batches: dict[int, dict]) -> None:
        delivered = []
        with self._lock:
            oldest = int(self._clock() // 60) - WINDOW_MINUTES
            for tenant_id, batch in batches.items():
                minutes = self._minutes.setdefault(tenant_id, {})
                for minute, fields in batch["minutes"].items():
                    minutes.setdefault(int(minute), Counter()).update(fields)
                for minute in [m for m in minutes if m < oldest]:
                    del minutes[minute]
                self._recent.setdefault(tenant_id, deque(maxlen=RECENT_EVENTS)).extend(batch["recent"])
                seq = self._seq[tenant_id] = self._seq.get(tenant_id, 0) + 1
                delivered.append((tenant_id, seq, json.loads(json.dumps(batch))))  # as a subscriber would get it
            handlers = list(self._handlers)
        for tenant_id, seq, message in delivered:
            for handler in handlers:
                handler(tenant_id, seq, message)

    def snapshot(self, tenant_id: int) -> Snapshot:
        with self._lock:
            return {"seq": self._seq.get(tenant_id, 0),
                    "minutes": {m: dict(c) for m, c in self._minutes.get(tenant_id, {}).items()},
                    "recent": list(self._recent.get(tenant_id, ()))}

    def listen(self, handler: Handler, on_reset: Callable[[], None]) -> None:
        with self._lock:
            self._handlers.append(handler)

    def close(self) -> None:
        pass


class RedisBus:
    """Production: state in Redis, messages by PUBLISH on `live:<db>:<tenant id>` (pub/sub is not per database,
    so the channel names the database: two deployments sharing one Redis server never see each other's hits)."""

    def __init__(self, redis_client, clock: Callable[[], float] = time.time):
        self.redis = redis_client
        self._clock = clock
        db = redis_client.connection_pool.connection_kwargs.get("db", 0)
        self.channel_prefix = f"live:{db}:"
        self._publish = redis_client.register_script(_PUBLISH)
        self._handlers: list[tuple[Handler, Callable[[], None]]] = []
        self._listen_lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @staticmethod
    def _keys(tenant_id: int) -> tuple[str, str, str]:
        return f"live:{tenant_id}:seq", f"live:{tenant_id}:recent", f"live:{tenant_id}:m:"

    def publish(self, batches: dict[int, dict]) -> None:
        pipe = self.redis.pipeline(transaction=False)
        for tenant_id, batch in batches.items():
            seq_key, recent_key, minute_prefix = self._keys(tenant_id)
            message = json.dumps({"minutes": {str(m): f for m, f in batch["minutes"].items()},
                                  "recent": batch["recent"]}, separators=(",", ":"))
            self._publish(keys=[seq_key, recent_key], client=pipe,
                          args=[self.channel_prefix + str(tenant_id), message, STATE_TTL_SECONDS, minute_prefix,
                                RECENT_EVENTS])
        pipe.execute()

    def snapshot(self, tenant_id: int) -> Snapshot:
        seq_key, recent_key, minute_prefix = self._keys(tenant_id)
        now_minute = int(self._clock() // 60)
        minutes = list(range(now_minute - WINDOW_MINUTES + 1, now_minute + 1))
        pipe = self.redis.pipeline(transaction=True)
        pipe.get(seq_key)
        for minute in minutes:
            pipe.hgetall(f"{minute_prefix}{minute}")
        pipe.lrange(recent_key, 0, RECENT_EVENTS - 1)
        seq, *counts, recent = pipe.execute()
        return {"seq": int(seq or 0),
                "minutes": {m: {k.decode(): int(v) for k, v in c.items()} for m, c in zip(minutes, counts) if c},
                "recent": [json.loads(e) for e in reversed(recent)]}

    def listen(self, handler: Handler, on_reset: Callable[[], None]) -> None:
        """Add a handler; the first starts the subscription, in a daemon thread. After a lost connection every
        `on_reset` is called (messages may have been missed, so subscribers reload their snapshots) and the thread
        subscribes again."""
        with self._listen_lock:
            self._handlers.append((handler, on_reset))
            if self._thread is None:
                self._thread = threading.Thread(target=self._listen, name="live-subscriber", daemon=True)
                self._thread.start()

    def close(self) -> None:
        """Stop the subscription thread (it notices within a second)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _listen(self) -> None:
        backoff = 0.1
        while not self._stop.is_set():
            pubsub = self.redis.pubsub(ignore_subscribe_messages=True)
            try:
                pubsub.psubscribe(self.channel_prefix + "*")
                backoff = 0.1
                while not self._stop.is_set():
                    message = pubsub.get_message(timeout=1.0)
                    if message is None:
                        continue
                    tenant_id = int(message["channel"].decode().rsplit(":", 1)[1])
                    seq, body = message["data"].decode().split(" ", 1)
                    decoded = json.loads(body)
                    for handler, _ in list(self._handlers):
                        handler(tenant_id, int(seq), decoded)
            except Exception as exc:  # noqa: BLE001 - any failure: resubscribe, and let subscribers reload
                if self._stop.is_set():
                    break
                logger.warning("live subscription lost: resubscribing (%s)", exc)
                for _, on_reset in list(self._handlers):
                    on_reset()
                self._stop.wait(backoff)
                backoff = min(backoff * 2, 5.0)
            finally:
                try:
                    pubsub.close()
                except Exception:  # noqa: BLE001
                    pass
