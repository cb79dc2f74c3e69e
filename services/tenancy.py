"""Who is asking: the tenant context every service takes, and the role checks on it."""
from __future__ import annotations

from dataclasses import dataclass, field

from services.errors import PermissionDenied

# Higher rank may do everything a lower rank may. 'sponsor' sits beside 'viewer' but is scoped to one sponsor.
ROLE_RANK = {"sponsor": 0, "viewer": 1, "editor": 2, "admin": 3, "owner": 4}


@dataclass(frozen=True)
class TenantContext:
    tenant_id: int
    role: str
    user_id: int | None = None
    sponsor_id: int | None = None
    tenant_slug: str = ""
    tenant_name: str = ""
    scopes: tuple[str, ...] = field(default=())

    @property
    def is_sponsor(self) -> bool:
        return self.role == "sponsor"

    def can(self, minimum_role: str) -> bool:
        return ROLE_RANK[self.role] >= ROLE_RANK[minimum_role]


def require_role(ctx: TenantContext, minimum_role: str) -> None:
    """Raise PermissionDenied unless the context's role is at least `minimum_role`."""
    if not ctx.can(minimum_role):
        raise PermissionDenied(f"role {ctx.role!r} may not do this (needs {minimum_role} or above)")


def require_staff(ctx: TenantContext) -> None:
    """Tenant-wide data is for tenant staff only, never for sponsor users."""
    if ctx.is_sponsor:
        raise PermissionDenied("sponsor users see only their sponsor's campaigns")
