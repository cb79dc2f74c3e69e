"""Baseline for bench_prefix.py and bench_pixel.py: a bare Flask app whose routes answer a 302 with a Location header
(/e/...) or a static 1x1 GIF (/px.gif), doing no work.

Served the same way as the product: gunicorn --no-control-socket -w 2 --pythonpath bench 'bare_redirect:create_app()'.
It does no parsing, no lookup and no recording, so its throughput is the ceiling of Flask + gunicorn on this host."""
from __future__ import annotations

import base64

from flask import Flask, Response

GIF = base64.b64decode("R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7")  # the product's pixel


def create_app() -> Flask:
    app = Flask(__name__)

    @app.route("/e/<path:rest>", methods=["GET", "HEAD"])
    def redirect(rest: str) -> Response:
        key, _, target = rest.partition("/")
        return Response(status=302, headers={"Location": "https://" + target, "Cache-Control": "no-store"})

    @app.route("/px.gif", methods=["GET"])
    def pixel() -> Response:
        return Response(GIF, mimetype="image/gif", headers={"Cache-Control": "no-store, max-age=0", "Pragma": "no-cache"})

    @app.route("/healthz")
    def healthz() -> Response:
        return Response("ok\n", mimetype="text/plain")

    return app
