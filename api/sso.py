"""Single sign-on with an OpenID Connect provider at the boundary: /login/oidc sends the browser to the provider
(authorization code flow with PKCE, state and nonce, through authlib's Flask client), /login/oidc/callback takes its
answer and finishes the sign-in through the same path as a password (throttling, MFA, a new session, the audit log).
Both answer 404 when OIDC_ISSUER is not set."""
from __future__ import annotations

import logging

import requests
from authlib.common.errors import AuthlibBaseError
from authlib.integrations.flask_client import OAuth
from flask import Blueprint, Flask, abort, current_app, redirect, request, session
from flask_login import current_user
from joserfc.errors import JoseError

from api import auth, login_guard
from api.state import app_state, current_db
from services import sso
from services.settings import Settings

logger = logging.getLogger(__name__)

bp = Blueprint("sso", __name__, url_prefix="/login/oidc")

CLIENT = "oidc"
CALLBACK_PATH = "/login/oidc/callback"
NEXT_KEY = "oidc_next"
# What can go wrong talking to the provider: the network, its answers (OAuth errors, a bad or mismatched state) and
# the ID token (signature, issuer, audience, nonce, expiry).
PROVIDER_ERRORS = (requests.RequestException, AuthlibBaseError, JoseError, ValueError, KeyError, RuntimeError)


def init_sso(server: Flask) -> None:
    """Register the routes; with single sign-on configured, also the provider client (its discovery document is read
    on first use, every call with OIDC_TIMEOUT_SECONDS)."""
    server.register_blueprint(bp)
    settings: Settings = server.extensions["podcast_platform"].settings
    if not settings.sso_enabled:
        return
    oauth = OAuth(server)
    oauth.register(
        CLIENT, client_id=settings.oidc_client_id, client_secret=settings.oidc_client_secret,
        server_metadata_url=settings.oidc_issuer.rstrip("/") + "/.well-known/openid-configuration",
        client_kwargs={"scope": "openid email profile", "code_challenge_method": "S256",
                       "token_endpoint_auth_method": "client_secret_basic",
                       "default_timeout": settings.oidc_timeout_seconds})


def _client():
    settings = app_state().settings
    if not settings.sso_enabled:
        abort(404)
    return current_app.extensions["authlib.integrations.flask_client"].create_client(CLIENT)


def _back_to_login(code: str):
    return redirect(f"/login?sso={code}")


@bp.get("")
def start():
    client = _client()
    next_url = auth._safe_next(request.args.get("next"))
    if current_user.is_authenticated:  # as /login does
        return redirect(next_url)
    session[NEXT_KEY] = next_url
    redirect_uri = app_state().settings.public_base_url + CALLBACK_PATH
    try:
        return client.authorize_redirect(redirect_uri)
    except PROVIDER_ERRORS as exc:
        logger.warning("single sign-on provider unavailable: %s", exc.__class__.__name__)
        return _back_to_login("unavailable")


@bp.get("/callback")
def callback():
    client = _client()
    settings = app_state().settings
    try:
        # The ID token's issuer must be the configured one exactly (OpenID Connect Discovery 1.0, section 4.3).
        token = client.authorize_access_token(claims_options={"iss": {"essential": True,
                                                                      "value": settings.oidc_issuer}})
        claims = dict(token.get("userinfo") or {})
        if not claims:
            raise ValueError("the provider sent no ID token")
        if "email" not in claims:  # some providers keep the address for the userinfo endpoint
            info = client.userinfo(token=token)
            if info.get("sub") != claims.get("sub"):
                raise ValueError("userinfo is about another subject")
            claims.update({k: info[k] for k in ("email", "email_verified", "name") if k in info})
    except requests.RequestException as exc:
        logger.warning("single sign-on provider unavailable: %s", exc.__class__.__name__)
        return _back_to_login("unavailable")
    except PROVIDER_ERRORS as exc:
        logger.info("single sign-on did not complete: %s", exc.__class__.__name__)
        return _back_to_login("failed")
    return _finish(claims)


def _finish(claims: dict):
    db = current_db()
    try:
        identity = sso.ProviderIdentity.from_claims(claims)
    except sso.SignInRefused as exc:
        logger.info("single sign-on refused", extra={"reason": exc.reason})
        return _back_to_login("refused")
    email = (identity.email or "").strip().lower()
    try:
        login_guard.check(email)  # the client IP's sign-in limit and the account's backoff, as for a password
        user = sso.sign_in(db, identity)
    except login_guard.LoginThrottled as exc:
        return auth.login_page(exc.message), exc.status, login_guard.answer_headers(exc)
    except sso.SignInRefused as exc:
        login_guard.record(email, exc)
        logger.info("single sign-on refused", extra={"reason": exc.reason})
        return _back_to_login("refused")
    login_guard.record(user.email)
    next_url = auth._safe_next(session.pop(NEXT_KEY, None))
    from api.mfa import second_step  # as in auth.login: api.mfa builds on api.auth

    if (ask_for_code := second_step(user, next_url)) is not None:
        return ask_for_code
    return auth.finish_login(user, next_url, False)
