"""The outbox: services record a domain event in the same session (so the same transaction) as the change it
reports; the dispatcher hands it to its handlers after commit. An event is never lost with a rolled-back change,
and never sent for a change that did not happen."""
from __future__ import annotations

import logging
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import event as sa_event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from services.models.events import DomainEvent

logger = logging.getLogger(__name__)

MAX_TYPE_LENGTH = 64
_PENDING = "outbox_after_commit"  # session.info key: (topic, id) pairs to announce when the session commits
# Per engine: what runs after a commit that recorded something ("event" ids, "email" ids). The jobs layer installs
# it (enqueue the dispatcher, the email sender); without one, the periodic sweep finds the rows.
_triggers: weakref.WeakKeyDictionary[Engine, Callable[[list[tuple[str, int]]], None]] = weakref.WeakKeyDictionary()


@dataclass(frozen=True)
class Event:
    """What a handler receives: plain values, detached from any session."""

    id: int
    tenant_id: int
    type: str
    payload: dict
    occurred_at: datetime

    @classmethod
    def of(cls, row: DomainEvent) -> Event:
        return cls(id=row.id, tenant_id=row.tenant_id, type=row.type, payload=dict(row.payload or {}),
                   occurred_at=row.occurred_at)


def record(session: Session, tenant_id: int, type: str, payload: dict | None = None) -> DomainEvent:
    """Add an event to `session` (flushed, so it has its id); it commits or rolls back with the caller's change."""
    if not type or len(type) > MAX_TYPE_LENGTH or "." not in type:
        raise ValueError(f"event type {type!r}: expected 'noun.verb', at most {MAX_TYPE_LENGTH} characters")
    row = DomainEvent(tenant_id=tenant_id, type=type, payload=dict(payload or {}))
    session.add(row)
    session.flush()
    announce_after_commit(session, "event", row.id)
    return row


def set_trigger(engine: Engine, trigger: Callable[[list[tuple[str, int]]], None] | None) -> None:
    """Call `trigger([(topic, id), ...])` after each commit on `engine` that announced rows; None removes it."""
    if trigger is None:
        _triggers.pop(engine, None)
    else:
        _triggers[engine] = trigger


def announce_after_commit(session: Session, topic: str, row_id: int) -> None:
    """Hand (topic, row_id) to the engine's trigger once `session` commits; a rollback forgets it."""
    session.info.setdefault(_PENDING, []).append((topic, row_id))
    if not sa_event.contains(session, "after_commit", _after_commit):
        sa_event.listen(session, "after_commit", _after_commit)
        sa_event.listen(session, "after_rollback", _after_rollback)


def _after_commit(session: Session) -> None:
    items = session.info.pop(_PENDING, [])
    trigger = _triggers.get(session.get_bind()) if items else None
    if trigger is None:
        return
    try:
        trigger(items)
    except Exception:  # the change is committed; the periodic sweep picks the rows up
        logger.exception("after-commit trigger failed", extra={"items": len(items)})


def _after_rollback(session: Session) -> None:
    session.info.pop(_PENDING, None)
