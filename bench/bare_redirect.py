"""Baseline for bench_prefix.py: a bare Flask app whose single route answers 302 with a Location header.

Served the same way as the product: gunicorn --no-control-socket -w 2 --pythonpath bench 'bare_redirect:create_app()'.
It does no parsing, no lookup and no recording, so its throughput is the ceiling of Flask + gunicorn on this host."""
from __future__ import annotations

from flask import Flask, Response


def create_app() -> Flask:
    app = Flask(__name__)

    @app.route("/e/<path:rest>", methods=["GET", "HEAD"])
    def redirect(rest: str) -> Response:
        key, _, target = rest.partition("/")
        return Response(status=302, headers={"Location": "https://" + target, "Cache-Control": "no-store"})

    @app.route("/healthz")
    def healthz() -> Response:
        return Response("ok\n", mimetype="text/plain")

    return app
