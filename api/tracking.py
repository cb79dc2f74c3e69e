"""The tracking prefix `/e/<podcast key>/<enclosure URL without scheme>`: record the hit, answer 302 at once."""
from __future__ import annotations

import functools
import logging
import time
from pathlib import Path
from urllib.parse import urlsplit

import redis
from flask import Blueprint, Flask, Response, current_app, request
from flask.sessions import SessionInterface

from services.catalog.prefix import destination_hosts, own_hosts
from services.measurement import ingest, journal
from services.measurement.requests import client_ip
from services.measurement.urls import PrefixRequestError, parse_prefix_request
from api.state import EXTENSION as STATE_EXTENSION, app_state

logger = logging.getLogger(__name__)

bp = Blueprint("tracking", __name__)
HOSTS_TTL = 60.0  # seconds a podcast's allowed destination hosts are cached per process
EXTENSION = "tracking"


class Tracker:
    """Per-app tracking state: where hits go and a small cache of allowed destination hosts."""

    def __init__(self, sink, own_hosts: tuple[str, ...]):
        self.sink = sink
        self.own_hosts = own_hosts
        self._hosts: dict[str, tuple[float, frozenset[str] | None]] = {}

    def allowed_hosts(self, key: str) -> frozenset[str] | None:
        cached = self._hosts.get(key)
        now = time.monotonic()
        if cached is None or cached[0] < now:
            cached = (now + HOSTS_TTL, destination_hosts(app_state().db, key, self.own_hosts))
            self._hosts[key] = cached
        return cached[1]


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
    if settings.redis_url:
        # Hits go to a local journal before the 302; a background thread ships it to Redis (journal.JournalSink).
        client = redis.Redis.from_url(settings.redis_url, socket_timeout=2.0, socket_connect_timeout=0.25)
        sink = journal.JournalSink(client, Path(settings.instance_path) / "spool" / "journal", legacy_spool=spool)
    else:
        sink = ingest.ThreadedSink(state.db, functools.partial(ingest.store_records, stores=record_stores), spool)
    server.extensions[EXTENSION] = Tracker(sink, own_hosts(settings))
    server.session_interface = PrefixWithoutSession(server.session_interface)
    server.register_blueprint(bp)


def _not_found(message: str) -> Response:
    return Response(message + "\n", status=404, mimetype="text/plain")


@bp.route("/e/<path:_rest>", methods=["GET", "HEAD"])
def prefix_redirect(_rest: str):
    raw_path = request.environ.get("RAW_URI") or request.environ.get("REQUEST_URI") or request.path
    try:
        parsed = parse_prefix_request(raw_path.split("?", 1)[0], request.query_string)
    except PrefixRequestError as exc:
        return _not_found(str(exc))
    tracker: Tracker = current_app.extensions[EXTENSION]
    hosts = tracker.allowed_hosts(parsed.podcast_key)
    if hosts is None:
        return _not_found("unknown podcast key")
    if (urlsplit(parsed.destination).hostname or "").lower() not in hosts:
        return _not_found("this podcast's feed has never used that host")
    settings = app_state().settings
    ip = client_ip(request.remote_addr or "", request.headers.get("X-Forwarded-For"), settings.trusted_proxies)
    tracker.sink.record(ingest.new_hit(parsed.podcast_key, ip, request.headers.get("User-Agent"),
                                       request.headers.get("Referer"), request.headers.get("Range"),
                                       request.method, parsed.destination))
    return Response(status=302, headers={"Location": parsed.destination, "Cache-Control": "no-store"})
