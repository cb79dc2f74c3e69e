"""Sponsors: create, edit and archive them (editors and above), and invite a sponsor's users (admins and above)."""
from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from urllib.parse import urlparse

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from services import audit
from services.accounts import EMAIL_RE, hash_password
from services.db import Database
from services.errors import Conflict, NotFound, ValidationError
from services.models import Campaign, Membership, Sponsor, User
from services.models.base import utcnow
from services.tenancy import TenantContext, require_role, require_staff

logger = logging.getLogger(__name__)

FIELDS = ("name", "industry", "website", "contact_name", "contact_email")
LIMITS = {"name": 200, "industry": 100, "website": 2000, "contact_name": 200, "contact_email": 320}


@dataclass(frozen=True)
class SponsorRow:
    id: int
    name: str
    industry: str | None
    website: str | None
    contact_name: str | None
    contact_email: str | None
    archived: bool
    campaigns: int
    pixel_key: str = ""  # what the sponsor's site puts in /px.gif?k=

    def as_dict(self) -> dict:
        return {"id": self.id, "name": self.name, "industry": self.industry, "website": self.website,
                "contact_name": self.contact_name, "contact_email": self.contact_email, "archived": self.archived,
                "campaigns": self.campaigns, "pixel_key": self.pixel_key}


def is_http_url(value: str) -> bool:
    parsed = urlparse(value)
    return parsed.scheme in ("http", "https") and bool(parsed.netloc) and " " not in value


def clean_sponsor(data: dict) -> dict:
    """The sponsor's fields, trimmed; raises ValidationError naming every bad field."""
    unknown = sorted(set(data) - set(FIELDS))
    errors = {name: "unknown field" for name in unknown}
    values = {}
    for name in FIELDS:
        if name not in data:
            continue
        raw = data[name]
        if raw is not None and not isinstance(raw, str):
            errors[name] = "must be text"
            continue
        value = (raw or "").strip() or None
        if value is not None and len(value) > LIMITS[name]:
            errors[name] = f"at most {LIMITS[name]} characters"
        values[name] = value
    if "name" in data and not values.get("name") and "name" not in errors:
        errors["name"] = "required"
    if values.get("website") and "website" not in errors and not is_http_url(values["website"]):
        errors["website"] = "an http:// or https:// address"
    if values.get("contact_email") and "contact_email" not in errors and not EMAIL_RE.match(values["contact_email"]):
        errors["contact_email"] = "not an email address"
    if errors:
        raise ValidationError("; ".join(f"{k}: {v}" for k, v in errors.items()), errors)
    return values


def _row(sponsor: Sponsor, campaigns: int) -> SponsorRow:
    return SponsorRow(sponsor.id, sponsor.name, sponsor.industry, sponsor.website, sponsor.contact_name,
                      sponsor.contact_email, sponsor.archived_at is not None, campaigns, sponsor.pixel_key)


def _get(s, ctx: TenantContext, sponsor_id: int) -> Sponsor:
    sponsor = s.scalar(select(Sponsor).where(Sponsor.id == sponsor_id, Sponsor.tenant_id == ctx.tenant_id))
    if sponsor is None or (ctx.is_sponsor and sponsor.id != ctx.sponsor_id):
        raise NotFound(f"no sponsor {sponsor_id}")
    return sponsor


def _check_name_free(s, ctx: TenantContext, name: str, sponsor_id: int | None = None) -> None:
    same_name = func.lower(Sponsor.name) == name.lower()
    clash = s.scalar(select(Sponsor.id).where(Sponsor.tenant_id == ctx.tenant_id, same_name,
                                              Sponsor.id != (sponsor_id or 0)))
    if clash is not None:
        raise ValidationError(f"a sponsor called {name!r} exists", {"name": "another sponsor has this name"})


def list_sponsors(db: Database, ctx: TenantContext, include_archived: bool = True) -> list[SponsorRow]:
    """Tenant staff see every sponsor; a sponsor user sees only their own."""
    with db.session(ctx.tenant_id) as s:
        counts = (select(Campaign.sponsor_id, func.count(Campaign.id).label("n"))
                  .where(Campaign.tenant_id == ctx.tenant_id).group_by(Campaign.sponsor_id).subquery())
        stmt = (select(Sponsor, func.coalesce(counts.c.n, 0)).outerjoin(counts, counts.c.sponsor_id == Sponsor.id)
                .where(Sponsor.tenant_id == ctx.tenant_id).order_by(Sponsor.archived_at.is_not(None), Sponsor.name))
        if ctx.is_sponsor:
            stmt = stmt.where(Sponsor.id == ctx.sponsor_id)
        if not include_archived:
            stmt = stmt.where(Sponsor.archived_at.is_(None))
        return [_row(sponsor, int(n)) for sponsor, n in s.execute(stmt).all()]


def get_sponsor(db: Database, ctx: TenantContext, sponsor_id: int) -> SponsorRow:
    with db.session(ctx.tenant_id) as s:
        sponsor = _get(s, ctx, sponsor_id)
        n = s.scalar(select(func.count(Campaign.id)).where(Campaign.sponsor_id == sponsor.id)) or 0
        return _row(sponsor, int(n))


def create_sponsor(db: Database, ctx: TenantContext, data: dict) -> SponsorRow:
    require_role(ctx, "editor")
    values = clean_sponsor({"name": None, **data})
    with db.session(ctx.tenant_id) as s:
        _check_name_free(s, ctx, values["name"])
        sponsor = Sponsor(tenant_id=ctx.tenant_id, **values)
        s.add(sponsor)
        s.flush()
        audit.record(s, ctx, "sponsor.created", "sponsor", sponsor.id, {"name": sponsor.name})
        s.commit()
        return _row(sponsor, 0)


def update_sponsor(db: Database, ctx: TenantContext, sponsor_id: int, data: dict) -> SponsorRow:
    require_role(ctx, "editor")
    values = clean_sponsor(data)
    with db.session(ctx.tenant_id) as s:
        sponsor = _get(s, ctx, sponsor_id)
        if values.get("name"):
            _check_name_free(s, ctx, values["name"], sponsor.id)
        changes = {k: [getattr(sponsor, k), v] for k, v in values.items() if getattr(sponsor, k) != v}
        for key, (_old, new) in changes.items():
            setattr(sponsor, key, new)
        if changes:
            audit.record(s, ctx, "sponsor.updated", "sponsor", sponsor.id, changes)
        s.commit()
    return get_sponsor(db, ctx, sponsor_id)


def archive_sponsor(db: Database, ctx: TenantContext, sponsor_id: int, archived: bool = True) -> SponsorRow:
    """Archive (or restore) a sponsor: it leaves the campaign form's choices; its campaigns and history stay."""
    require_role(ctx, "editor")
    with db.session(ctx.tenant_id) as s:
        sponsor = _get(s, ctx, sponsor_id)
        if (sponsor.archived_at is not None) != archived:
            sponsor.archived_at = utcnow() if archived else None
            audit.record(s, ctx, "sponsor.archived" if archived else "sponsor.restored", "sponsor", sponsor.id)
        s.commit()
    return get_sponsor(db, ctx, sponsor_id)


@dataclass(frozen=True)
class Invitation:
    email: str
    sponsor_id: int
    password: str | None  # shown once; None when the user already had a login


def invite_sponsor_user(db: Database, ctx: TenantContext, sponsor_id: int, email: str) -> Invitation:
    """Give `email` a sponsor login for this sponsor (admins and above); a new user gets a one-time password."""
    require_role(ctx, "admin")
    email = (email or "").strip().lower()
    if not EMAIL_RE.match(email):
        raise ValidationError(f"{email!r} is not an email address", {"email": "not an email address"})
    with db.session(ctx.tenant_id) as s:
        sponsor = _get(s, ctx, sponsor_id)
        if sponsor.archived_at is not None:
            raise ValidationError("an archived sponsor gets no new users", {"sponsor_id": "archived"})
        user = s.scalar(select(User).where(User.email == email))  # users are global; the table has no policy
        password = None
        if user is None:
            password = secrets.token_urlsafe(12)
            user = User(email=email, name="", password_hash=hash_password(password))
            s.add(user)
            s.flush()
        user_id = user.id
        s.add(Membership(tenant_id=ctx.tenant_id, user_id=user_id, role="sponsor", sponsor_id=sponsor.id))
        audit.record(s, ctx, "sponsor.user_invited", "sponsor", sponsor.id, {"email": email})
        try:
            s.commit()
        except IntegrityError:
            raise Conflict(f"{email} is already a member of this network") from None
    logger.info("sponsor user invited", extra={"sponsor_id": sponsor_id})
    return Invitation(email=email, sponsor_id=sponsor_id, password=password)


@dataclass(frozen=True)
class SponsorEntry:
    sponsor: SponsorRow
    users: list[str]


def sponsor_directory(db: Database, ctx: TenantContext) -> list[SponsorEntry]:
    """The management page's list: every sponsor with its logins (tenant staff only)."""
    require_staff(ctx)
    rows = list_sponsors(db, ctx)
    with db.session(ctx.tenant_id) as s:
        logins = s.execute(select(Membership.sponsor_id, User.email).join(User, User.id == Membership.user_id)
                           .where(Membership.tenant_id == ctx.tenant_id, Membership.sponsor_id.is_not(None))
                           .order_by(User.email)).all()
    by_sponsor: dict[int, list[str]] = {}
    for sponsor_id, email in logins:
        by_sponsor.setdefault(sponsor_id, []).append(email)
    return [SponsorEntry(row, by_sponsor.get(row.id, [])) for row in rows]
