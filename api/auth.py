"""Login boundary: sessions, the login and logout routes, login protection for every Dash route, and the
tenant context each request resolves once."""
from __future__ import annotations

import logging

from flask import Blueprint, Flask, abort, g, jsonify, redirect, render_template_string, request, session
from flask_login import LoginManager, UserMixin, current_user, login_user, logout_user

from services import accounts
from services.errors import AuthenticationFailed, PermissionDenied
from services.tenancy import TenantContext
from api import login_guard, sessions
from api.observability import bind_identity
from api.state import app_state, current_db
from api import csrf

logger = logging.getLogger(__name__)

bp = Blueprint("auth", __name__)
login_manager = LoginManager()
login_manager.session_protection = "strong"

# Paths served without a login session (API routes authenticate with keys; tracking and embeds are public).
PUBLIC_PREFIXES = ("/login", "/healthz", "/readyz", "/metrics", "/api/", "/assets/", "/e/", "/px", "/l/", "/embed/",
                   "/static/")
# Dash's JSON routes answer 401 to anonymous requests instead of redirecting.
DASH_JSON_PREFIXES = ("/_dash-", "/_reload-hash", "/_alive")
PORTAL_HOME = "/campaigns"


class SessionUser(UserMixin):
    def __init__(self, user_id: int, email: str, name: str):
        self.id = user_id
        self.email = email
        self.name = name


@login_manager.user_loader
def _load_user(user_id: str) -> SessionUser | None:
    user = accounts.get_user(current_db(), int(user_id))
    if user is None or not user.is_active or not sessions.is_current(user):
        return None
    return SessionUser(user.id, user.email, user.name)


def init_auth(server: Flask) -> None:
    login_manager.init_app(server)
    server.register_blueprint(bp)
    login_guard.init_login_guard(server)
    sessions.init_sessions(server)  # the idle check runs before the login check
    server.before_request(_require_login)


def _require_login():
    path = request.path
    if path.startswith(PUBLIC_PREFIXES):
        return None
    if current_user.is_authenticated:
        bind_identity(session.get("tenant_id"), int(current_user.id))  # every log line names who asked
        return None
    if path.startswith(DASH_JSON_PREFIXES):
        return jsonify(error="login required"), 401
    return redirect(f"/login?next={request.full_path.rstrip('?')}")


def _same_origin() -> bool:
    """Form posts must come from our own pages. api/csrf.py already refuses every cross-site state-changing request
    before any route runs; this asks the same rule, for routes that say so where they change state."""
    return csrf.request_cross_site_reason() is None


def _safe_next(target: str | None) -> str:
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


# What /login?sso=<code> says after single sign-on sent the browser back: fixed texts, none telling whether an address
# has an account.
SSO_MESSAGES = {
    "refused": "We could not sign you in with {name}. If you should have access, ask an admin of your network to "
               "invite this email address, then try again.",
    "failed": "Signing in with {name} did not complete. Please try again.",
    "unavailable": "{name} could not be reached. Please try again later, or sign in with your password.",
}


def login_page(error: str | None = None, email: str = "", next_url: str = "/") -> str:
    """The sign-in page; with single sign-on configured it offers "Sign in with <name>" as well."""
    settings = app_state().settings
    return render_template_string(LOGIN_PAGE, error=error, email=email, next=next_url,
                                  sso_name=settings.oidc_name if settings.sso_enabled else None)


@bp.get("/login")
def login_form():
    if current_user.is_authenticated:
        return redirect(_safe_next(request.args.get("next")))
    settings = app_state().settings
    message = SSO_MESSAGES.get(request.args.get("sso", "")) if settings.sso_enabled else None
    return login_page(message.format(name=settings.oidc_name) if message else None, "", request.args.get("next", "/"))


@bp.post("/login")
def login():
    if not _same_origin():
        abort(403)
    email = request.form.get("email", "")
    next_url = _safe_next(request.form.get("next") or request.args.get("next"))
    try:
        login_guard.check(email)  # over the IP limit or while the account backs off: 429
        user = accounts.authenticate(current_db(), email, request.form.get("password", ""))
    except AuthenticationFailed as exc:
        login_guard.record(email, exc)
        logger.info("login failed")
        status, headers = exc.status, login_guard.answer_headers(exc)
        if request.accept_mimetypes.best == "application/json":
            return jsonify(error=exc.message), status, headers
        return login_page(exc.message, email, next_url), status, headers
    login_guard.record(email)
    from api.mfa import second_step  # here, not at the top: api.mfa builds on this module
    if (ask_for_code := second_step(user, next_url)) is not None:
        return ask_for_code  # MFA is on: not signed in until /login/mfa accepts a code
    return finish_login(user, next_url, request.accept_mimetypes.best == "application/json")


def finish_login(user, next_url: str, json: bool):
    """Sign the user in on a new session (after the password, or after the second factor) and answer."""
    sessions.begin(user)  # a new session: nothing from before sign-in survives
    login_user(SessionUser(user.id, user.email, user.name))
    memberships = accounts.memberships_for_user(current_db(), user.id)
    session["tenant_id"] = memberships[0].tenant_id if memberships else None
    if next_url == "/" and memberships and memberships[0].role == "sponsor":
        next_url = PORTAL_HOME  # the tenant overview is staff-only; a sponsor's home is their campaigns
    logger.info("login", extra={"login_user_id": user.id})
    if json:
        return jsonify(user={"id": user.id, "email": user.email}, tenant_id=session["tenant_id"])
    return redirect(next_url)


@bp.post("/logout")
def logout():
    if not _same_origin():
        abort(403)
    logout_user()
    session.clear()
    return redirect("/login")


def current_context() -> TenantContext:
    """The logged-in user's tenant context for this request (resolved once, then cached on `g`)."""
    if "tenant_context" in g:
        return g.tenant_context
    if not current_user.is_authenticated:
        raise AuthenticationFailed("login required")
    ctx = accounts.resolve_context(current_db(), int(current_user.id), session.get("tenant_id"))
    if ctx is None:
        raise PermissionDenied("this user belongs to no tenant")
    g.tenant_context = ctx
    bind_identity(ctx.tenant_id, ctx.user_id)
    return ctx


LOGIN_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Sign in · Podcast Analytics</title><link rel="stylesheet" href="/assets/style.css"></head>
<body class="login-body"><main class="login-card">
<h1>Podcast Analytics</h1><p class="muted">Sign in to your network</p>
{% if error %}<p class="form-error" role="alert">{{ error }}</p>{% endif %}
<form method="post" action="/login">
<input type="hidden" name="next" value="{{ next }}">
<label for="email">Email</label><input id="email" name="email" type="email" value="{{ email }}" required autofocus>
<label for="password">Password</label><input id="password" name="password" type="password" required>
<button type="submit">Sign in</button></form>
{% if sso_name %}<p class="login-divider muted">or</p>
<a class="button sso-button" id="sso-button" href="/login/oidc?next={{ next | urlencode }}">Sign in with {{ sso_name }}</a>
{% endif %}<p class="muted"><a href="/login/forgot">Forgot your password?</a></p></main></body></html>"""
