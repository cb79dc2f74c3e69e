"""Security headers on every response (OWASP ASVS 14.4): a Content-Security-Policy that allows only this origin
(plus the hashes of Dash's own inline scripts), nosniff, a referrer policy, a minimal permissions policy, and
Strict-Transport-Security on HTTPS requests. Who may frame a response stays api/framing.py's decision: this module
writes every other directive and keeps the frame-ancestors that framing sets."""
from __future__ import annotations

import base64
import hashlib
import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass, field

import dash
from flask import Flask, Response, current_app, request

from api.framing import CSP, frame_ancestors_of

EXTENSION = "security_headers"
HSTS = "max-age=31536000; includeSubDomains"
PERMISSIONS_POLICY = "camera=(), microphone=(), geolocation=(), payment=(), usb=()"
REFERRER_POLICY = "strict-origin-when-cross-origin"
# Plotly draws with inline style attributes and adds its own <style> rules at run time (the modebar, hover
# labels, notifiers); Dash's components and the embed and API docs pages' <style> blocks need them too. CSP has
# no way to allow those by hash (a hash covers <style> elements, not style attributes set from script), so styles
# keep 'unsafe-inline'. Scripts do not: they are files from this origin or hashed.
STYLE_SRC = "'self' 'unsafe-inline'"
FIXED_DIRECTIVES = (
    ("default-src", "'self'"),
    ("style-src", STYLE_SRC),
    ("img-src", "'self' data:"),
    ("connect-src", "'self'"),
    ("font-src", "'self'"),
    ("object-src", "'none'"),
    ("base-uri", "'self'"),
    ("form-action", "'self'"),
)


def script_hash(source: str) -> str:
    """The CSP source expression that allows one inline script (or style) with exactly this text."""
    return "'sha256-" + base64.b64encode(hashlib.sha256(source.encode()).digest()).decode() + "'"


def content_security_policy(script_hashes: Sequence[str] = ()) -> str:
    """The policy without frame-ancestors (api/framing.py adds that per response)."""
    scripts = " ".join(("'self'", *dict.fromkeys(script_hashes)))  # one clientside function may be inlined twice
    directives = [FIXED_DIRECTIVES[0], ("script-src", scripts), *FIXED_DIRECTIVES[1:]]
    return "; ".join(f"{name} {value}" for name, value in directives)


def with_frame_ancestors(policy: str, existing: str | None) -> str:
    """`policy` plus the frame-ancestors directive of the header already set (by framing), if any."""
    directive = frame_ancestors_of(existing)
    return f"{policy}; {directive}" if directive else policy


@dataclass
class SecurityHeaders:
    dash_app: dash.Dash
    trusted_proxies: tuple = ()
    _policy: str = ""
    _scripts_seen: int = field(default=-1)

    def policy(self) -> str:
        """Dash's inline scripts (its renderer, inline clientside callbacks) can grow until the first page is
        served; the policy is recomputed only when their number changes."""
        scripts = self.dash_app._inline_scripts  # noqa: SLF001 - what csp_hashes() itself reads
        count = len(scripts)
        if count != self._scripts_seen:
            self._policy = content_security_policy(self.dash_app.csp_hashes())
            self._scripts_seen = len(scripts)  # csp_hashes() moves Dash's global inline scripts into the list
        return self._policy

    def is_https(self) -> bool:
        """HTTPS as the browser sees it: the request itself, or a trusted proxy's X-Forwarded-Proto."""
        if request.is_secure:
            return True
        proto = request.headers.get("X-Forwarded-Proto", "").split(",")[0].strip().lower()
        if proto != "https" or not self.trusted_proxies:
            return False
        try:
            peer = ipaddress.ip_address(request.remote_addr or "")
        except ValueError:
            return False
        return any(peer in network for network in self.trusted_proxies)


def _add_headers(response: Response) -> Response:
    state: SecurityHeaders = current_app.extensions[EXTENSION]
    headers = response.headers
    headers[CSP] = with_frame_ancestors(state.policy(), headers.get(CSP))
    headers["X-Content-Type-Options"] = "nosniff"
    headers.setdefault("Referrer-Policy", REFERRER_POLICY)  # an embed sends no-referrer (its token is in its URL)
    headers["Permissions-Policy"] = PERMISSIONS_POLICY
    if state.is_https():
        headers["Strict-Transport-Security"] = HSTS
    return response


def init_security_headers(server: Flask, dash_app: dash.Dash, trusted_proxies: tuple = ()) -> None:
    """Register after api.framing's hook, so this one runs first (Flask runs after_request hooks last-in first)
    and framing then adds frame-ancestors 'none' where the view set none; either order gives the same header."""
    server.extensions[EXTENSION] = SecurityHeaders(dash_app, tuple(trusted_proxies))
    server.after_request(_add_headers)
