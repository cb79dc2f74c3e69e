"""Single sign-on: which user an identity vouched for by the OpenID Connect provider signs in as. An identity
already linked signs in its user; otherwise a verified email links to the existing account of that address, or
accepts a pending invitation for it. Nobody else gets in, and the refusal never says whether the address has an
account."""
from __future__ import annotations

import logging
from dataclasses import dataclass

from sqlalchemy import select

from services import account_links, audit
from services.accounts import normalize_email
from services.db import Database
from services.errors import AuthenticationFailed, ValidationError
from services.models import User, UserIdentity
from services.models.base import utcnow

logger = logging.getLogger(__name__)

METHOD = "oidc"


class SignInRefused(AuthenticationFailed):
    """The provider said yes, but that identity may not sign in here. `reason` is for the audit log and the logs
    only; users see one message whatever it is."""

    def __init__(self, reason: str):
        super().__init__("single sign-on refused")
        self.reason = reason


@dataclass(frozen=True)
class ProviderIdentity:
    """What the provider vouched for, from its validated ID token (and userinfo)."""
    issuer: str
    subject: str
    email: str | None
    email_verified: bool
    name: str = ""

    @classmethod
    def from_claims(cls, claims: dict) -> ProviderIdentity:
        issuer, subject = str(claims.get("iss") or ""), str(claims.get("sub") or "")
        if not issuer or not subject or len(issuer) > 500 or len(subject) > 255:
            raise SignInRefused("bad_claims")
        verified = claims.get("email_verified")
        # Some providers send the boolean as a string; anything else is not a verification.
        verified = verified is True or (isinstance(verified, str) and verified.lower() == "true")
        email = claims.get("email")
        return cls(issuer, subject, email if isinstance(email, str) else None, verified,
                   str(claims.get("name") or "")[:200])


def sign_in(db: Database, identity: ProviderIdentity) -> User:
    """The active user this identity signs in as (last login time and audit written), or SignInRefused."""
    with db.session() as s:  # identities and users are no tenant's rows; invitations and audit are looked up by tenant
        link = s.scalar(select(UserIdentity).where(UserIdentity.issuer == identity.issuer,
                                                   UserIdentity.subject == identity.subject))
        if link is not None:  # linked before: the link decides, whatever email the provider now reports
            user = s.get(User, link.user_id)
            link.last_used_at = utcnow()
            linked = False
        else:
            user = _by_verified_email(s, identity)
            s.add(UserIdentity(user_id=user.id, issuer=identity.issuer, subject=identity.subject, email=user.email,
                               last_used_at=utcnow()))
            linked = True
        if not user.is_active:
            audit.record_for_user(s, user.id, "login.failed", {"method": METHOD, "reason": "inactive"})
            s.commit()
            raise SignInRefused("inactive")
        user.last_login_at = utcnow()
        audit.record_for_user(s, user.id, "login.succeeded", {"method": METHOD, **({"linked": True} if linked else {})})
        s.commit()
        s.expunge(user)
        return user


def _by_verified_email(s, identity: ProviderIdentity) -> User:
    try:
        email = normalize_email(identity.email or "")
    except ValidationError:
        raise SignInRefused("no_email") from None
    user = s.scalar(select(User).where(User.email == email))
    if not identity.email_verified:
        if user is not None:  # the account's tenants see the attempt
            audit.record_for_user(s, user.id, "login.failed", {"method": METHOD, "reason": "email_unverified"})
            s.commit()
        raise SignInRefused("email_unverified")
    if user is not None:
        other = s.scalar(select(UserIdentity.subject).where(UserIdentity.user_id == user.id,
                                                           UserIdentity.issuer == identity.issuer))
        if other is not None:  # the account is linked to another of the provider's accounts: that one signs in
            audit.record_for_user(s, user.id, "login.failed", {"method": METHOD, "reason": "linked_elsewhere"})
            s.commit()
            raise SignInRefused("linked_elsewhere")
        return user
    user = account_links.join_by_verified_email(s, email, identity.name)
    if user is None:
        logger.info("single sign-on for an address with no account and no invitation")
        raise SignInRefused("unknown_email")
    return user
