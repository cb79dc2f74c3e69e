"""Create, list, revoke and delete a tenant's embeds, and resolve a link's token to its embed and state.

Staff at editor or above share any chart of their tenant; a sponsor user shares only their own sponsor's campaign
charts and sees and changes only their sponsor's embeds. Viewers list. Another tenant's (or another sponsor's)
embed is simply not found."""
from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from urllib.parse import urlsplit

from sqlalchemy import select, update

from services import audit, lookups
from services.dashboards.common import check_podcast, owned_episode
from services.db import Database
from services.sharing import filters as embed_filters
from services.sharing import tokens
from services.errors import Gone, NotFound, PermissionDenied, ValidationError
from services.models import Embed
from services.models.base import utcnow
from services.models.embeds import EMBED_CHARTS, EMBED_THEMES
from services.sponsorship.campaigns import visible_campaign
from services.tenancy import TenantContext, require_role

logger = logging.getLogger(__name__)

MAX_ORIGINS = 20
MAX_TITLE = 200
EXPIRED = "This embed has expired."
REVOKED = "This embed has been revoked by its owner."


class EmbedGone(Gone):
    """An expired or revoked embed's link; carries the embed, whose allowed sites may still show the message."""

    def __init__(self, message: str, embed: EmbedInfo):
        super().__init__(message)
        self.embed = embed


@dataclass(frozen=True)
class EmbedInfo:
    id: int
    tenant_id: int
    chart: str
    filters: dict
    theme: str
    title: str
    expires_at: datetime | None
    allowed_origins: list
    revoked_at: datetime | None
    views: int
    last_viewed_at: datetime | None
    created_at: datetime
    sponsor_id: int | None
    created_by_user_id: int | None

    def state(self, now: datetime | None = None) -> str:
        """active, expired or revoked (revoked wins: it was a decision)."""
        if self.revoked_at is not None:
            return "revoked"
        if self.expires_at is not None and _aware(self.expires_at) <= (now or utcnow()):
            return "expired"
        return "active"

    def as_dict(self) -> dict:
        out = {k: v.isoformat() if isinstance(v, datetime) else v for k, v in asdict(self).items()}
        out["state"] = self.state()
        return out


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=timezone.utc)  # SQLite drops the zone


def _info(row: Embed) -> EmbedInfo:
    return EmbedInfo(row.id, row.tenant_id, row.chart, dict(row.filters or {}), row.theme, row.title or "",
                     _aware(row.expires_at) if row.expires_at else None, list(row.allowed_origins or []),
                     _aware(row.revoked_at) if row.revoked_at else None, row.views or 0,
                     _aware(row.last_viewed_at) if row.last_viewed_at else None, _aware(row.created_at),
                     row.sponsor_id, row.created_by_user_id)


def normalize_origin(value) -> str:
    """`scheme://host[:port]` in lower case, http or https, nothing else (no path, wildcard, quote or space)."""
    text = str(value or "").strip()
    parts = urlsplit(text)
    try:
        port = parts.port
    except ValueError:
        raise ValueError("the port is not a number in 1-65535") from None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise ValueError("an origin such as https://example.com or http://127.0.0.1:8123")
    if parts.path not in ("", "/") or parts.query or parts.fragment or parts.username or parts.password:
        raise ValueError("only scheme, host and port (no path, query or user)")
    host = parts.hostname.lower()
    if not all(ch.isalnum() or ch in ".-[]:" for ch in host) or "*" in text:
        raise ValueError("a host name or IP address, without wildcards")
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"  # an IPv6 address
    return f"{parts.scheme.lower()}://{host}" + (f":{port}" if port else "")


def _origins(raw, errors: dict) -> list[str]:
    if raw in (None, ""):
        return []
    if isinstance(raw, str):
        raw = [part for part in raw.replace("\n", ",").split(",")]
    if not isinstance(raw, Sequence):
        errors["allowed_origins"] = "a list of origins"
        return []
    out: list[str] = []
    for index, item in enumerate(part for part in raw if str(part).strip()):
        try:
            origin = normalize_origin(item)
        except ValueError as exc:
            errors[f"allowed_origins[{index}]"] = f"{item!r}: {exc}"
            continue
        if origin not in out:
            out.append(origin)
    if len(out) > MAX_ORIGINS:
        errors["allowed_origins"] = f"at most {MAX_ORIGINS} origins"
    return out


def _expiry(raw, errors: dict, now: datetime) -> datetime | None:
    if raw in (None, ""):
        return None
    if isinstance(raw, datetime):
        moment = raw
    else:
        try:
            moment = datetime.fromisoformat(str(raw).replace("Z", "+00:00"))
        except ValueError:
            errors["expires_at"] = "a date and time as ISO 8601 (2026-12-31T23:59:00Z)"
            return None
    moment = _aware(moment).astimezone(timezone.utc)
    if moment <= now:
        errors["expires_at"] = "in the future"
    return moment


def _check_scope(ctx: TenantContext, chart: str) -> None:
    if ctx.is_sponsor:
        if chart not in embed_filters.SPONSOR_CHARTS:
            raise PermissionDenied(f"sponsor users may share only their campaign's charts "
                                   f"({', '.join(embed_filters.SPONSOR_CHARTS)})")
    else:
        require_role(ctx, "editor")


def _target_checks(s, ctx: TenantContext):
    """(filter name, check raising NotFound) for each id an embed's filters may lock."""
    return (("podcast", lambda i: check_podcast(s, ctx, i)), ("episode", lambda i: owned_episode(s, ctx, i)),
            ("campaign", lambda i: visible_campaign(s, ctx, i)))


def _check_targets(s, ctx: TenantContext, locked: dict) -> None:
    """The locked podcast, episode or campaign must be this context's to see (NotFound -> a field error)."""
    errors = {}
    for name, check in _target_checks(s, ctx):
        if locked.get(name) is not None:
            try:
                check(locked[name])
            except NotFound:
                errors[f"filters.{name}"] = f"no {name} {locked[name]} here"
    if errors:
        raise ValidationError("bad embed filters: " + ", ".join(sorted(errors)), errors)


def create_embed(db: Database, ctx: TenantContext, data: Mapping, now: datetime | None = None) -> EmbedInfo:
    """Share one chart: data has chart, filters, theme (light|dark), title, expires_at, allowed_origins."""
    now = now or utcnow()
    chart = data.get("chart")
    if chart not in EMBED_CHARTS:
        raise ValidationError(f"chart must be one of {', '.join(EMBED_CHARTS)}", {"chart": "unknown chart"})
    _check_scope(ctx, chart)
    errors: dict[str, str] = {}
    try:
        locked = embed_filters.lock_filters(chart, data.get("filters"))
    except ValidationError as exc:
        locked, errors = {}, dict(exc.fields)
    theme = data.get("theme") or "light"
    if theme not in EMBED_THEMES:
        errors["theme"] = f"one of {', '.join(EMBED_THEMES)}"
    title = data.get("title") or ""
    if not isinstance(title, str) or len(title.strip()) > MAX_TITLE:
        errors["title"] = f"text of at most {MAX_TITLE} characters"
    expires_at = _expiry(data.get("expires_at"), errors, now)
    origins = _origins(data.get("allowed_origins"), errors)
    if errors:
        raise ValidationError("the embed was not created: " + ", ".join(sorted(errors)), errors)
    with db.session(ctx.tenant_id) as s:
        _check_targets(s, ctx, locked)
        row = Embed(tenant_id=ctx.tenant_id, created_by_user_id=ctx.user_id,
                    sponsor_id=ctx.sponsor_id if ctx.is_sponsor else None, chart=chart, filters=locked, theme=theme,
                    title=title.strip(), expires_at=expires_at, allowed_origins=origins, views=0, created_at=now)
        s.add(row)
        s.flush()
        audit.record(s, ctx, "embed.created", "embed", row.id, {"chart": chart, "filters": locked})
        s.commit()
        return _info(row)


def _visible(stmt, ctx: TenantContext):
    stmt = stmt.where(Embed.tenant_id == ctx.tenant_id)
    if ctx.is_sponsor:
        stmt = stmt.where(Embed.sponsor_id == ctx.sponsor_id)
    return stmt


def list_embeds(db: Database, ctx: TenantContext) -> list[EmbedInfo]:
    """The tenant's embeds, newest first; a sponsor user's list holds only their sponsor's."""
    with db.session(ctx.tenant_id) as s:
        rows = s.scalars(_visible(select(Embed), ctx).order_by(Embed.id.desc())).all()
        return [_info(row) for row in rows]


def get_embed(db: Database, ctx: TenantContext, embed_id: int) -> EmbedInfo:
    with db.session(ctx.tenant_id) as s:
        row = s.scalar(_visible(select(Embed).where(Embed.id == embed_id), ctx))
        if row is None:
            raise NotFound(f"no embed {embed_id}")
        return _info(row)


def _changeable(s, ctx: TenantContext, embed_id: int) -> Embed:
    row = s.scalar(_visible(select(Embed).where(Embed.id == embed_id), ctx))
    if row is None:
        raise NotFound(f"no embed {embed_id}")
    if not ctx.is_sponsor:
        require_role(ctx, "editor")
    return row


def revoke_embed(db: Database, ctx: TenantContext, embed_id: int) -> EmbedInfo:
    """Stop this one link at once (other embeds unaffected); revoking twice keeps the first time."""
    with db.session(ctx.tenant_id) as s:
        row = _changeable(s, ctx, embed_id)
        if row.revoked_at is None:
            row.revoked_at = utcnow()
            audit.record(s, ctx, "embed.revoked", "embed", row.id)
        s.commit()
        return _info(row)


def delete_embed(db: Database, ctx: TenantContext, embed_id: int) -> None:
    """Remove the embed; its link then answers as not valid."""
    with db.session(ctx.tenant_id) as s:
        row = _changeable(s, ctx, embed_id)
        s.delete(row)
        audit.record(s, ctx, "embed.deleted", "embed", embed_id)
        s.commit()


def embed_token(embed_id: int, keys: Sequence[tuple[str, str]]) -> str:
    return tokens.sign(embed_id, keys)


def resolve(db: Database, token: str, keys: Sequence[tuple[str, str]], now: datetime | None = None) -> EmbedInfo:
    """The embed a link names, if it still answers: NotFound (tampered, unknown, deleted), EmbedGone (expired or
    revoked)."""
    embed_id = tokens.read(token, keys)
    with db.session() as s:  # no tenant yet: the token names the embed, the lookup names its tenant
        row = s.get(Embed, embed_id) if lookups.enter_tenant_of(s, "embed", embed_id) is not None else None
        info = _info(row) if row is not None else None
    if info is None:
        raise NotFound(tokens.INVALID)
    state = info.state(now)
    if state != "active":
        raise EmbedGone(REVOKED if state == "revoked" else EXPIRED, info)
    return info


def embed_context(embed: EmbedInfo) -> TenantContext:
    """Whom an embed reads as: its tenant, read-only; a sponsor's embed as that sponsor (their campaigns only)."""
    if embed.sponsor_id is not None:
        return TenantContext(tenant_id=embed.tenant_id, role="sponsor", sponsor_id=embed.sponsor_id)
    return TenantContext(tenant_id=embed.tenant_id, role="viewer")


def check_targets(db: Database, embed: EmbedInfo) -> None:
    """NotFound when the podcast, episode or campaign the embed's filters lock is gone or no longer its to see: the
    check its chart's services make too, here on its own (primary-key lookups) so that the public route can answer
    404 before it sends a byte of the page."""
    if all(embed.filters.get(name) is None for name in ("podcast", "episode", "campaign")):
        return  # nothing locked but the period: no session to open
    ctx = embed_context(embed)
    with db.session(embed.tenant_id) as s:
        for name, check in _target_checks(s, ctx):
            if embed.filters.get(name) is not None:
                check(int(embed.filters[name]))


def record_view(db: Database, embed: EmbedInfo) -> None:
    """One more view, counted in the database (concurrent views add up; no read-modify-write)."""
    with db.session(embed.tenant_id) as s:
        s.execute(update(Embed).where(Embed.id == embed.id, Embed.tenant_id == embed.tenant_id)
                  .values(views=Embed.views + 1, last_viewed_at=utcnow()))
        s.commit()
