"""The tracking prefix `/e/<podcast key>/<enclosure URL without scheme>`: record the hit, answer 302 at once.
Its hits (and the pixel's, api/attribution.py) are answered by `AnonymousEndpoints`, ahead of Flask."""
from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

import redis
from flask import Blueprint, Flask, Response, current_app, request
from flask.sessions import SessionInterface
from sqlalchemy.exc import SQLAlchemyError

from services.catalog.prefix import destination_hosts, own_hosts
from services.db import Database
from services.live.board import EXTENSION as LIVE_EXTENSION, LiveBoard
from services.live.bus import MemoryBus, RedisBus
from services.live.feed import LiveFeed, LiveResolver
from services.measurement import ingest, journal
from services.measurement.requests import client_ip
from services.measurement.urls import PrefixRequestError, parse_prefix_request
from services.observability import clear_context
from services.settings import Settings
from api import observability as request_log
from api.state import EXTENSION as STATE_EXTENSION

logger = logging.getLogger(__name__)

bp = Blueprint("tracking", __name__)
HOSTS_TTL = 60.0  # seconds a podcast's allowed destination hosts are cached per process
HOSTS_RETRY = 5.0  # seconds before asking the database again when it failed (the stale hosts answer meanwhile)
EXTENSION = "tracking"


class Tracker:
    """Per-app tracking state: where hits go, the settings and database a hit needs, and a small cache of allowed
    destination hosts (so a request needs no Flask context)."""

    def __init__(self, sink, own_hosts: tuple[str, ...], settings: Settings, db: Database):
        self.sink = sink
        self.own_hosts = own_hosts
        self.settings, self.db = settings, db
        self._hosts: dict[str, tuple[float, frozenset[str] | None]] = {}

    def allowed_hosts(self, key: str) -> frozenset[str] | None:
        cached = self._hosts.get(key)
        now = time.monotonic()
        if cached is None or cached[0] < now:
            try:
                cached = (now + HOSTS_TTL, destination_hosts(self.db, key, self.own_hosts))
            except SQLAlchemyError:
                if cached is None:
                    raise
                # The database is down: the hosts known a minute ago still answer the hit (it is journaled, not
                # stored, so it needs no database); asked again after a short wait.
                logger.warning("prefix hosts unavailable: using the last known ones", exc_info=True)
                cached = (now + HOSTS_RETRY, cached[1])
            self._hosts[key] = cached
        return cached[1]

    def client_ip(self, environ: dict) -> str:
        return client_ip(environ.get("REMOTE_ADDR") or "", environ.get("HTTP_X_FORWARDED_FOR"),
                         self.settings.trusted_proxies)


# What an endpoint answers: status, headers (without Content-Length and X-Request-ID), body.
Answer = tuple[int, list[tuple[str, str]], bytes]
Handler = Callable[[dict], Answer]
_REASONS = {200: "200 OK", 302: "302 FOUND", 404: "404 NOT FOUND", 500: "500 INTERNAL SERVER ERROR"}
_TEXT = "text/plain; charset=utf-8"


class AnonymousEndpoints:
    """WSGI middleware ahead of Flask for the anonymous hot paths: the prefix (GET/HEAD /e/...) and the conversion
    pixel (GET /px.gif). They need no request context, URL map, session, login or hooks, which cost more than the
    endpoints' own work, so they are answered here from the WSGI environ, with the request id, metrics and log
    line the Flask hooks give every other route. Anything else (another method, a path Flask would route
    elsewhere) goes on to Flask, where the same views are registered and answer the same way."""

    def __init__(self, wsgi_app, observability: request_log.Observability):
        self.wsgi_app = wsgi_app
        self.observability = observability
        self.exact: dict[tuple[str, str], tuple[str, Handler]] = {}  # (method, path) -> (route, handler)
        self.prefix: dict[str, tuple[str, Handler]] = {}  # method -> (route, handler) for /e/...

    def __call__(self, environ: dict, start_response):
        method, path = environ.get("REQUEST_METHOD", "GET"), environ.get("PATH_INFO", "")
        if path.startswith("/e/") and len(path) > 3 and path[3] != "/":  # as Flask's /e/<path:_rest> matches
            found = self.prefix.get(method)
        else:
            found = self.exact.get((method, path))
        if found is None:
            return self.wsgi_app(environ, start_response)
        route, handler = found
        started = time.perf_counter()
        request_id = request_log.start_request(environ.get("HTTP_X_REQUEST_ID"))
        try:
            try:
                status, headers, body = handler(environ)
            except Exception:  # as Flask would: a logged 500, never a dropped connection
                logger.exception("Exception on %s [%s]", path, method)
                status, headers, body = 500, [("Content-Type", _TEXT)], b"internal server error\n"
            headers.append(("Content-Length", str(len(body))))
            headers.append((request_log.REQUEST_ID_HEADER, request_id))
            start_response(_REASONS.get(status) or f"{status} UNKNOWN", headers)
            request_log.finish_request(self.observability, method, route, path, status, time.perf_counter() - started)
        finally:
            clear_context()  # a pooled thread never carries this request's id into the next
        return [] if method == "HEAD" else [body]


def anonymous_endpoints(server: Flask) -> AnonymousEndpoints:
    """The app's AnonymousEndpoints, put in front of Flask on first use."""
    if not isinstance(server.wsgi_app, AnonymousEndpoints):
        server.wsgi_app = AnonymousEndpoints(server.wsgi_app, server.extensions[request_log.EXTENSION])
    return server.wsgi_app


ANONYMOUS_PREFIXES = ("/e/", "/px.gif", "/l/")  # prefix hits, the conversion pixel, tracking links


class PrefixWithoutSession(SessionInterface):
    """The app's session interface, except that /e/ requests (and the pixel and tracking links) get no session at
    all: a prefix hit is anonymous, so it neither reads nor verifies nor re-signs a cookie (and Flask-Login never
    loads a user for it)."""

    def __init__(self, inner: SessionInterface):
        self.inner = inner

    def open_session(self, app, request):
        if request.path.startswith(ANONYMOUS_PREFIXES):
            return self.make_null_session(app)
        return self.inner.open_session(app, request)

    def save_session(self, app, session, response) -> None:
        if self.is_null_session(session):
            return None
        return self.inner.save_session(app, session, response)

    def __getattr__(self, name):
        return getattr(self.inner, name)


def init_tracking(server: Flask, record_stores: dict | None = None) -> None:
    """The prefix, and the durable path its hits take (which `record_stores` also give to records of other kinds:
    kind -> store, see services.measurement.ingest.store_records)."""
    state = server.extensions[STATE_EXTENSION]
    settings = state.settings
    spool = ingest.Spool(Path(settings.instance_path) / "spool")
    # The live view: what the journal's shipper (or the embedded writer) hands on is published per tenant, off the
    # request path (services.live); the Live page reads the board its subscription keeps.
    if settings.redis_url:
        # Hits go to a local journal before the 302; a background thread ships it to Redis (journal.JournalSink).
        client = redis.Redis.from_url(settings.redis_url, socket_timeout=2.0, socket_connect_timeout=0.25)
        bus = RedisBus(client)
        feed = LiveFeed(bus, LiveResolver(state.db))
        metrics = server.extensions[request_log.EXTENSION].metrics
        sink = journal.JournalSink(client, Path(settings.instance_path) / "spool" / "journal", legacy_spool=spool,
                                   observer=feed.offer, on_write_failure=metrics.journal_write_failures.inc)
        metrics.watch_journal(sink.pending)
    else:
        bus = MemoryBus()
        feed = LiveFeed(bus, LiveResolver(state.db))
        sink = ingest.ThreadedSink(state.db, functools.partial(ingest.store_records, stores=record_stores), spool,
                                   observer=feed.offer)
    server.extensions[LIVE_EXTENSION] = LiveBoard(bus, feed)
    tracker = server.extensions[EXTENSION] = Tracker(sink, own_hosts(settings), settings, state.db)
    server.session_interface = PrefixWithoutSession(server.session_interface)
    server.register_blueprint(bp)
    endpoints = anonymous_endpoints(server)
    for method in ("GET", "HEAD"):
        endpoints.prefix[method] = ("/e/<path:_rest>", functools.partial(prefix_answer, tracker))


def _not_found(message: str) -> Answer:
    return 404, [("Content-Type", _TEXT)], (message + "\n").encode()


def prefix_answer(tracker: Tracker, environ: dict) -> Answer:
    """Check the prefix request, journal the hit, then answer 302 to the destination (or 404 saying why not)."""
    # The raw path keeps what decoding would lose (%2F); else PATH_INFO decoded as werkzeug does.
    raw_path = environ.get("RAW_URI") or environ.get("REQUEST_URI") or \
        environ.get("PATH_INFO", "").encode("latin-1").decode("utf-8", "replace")
    try:
        parsed = parse_prefix_request(raw_path.split("?", 1)[0], environ.get("QUERY_STRING", "").encode("latin-1"))
    except PrefixRequestError as exc:
        return _not_found(str(exc))
    hosts = tracker.allowed_hosts(parsed.podcast_key)
    if hosts is None:
        return _not_found("unknown podcast key")
    if (urlsplit(parsed.destination).hostname or "").lower() not in hosts:
        return _not_found("this podcast's feed has never used that host")
    try:
        tracker.sink.record(ingest.new_hit(parsed.podcast_key, tracker.client_ip(environ),
                                           environ.get("HTTP_USER_AGENT"), environ.get("HTTP_REFERER"),
                                           environ.get("HTTP_RANGE"), environ.get("REQUEST_METHOD", "GET"),
                                           parsed.destination))
    except journal.JournalWriteError:
        # No 302 without the hit recorded. The journal has counted the loss and logged it once per run of failures:
        # no traceback per hit while the disk is full.
        return 500, [("Content-Type", _TEXT)], b"hit not recorded\n"
    # The destination is already a URI (parse_prefix_request percent-encodes it), as werkzeug would send it.
    return 302, [("Location", parsed.destination), ("Cache-Control", "no-store"),
                 ("Content-Type", "text/html; charset=utf-8")], b""


def answer_in_flask(answer: Answer) -> Response:
    status, headers, body = answer
    return Response(body, status=status, headers=headers)


@bp.route("/e/<path:_rest>", methods=["GET", "HEAD"])
def prefix_redirect(_rest: str):
    """Reached only for requests AnonymousEndpoints passes on (e.g. a test calling the view directly)."""
    return answer_in_flask(prefix_answer(current_app.extensions[EXTENSION], request.environ))
