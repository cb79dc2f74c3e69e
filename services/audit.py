"""Audit log: who changed what, written in the same transaction as the change."""
from __future__ import annotations

from sqlalchemy.orm import Session

from services.models import AuditLog
from services.tenancy import TenantContext


def record(session: Session, ctx: TenantContext, action: str, entity_type: str, entity_id: int | None = None,
           detail: dict | None = None) -> None:
    session.add(AuditLog(tenant_id=ctx.tenant_id, user_id=ctx.user_id, action=action, entity_type=entity_type,
                         entity_id=entity_id, detail=detail or {}))
