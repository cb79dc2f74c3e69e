"""One podcast: the overview's views for this show, its forecast, its feed status and tracking prefix, and the
sponsors that suit it."""
from dash import dcc, html, register_page

from components import kpi
from components.controls import chart_card, dashboard_controls, graph
from components.ids import PodcastPage
from components.matchmaking import sponsors_section
from components.overview import overview_sections
from services.dashboards.periods import ViewState

register_page(__name__, path_template="/podcasts/<podcast_id>", name="Podcast", title="Podcast · Podcast Analytics",
              order=11)


def layout(podcast_id=None, **query):
    state = ViewState.from_query(query)
    show = int(podcast_id) if str(podcast_id or "").isdigit() else None
    if podcast_id is not None and not show:
        return html.Div([html.H1("Podcast"), kpi.message(f"No podcast {podcast_id!r} here."),
                         dcc.Link("All podcasts", href="/podcasts")])
    return html.Div([
        dcc.Store(id=PodcastPage.SHOW, data=show),
        html.Div(id=PodcastPage.HEADER, className="page-header"),
        dashboard_controls(PodcastPage, state.with_(podcast=None), podcast=False),
        *overview_sections(PodcastPage),
        chart_card(PodcastPage, "forecast", "Forecast: downloads a day, next 8 weeks", graph(PodcastPage.FORECAST, 340),
                   "Bars: the last 8 weeks' downloads; dashed line and band: the forecast and its 80% interval, "
                   "from the show's weekday pattern and release calendar (a release day's bump and its decay)."),
        sponsors_section(),
    ])
