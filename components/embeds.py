"""Sharing a chart as an embed: the "Share / embed" button beside a chart, the form that makes the embed (theme,
title, expiry, allowed origins) and shows its iframe snippet, and the embeds list. Pure builders, no I/O."""
from __future__ import annotations

from dash import dcc, html

from components.embed_figures import CHART_LABELS, iframe_snippet
from components.share import ShareIds
from components.tables import simple_table

EXPIRY_CHOICES = [{"label": "Never", "value": 0}, {"label": "In 7 days", "value": 7},
                  {"label": "In 30 days", "value": 30}, {"label": "In 90 days", "value": 90},
                  {"label": "In a year", "value": 365}]


def share_form(prefix: str) -> html.Div:
    """Hidden until a share button opens it for its chart."""
    ids = ShareIds(prefix)
    return html.Div([
        dcc.Store(id=ids.CHART),
        html.Div([
            html.H2("Share / embed", id=f"{prefix}-embed-heading"),
            html.P("The embed shows this chart with the page's current filters, locked: a preset period moves with "
                   "the calendar. Anyone with the link can see the chart; revoke it at any time on the Embeds page.",
                   className="muted"),
            html.Label("Theme", htmlFor=ids.THEME, className="control-label"),
            dcc.RadioItems([{"label": "Light", "value": "light"}, {"label": "Dark", "value": "dark"}], "light",
                           id=ids.THEME, inline=True),
            html.Label("Title (optional)", htmlFor=ids.TITLE, className="control-label"),
            dcc.Input(id=ids.TITLE, maxLength=200, className="text-input", placeholder="Shown above the chart"),
            html.Label("Expires", htmlFor=ids.EXPIRY, className="control-label"),
            dcc.Dropdown(EXPIRY_CHOICES, 0, id=ids.EXPIRY, clearable=False, searchable=False),
            html.Label("Sites allowed to frame it (one origin a line, e.g. https://example.com)",
                       htmlFor=ids.ORIGINS, className="control-label"),
            dcc.Textarea(id=ids.ORIGINS, className="text-input embed-origins",
                         placeholder="https://www.example.com"),
            html.P("With no sites listed, the link opens on its own but no site can frame it.", className="muted"),
            html.Div([html.Button("Create embed", id=ids.CREATE, className="primary-button"),
                      html.Button("Close", id=ids.CLOSE, className="link-button")], className="button-row"),
            html.Div(id=ids.RESULT, className="embed-result"),
        ], className="panel embed-dialog", role="dialog", **{"aria-labelledby": f"{prefix}-embed-heading"}),
    ], id=ids.BOX, className="embed-backdrop", style={"display": "none"})


def snippet_panel(url: str, title: str = "") -> html.Div:
    """What a new embed answers: its link and the iframe snippet, each with a copy button."""
    snippet = iframe_snippet(url, title)
    return html.Div([
        html.Strong("Embed created. Paste this on your site:"),
        html.Div([html.Pre(snippet, className="secret embed-snippet"),
                  dcc.Clipboard(content=snippet, title="Copy the snippet", className="copy-button")],
                 className="copy-row"),
        html.P(["Link: ", html.A(url, href=url, target="_blank", rel="noopener")]),
    ], className="message message-info", role="status")


def _fmt(moment) -> str:
    return moment.strftime("%Y-%m-%d %H:%M") if moment else "—"


def embeds_table(rows: list[dict], revoke_type: str, delete_type: str, can_change: bool) -> html.Table | html.P:
    """rows: {"info": EmbedInfo, "url": str, "period": str}."""
    body = []
    for row in rows:
        info, url = row["info"], row["url"]
        state = info.state()
        actions = [] if not can_change else [
            html.Button("Revoke", id={"type": revoke_type, "index": info.id}, className="link-button")
            if state == "active" else None,
            html.Button("Delete", id={"type": delete_type, "index": info.id}, className="link-button danger")]
        body.append([
            html.Div([html.Strong(info.title or CHART_LABELS.get(info.chart, info.chart)),
                      html.Div(CHART_LABELS.get(info.chart, info.chart), className="muted")]),
            row["period"] or "—", info.theme,
            state if state != "expired" else f"expired {_fmt(info.expires_at)}",
            ", ".join(info.allowed_origins) or "none (link only)", f"{info.views:,}", _fmt(info.last_viewed_at),
            html.Div([dcc.Clipboard(content=iframe_snippet(url, info.title), title="Copy the iframe snippet",
                                    className="copy-button"), html.Span("snippet", className="muted")],
                     className="copy-row") if state == "active" else "—",
            html.Div([a for a in actions if a is not None], className="button-row"),
        ])
    return simple_table(["Chart", "Period", "Theme", "State", "Allowed sites", "Views", "Last viewed", "Copy", ""],
                        body, "No embeds yet: use “Share / embed” beside a chart.")
