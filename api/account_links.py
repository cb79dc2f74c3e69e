"""The pages behind the emailed links: forgot password, reset password, accept an invitation. All sit under /login
(served without a session); posts must come from our own pages."""
from __future__ import annotations

import logging

from flask import Blueprint, Flask, abort, redirect, render_template_string, request

from api.auth import _same_origin
from api.state import current_db
from services import account_links
from services.errors import ServiceError

logger = logging.getLogger(__name__)

bp = Blueprint("account_links", __name__, url_prefix="/login")

SENT = "If an account exists for that address, we have emailed it a link to reset its password (valid for one hour)."

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{ title }} · Podcast Analytics</title><link rel="stylesheet" href="/assets/style.css"></head>
<body class="login-body"><main class="login-card">
<h1>{{ title }}</h1>{% if intro %}<p class="muted">{{ intro }}</p>{% endif %}
{% if error %}<p class="form-error" role="alert">{{ error }}</p>{% endif %}
{% if notice %}<p class="message message-info" role="status">{{ notice }}</p>{% endif %}
{% if form %}<form method="post">
{% if form == "forgot" %}<label for="email">Email</label>
<input id="email" name="email" type="email" required autofocus>{% endif %}
{% if form == "invite" and not existing %}<label for="name">Your name</label>
<input id="name" name="name" autocomplete="name">{% endif %}
{% if form in ("reset", "invite") %}<label for="password">{{ "Your password" if existing else "New password" }}</label>
<input id="password" name="password" type="password" minlength="8" required
 autocomplete="{{ 'current-password' if existing else 'new-password' }}">{% endif %}
<button type="submit">{{ button }}</button></form>{% endif %}
<p class="muted"><a href="/login">Back to sign in</a></p></main></body></html>"""


def _page(status: int = 200, **values):
    defaults = {"intro": None, "error": None, "notice": None, "form": None, "existing": False, "button": "Continue"}
    return render_template_string(PAGE, **{**defaults, **values}), status


@bp.route("/forgot", methods=["GET", "POST"])
def forgot():
    if request.method == "GET":
        return _page(title="Reset your password", intro="We will email you a link.", form="forgot",
                     button="Email me a link")
    if not _same_origin():
        abort(403)
    account_links.request_reset(current_db(), request.form.get("email", ""))
    return _page(title="Check your email", notice=SENT)


@bp.route("/reset/<token>", methods=["GET", "POST"])
def reset(token: str):
    if request.method == "GET":
        return _page(title="Choose a new password", form="reset", button="Set password")
    if not _same_origin():
        abort(403)
    try:
        account_links.reset_password(current_db(), token, request.form.get("password", ""))
    except ServiceError as exc:
        return _page(exc.status, title="Choose a new password", error=exc.message,
                     form="reset" if exc.status == 422 else None, button="Set password")
    return redirect("/login?reset=1")


@bp.route("/invite/<token>", methods=["GET", "POST"])
def invite(token: str):
    db = current_db()
    try:
        tenant, email, existing = account_links.invitation(db, token)
    except ServiceError as exc:
        return _page(exc.status, title="Invitation", error=exc.message)
    values = {"title": f"Join {tenant}", "form": "invite", "existing": existing, "button": "Join",
              "intro": f"Invitation for {email}." + (" Confirm with your password." if existing else "")}
    if request.method == "GET":
        return _page(**values)
    if not _same_origin():
        abort(403)
    try:
        account_links.accept_invite(db, token, request.form.get("password", ""), request.form.get("name", ""))
    except ServiceError as exc:
        return _page(exc.status, **values, error=exc.message)
    return redirect("/login")


def init_account_links(server: Flask) -> None:
    server.register_blueprint(bp)
