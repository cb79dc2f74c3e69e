"""Login sessions: a fresh session at each sign-in carrying the user's session generation (a session with an older
one is refused), the idle timeout, and "sign out everywhere"."""
from __future__ import annotations

import secrets
import time
from urllib.parse import urlparse

from flask import Blueprint, Flask, abort, redirect, request, session
from flask_login import current_user, logout_user

from services import accounts
from services.errors import ServiceError
from services.models import User
from api.state import app_state, current_db

bp = Blueprint("sessions", __name__)

GENERATION = "session_generation"
LAST_SEEN = "last_seen"
# The last-seen time is rewritten at most this often, so the cookie is not re-issued on every request.
SEEN_RESOLUTION_SECONDS = 60


def _now() -> float:
    return time.time()


def init_sessions(server: Flask) -> None:
    """Register the idle check; it runs before the login check (call this before that one is registered)."""
    server.register_blueprint(bp)
    server.before_request(_expire_idle)


def begin(user: User) -> None:
    """Start a new session for `user` (call before login_user): nothing of the session before sign-in survives, and a
    new random id makes the cookie differ from any earlier one."""
    session.clear()
    session["sid"] = secrets.token_urlsafe(16)
    session[GENERATION] = user.session_generation
    session[LAST_SEEN] = int(_now())


def is_current(user: User) -> bool:
    """Whether this request's session carries the user's current generation (older: signed out elsewhere)."""
    return session.get(GENERATION) == user.session_generation


def _expire_idle():
    if "_user_id" not in session:
        return None
    idle_minutes = app_state().settings.session_idle_minutes
    if not idle_minutes:
        return None
    now, seen = _now(), session.get(LAST_SEEN)
    if seen is None or now - seen > idle_minutes * 60:
        logout_user()
        session.clear()  # the login check that follows answers this request as anonymous
    elif now - seen >= SEEN_RESOLUTION_SECONDS:
        session[LAST_SEEN] = int(now)
    return None


@bp.post("/account/sign-out-everywhere")
def sign_out_everywhere():
    """End every session of the signed-in user (this one too); the login check has already run for this path."""
    origin = request.headers.get("Origin")
    if origin is not None and urlparse(origin).netloc != request.host:
        abort(403)
    from api.auth import current_context  # api.auth imports this module

    try:
        ctx = current_context()
    except ServiceError:  # a user of no tenant still ends their sessions (nothing to audit it in)
        ctx = None
    accounts.sign_out_everywhere(current_db(), int(current_user.id), ctx)
    logout_user()
    session.clear()
    return redirect("/login")
