"""Builders for the campaign page's Attribution section: the model selector, KPI cards, lift, usable-IP share, the lag
curve and the tables by show, episode and placement."""
from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go
from dash import dcc, html

from components import charts
from components.campaigns import frame_table
from components.ids import CampaignAttribution as A
from components.share import share_button
from components.theme import TEMPLATE_NAME

MODELS = (("first_touch", "First touch"), ("last_touch", "Last touch"), ("linear", "Linear"),
          ("time_decay", "Time decay"), ("position_based", "Position based"), ("markov", "Markov"),
          ("shapley", "Shapley"))
CSV_VIEWS = (("lag", "CSV: lag curve"), ("podcast", "CSV: by show"), ("episode", "CSV: by episode"),
             ("placement", "CSV: by placement"), ("day", "CSV: by day"))


def attribution_section() -> html.Div:
    """The section's layout; callbacks fill it (the model defaults to the campaign's own)."""
    return html.Div([
        html.H2("Attribution"),
        html.Div([html.Label("Model", htmlFor=A.MODEL),
                  dcc.Dropdown(id=A.MODEL, options=[{"label": label, "value": value} for value, label in MODELS],
                               placeholder="The campaign's model", clearable=True, style={"minWidth": "14rem"}),
                  html.Button("Recompute", id=A.RECOMPUTE, className="link-button", style={"display": "none"})],
                 className="button-row"),
        html.Div(id=A.MESSAGE),
        html.P(id=A.COMPUTED, className="muted"),
        dcc.Loading(html.Div(id=A.KPIS), type="dot"),
        html.Div(id=A.USABLE_IP),
        html.Div(id=A.LIFT),
        html.Div(share_button("campaign", "campaign_attribution"), className="button-row"),
        dcc.Graph(id=A.LAG_CHART, config={"displaylogo": False}),
        html.Div([html.Button(label, id={"type": A.CSV, "view": view}, className="link-button")
                  for view, label in CSV_VIEWS], className="button-row"),
        dcc.Download(id=A.DOWNLOAD),
        html.Div([html.Div([html.H3("By show"), html.Div(id=A.BY_SHOW)]),
                  html.Div([html.H3("By placement"), html.Div(id=A.BY_PLACEMENT)])], className="two-col"),
        html.H3("By episode"),
        html.Div(id=A.BY_EPISODE),
    ], className="panel")


def _card(label: str, shown: str, hint: str = "") -> html.Div:
    children = [html.Div(label, className="kpi-label"), html.Div(shown, className="kpi-value")]
    if hint:
        children.append(html.Div(hint, className="kpi-change"))
    return html.Div(children, className="kpi-card")


def _money(value) -> str:
    return "—" if value is None else f"{value:,.2f}"


def attribution_kpis(summary: dict) -> html.Div:
    """Conversions, revenue, ROAS, CPA and CR as cards."""
    conversions = summary["conversions"]
    promo = summary["promo_code_only_conversions"]
    return html.Div([
        _card("Conversions", f"{conversions:,}",
              f"{summary['promo_code_conversions']:,} by promo code ({promo:,} not matched to an exposure)"),
        _card("Revenue", _money(summary["revenue"]), f"spend {_money(summary['spend'])}"),
        _card("ROAS", "—" if summary["roas"] is None else f"{summary['roas']:.2f}x", "revenue / spend"),
        _card("CPA", _money(summary["cpa"]), "spend / conversions"),
        _card("Conversion rate", "—" if summary["cr"] is None else f"{summary['cr']:.2%}",
              f"of {summary['households_reached']:,} households reached"),
        _card("AOV", _money(summary["aov"]), f"cost per visitor {_money(summary['cost_per_visitor'])}"),
    ], className="kpi-row")


def lift_panel(lift: dict) -> html.Div:
    """The lift with its interval and both groups, or the "too few to say" message."""
    groups = (f"exposed: {lift['exposed_converters']:,} of {lift['exposed_households']:,} households converted; "
              f"control (same shows, not exposed): {lift['control_converters']:,} of "
              f"{lift['control_households']:,}")
    if not lift["enough_data"]:
        return html.Div([html.Strong("Lift: "), lift["message"], html.Div(groups, className="muted")],
                        className="message message-info")
    return html.Div([html.Strong(f"Lift {lift['lift']:+.0%} "),
                     f"(95% interval {lift['ci_low']:+.0%} to {lift['ci_high']:+.0%}). ",
                     f"Exposed rate {lift['exposed_rate']:.2%} against {lift['control_rate']:.2%}.",
                     html.Div(groups, className="muted")], className="message message-info")


def usable_ip_panel(summary: dict) -> html.P:
    share = summary["usable_ip_share"]
    if share is None:
        return html.P("Usable IP share: no conversions yet.", className="muted")
    text = f"Usable IP share: {share:.0%} of conversions carry a household key from a non-shared address."
    if summary["usable_ip_warning"]:
        return html.P([html.Strong("Warning: "), text, " Below 20%, most conversions cannot be matched."],
                      className="message message-error flag")
    return html.P(text, className="muted")


def computed_line(computed_at: str | None, status: str | None, error: str | None) -> str:
    if status == "failed":
        return f"The last computation failed: {error}"
    if computed_at is None:
        return "Not computed yet." if status != "running" else "Being computed…"
    return f"Last computed at {computed_at[:16].replace('T', ' ')} UTC" + (" (recomputing…)" if status == "running"
                                                                         else "")


def lag_figure(lag: pd.DataFrame, model_label: str) -> go.Figure:
    """Credited conversions by whole days between exposure and conversion."""
    if lag.empty:
        return charts.empty_figure("No matched conversions yet")
    fig = go.Figure(layout={"template": TEMPLATE_NAME,
                            "title": {"text": f"Days from exposure to conversion ({model_label})", "x": 0}})
    fig.add_trace(go.Bar(x=lag["days_since_exposure"], y=lag["conversions"], name="conversions"))
    fig.update_layout(xaxis_title="days since exposure", yaxis_title="credited conversions")
    return fig


def group_table(frame: pd.DataFrame, label_columns: dict[str, str]) -> html.Table | html.P:
    return frame_table(frame, {**label_columns, "conversions": "Conversions", "revenue": "Revenue"},
                       "No matched conversions yet.")
