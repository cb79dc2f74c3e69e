"""Dispatch: claim the events that are due, hand each to its handlers (at least once), keep the per-handler ledger so
a retried or replayed event has no second effect, retry failures with backoff and park an event whose handler keeps
failing, with its error, until an owner or admin replays it.

Two workers never handle one event at once: on PostgreSQL claims use FOR UPDATE SKIP LOCKED and handling holds the
event's row (FOR NO KEY UPDATE, so the ledger's foreign key does not wait on it); SQLite is one process."""
from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, or_, select, update
from sqlalchemy.orm import Session

from services.db import Database
from services.errors import Conflict, NotFound
from services.events import workflow
from services.events.outbox import Event, announce_after_commit
from services.models import DomainEvent, EventHandling
from services.models.base import utcnow
from services.tenancy import TenantContext, require_role

logger = logging.getLogger(__name__)

MAX_ATTEMPTS = 5  # a handler that fails this many times is parked
# Seconds after `dispatched_at` before an event is due again, by the number of failed rounds so far. Round 0 is the
# lease of a first hand-out: a worker that died with the event is replaced after it.
RETRY_DELAYS = (300, 30, 120, 600, 1800)
MAX_ERROR = 2000
CLAIM_LIMIT = 100
# A claim (FOR UPDATE SKIP LOCKED) locks, until it commits, the rows it passes over that another claim has just
# taken; holding an event skips a locked row, so a pending, locked event is tried again after these pauses.
HOLD_RETRIES = (0.02, 0.05, 0.1, 0.2, 0.5)
HANDLE_BUDGET = 10.0  # seconds handle_due works through its batch before handing the rest back


@dataclass(frozen=True)
class HandlingRow:
    handler: str
    status: str
    attempts: int
    error: str | None


@dataclass(frozen=True)
class EventRow:
    id: int
    type: str
    payload: dict
    occurred_at: datetime
    status: str
    attempts: int
    error: str | None
    handlings: tuple[HandlingRow, ...] = ()


def _due(now: datetime):
    """Pending events never handed out, or whose lease or backoff has run out."""
    waits = [and_(DomainEvent.attempts == n, DomainEvent.dispatched_at <= now - timedelta(seconds=delay))
             for n, delay in enumerate(RETRY_DELAYS)]
    waits.append(and_(DomainEvent.attempts >= len(RETRY_DELAYS),
                      DomainEvent.dispatched_at <= now - timedelta(seconds=RETRY_DELAYS[-1])))
    return and_(DomainEvent.status == "pending", or_(DomainEvent.dispatched_at.is_(None), *waits))


def claim_due(db: Database, now: datetime | None = None, limit: int = CLAIM_LIMIT) -> list[int]:
    """Mark up to `limit` due events as handed out now and return their ids, oldest first (system-wide)."""
    now = now or utcnow()
    with db.session(system=True) as s:
        stmt = select(DomainEvent).where(_due(now)).order_by(DomainEvent.id).limit(limit)
        if db.is_postgres:
            stmt = stmt.with_for_update(skip_locked=True)
        rows = s.scalars(stmt).all()
        for row in rows:
            row.dispatched_at = now
        s.commit()
        return [row.id for row in rows]


def dispatch_due(db: Database, hand_out: Callable[[int], object], now: datetime | None = None,
                 limit: int = CLAIM_LIMIT) -> int:
    """Claim the due events and pass each id to `hand_out` (enqueue its handling); returns how many."""
    ids = claim_due(db, now, limit)
    for event_id in ids:
        hand_out(event_id)
    if ids:
        logger.info("events dispatched", extra={"events": len(ids)})
    return len(ids)


def handle_due(db: Database, now: datetime | None = None, limit: int = CLAIM_LIMIT,
               more: Callable[[], object] | None = None, budget: float = HANDLE_BUDGET, threads: int = 1) -> int:
    """Claim up to `limit` due events and handle them here, `threads` at a time; returns how many were handled.

    A full claim calls `more()` first (queue another dispatch: other workers take the next batch meanwhile). An
    event (after the first) not started within `budget` seconds is handed back (due again at once) and `more()` called, so slow
    handlers delay a few events, not a whole batch. An event whose handling raises keeps its lease: the sweep retries
    it. Handling mostly waits on the database and the network, so a few threads overlap those waits."""
    claimed_at = now or utcnow()
    ids = claim_due(db, claimed_at, limit)
    if more is not None and len(ids) == limit:
        more()
    deadline = time.monotonic() + budget

    def handle(event_id: int) -> bool:
        if event_id != ids[0] and time.monotonic() > deadline:
            return False
        try:
            handle_event(db, event_id, now)
        except Exception:  # e.g. the database went away mid-event; the rest of the batch still gets its turn
            logger.exception("event handling failed", extra={"event_id": event_id})
        return True

    if threads > 1 and len(ids) > 1:
        with ThreadPoolExecutor(min(threads, len(ids)), thread_name_prefix="events") as pool:
            started = list(pool.map(handle, ids))
    else:
        started = [handle(event_id) for event_id in ids]
    left = [event_id for event_id, went in zip(ids, started, strict=True) if not went]
    if left:
        release(db, left, claimed_at)
        if more is not None:
            more()
    if ids:
        logger.info("events handled", extra={"events": len(ids) - len(left), "claimed": len(ids)})
    return len(ids) - len(left)


def release(db: Database, ids: list[int], claimed_at: datetime) -> int:
    """Hand claimed events back unhandled (due again at once); only those still pending under this claim."""
    with db.session(system=True) as s:
        result = s.execute(update(DomainEvent).where(
            DomainEvent.id.in_(ids), DomainEvent.status == "pending", DomainEvent.dispatched_at == claimed_at,
        ).values(dispatched_at=None).execution_options(synchronize_session=False))
        s.commit()
        return result.rowcount


@contextmanager
def _held_event(db: Database, event_id: int) -> Iterator[tuple[Session, DomainEvent | None, dict[str, EventHandling]]]:
    """The event row, held for this worker (None when another holds it or it is gone), with its ledger by handler."""
    with db.session(system=True) as s:
        stmt = select(DomainEvent).where(DomainEvent.id == event_id)
        if db.is_postgres:
            stmt = stmt.with_for_update(key_share=True, skip_locked=True)
        row = s.scalar(stmt)
        for pause in HOLD_RETRIES if db.is_postgres else ():
            if row is not None or s.scalar(select(DomainEvent.status).where(DomainEvent.id == event_id)) != "pending":
                break
            time.sleep(pause)  # locked: maybe only for the moment a concurrent claim passes over the row
            row = s.scalar(stmt)
        ledger = {} if row is None else {h.handler: h for h in s.scalars(
            select(EventHandling).where(EventHandling.event_id == event_id))}
        if not db.is_postgres:
            s.commit()  # SQLite: end the read, so the handlers' own writes are not blocked by it
        yield s, row, ledger


def handle_event(db: Database, event_id: int, now: datetime | None = None,
                 chains: list[tuple[str, ...]] | None = None, handlers: dict | None = None) -> str | None:
    """Run the event's handlers that have not yet succeeded; returns the event's status afterwards, or None when the
    event is gone, already settled, or held by another worker.

    The ledger is read with the held row and written with its settlement, in that one transaction: a worker that
    dies in between leaves no ledger entry, so the (idempotent) handlers run again on the next round."""
    with _held_event(db, event_id) as (s, row, ledger):
        if row is None or row.status != "pending":
            return None
        event = Event.of(row)
        outcomes: dict[str, tuple[str, str | None]] = {}
        for chain in chains if chains is not None else workflow.chains_for(event.type):
            _run_chain(db, s, event, ledger, chain, handlers, outcomes)
        _settle(row, outcomes, now or utcnow())
        s.commit()
        logger.info("event handled", extra={"event_id": event_id, "type": event.type, "status": row.status})
        return row.status


def _run_chain(db: Database, s: Session, event: Event, ledger: dict[str, EventHandling], chain: tuple[str, ...],
               handlers: dict | None, outcomes: dict[str, tuple[str, str | None]]) -> None:
    for name in chain:
        if name not in outcomes:
            outcomes[name] = _run_handler(db, s, event, ledger, name, handlers)
        if outcomes[name][0] != "done":
            return  # the rest of the chain waits for this one


def _run_handler(db: Database, s: Session, event: Event, ledger: dict[str, EventHandling], name: str,
                 handlers: dict | None) -> tuple[str, str | None]:
    done = ledger.get(name)
    if done is not None and done.status in ("done", "parked"):
        return done.status, done.error
    try:
        workflow.resolve(name, handlers)(db, event)
    except Exception as exc:  # any failure of a handler is recorded, retried, then parked
        error = f"{type(exc).__name__}: {exc}"[:MAX_ERROR]
        logger.warning("event handler failed", extra={"event_id": event.id, "handler": name, "error": error})
        return _record_handling(s, event, ledger, name, error)
    return _record_handling(s, event, ledger, name, None)


def _record_handling(s: Session, event: Event, ledger: dict[str, EventHandling], name: str,
                     error: str | None) -> tuple[str, str | None]:
    """Note the handler's outcome in the held session (it commits with the event's settlement)."""
    row = ledger.get(name)
    if row is None:
        row = ledger[name] = EventHandling(event_id=event.id, handler=name, tenant_id=event.tenant_id, attempts=0)
        s.add(row)
    row.attempts += 1
    row.error, row.updated_at = error, utcnow()
    row.status = "done" if error is None else ("parked" if row.attempts >= MAX_ATTEMPTS else "failed")
    return row.status, row.error


def _settle(row: DomainEvent, outcomes: dict[str, tuple[str, str | None]], now: datetime) -> None:
    statuses = [status for status, _ in outcomes.values()]
    errors = [f"{name}: {error}" for name, (status, error) in outcomes.items() if status != "done" and error]
    row.dispatched_at = now
    if all(status == "done" for status in statuses):
        row.status, row.error = "done", None
    elif "failed" in statuses:
        row.attempts += 1
        row.error = "; ".join(errors)[:MAX_ERROR]
    else:
        row.status, row.error = "parked", "; ".join(errors)[:MAX_ERROR]


# --- the events page: owner/admin ------------------------------------------------------------------------------

def list_events(db: Database, ctx: TenantContext, status: str | None = None, type_prefix: str | None = None,
                limit: int = 200) -> list[EventRow]:
    """The tenant's latest events with each handler's state (owners and admins)."""
    require_role(ctx, "admin")
    with db.session(ctx.tenant_id) as s:
        stmt = select(DomainEvent).where(DomainEvent.tenant_id == ctx.tenant_id)
        if status:
            stmt = stmt.where(DomainEvent.status == status)
        if type_prefix:
            stmt = stmt.where(DomainEvent.type.startswith(type_prefix, autoescape=True))
        rows = s.scalars(stmt.order_by(DomainEvent.id.desc()).limit(limit)).all()
        handlings: dict[int, list[HandlingRow]] = {}
        if rows:
            for h in s.scalars(select(EventHandling).where(EventHandling.tenant_id == ctx.tenant_id,
                                                           EventHandling.event_id.in_([r.id for r in rows]))
                               .order_by(EventHandling.handler)):
                handlings.setdefault(h.event_id, []).append(HandlingRow(h.handler, h.status, h.attempts, h.error))
    return [EventRow(r.id, r.type, dict(r.payload or {}), r.occurred_at, r.status, r.attempts, r.error,
                     tuple(handlings.get(r.id, ()))) for r in rows]


def replay(db: Database, ctx: TenantContext, event_id: int) -> None:
    """Send a parked event round again (owners and admins): its parked handlers get fresh attempts; handlers that
    already succeeded are not run again."""
    require_role(ctx, "admin")
    with db.session(ctx.tenant_id) as s:
        row = s.scalar(select(DomainEvent).where(DomainEvent.id == event_id, DomainEvent.tenant_id == ctx.tenant_id))
        if row is None:
            raise NotFound(f"no event {event_id}")
        if row.status != "parked":
            raise Conflict(f"event {event_id} is {row.status}; only a parked event is replayed")
        for handling in s.scalars(select(EventHandling).where(EventHandling.event_id == event_id,
                                                              EventHandling.status != "done")):
            handling.status, handling.attempts = "failed", 0
        row.status, row.attempts, row.dispatched_at = "pending", 0, None
        announce_after_commit(s, "event", row.id)
        s.commit()
    logger.info("event replayed", extra={"event_id": event_id, "tenant_id": ctx.tenant_id, "user_id": ctx.user_id})
