"""The web process's live board: per tenant, a snapshot of the bus's rolling state loaded on first view, then kept
current by the bus's messages (in sequence; a gap or a lost subscription reloads it). `live_view` turns the state
into what the Live page shows."""
from __future__ import annotations

import threading
import time
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone

from services.live.bus import RECENT_EVENTS, WINDOW_MINUTES
from services.tenancy import TenantContext, require_staff

EXTENSION = "live"  # the web process's LiveBoard, on the Flask app's extensions
IDLE_SECONDS = 120.0  # a tenant nobody has watched this long is dropped (its messages are then ignored)
NOW_MINUTES = 5  # "right now": the episodes, apps and countries of the last five minutes


@dataclass(frozen=True)
class LiveView:
    minutes: list[tuple[datetime, int, int]]  # (minute, hits, conversions), oldest first, WINDOW_MINUTES of them
    hits_now: int  # hits in the last NOW_MINUTES minutes
    episodes: list[tuple[str, int]]  # top episodes, apps and countries of the last NOW_MINUTES minutes
    apps: list[tuple[str, int]]
    countries: list[tuple[str, int]]
    recent: list[dict]  # the last RECENT_EVENTS hits and conversions, newest first


def live_view(minutes: dict[int, dict[str, int]], recent: list[dict], now: float, top: int = 5) -> LiveView:
    """The page's numbers from per-minute counts (epoch minute -> field -> count) and the recent events."""
    current = int(now // 60)
    window = range(current - WINDOW_MINUTES + 1, current + 1)
    series = [(datetime.fromtimestamp(m * 60, timezone.utc), minutes.get(m, {}).get("hits", 0),
               minutes.get(m, {}).get("conversions", 0)) for m in window]
    right_now = Counter()
    for m in range(current - NOW_MINUTES + 1, current + 1):
        right_now.update(minutes.get(m, {}))

    def ranked(prefix: str) -> list[tuple[str, int]]:
        found = [(name[len(prefix):], n) for name, n in right_now.items() if name.startswith(prefix) and n > 0]
        return sorted(found, key=lambda item: (-item[1], item[0]))[:top]

    return LiveView(series, right_now.get("hits", 0), ranked("e:"), ranked("a:"), ranked("c:"),
                    list(reversed(recent[-RECENT_EVENTS:])))


class _TenantBoard:
    def __init__(self, snapshot: dict, seen: float):
        self.seq = snapshot["seq"]
        self.minutes = {int(m): Counter(f) for m, f in snapshot["minutes"].items()}
        self.recent = deque(snapshot["recent"], maxlen=RECENT_EVENTS)
        self.seen = seen
        self.stale = False

    def apply(self, seq: int, message: dict) -> None:
        if seq <= self.seq:
            return  # already in the snapshot
        if seq != self.seq + 1:
            self.stale = True  # a message was missed: reload on the next view
            return
        self.seq = seq
        for minute, fields in message["minutes"].items():
            self.minutes.setdefault(int(minute), Counter()).update(fields)
        self.recent.extend(message["recent"])


class LiveBoard:
    """Subscribes to the bus on first use; `view(tenant_id)` answers from memory once the tenant is loaded."""

    def __init__(self, bus, feed=None, clock: Callable[[], float] = time.time):
        self.bus = bus
        self.feed = feed  # the process's publishing side (tests flush it)
        self._clock = clock
        self._lock = threading.Lock()
        self._tenants: dict[int, _TenantBoard] = {}
        self._listening = False

    def view_for(self, ctx: TenantContext, top: int = 5) -> LiveView:
        """The live view of the context's tenant: tenant-wide, so for tenant staff only (never sponsor users)."""
        require_staff(ctx)
        return self.view(ctx.tenant_id, top)

    def view(self, tenant_id: int, top: int = 5) -> LiveView:
        if not self._listening:
            self.bus.listen(self._on_message, self._on_reset)
            self._listening = True
        now = self._clock()
        with self._lock:
            board = self._tenants.get(tenant_id)
            fresh = board is not None and not board.stale
        if not fresh:
            board = _TenantBoard(self.bus.snapshot(tenant_id), now)  # outside the lock: it may wait on Redis
            with self._lock:
                self._tenants[tenant_id] = board
        with self._lock:
            board.seen = now
            oldest = int(now // 60) - WINDOW_MINUTES
            for minute in [m for m in board.minutes if m < oldest]:
                del board.minutes[minute]
            for idle in [t for t, b in self._tenants.items() if now - b.seen > IDLE_SECONDS]:
                del self._tenants[idle]
            minutes = {m: dict(c) for m, c in board.minutes.items()}
            recent = list(board.recent)
        return live_view(minutes, recent, now, top)

    def _on_message(self, tenant_id: int, seq: int, message: dict) -> None:
        with self._lock:
            board = self._tenants.get(tenant_id)
            if board is not None:
                board.apply(seq, message)

    def _on_reset(self) -> None:
        with self._lock:
            for board in self._tenants.values():
                board.stale = True
