"""Two-factor sign-in (TOTP, RFC 6238): enrolment, code checks with replay refusal, single-use recovery codes,
and the tenant setting that requires a second factor of every member.

Every user-facing function takes the acting user's own id, resolved from the login session at the boundary, so a
user can only ever read or change their own second factor."""
from __future__ import annotations

import hashlib
import hmac
import logging
import re
import secrets
import time
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

import pyotp
import segno
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from services import accounts, audit
from services.db import Database
from services.errors import AuthenticationFailed, Conflict, NotFound, ValidationError
from services.models import AuditLog, MfaRecoveryCode, Tenant, User
from services.models.base import utcnow
from services.tenancy import TenantContext, require_role

logger = logging.getLogger(__name__)

ISSUER = "Podcast Analytics"
STEP_SECONDS = 30
WINDOW_STEPS = 1  # a code of the step before or after the current one is accepted (clock drift, slow typing)
RECOVERY_CODE_COUNT = 10
MAX_FAILURES = 5  # wrong codes in a row before codes are refused for LOCKOUT
LOCKOUT = timedelta(minutes=15)
TOTP_RE = re.compile(r"^\d{6}$")
_RECOVERY_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"  # no 0/o, 1/l/i to misread


@dataclass(frozen=True)
class MfaStatus:
    enabled: bool
    enabled_at: datetime | None
    recovery_codes_left: int


@dataclass(frozen=True)
class Enrolment:
    secret: str
    uri: str
    qr_data_uri: str  # an SVG QR code of `uri`, inline, so no third party ever sees the secret


def _user(s: Session, user_id: int) -> User:
    user = s.get(User, user_id)
    if user is None or not user.is_active:
        raise NotFound(f"no user {user_id}")
    return user


def status(db: Database, user_id: int) -> MfaStatus:
    with db.session() as s:
        user = _user(s, user_id)
        left = s.scalar(select(func.count(MfaRecoveryCode.id))
                        .where(MfaRecoveryCode.user_id == user_id, MfaRecoveryCode.used_at.is_(None))) or 0
        return MfaStatus(user.mfa_secret is not None, user.mfa_enabled_at, left)


def is_enabled(db: Database, user_id: int) -> bool:
    with db.session() as s:
        return s.scalar(select(User.mfa_secret).where(User.id == user_id)) is not None


def start_enrolment(db: Database, user_id: int) -> Enrolment:
    """The secret to scan; it stays pending (and the same across page loads) until a code confirms it."""
    with db.session() as s:
        user = _user(s, user_id)
        if user.mfa_secret is not None:
            raise Conflict("two-factor sign-in is already on")
        if user.mfa_pending_secret is None:
            user.mfa_pending_secret = pyotp.random_base32()
            s.commit()
        uri = pyotp.TOTP(user.mfa_pending_secret).provisioning_uri(name=user.email, issuer_name=ISSUER)
        return Enrolment(user.mfa_pending_secret, uri, segno.make(uri, error="m").svg_data_uri(scale=4))


def confirm_enrolment(db: Database, user_id: int, code: str, at: float | None = None) -> list[str]:
    """Turn MFA on once `code` matches the pending secret; returns the recovery codes (shown once, kept hashed)."""
    code = _clean_totp(code)
    with db.session() as s:
        user = _user(s, user_id)
        if user.mfa_secret is not None:
            raise Conflict("two-factor sign-in is already on")
        if user.mfa_pending_secret is None:
            raise ValidationError("start the set-up first", {"code": "no set-up in progress"})
        step = _matching_step(user.mfa_pending_secret, code, None, at)
        if step is None:
            raise ValidationError("that code does not match; check the time on your device and try again",
                                  {"code": "wrong code"})
        user.mfa_secret, user.mfa_pending_secret = user.mfa_pending_secret, None
        user.mfa_enabled_at, user.mfa_last_timestep = utcnow(), step
        user.mfa_generation += 1
        user.mfa_failures, user.mfa_failed_at = 0, None
        codes = _replace_recovery_codes(s, user_id)
        _audit(s, user_id, "mfa.enabled")
        s.commit()
        logger.info("mfa enabled", extra={"mfa_user_id": user_id})
        return codes


def disable(db: Database, user_id: int, code: str = "", password: str = "", at: float | None = None) -> None:
    """Turn MFA off; needs a current code (or recovery code) or the account password."""
    _prove(db, user_id, code, password, at)
    with db.session() as s:
        _turn_off(s, _user(s, user_id), "mfa.disabled")
        s.commit()
        logger.info("mfa disabled", extra={"mfa_user_id": user_id})


def reset(db: Database, email: str) -> None:
    """Operators: turn MFA off for a user who lost both their device and their recovery codes."""
    email = (email or "").strip().lower()
    with db.session() as s:
        user = s.scalar(select(User).where(User.email == email))
        if user is None:
            raise NotFound(f"no user {email!r}")
        if user.mfa_secret is None:
            raise Conflict(f"two-factor sign-in is not on for {email}")
        _turn_off(s, user, "mfa.reset")
        s.commit()
        logger.info("mfa reset", extra={"mfa_user_id": user.id})


def _turn_off(s: Session, user: User, action: str) -> None:
    user.mfa_secret = user.mfa_pending_secret = user.mfa_enabled_at = user.mfa_last_timestep = None
    user.mfa_generation += 1  # remembered devices stop counting
    user.mfa_failures, user.mfa_failed_at = 0, None
    s.query(MfaRecoveryCode).filter(MfaRecoveryCode.user_id == user.id).delete()
    _audit(s, user.id, action)


def regenerate_recovery_codes(db: Database, user_id: int, code: str = "", password: str = "",
                              at: float | None = None) -> list[str]:
    """New recovery codes (the old ones stop working); needs a current code or the password."""
    _prove(db, user_id, code, password, at)
    with db.session() as s:
        codes = _replace_recovery_codes(s, user_id)
        _audit(s, user_id, "mfa.recovery_codes_regenerated")
        s.commit()
        return codes


def verify(db: Database, user_id: int, code: str, at: float | None = None) -> str:
    """Check a second-factor code at sign-in: returns 'totp' or 'recovery'; raises AuthenticationFailed otherwise.

    A TOTP code is accepted once (its time step must be later than the last accepted one); a recovery code is
    consumed by one conditional UPDATE, so two requests racing with the same code cannot both succeed."""
    raw = (code or "").strip()
    with db.session() as s:
        user = _user(s, user_id)
        if user.mfa_secret is None:
            raise AuthenticationFailed("two-factor sign-in is not on for this account")
        if user.mfa_failures >= MAX_FAILURES and user.mfa_failed_at and utcnow() - _aware(user.mfa_failed_at) < LOCKOUT:
            _audit(s, user_id, "mfa.failed", {"reason": "locked"})
            s.commit()
            raise AuthenticationFailed("too many wrong codes; try again in 15 minutes")
        kind = None
        if TOTP_RE.match(raw.replace(" ", "")):
            step = _matching_step(user.mfa_secret, raw.replace(" ", ""), user.mfa_last_timestep, at)
            if step is not None and s.execute(
                    update(User).where(User.id == user_id)
                    .where((User.mfa_last_timestep.is_(None)) | (User.mfa_last_timestep < step))
                    .values(mfa_last_timestep=step)).rowcount == 1:
                kind = "totp"
        elif raw:
            used = s.execute(update(MfaRecoveryCode)
                             .where(MfaRecoveryCode.user_id == user_id,
                                    MfaRecoveryCode.code_hash == _hash_recovery(user_id, raw),
                                    MfaRecoveryCode.used_at.is_(None))
                             .values(used_at=utcnow())).rowcount
            if used == 1:
                kind = "recovery"
                _audit(s, user_id, "mfa.recovery_code_used")
        if kind is None:
            s.execute(update(User).where(User.id == user_id)
                      .values(mfa_failures=User.mfa_failures + 1, mfa_failed_at=utcnow()))
            _audit(s, user_id, "mfa.failed", {"reason": "wrong code"})
            s.commit()
            raise AuthenticationFailed("wrong or already used code")
        s.execute(update(User).where(User.id == user_id).values(mfa_failures=0, mfa_failed_at=None))
        s.commit()
        return kind


def device_binding(db: Database, user_id: int) -> str | None:
    """What a remembered device is bound to: the MFA generation and a fingerprint of the secret (None: MFA is off).

    Disabling, re-enrolling or changing the secret changes it, so every earlier remembered device stops counting."""
    with db.session() as s:
        row = s.execute(select(User.mfa_secret, User.mfa_generation).where(User.id == user_id)).one_or_none()
    if row is None or row.mfa_secret is None:
        return None
    fingerprint = hashlib.sha256(row.mfa_secret.encode()).hexdigest()[:16]
    return f"{row.mfa_generation}:{fingerprint}"


def enrolment_required(db: Database, user_id: int, tenant_id: int | None) -> bool:
    """True when the tenant requires a second factor and this user has none yet."""
    if tenant_id is None:
        return False
    with db.session(tenant_id) as s:
        required = s.scalar(select(Tenant.require_mfa).where(Tenant.id == tenant_id))
    return bool(required) and not is_enabled(db, user_id)


def tenant_requirement(db: Database, ctx: TenantContext) -> bool:
    with db.session(ctx.tenant_id) as s:
        return bool(s.scalar(select(Tenant.require_mfa).where(Tenant.id == ctx.tenant_id)))


def set_tenant_requirement(db: Database, ctx: TenantContext, required: bool) -> bool:
    """Owners only: require (or stop requiring) a second factor of every member of their tenant."""
    require_role(ctx, "owner")
    if required and ctx.user_id is not None and not is_enabled(db, ctx.user_id):
        raise ValidationError("turn on two-factor sign-in for your own account first",
                              {"require_mfa": "your account has no second factor"})
    with db.session(ctx.tenant_id) as s:
        tenant = s.get(Tenant, ctx.tenant_id)
        if tenant is None:
            raise NotFound("no such tenant")
        if tenant.require_mfa != required:
            tenant.require_mfa = required
            s.add(AuditLog(tenant_id=ctx.tenant_id, user_id=ctx.user_id, action="tenant.mfa_required",
                           entity_type="tenant", entity_id=ctx.tenant_id, detail={"required": required}))
        s.commit()
        return tenant.require_mfa


def _prove(db: Database, user_id: int, code: str, password: str, at: float | None) -> None:
    """The user shows they hold the account: a current code (or recovery code), or the password."""
    if not is_enabled(db, user_id):
        raise Conflict("two-factor sign-in is not on")
    if (code or "").strip():
        verify(db, user_id, code, at)
        return
    if password:
        user = accounts.get_user(db, user_id)
        if user is not None and accounts.verify_password(user.password_hash, password):
            return
        with db.session() as s:
            _audit(s, user_id, "mfa.failed", {"reason": "wrong password"})
            s.commit()
        raise AuthenticationFailed("wrong password")
    raise ValidationError("enter a current code or your password", {"code": "required"})


def _clean_totp(code: str) -> str:
    code = (code or "").replace(" ", "").strip()
    if not TOTP_RE.match(code):
        raise ValidationError("enter the 6-digit code from your authenticator app", {"code": "6 digits"})
    return code


def _matching_step(secret: str, code: str, last_step: int | None, at: float | None) -> int | None:
    """The time step (within ±WINDOW_STEPS of now) whose code is `code` and that is later than `last_step`."""
    totp = pyotp.TOTP(secret, interval=STEP_SECONDS)
    now_step = int((time.time() if at is None else at) // STEP_SECONDS)
    for step in range(now_step - WINDOW_STEPS, now_step + WINDOW_STEPS + 1):
        if (last_step is None or step > last_step) and hmac.compare_digest(totp.at(step * STEP_SECONDS), code):
            return step
    return None


def _normalize_recovery(code: str) -> str:
    return re.sub(r"[\s-]", "", code or "").lower()


def _hash_recovery(user_id: int, code: str) -> str:
    # Recovery codes carry ~49 random bits, so a fast hash is enough (as for API keys); the user id keeps two
    # users' equal codes apart.
    return hashlib.sha256(f"{user_id}:{_normalize_recovery(code)}".encode()).hexdigest()


def _replace_recovery_codes(s: Session, user_id: int) -> list[str]:
    s.query(MfaRecoveryCode).filter(MfaRecoveryCode.user_id == user_id).delete()
    codes = []
    for _ in range(RECOVERY_CODE_COUNT):
        raw = "".join(secrets.choice(_RECOVERY_ALPHABET) for _ in range(10))
        code = f"{raw[:5]}-{raw[5:]}"
        codes.append(code)
        s.add(MfaRecoveryCode(user_id=user_id, code_hash=_hash_recovery(user_id, code)))
    return codes


def _audit(s: Session, user_id: int, action: str, detail: dict | None = None) -> None:
    """A user's MFA events go to the audit log of every tenant they belong to (their owners see them)."""
    audit.record_for_user(s, user_id, action, detail)


def _aware(value: datetime) -> datetime:
    """SQLite hands back naive datetimes; they are UTC."""
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)
