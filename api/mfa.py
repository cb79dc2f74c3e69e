"""Two-factor sign-in at the boundary: the second login step (/login/mfa), the remembered-device cookie, the
account security page (/account/security) and sending members of a tenant that requires MFA to enrolment."""
from __future__ import annotations

import logging
import time

from flask import (Blueprint, Flask, Response, abort, current_app, jsonify, redirect, render_template_string, request,
                   session)
from flask_login import current_user, logout_user
from itsdangerous import BadSignature, URLSafeTimedSerializer

from api import auth
from api.state import current_db
from services import accounts, mfa, user_deletion
from services.errors import AuthenticationFailed, ServiceError

logger = logging.getLogger(__name__)

bp = Blueprint("mfa", __name__)

PENDING_KEY = "mfa_pending"
PENDING_SECONDS = 300  # the password step is good for this long
REMEMBER_COOKIE = "mfa_device"
REMEMBER_DAYS = 30
SECURITY_PATH = "/account/security"
# What a member who must enrol can still reach: enrolment itself, signing in and out, and static files.
ENROLMENT_OPEN_PREFIXES = (SECURITY_PATH, "/logout")


def init_mfa(server: Flask) -> None:
    """Register after init_auth: the enrolment check runs after the login check."""
    server.register_blueprint(bp)
    server.before_request(_require_enrolment)


def _wants_json() -> bool:
    return request.accept_mimetypes.best == "application/json"


def second_step(user, next_url: str) -> Response | None:
    """Called by login() once the password is right: None to sign in now, or the response asking for a code."""
    binding = mfa.device_binding(current_db(), user.id)
    if binding is None or _remembered(user.id, binding):
        return None
    session.clear()  # not signed in until the second factor is shown
    session[PENDING_KEY] = {"user_id": user.id, "next": next_url, "at": int(time.time())}
    logger.info("login needs a second factor", extra={"login_user_id": user.id})
    if _wants_json():
        return jsonify(mfa_required=True)
    return redirect("/login/mfa")


def _pending_user_id() -> int | None:
    pending = session.get(PENDING_KEY)
    if not isinstance(pending, dict) or time.time() - pending.get("at", 0) > PENDING_SECONDS:
        return None
    return pending.get("user_id")


@bp.get("/login/mfa")
def mfa_form():
    if _pending_user_id() is None:
        return redirect("/login")
    return render_template_string(MFA_PAGE, error=None)


@bp.post("/login/mfa")
def mfa_submit():
    if not auth._same_origin():
        abort(403)
    user_id = _pending_user_id()
    body = request.get_json(silent=True) if request.is_json else None
    form = body if isinstance(body, dict) else request.form
    if user_id is None:
        session.pop(PENDING_KEY, None)
        message = "sign in with your password first (or again: the code step expired)"
        if _wants_json() or body is not None:
            return jsonify(error=message), 401
        return redirect("/login")
    db = current_db()
    try:
        kind = mfa.verify(db, user_id, str(form.get("code", "")))
    except AuthenticationFailed as exc:
        logger.info("second factor failed", extra={"login_user_id": user_id})
        if _wants_json() or body is not None:
            return jsonify(error=exc.message), 401
        return render_template_string(MFA_PAGE, error=exc.message), 401
    user = accounts.get_user(db, user_id)
    if user is None or not user.is_active:
        session.clear()
        abort(401)
    next_url = auth._safe_next(session[PENDING_KEY].get("next"))
    response = _finish_login(user, next_url, json=_wants_json() or body is not None)
    if str(form.get("remember", "")).lower() in ("1", "on", "true", "yes"):
        _remember(response, user.id, mfa.device_binding(db, user.id))
    logger.info("second factor accepted", extra={"login_user_id": user_id, "mfa_kind": kind})
    return response


def _finish_login(user, next_url: str, json: bool) -> Response:
    """The same sign-in login() completes for a user without MFA."""
    return auth.finish_login(user, next_url, json)


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.secret_key, salt="mfa-remembered-device")


def _remember(response: Response, user_id: int, binding: str | None) -> None:
    if binding is None:
        return
    token = _serializer().dumps({"u": user_id, "b": binding})
    response.set_cookie(REMEMBER_COOKIE, token, max_age=REMEMBER_DAYS * 86400, httponly=True, samesite="Lax",
                        secure=request.is_secure or bool(current_app.config.get("SESSION_COOKIE_SECURE")),
                        path="/login")


def _remembered(user_id: int, binding: str) -> bool:
    token = request.cookies.get(REMEMBER_COOKIE)
    if not token:
        return False
    try:
        data = _serializer().loads(token, max_age=REMEMBER_DAYS * 86400)
    except BadSignature:  # also SignatureExpired
        return False
    return isinstance(data, dict) and data.get("u") == user_id and data.get("b") == binding


def _require_enrolment():
    """Members of a tenant that requires MFA reach nothing but enrolment until they have a second factor."""
    path = request.path
    if path.startswith(auth.PUBLIC_PREFIXES) or path.startswith(ENROLMENT_OPEN_PREFIXES):
        return None
    if not current_user.is_authenticated:
        return None
    if not mfa.enrolment_required(current_db(), int(current_user.id), session.get("tenant_id")):
        return None
    if path.startswith(auth.DASH_JSON_PREFIXES):
        return jsonify(error="your network requires two-factor sign-in: set it up first", enrol=SECURITY_PATH), 403
    return redirect(SECURITY_PATH)


@bp.get(SECURITY_PATH)
def security_page():
    return _render_security()


@bp.post(SECURITY_PATH + "/enable")
def enable():
    if not auth._same_origin():
        abort(403)
    try:
        codes = mfa.confirm_enrolment(current_db(), int(current_user.id), request.form.get("code", ""))
    except ServiceError as exc:
        return _render_security(error=exc.message, status=400)
    return _render_security(codes=codes, notice="Two-factor sign-in is on.")


@bp.post(SECURITY_PATH + "/disable")
def disable():
    if not auth._same_origin():
        abort(403)
    try:
        mfa.disable(current_db(), int(current_user.id), request.form.get("code", ""), request.form.get("password", ""))
    except ServiceError as exc:
        return _render_security(error=exc.message, status=400)
    response = _render_security(notice="Two-factor sign-in is off.")
    response.delete_cookie(REMEMBER_COOKIE, path="/login")
    return response


@bp.post(SECURITY_PATH + "/recovery-codes")
def regenerate():
    if not auth._same_origin():
        abort(403)
    try:
        codes = mfa.regenerate_recovery_codes(current_db(), int(current_user.id), request.form.get("code", ""),
                                              request.form.get("password", ""))
    except ServiceError as exc:
        return _render_security(error=exc.message, status=400)
    return _render_security(codes=codes, notice="New recovery codes; the old ones no longer work.")


@bp.post(SECURITY_PATH + "/delete")
def delete_account():
    """Erase the signed-in user's account everywhere (services.user_deletion), confirmed by their password."""
    if not auth._same_origin():
        abort(403)
    try:
        user_deletion.delete_own_account(current_db(), current_app.secret_key, int(current_user.id),
                                         str(request.form.get("password", "")))
    except ServiceError as exc:
        return _render_security(error=exc.message, status=exc.status)
    logout_user()
    session.clear()
    response = current_app.make_response((render_template_string(DELETED_PAGE), 200))
    response.delete_cookie(REMEMBER_COOKIE, path="/login")
    return response


def _render_security(codes: list[str] | None = None, error: str | None = None, notice: str | None = None,
                     status: int = 200) -> Response:
    db = current_db()
    user_id = int(current_user.id)
    state = mfa.status(db, user_id)
    enrolment = None if state.enabled else mfa.start_enrolment(db, user_id)
    required = mfa.enrolment_required(db, user_id, session.get("tenant_id"))
    html = render_template_string(SECURITY_PAGE, state=state, enrolment=enrolment, codes=codes, error=error,
                                  notice=notice, required=required, email=current_user.email)
    response = current_app.make_response((html, status))
    response.headers["Cache-Control"] = "no-store"  # the secret and recovery codes must not be cached
    return response


_HEAD = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title} · Podcast Analytics</title><link rel="stylesheet" href="/assets/style.css"></head>"""

MFA_PAGE = _HEAD.format(title="Two-factor sign-in") + """
<body class="login-body"><main class="login-card">
<h1>Podcast Analytics</h1><p class="muted">Enter the 6-digit code from your authenticator app, or a recovery code.</p>
{% if error %}<p class="form-error" role="alert">{{ error }}</p>{% endif %}
<form method="post" action="/login/mfa">
<label for="code">Code</label>
<input id="code" name="code" type="text" inputmode="text" autocomplete="one-time-code" required autofocus>
<label class="checkbox-label"><input type="checkbox" name="remember" value="1"> Remember this device for 30 days</label>
<button type="submit">Verify</button></form>
<p><a href="/login">Start over</a></p></main></body></html>"""

SECURITY_PAGE = _HEAD.format(title="Account security") + """
<body class="login-body"><main class="login-card security-card">
<h1>Account security</h1><p class="muted">{{ email }}</p>
{% if notice %}<p class="form-notice" role="status">{{ notice }}</p>{% endif %}
{% if error %}<p class="form-error" role="alert">{{ error }}</p>{% endif %}
{% if required %}<p class="form-error" role="alert">Your network requires two-factor sign-in. Set it up to continue.</p>{% endif %}
{% if codes %}
<h2>Recovery codes</h2>
<p>Each code signs you in once if you lose your device. Keep them somewhere safe: they are shown only now.</p>
<ul class="recovery-codes" id="recovery-codes">{% for c in codes %}<li><code>{{ c }}</code></li>{% endfor %}</ul>
{% endif %}
{% if state.enabled %}
<p id="mfa-state">Two-factor sign-in is <strong>on</strong>{% if state.enabled_at %} since
{{ state.enabled_at.strftime('%Y-%m-%d') }}{% endif %}. Recovery codes left: {{ state.recovery_codes_left }}.</p>
<h2>New recovery codes</h2>
<form method="post" action="/account/security/recovery-codes">
<label for="regen-code">Current code</label><input id="regen-code" name="code" type="text" autocomplete="one-time-code">
<label for="regen-password">or password</label><input id="regen-password" name="password" type="password">
<button type="submit">Make new recovery codes</button></form>
<h2>Turn off</h2>
<form method="post" action="/account/security/disable">
<label for="off-code">Current code</label><input id="off-code" name="code" type="text" autocomplete="one-time-code">
<label for="off-password">or password</label><input id="off-password" name="password" type="password">
<button type="submit">Turn off two-factor sign-in</button></form>
{% else %}
<p id="mfa-state">Two-factor sign-in is <strong>off</strong>.</p>
<h2>Set up</h2>
<p>Scan this code with an authenticator app, or type the key in by hand.</p>
<img id="mfa-qr" src="{{ enrolment.qr_data_uri }}" alt="QR code for your authenticator app" width="200" height="200">
<p>Key: <code id="mfa-secret">{{ enrolment.secret }}</code></p>
<form method="post" action="/account/security/enable">
<label for="enable-code">Code from the app</label>
<input id="enable-code" name="code" type="text" inputmode="numeric" autocomplete="one-time-code" required>
<button type="submit">Turn on</button></form>
{% endif %}
<h2>Delete your account</h2>
<p>Deletes your account in every network with your personal data; audit entries stay under a pseudonym. It cannot
be undone. The last owner of a network cannot delete their account: make someone else owner first.</p>
<form method="post" action="/account/security/delete">
<label for="delete-password">Your password</label>
<input id="delete-password" name="password" type="password" autocomplete="current-password" required>
<button type="submit" class="danger-button">Delete my account</button></form>
<div class="form-row">{% if not required %}<a href="/">Back to the dashboards</a>{% endif %}
<form method="post" action="/logout" class="logout-form"><button type="submit" class="link-button">Sign out</button></form></div>
</main></body></html>"""

DELETED_PAGE = _HEAD.format(title="Account deleted") + """
<body class="login-body"><main class="login-card">
<h1>Account deleted</h1><p role="status">Your account and its personal data are gone.</p>
<p><a href="/login">Sign in with another account</a></p></main></body></html>"""
