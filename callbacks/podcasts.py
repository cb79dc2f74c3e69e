"""Podcasts callbacks: list shows with feed status and prefix URL; import a feed from a URL."""
from __future__ import annotations

from dash import Dash, Input, Output, State, ctx, dcc, html

from api.auth import current_context
from api.state import app_state, current_db
from components import kpi
from components.ids import Podcasts
from components.tables import simple_table
from services.catalog import podcasts
from services.catalog.prefix import own_hosts, prefix_url
from services.errors import ServiceError


def _table(rows, base_url: str):
    body = [[dcc.Link(p.title, href=f"/podcasts/{p.id}"), p.episodes, html.Code(prefix_url(base_url, p.prefix_key)),
             p.feed_url or "(imported from a file)",
             html.Span(p.feed_error, className="form-error") if p.feed_error else
             (f"checked {p.feed_checked_at:%Y-%m-%d %H:%M}" if p.feed_checked_at else "—")] for p in rows]
    return simple_table(["Podcast", "Episodes", "Prefix URL", "Feed", "Feed status"], body,
                        "No podcasts yet: import your feed above to start.")


def podcasts_view(_pathname, import_clicks, feed_url):
    message = None
    try:
        tenant_ctx, db, settings = current_context(), current_db(), app_state().settings
        if ctx.triggered_id == Podcasts.IMPORT and import_clicks:
            if not (feed_url or "").strip():
                message = kpi.message("Enter the feed's URL.")
            else:
                result = podcasts.import_feed(db, tenant_ctx, feed_url.strip(), own_hosts(settings))
                message = kpi.message(f"Imported “{result.title}”: {result.created} new episodes, "
                                      f"{result.updated} updated.", "info")
        return _table(podcasts.list_podcasts(db, tenant_ctx), settings.public_base_url), message
    except ServiceError as exc:
        return None, kpi.message(exc.message)


def register(app: Dash) -> None:
    app.callback(Output(Podcasts.TABLE, "children"), Output(Podcasts.MESSAGE, "children"),
                 Input(Podcasts.URL, "pathname"), Input(Podcasts.IMPORT, "n_clicks"),
                 State(Podcasts.FEED, "value"))(podcasts_view)
