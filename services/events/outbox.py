"""The outbox: services record a domain event in the same session (so the same transaction) as the change it
reports; the dispatcher hands it to its handlers after commit. An event is never lost with a rolled-back change,
and never sent for a change that did not happen."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from services.models.events import DomainEvent

MAX_TYPE_LENGTH = 64


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
    return row
