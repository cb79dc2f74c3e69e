"""The public embed route: /embed/<token> draws one chart with minimal chrome, no login, with plotly.js served by
the app itself (no CDN; the smallest bundle that draws the chart, api/embed_assets.py); expired or revoked links
answer 410, tampered or unknown ones 404, in words.

Nothing of the request but the token is read: the embed's locked filters alone decide what it shows."""
from __future__ import annotations

import logging
from collections.abc import Iterator
from functools import lru_cache

from flask import Blueprint, Flask, Response, current_app, request, stream_with_context
from jinja2 import Environment, Template

from api import embed_assets
from api.framing import allow_framing
from api.state import app_state, current_db
from components.embed_figures import CHART_LABELS, embed_figure, figure_json
from services.sharing import chart_data, store, tokens
from services.db import Database
from services.errors import NotFound, ServiceError

logger = logging.getLogger(__name__)

bp = Blueprint("embed", __name__)
BUNDLES = "embed_plotly_bundles"  # the app's extensions key: name -> embed_assets.Bundle
SCRIPT_URL = "/embed/assets/embed.js"
TOPOJSON_URL = "/assets/topojson/"
UNAVAILABLE = "The chart this link shows is no longer available."
FAILED = "This chart could not be drawn just now. Please try again later."

# Draws the figure from the page's JSON block; an external file, so a script-src policy needs no 'unsafe-inline'.
EMBED_JS = """(function () {
  var node = document.getElementById("figure"), target = document.getElementById("chart");
  if (!node || !target || !window.Plotly) { return; }
  var fig = JSON.parse(node.textContent);
  window.Plotly.newPlot(target, fig.data, fig.layout, {displaylogo: false, responsive: true,
    topojsonURL: document.body.getAttribute("data-topojson")}).then(function () {
      document.body.setAttribute("data-drawn", "true");
    });
})();
"""


@bp.get(embed_assets.URL_PREFIX + "<file_name>")
def plotly_js(file_name: str):
    bundle = embed_assets.bundle_by_file(current_app.extensions[BUNDLES], file_name)
    if bundle is None:  # another version's URL, or none at all
        return _message(404, "Not found", "No such file.")
    return embed_assets.bundle_response(bundle, request)


@bp.get(SCRIPT_URL)
def embed_js():
    response = Response(EMBED_JS, mimetype="text/javascript")
    response.cache_control.max_age = 3600
    return response


@bp.get("/embed/<token>")
def show_embed(token: str):
    """Streamed: every check that can refuse the page (the token, the embed's state, its locked podcast, episode or
    campaign) runs before the first byte; then the page's head goes out at once, so the browser fetches and runs
    plotly.js while the chart is read, and the chart (or why there is none) follows in the same response."""
    settings, db = app_state().settings, current_db()
    try:
        embed = store.resolve(db, token, settings.embed_keys)
    except store.EmbedGone as exc:
        # Still framed by the sites the owner allowed, so they show the message rather than a browser error.
        return allow_framing(_message(410, "Embed unavailable", exc.message), exc.embed.allowed_origins)
    except NotFound:
        return allow_framing(_message(404, "Link not valid", tokens.INVALID), "*")
    try:
        store.check_targets(db, embed)
    except ServiceError as exc:  # its podcast, episode or campaign is gone, or no longer this embed's to see
        logger.info("embed %s cannot be drawn: %s", embed.id, exc.message)
        return allow_framing(_message(404, "Chart unavailable", UNAVAILABLE), embed.allowed_origins)
    bundle = embed_assets.bundle_for(current_app.extensions[BUNDLES], embed.chart)
    head = _render(EMBED_HEAD, theme=embed.theme, title=embed.title, label=CHART_LABELS[embed.chart],
                   plotly_url=bundle.url, topojson_url=TOPOJSON_URL)
    tail = _render(EMBED_FOOTER, methodology_url=f"{settings.public_base_url}/methodology",
                   home_url=f"{settings.public_base_url}/")
    response = Response(stream_with_context(_embed_page(db, embed, bundle, head, tail)), mimetype="text/html")
    response.headers["Cache-Control"] = "no-store"  # a revoked link must stop at once, not after a cache's lifetime
    response.headers["Referrer-Policy"] = "no-referrer"  # the token is the credential: never pass it on
    return allow_framing(response, embed.allowed_origins)


def _embed_page(db: Database, embed: store.EmbedInfo, bundle: embed_assets.Bundle, head: str,
                tail: str) -> Iterator[str]:
    """The head at once, then the chart. The status (200) is sent by then, so a failure from here on is told in the
    page, in words: never an empty chart or a stack trace. A view counts once the chart is ready to send."""
    yield head
    try:
        chart = chart_data.read_chart(db, embed)
        figure = None if chart.empty else figure_json(embed_figure(chart), embed.theme)
        store.record_view(db, embed)
    except ServiceError as exc:  # the target went between the check and the read
        logger.info("embed %s cannot be drawn: %s", embed.id, exc.message)
        body = _render(EMBED_FAILED, text=UNAVAILABLE)
    except Exception:  # noqa: BLE001 - the page has begun: say so in it (the log has the trace)
        logger.exception("embed %s failed after its page was sent", embed.id)
        body = _render(EMBED_FAILED, text=FAILED)
    else:
        body = _render(EMBED_CHART, label=CHART_LABELS[embed.chart], empty=chart.empty, figure=figure,
                       plotly_bundle=bundle.name, script_url=SCRIPT_URL)
    yield body + tail


def _message(status: int, heading: str, text: str) -> Response:
    response = Response(_render(MESSAGE_PAGE, heading=heading, text=text), status=status,
                        mimetype="text/html")
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


def _render(source: str, **context) -> str:
    """One of this module's templates, compiled once per Jinja environment (render_template_string compiles it on
    every call, about 0.6 ms a template), autoescaped as Flask's string templates are."""
    return _compiled(current_app.jinja_env, source).render(**context)


@lru_cache(maxsize=16)
def _compiled(env: Environment, source: str) -> Template:
    return env.from_string(source)


def init_embed(server: Flask) -> None:
    server.extensions[BUNDLES] = embed_assets.find_bundles()
    server.register_blueprint(bp)


STYLE = """<style>
*{box-sizing:border-box}html,body{height:100%;margin:0}
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;display:flex;flex-direction:column;
background:#fff;color:#1f2933}
body.theme-dark{background:#111827;color:#e5e7eb}
h1{font-size:15px;font-weight:600;margin:10px 12px 0}
#chart{flex:1;min-height:200px}
.empty,.message{flex:1;display:flex;align-items:center;justify-content:center;text-align:center;padding:16px;margin:0}
footer{font-size:11px;padding:4px 12px 8px;opacity:.75}
a{color:inherit}
</style>"""

# The page in the order it is sent. First everything known before the chart's query: the title shows at once, and
# plotly.js (the longest part of a first render) is fetched and run while the chart is read; then the chart (drawn
# by embed.js, which needs both), a note that there is no data or that the chart failed, and the footer.
EMBED_HEAD = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex"><title>{{ title or label }} · Podcast Analytics</title>""" + STYLE + """
</head><body class="theme-{{ theme }}" data-topojson="{{ topojson_url }}">
{% if title %}<h1>{{ title }}</h1>{% endif %}
<script src="{{ plotly_url }}"></script>
"""
EMBED_CHART = """{% if empty %}<p class="empty" role="status">{{ empty }}</p>{% else %}<div id="chart"
aria-label="{{ label }}" data-plotly-bundle="{{ plotly_bundle }}"></div>
<script id="figure" type="application/json">{{ figure | safe }}</script>
<script src="{{ script_url }}"></script>{% endif %}
"""
EMBED_FAILED = """<p class="message" role="alert">{{ text }}</p>
"""
EMBED_FOOTER = """<footer>Powered by <a href="{{ home_url }}" target="_blank" rel="noopener">Podcast Analytics</a> ·
<a href="{{ methodology_url }}" target="_blank" rel="noopener">How downloads are counted</a></footer>
</body></html>"""

MESSAGE_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="robots" content="noindex">
<title>{{ heading }} · Podcast Analytics</title>""" + STYLE + """</head>
<body><p class="message" role="alert">{{ text }}</p>
<footer>Powered by Podcast Analytics</footer></body></html>"""
