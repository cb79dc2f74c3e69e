"""Who may frame our pages: nobody (`frame-ancestors 'none'` and `X-Frame-Options: DENY` on every response), except
an embed's own response, which names the origins its owner allowed (`allow_framing`). The rest of the
Content-Security-Policy is api/security_headers.py's; this module owns only its frame-ancestors directive."""
from __future__ import annotations

from collections.abc import Sequence

from flask import Flask, Response

DENY = "frame-ancestors 'none'"
CSP = "Content-Security-Policy"


def frame_ancestors(origins: Sequence[str]) -> str:
    """The CSP directive for an allowlist; an empty list allows no one."""
    return f"frame-ancestors {' '.join(origins)}" if origins else DENY


def frame_ancestors_of(policy: str | None) -> str | None:
    """The frame-ancestors directive of a Content-Security-Policy value, or None when it has none."""
    for directive in (policy or "").split(";"):
        if directive.strip().startswith("frame-ancestors"):
            return directive.strip()
    return None


def allow_framing(response: Response, origins: Sequence[str] | str) -> Response:
    """Let `origins` (normalised `scheme://host[:port]` strings, or "*") frame this one response."""
    directive = f"frame-ancestors {origins}" if isinstance(origins, str) else frame_ancestors(origins)
    response.headers[CSP] = directive
    if directive == DENY:
        response.headers["X-Frame-Options"] = "DENY"
    else:
        response.framing_allowed = True  # X-Frame-Options has no allowlist: CSP alone decides
    return response


def _deny_framing(response: Response) -> Response:
    if getattr(response, "framing_allowed", False):
        return response
    existing = response.headers.get(CSP)
    if not existing:
        response.headers[CSP] = DENY
    elif frame_ancestors_of(existing) is None:
        response.headers[CSP] = f"{existing}; {DENY}"
    response.headers["X-Frame-Options"] = "DENY"
    return response


def init_framing(server: Flask) -> None:
    server.after_request(_deny_framing)
