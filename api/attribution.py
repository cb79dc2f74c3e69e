"""Public attribution endpoints: the conversion pixel `/px.gif` and tracking links `/l/<code>`. Both record to the
tracking prefix's durable path (journal -> Redis -> drain, or the embedded writer) and answer at once."""
from __future__ import annotations

import base64
import functools
import logging
import time
from urllib.parse import parse_qsl

from flask import Blueprint, Flask, Response, current_app, request

from api.state import app_state
from api.tracking import EXTENSION as TRACKING_EXTENSION, Answer, Tracker, anonymous_endpoints, answer_in_flask
from services.measurement.journal import JournalWriteError
from services.measurement.requests import client_ip
from services.sponsorship.attribution import links, pixel, shared_ips

logger = logging.getLogger(__name__)

bp = Blueprint("attribution", __name__)
EXTENSION = "attribution"
LINK_TTL = 60.0  # seconds a link's destination is cached per process
# The smallest transparent 1x1 GIF (GIF89a, one transparent palette entry).
PIXEL_GIF = base64.b64decode("R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7")
GIF_HEADERS = (("Content-Type", "image/gif"), ("Cache-Control", "no-store, max-age=0"), ("Pragma", "no-cache"))


class LinkCache:
    """Tracking-link destinations, cached per process for LINK_TTL (a click must not wait on the database twice)."""

    def __init__(self):
        self._entries: dict[str, tuple[float, str | None]] = {}

    def destination(self, code: str) -> str | None:
        now = time.monotonic()
        cached = self._entries.get(code)
        if cached is None or cached[0] < now:
            if len(self._entries) > 50_000:
                self._entries.clear()
            cached = self._entries[code] = (now + LINK_TTL, links.link_destination(app_state().db, code))
        return cached[1]


def init_attribution(server: Flask) -> None:
    """Wire the pixel and links (after init_tracking, whose sink they share). Stops the start with a clear error
    when the ASN data that flags shared IPs is missing."""
    shared_ips.check_available()
    server.extensions[EXTENSION] = LinkCache()
    server.register_blueprint(bp)
    tracker = server.extensions[TRACKING_EXTENSION]
    anonymous_endpoints(server).exact[("GET", "/px.gif")] = ("/px.gif", functools.partial(pixel_answer, tracker))


def _sink():
    return current_app.extensions[TRACKING_EXTENSION].sink


def _ip() -> str:
    return client_ip(request.remote_addr or "", request.headers.get("X-Forwarded-For"),
                     app_state().settings.trusted_proxies)


def pixel_params(query_string: str) -> dict[str, str]:
    """A pixel call's query parameters, the first value of each, decoded as Flask's request.args decodes them."""
    params: dict[str, str] = {}
    for name, value in parse_qsl(query_string.encode("latin-1").decode(), keep_blank_values=True,
                                 errors="werkzeug.url_quote"):
        params.setdefault(name, value)
    return params


def pixel_answer(tracker: Tracker, environ: dict) -> Answer:
    """Always the GIF, whatever the call carries or whatever fails: a sponsor's page must never show a broken
    image. The call is journaled before the answer and checked when it is stored (a bad one is counted as a
    rejection there)."""
    try:
        tracker.sink.record(pixel.pixel_record(pixel_params(environ.get("QUERY_STRING", "")),
                                               tracker.client_ip(environ)))
    except JournalWriteError:
        pass  # counted in /metrics and logged once per run of failures by the journal: no traceback per call
    except Exception:  # noqa: BLE001 - the answer never depends on recording
        logger.exception("pixel call not recorded")
    return 200, list(GIF_HEADERS), PIXEL_GIF


@bp.route("/px.gif", methods=["GET"])
def conversion_pixel():
    """Reached only for requests AnonymousEndpoints passes on (e.g. a test calling the view directly)."""
    return answer_in_flask(pixel_answer(current_app.extensions[TRACKING_EXTENSION], request.environ))


@bp.route("/l/<code>", methods=["GET"])
def tracking_link(code: str):
    destination = current_app.extensions[EXTENSION].destination(code)
    if destination is None:
        return Response("unknown tracking link\n", status=404, mimetype="text/plain")
    try:
        _sink().record(pixel.click_record(code, _ip(), request.headers.get("Referer")))
    except JournalWriteError:
        pass  # counted and logged by the journal, as for the pixel
    except Exception:  # noqa: BLE001 - the visitor still gets where they were going
        logger.exception("tracking-link click not recorded")
    return Response(status=302, headers={"Location": destination, "Cache-Control": "no-store"})
