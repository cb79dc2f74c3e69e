"""One episode: its launch curve against the show's median, average and best episode, up to 8 episodes compared,
and its apps, devices and countries."""
from dash import dcc, html, register_page

from components import kpi
from components.controls import chart_card, dashboard_controls, graph
from components.embeds import share_form
from components.ids import EpisodePage
from services.dashboards.periods import MAX_COMPARE_EPISODES, ViewState

register_page(__name__, path_template="/episodes/<episode_id>", name="Episode", title="Episode · Podcast Analytics",
              order=13)


def layout(episode_id=None, **query):
    state = ViewState.from_query(query)
    episode = int(episode_id) if str(episode_id or "").isdigit() else None
    if episode_id is not None and not episode:
        return html.Div([html.H1("Episode"), kpi.message(f"No episode {episode_id!r} here."),
                         dcc.Link("All episodes", href="/episodes")])
    return html.Div([
        dcc.Store(id=EpisodePage.EPISODE, data=episode),
        html.Div(id=EpisodePage.HEADER, className="page-header"),
        html.Div(id=EpisodePage.MESSAGE),
        html.Div([
            html.Label(f"Compare with (up to {MAX_COMPARE_EPISODES} episodes)", htmlFor=EpisodePage.COMPARE_EPISODES,
                       className="control-label"),
            # until the real titles load, the URL's episodes are options of their own, so the value survives
            dcc.Dropdown([{"label": f"Episode {e}", "value": e} for e in state.episodes], list(state.episodes),
                         id=EpisodePage.COMPARE_EPISODES, multi=True,
                         placeholder="Pick episodes to compare…", className="compare-episodes"),
        ], className="control control-wide"),
        chart_card(EpisodePage, "launch", "Launch: cumulative downloads by day since release", graph(EpisodePage.LAUNCH, 420),
                   "Day 1 is the release day (UTC days). The show's median and average cover its episodes that had "
                   "reached each day; the best is its episode with the most downloads by the last day shown. The "
                   "shaded band is the forecast's 80% interval: the show's recent launches, scaled by this "
                   "episode's own days so far."),
        dashboard_controls(EpisodePage, state.with_(podcast=None, episodes=()), podcast=False, granularity=False),
        html.Div([
            chart_card(EpisodePage, "apps", "Apps", graph(EpisodePage.APPS)),
            chart_card(EpisodePage, "devices", "Devices", graph(EpisodePage.DEVICES)),
            chart_card(EpisodePage, "countries", "Countries", graph(EpisodePage.COUNTRIES)),
        ], className="card-grid"),
        share_form(EpisodePage.PREFIX),
    ])
