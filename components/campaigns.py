"""Builders for the sponsor and campaign pages: their forms, tables, delivery figure and KPI cards."""
from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go
from dash import dcc, html

from components import kpi
from components.forms import date_input, field, form_grid, text_input
from components.tables import simple_table
from components.theme import TEMPLATE_NAME

SPONSOR_FIELDS = (("name", "Name", "Northwind Coffee"), ("industry", "Industry", "e.g. Technology"),
                  ("website", "Website", "https://example.com"), ("contact_name", "Contact name", ""),
                  ("contact_email", "Contact email", "ads@example.com"))
CAMPAIGN_FIELDS = ("sponsor_id", "name", "objective", "start_date", "end_date", "pricing", "cpm", "flat_fee", "budget",
                   "goal_impressions", "target_categories", "target_countries", "excluded_categories", "landing_url",
                   "promo_code", "lookback_days", "attribution_model", "exclude_prior_customers", "decay_half_life_days",
                   "markov_order")
PLACEMENT_FIELDS = ("podcast_id", "episode_id", "position", "read_type", "price", "start_date", "end_date",
                    "insertion")
OBJECTIVES = [{"label": o.capitalize(), "value": o} for o in ("awareness", "consideration", "conversion")]
PRICING = [{"label": "CPM", "value": "cpm"}, {"label": "Flat fee", "value": "flat"}]
POSITIONS = [{"label": p, "value": p} for p in ("pre", "mid", "post")]
READ_TYPES = [{"label": "Host-read", "value": "host_read"}, {"label": "Produced", "value": "produced"}]
INSERTIONS = [{"label": "Dynamic", "value": "dynamic"}, {"label": "Baked in", "value": "baked"}]
MODEL_LABELS = {"first_touch": "First touch", "last_touch": "Last touch", "linear": "Linear",
                "time_decay": "Time decay", "position_based": "Position based (40/20/40)",
                "markov": "Markov (removal effect)", "shapley": "Shapley"}
ATTRIBUTION_MODELS = [{"label": label, "value": value} for value, label in MODEL_LABELS.items()]
MARKOV_ORDERS = [{"label": "Order 1", "value": 1}, {"label": "Order 2", "value": 2}]
PRIOR_CUSTOMERS = [{"label": " leave out households that converted in the 60 days before their first exposure",
                    "value": "yes"}]


def sponsor_form(field_prefix: str, error_prefix: str) -> html.Div:
    return form_grid([field(label, text_input(field_prefix + name, placeholder), error_prefix + name)
                      for name, label, placeholder in SPONSOR_FIELDS])


def campaign_form(field_prefix: str, error_prefix: str) -> html.Div:
    """Every campaign field with its message slot; values are filled by callbacks."""
    f, e = field_prefix, error_prefix
    return form_grid([
        field("Sponsor", dcc.Dropdown(id=f + "sponsor_id", options=[], placeholder="Choose a sponsor"),
              e + "sponsor_id"),
        field("Campaign name", text_input(f + "name", "Spring launch"), e + "name"),
        field("Objective", dcc.Dropdown(id=f + "objective", options=OBJECTIVES, placeholder="Objective"),
              e + "objective"),
        field("Flight start", date_input(f + "start_date", "Pick a date"), e + "start_date"),
        field("Flight end", date_input(f + "end_date", "Pick a date"), e + "end_date"),
        field("Pricing", dcc.RadioItems(PRICING, "cpm", id=f + "pricing", inline=True), e + "pricing"),
        field("CPM", text_input(f + "cpm", "25.00"), e + "cpm", "price per 1,000 impressions"),
        field("Flat fee", text_input(f + "flat_fee", "5000"), e + "flat_fee"),
        field("Budget", text_input(f + "budget", "10000"), e + "budget"),
        field("Goal impressions", text_input(f + "goal_impressions", "400000"), e + "goal_impressions"),
        field("Target categories", text_input(f + "target_categories", "Technology, Business"), e + "target_categories",
              "comma-separated"),
        field("Target countries", text_input(f + "target_countries", "US, GB"), e + "target_countries",
              "two-letter codes, comma-separated"),
        field("Excluded categories", text_input(f + "excluded_categories", "News"), e + "excluded_categories",
              "brand safety: never on these"),
        field("Landing URL", text_input(f + "landing_url", "https://example.com/podcast"), e + "landing_url"),
        field("Promo code", text_input(f + "promo_code", "SPRING20"), e + "promo_code", "unique in this network"),
        *attribution_fields(f, e),
    ])


def attribution_fields(f: str, e: str) -> list:
    """The campaign's attribution settings; blank means the default (30 days, linear, no, 7 days, order 1)."""
    return [
        field("Lookback window (days)", text_input(f + "lookback_days", "30"), e + "lookback_days",
              "1-60: how far back a conversion looks for exposures"),
        field("Attribution model", dcc.Dropdown(id=f + "attribution_model", options=ATTRIBUTION_MODELS,
                                                value="linear", clearable=False), e + "attribution_model",
              "the model the campaign's results show first"),
        field("Prior customers", dcc.Checklist(PRIOR_CUSTOMERS, [], id=f + "exclude_prior_customers"),
              e + "exclude_prior_customers"),
        field("Time-decay half-life (days)", text_input(f + "decay_half_life_days", "7"), e + "decay_half_life_days",
              "a touch this many days older earns half the credit"),
        field("Markov order", dcc.Dropdown(id=f + "markov_order", options=MARKOV_ORDERS, value=1, clearable=False),
              e + "markov_order", "2: the chain remembers the last two placements heard (needs more conversions)"),
    ]


def placement_form(field_prefix: str, error_prefix: str) -> html.Div:
    f, e = field_prefix, error_prefix
    return form_grid([
        field("Podcast", dcc.Dropdown(id=f + "podcast_id", options=[], placeholder="Choose a show"), e + "podcast_id"),
        field("Episode", dcc.Dropdown(id=f + "episode_id", options=[], placeholder="Every episode in the flight"),
              e + "episode_id", "empty: every episode downloaded in the flight"),
        field("Position", dcc.RadioItems(POSITIONS, "pre", id=f + "position", inline=True), e + "position"),
        field("Read", dcc.RadioItems(READ_TYPES, "host_read", id=f + "read_type", inline=True), e + "read_type"),
        field("Price", text_input(f + "price", "500"), e + "price"),
        field("Start", date_input(f + "start_date", "campaign start"), e + "start_date",
              "empty: the campaign's start"),
        field("End", date_input(f + "end_date", "campaign end"), e + "end_date", "empty: the campaign's end"),
        field("Insertion", dcc.RadioItems(INSERTIONS, "dynamic", id=f + "insertion", inline=True), e + "insertion",
              "dynamic: served only in the campaign's target countries; baked in: heard in every download"),
    ])


def form_value(value) -> str | None:
    """A stored value as the form shows it (lists comma-separated)."""
    if value is None:
        return None
    if isinstance(value, bool):  # a checkbox: ticked or not
        return ["yes"] if value else []
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def status_badge(status: str) -> html.Span:
    return html.Span(status, className=f"status-badge status-{status}")


def campaigns_table(summaries) -> html.Table | html.P:
    """One row per campaign: status, flight, goal, delivered so far and its share of the goal."""
    body = [[dcc.Link(c.name, href=f"/campaigns/{c.id}"), c.sponsor, status_badge(c.status), f"{c.start_date}",
             f"{c.end_date}", kpi.format_number(c.goal_impressions) if c.goal_impressions else "—",
             kpi.format_number(row.impressions), "—" if row.goal_share is None else f"{row.goal_share:.0%}",
             kpi.format_number(row.reach)]
            for row in summaries for c in (row.campaign,)]
    return simple_table(["Campaign", "Sponsor", "Status", "Start", "End", "Goal", "Delivered", "Of goal", "Reach"],
                        body, "No campaigns yet.")


def placements_table(rows, remove_id: str | None = None) -> html.Table | html.P:
    """The campaign's line items; `remove_id` (the pattern-matching type) adds a Remove button to each."""
    body = [[p.podcast, p.episode or "every episode", p.position, p.read_type.replace("_", "-"),
             "baked in" if p.insertion == "baked" else "dynamic", "—" if p.price is None else f"{p.price:,.2f}", f"{p.start_date} – {p.end_date}",
             html.Span("⚠ competes with " + ", ".join(p.conflicts), className="flag") if p.conflicts else "—"]
            + ([html.Button("Remove", id={"type": remove_id, "index": p.id}, className="link-button")]
               if remove_id else [])
            for p in rows]
    headers = ["Show", "Episode", "Position", "Read", "Insertion", "Price", "Flight", "Competing sponsor"]
    return simple_table(headers + ([""] if remove_id else []), body, "No placements yet.")


def delivery_figure(daily: pd.DataFrame, goal: int | None, start, end, as_of) -> go.Figure:
    """Impressions per day and cumulative, up to as_of, against the goal prorated over the whole flight."""
    fig = go.Figure(layout={"template": TEMPLATE_NAME, "title": {"text": "Delivery against goal", "x": 0}})
    daily = daily[daily["day"] <= as_of]
    fig.add_trace(go.Bar(x=daily["day"], y=daily["impressions"], name="impressions per day", opacity=0.45))
    fig.add_trace(go.Scatter(x=daily["day"], y=daily["impressions"].cumsum(), name="delivered (cumulative)",
                             mode="lines"))
    if goal:
        days = (end - start).days + 1
        line = pd.DataFrame({"day": pd.date_range(start, end).date})
        line["goal"] = [goal * (i + 1) / days for i in range(len(line))]
        fig.add_trace(go.Scatter(x=line["day"], y=line["goal"], name="goal (prorated)", mode="lines",
                                 line={"dash": "dash"}))
    fig.update_layout(yaxis_title="impressions")
    return fig


def delivery_kpis(p) -> html.Div:
    pace = "—" if p.pace is None else f"{p.pace:.0%} of plan to date"
    return kpi.kpi_row([
        kpi.kpi_card("Impressions", p.delivered, hint=f"goal {kpi.format_number(p.goal)}" if p.goal else "no goal"),
        kpi.kpi_card("Pacing", round(p.pace * 100) if p.pace is not None else 0, hint=pace),
        kpi.kpi_card("Forecast at flight end", p.forecast, hint=forecast_range(p)),
        kpi.kpi_card("Reach (households)", p.reach, hint=f"frequency {p.frequency:.2f}"),
        kpi.kpi_card("Spend to date", p.spend),
    ])


def forecast_range(p) -> str:
    """The forecast's 80% interval, as the KPI card's hint."""
    if p.forecast_lower is None or p.forecast_upper is None:
        return ""
    return f"80%: {kpi.format_number(round(p.forecast_lower))}–{kpi.format_number(round(p.forecast_upper))}"


def goal_chance(p) -> str:
    """The probability of reaching the goal, in words for the pacing block."""
    if p.goal_probability is None or p.flight_over:
        return ""
    return (f" Forecast {kpi.format_number(round(p.forecast))} ({forecast_range(p)}); chance of reaching the goal: "
            f"{p.goal_probability:.0%}.")


def pacing_panel(p) -> html.Div:
    if not p.goal:
        return html.P("Set a goal to see pacing.", className="muted")
    if not p.under_delivery:
        return html.P(f"On track: {kpi.format_number(p.forecast)} forecast against a goal of "
                      f"{kpi.format_number(p.goal)}.{goal_chance(p)}", className="message message-info")
    if p.flight_over:
        return html.P([html.Strong("Under-delivered: "), f"the flight ended at {kpi.format_number(p.delivered)} of "
                       f"{kpi.format_number(p.goal)} impressions, short by {kpi.format_number(p.shortfall)}."],
                      className="message message-error flag")
    items = [html.Li(f"{m.podcast}, episode expected {m.release}: ~{kpi.format_number(m.expected_impressions)} "
                     "impressions") for m in p.makegoods]
    return html.Div([
        html.P([html.Strong("Under-delivery: "), f"forecast {kpi.format_number(p.forecast)} against a goal of "
                f"{kpi.format_number(p.goal)}, short by {kpi.format_number(p.shortfall)} impressions.{goal_chance(p)}"],
               className="flag"),
        html.Div([html.P("Makegood: these upcoming episodes would cover the shortfall"), html.Ul(items)])
        if items else None,
    ], className="message message-error")


def frame_table(frame: pd.DataFrame, columns: dict[str, str], empty: str) -> html.Table | html.P:
    rows = [[_cell(row[c]) for c in columns] for row in frame.to_dict("records")]
    return simple_table(list(columns.values()), rows, empty)


def _cell(value):
    if isinstance(value, float):
        return f"{value:,.2f}"
    if isinstance(value, int):
        return f"{value:,}"
    return value


def history_table(rows) -> html.Table | html.P:
    body = [[f"{h.at:%Y-%m-%d %H:%M}", h.who, h.from_status or "—", h.to_status] for h in rows]
    return simple_table(["When (UTC)", "Who", "From", "To"], body, "No history.")
