"""The "data temporarily unavailable" state: while the database cannot be reached (restarting, failing over, out of
connections), every request that needs it answers 503 with Retry-After instead of a raw 500, in the form its caller
reads, and recovers by itself once the database answers again:
- a page: a short HTML page saying so, which reloads itself every few seconds;
- a dashboard callback: a JSON body and the X-Data-Unavailable header, which assets/unavailable.js turns into a
  banner that polls /readyz and reloads the page when the database is back;
- the REST API: a problem document (RFC 9457).
Other database errors (a bug: a missing table, a bad statement) stay 500s, logged as such."""
from __future__ import annotations

import logging
import sqlite3
import time

from flask import Flask, Response, jsonify, request
from markupsafe import escape
from sqlalchemy import exc as sa_exc

from api.problems import API_PREFIX, problem, unexpected_problem

logger = logging.getLogger(__name__)

RETRY_AFTER = 5  # seconds: what the answer tells a client to wait; the page's own reload interval
HEADER = "X-Data-Unavailable"
MESSAGE = "Data temporarily unavailable: the database is not answering. This page retries by itself."
# SQLSTATE classes of a database that is away rather than of a statement that is wrong: 08 connection exception,
# 53 insufficient resources (too many connections, out of memory or disk), 57P operator intervention (shutdown,
# crash recovery, "cannot connect now"); psycopg gives no SQLSTATE for a refused or dropped connection.
_AWAY_SQLSTATES = ("08", "53", "57P")
_SQLITE_AWAY = ("database is locked", "unable to open database", "disk i/o error")
_LOG_EVERY = 10.0  # seconds: one warning per outage burst per process, not one per request
_last_logged = 0.0


def database_away(exc: BaseException) -> bool:
    """Whether `exc` means the database cannot be reached now (retrying later helps), not that a statement failed."""
    if isinstance(exc, sa_exc.TimeoutError):  # the connection pool stayed exhausted
        return True
    if not isinstance(exc, sa_exc.DBAPIError):
        return False
    if exc.connection_invalidated:
        return True
    orig = exc.orig
    if isinstance(orig, sqlite3.OperationalError):
        return any(text in str(orig).lower() for text in _SQLITE_AWAY)
    if not isinstance(exc, (sa_exc.OperationalError, sa_exc.InterfaceError)):
        return False
    sqlstate = getattr(orig, "sqlstate", None)
    return sqlstate is None or sqlstate.startswith(_AWAY_SQLSTATES)


def _page() -> str:
    return (f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
            f'<meta http-equiv="refresh" content="{RETRY_AFTER}"><title>Data temporarily unavailable</title>'
            f'<link rel="stylesheet" href="/assets/style.css"></head><body><main class="unavailable-page">'
            f'<h1>Data temporarily unavailable</h1><p role="status">{escape(MESSAGE)}</p>'
            f'<p><a href="{escape(request.full_path.rstrip("?"))}">Try again now</a></p></main></body></html>')


def unavailable_response(exc: Exception) -> Response:
    global _last_logged
    now = time.monotonic()
    if now - _last_logged >= _LOG_EVERY:
        _last_logged = now
        logger.warning("database unavailable: answering 503 (%s)", type(exc.orig if hasattr(exc, "orig") else exc)
                       .__name__, exc_info=True)
    if request.path.startswith(API_PREFIX):
        response = problem(503, "ServiceUnavailable", "the database is temporarily unavailable; retry shortly")
    elif request.path.startswith("/_dash-"):
        response = jsonify(error="data temporarily unavailable", retry_after=RETRY_AFTER)
        response.status_code = 503
    else:
        response = Response(_page(), status=503, mimetype="text/html")
    response.headers["Retry-After"] = str(RETRY_AFTER)
    response.headers[HEADER] = "1"
    response.headers["Cache-Control"] = "no-store"
    return response


def handle_database_error(exc: Exception):
    if database_away(exc):
        return unavailable_response(exc)
    return unexpected_problem(exc)  # a statement's own failure: the 500 it always was (a problem under /api)


def init_unavailable(server: Flask) -> None:
    """Register after api.problems: the most specific handler wins, so these see database errors first."""
    for error in (sa_exc.DBAPIError, sa_exc.TimeoutError):
        server.register_error_handler(error, handle_database_error)
    server.after_request(_keep_retry_after)


def _keep_retry_after(response: Response) -> Response:
    """The API's rate limiter (registered later, so its hook runs earlier) writes its own window's Retry-After on
    every answer: a 503 of this module keeps its own."""
    if response.headers.get(HEADER):
        response.headers["Retry-After"] = str(RETRY_AFTER)
    return response
