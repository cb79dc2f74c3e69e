"""Cross-site request forgery: a state-changing request (POST, PUT, PATCH, DELETE) that a browser sends must come
from this app's own pages. One check before every route: the login and logout forms, Dash's callback POSTs (every
form and button of the pages), and /api routes reached with the session cookie.

What decides, in order:
- `Sec-Fetch-Site` (sent by every current browser): only `same-origin` (or `none`, a person's own action) passes;
  `cross-site` and `same-site` (a sibling subdomain) are refused.
- `Origin`: its host must be this request's host or PUBLIC_BASE_URL's; `null` (a sandboxed or privacy-stripped
  origin) is refused.
- Without `Origin`, `Referer` decides the same way.
- With none of the three the request did not come from a browser page (curl, a script, a server holding a
  session): it passes. A forged request rides on a victim's browser, which always sends `Origin` with a POST.

Not checked: /api requests carrying `Authorization` (API keys, never a cookie a browser attaches by itself) and the
public tracking routes (/e/, /px, /l/), which read no session."""
from __future__ import annotations

import logging
from urllib.parse import urlparse

from flask import Flask, abort, request

from api.state import app_state

logger = logging.getLogger(__name__)

STATE_CHANGING = frozenset({"POST", "PUT", "PATCH", "DELETE"})
EXEMPT_PREFIXES = ("/e/", "/px", "/l/")
ALLOWED_FETCH_SITES = frozenset({"same-origin", "none"})
REFUSED = "cross-site request refused: this form or action may only be used from the app's own pages"


def _host_of(url: str) -> str | None:
    parsed = urlparse(url)
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        return None
    return parsed.netloc.lower()


def cross_site_reason(method: str, origin: str | None, referer: str | None, fetch_site: str | None,
                      own_hosts: set[str]) -> str | None:
    """Why this request looks forged (a short phrase for the log), or None when it may pass."""
    if method.upper() not in STATE_CHANGING:
        return None
    if fetch_site is not None and fetch_site.strip().lower() not in ALLOWED_FETCH_SITES:
        return f"Sec-Fetch-Site {fetch_site.strip().lower()[:20]}"
    if origin is not None:
        return None if _host_of(origin) in own_hosts else "foreign Origin"
    if referer is not None:
        return None if _host_of(referer) in own_hosts else "foreign Referer"
    return None


def _exempt(path: str) -> bool:
    if path.startswith(EXEMPT_PREFIXES):
        return True
    return path.startswith("/api/") and "Authorization" in request.headers


def request_cross_site_reason() -> str | None:
    """`cross_site_reason` for the current request (None: it may pass)."""
    own_hosts = {request.host.lower()}
    public = _host_of(app_state().settings.public_base_url)
    if public:
        own_hosts.add(public)
    return cross_site_reason(request.method, request.headers.get("Origin"), request.headers.get("Referer"),
                             request.headers.get("Sec-Fetch-Site"), own_hosts)


def _refuse_cross_site():
    if request.method not in STATE_CHANGING or _exempt(request.path):
        return None
    reason = request_cross_site_reason()
    if reason is None:
        return None
    logger.warning("cross-site request refused", extra={"path": request.path, "reason": reason})
    abort(403, description=REFUSED)


def init_csrf(server: Flask) -> None:
    """Register before the login check, so a forged request is refused before anything reads its session."""
    server.before_request(_refuse_cross_site)
