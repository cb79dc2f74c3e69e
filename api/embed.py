"""The public embed route: /embed/<token> draws one chart with minimal chrome, no login, with plotly.js served by
the app itself (no CDN; the smallest bundle that draws the chart, api/embed_assets.py); expired or revoked links
answer 410, tampered or unknown ones 404, in words.

Nothing of the request but the token is read: the embed's locked filters alone decide what it shows."""
from __future__ import annotations

import logging

from flask import Blueprint, Flask, Response, current_app, render_template_string, request

from api import embed_assets
from api.framing import allow_framing
from api.state import app_state, current_db
from components.embed_figures import CHART_LABELS, embed_figure, figure_json
from services.sharing import chart_data, store, tokens
from services.errors import NotFound, ServiceError

logger = logging.getLogger(__name__)

bp = Blueprint("embed", __name__)
BUNDLES = "embed_plotly_bundles"  # the app's extensions key: name -> embed_assets.Bundle
SCRIPT_URL = "/embed/assets/embed.js"
TOPOJSON_URL = "/assets/topojson/"

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
    settings, db = app_state().settings, current_db()
    try:
        embed = store.resolve(db, token, settings.embed_keys)
    except store.EmbedGone as exc:
        # Still framed by the sites the owner allowed, so they show the message rather than a browser error.
        return allow_framing(_message(410, "Embed unavailable", exc.message), exc.embed.allowed_origins)
    except NotFound:
        return allow_framing(_message(404, "Link not valid", tokens.INVALID), "*")
    try:
        chart = chart_data.read_chart(db, embed)
    except ServiceError as exc:  # its podcast, episode or campaign is gone, or no longer this embed's to see
        logger.info("embed %s cannot be drawn: %s", embed.id, exc.message)
        return allow_framing(_message(404, "Chart unavailable", "The chart this link shows is no longer "
                                                                 "available."), embed.allowed_origins)
    store.record_view(db, embed)
    bundle = embed_assets.bundle_for(current_app.extensions[BUNDLES], embed.chart)
    body = render_template_string(
        EMBED_PAGE, theme=embed.theme, title=embed.title, label=CHART_LABELS[embed.chart], empty=chart.empty,
        figure=None if chart.empty else figure_json(embed_figure(chart), embed.theme), plotly_url=bundle.url,
        plotly_bundle=bundle.name, script_url=SCRIPT_URL, topojson_url=TOPOJSON_URL,
        methodology_url=f"{settings.public_base_url}/methodology", home_url=f"{settings.public_base_url}/")
    response = Response(body, mimetype="text/html")
    response.headers["Cache-Control"] = "no-store"  # a revoked link must stop at once, not after a cache's lifetime
    response.headers["Referrer-Policy"] = "no-referrer"  # the token is the credential: never pass it on
    return allow_framing(response, embed.allowed_origins)


def _message(status: int, heading: str, text: str) -> Response:
    response = Response(render_template_string(MESSAGE_PAGE, heading=heading, text=text), status=status,
                        mimetype="text/html")
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


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

EMBED_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex"><title>{{ title or label }} · Podcast Analytics</title>""" + STYLE + """
</head><body class="theme-{{ theme }}" data-topojson="{{ topojson_url }}">
{% if title %}<h1>{{ title }}</h1>{% endif %}
{% if empty %}<p class="empty" role="status">{{ empty }}</p>{% else %}<div id="chart" aria-label="{{ label }}"
data-plotly-bundle="{{ plotly_bundle }}"></div>
<script id="figure" type="application/json">{{ figure | safe }}</script>
<script src="{{ plotly_url }}"></script><script src="{{ script_url }}"></script>{% endif %}
<footer>Powered by <a href="{{ home_url }}" target="_blank" rel="noopener">Podcast Analytics</a> ·
<a href="{{ methodology_url }}" target="_blank" rel="noopener">How downloads are counted</a></footer>
</body></html>"""

MESSAGE_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="robots" content="noindex">
<title>{{ heading }} · Podcast Analytics</title>""" + STYLE + """</head>
<body><p class="message" role="alert">{{ text }}</p>
<footer>Powered by Podcast Analytics</footer></body></html>"""
