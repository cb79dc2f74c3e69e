"""Builders for the attribution inputs: a sponsor's pixel panel (key, snippet, last events, rejections), tracking
links and the promo-code upload's result."""
from __future__ import annotations

from dash import dcc, html

from components import kpi
from components.tables import simple_table


def _code_block(text: str, block_id: str) -> html.Div:
    """A snippet with a copy button beside it."""
    return html.Div([
        dcc.Clipboard(target_id=block_id, title="Copy", className="copy-button"),
        html.Pre(text, id=block_id, className="secret"),
    ], className="code-block")


def pixel_panel(setup, events, rejections: dict[str, int], reason_labels: dict[str, str], snippet_id: str,
                image_id: str) -> html.Div:
    """The sponsor's pixel: key, snippet and parameters, then what arrived and what was refused."""
    return html.Div([
        html.P(["Pixel key of ", html.Strong(setup.sponsor), ": ", html.Code(setup.pixel_key)]),
        html.P("Paste this before </body> on the pages that count (thank-you page, sign-up confirmation). It sends "
               "the page address, the referrer and the page's utm_* parameters, with a random event id so a reload "
               "counts once per load; change e=pageview to purchase, signup, lead, install or custom, and add "
               "v= (value), c= (currency), o= (order id) where you have them.", className="muted"),
        _code_block(setup.script, snippet_id),
        html.P("Without JavaScript: this image tag, with your own order or event id in id= (the same id counts once).",
               className="muted"),
        _code_block(setup.image_tag, image_id),
        html.H3("Last events received"),
        events_table(events),
        html.H3("Refused pixel calls, last 7 days"),
        rejections_table(rejections, reason_labels),
    ])


def events_table(events) -> html.Table | html.P:
    body = [[f"{e.at:%Y-%m-%d %H:%M:%S}", e.type, e.source,
             "—" if e.value is None else f"{e.value:,.2f} {e.currency or ''}".strip(),
             "yes" if e.usable else "no (shared or unknown address)"] for e in events]
    return simple_table(["When (UTC)", "Type", "Source", "Value", "Household usable"], body,
                        "No events yet: load a page carrying the pixel, then Refresh.")


def rejections_table(rejections: dict[str, int], reason_labels: dict[str, str]) -> html.Table | html.P:
    body = [[reason_labels.get(reason, reason), html.Code(reason), kpi.format_number(n)]
            for reason, n in rejections.items()]
    return simple_table(["Reason", "Code", "Calls"], body, "None refused.")


def links_table(links, base_url: str) -> html.Table | html.P:
    body = [[link.label or "—", html.Code(f"{base_url.rstrip('/')}/l/{link.code}")] for link in links]
    return simple_table(["Label", "Tracking link"], body, "No tracking links for this campaign yet.")


def promo_result(result=None, error=None) -> html.Div:
    """What an upload did: rows stored (and duplicates skipped), or each bad row's line and field."""
    if error is not None:
        rows = getattr(error, "rows", None)
        if not rows:
            return kpi.message(f"Nothing was imported: {error.message}")
        return html.Div([
            html.P(f"Nothing was imported: {len(rows)} bad row(s). Fix them and upload the whole file again."),
            simple_table(["Line", "Field", "Problem"], [[e.line, e.field, e.message] for e in rows]),
        ], className="message message-error", role="alert")
    text = f"{result.accepted} order(s) stored"
    if result.duplicates:
        text += f", {result.duplicates} already stored before (counted once)"
    return kpi.message(text + ".", "info")
