"""Every dashboard callback through Dash's HTTP route: what it shows, that each CSV is exactly the data behind its
figure, that the URL follows the controls, and that another tenant's ids or a sponsor's session get nothing."""
import io
import json

import pandas as pd
import pytest

from services import accounts
from tests.dash_client import call_callback, call_csv, call_dashboard
from tests.unit.test_overview_callbacks import figure_values

DEMO_TEXT = ("Signal & Noise", "Market Hours", "The Long Way Round", "Apple Podcasts")


def _csv(data) -> pd.DataFrame:
    assert data["filename"].endswith(".csv") and not data["base64"]
    return pd.read_csv(io.StringIO(data["content"]))


def _values(values) -> list:
    """Plain Python values (numbers as int, as typed arrays would overflow a sum)."""
    if isinstance(values, list):
        return values
    return [int(v) for v in figure_values(values)]


def _bars(figure) -> tuple[list, list]:
    trace = figure["data"][0]
    return _values(trace["x"]), _values(trace["y"])


def _episode_ids(client) -> list[int]:
    status, out = call_dashboard(client, [("episodes-grid", "rowData"), ("episodes-message", "children"),
                                          ("episodes-stream-link", "href")], "episodes", range_="all")
    assert status == 200
    return [row["episode_id"] for row in out["episodes-grid"]["rowData"]]


@pytest.mark.parametrize("granularity", ["day", "week", "hour"])
def test_timeline_csv_is_the_figures_data(demo_client, granularity):
    controls = {"range_": "30d", "granularity": granularity}
    status, out = call_dashboard(demo_client, [("overview-downloads-chart", "figure")], "overview", **controls)
    assert status == 200
    figure = out["overview-downloads-chart"]["figure"]
    status, data = call_csv(demo_client, "overview", "timeline", **controls)
    frame = _csv(data)
    x, y = _bars(figure)
    assert list(frame["downloads"]) == [int(v) for v in y] and sum(y) > 0
    assert [pd.Timestamp(v) for v in frame["period"]] == [pd.Timestamp(v) for v in x]
    comparison = figure["data"][1]
    assert list(frame["previous_downloads"]) == [int(v) for v in figure_values(comparison["y"])]
    markers = figure["data"][2]
    assert list(markers["customdata"]) == [r for r in frame["releases"].fillna("") if r]


@pytest.mark.parametrize("output, chart, key", [("overview-top-episodes", "top-episodes", "episode"),
                                                 ("overview-top-apps", "top-apps", "app"),
                                                 ("overview-top-countries", "top-countries", "country")])
def test_top_list_csvs_are_the_figures_data(demo_client, output, chart, key):
    status, out = call_dashboard(demo_client, [("overview-top-episodes", "figure"), ("overview-top-apps", "figure"),
                                               ("overview-top-countries", "figure")], "overview", range_="90d")
    x, y = _bars(out[output]["figure"])
    frame = _csv(call_csv(demo_client, "overview", chart, range_="90d")[1])
    assert list(frame["downloads"]) == [int(v) for v in x] and list(frame[key].astype(str)) == y


def test_kpis_and_podcast_page(demo_client, db):
    status, out = call_dashboard(demo_client, [("overview-kpis", "children"), ("overview-message", "children")],
                                 "overview", range_="90d", compare="year")
    assert status == 200 and "vs previous year" in json.dumps(out)
    podcast_id = 1
    status, out = call_callback(demo_client, [("podcast-header", "children")], [("podcast-show", "data", podcast_id)])
    assert status == 200 and "Tracking prefix" in json.dumps(out) and "/e/" in json.dumps(out)
    status, out = call_dashboard(demo_client, [("podcast-downloads-chart", "figure")], "podcast",
                                 podcast_id="podcast-show", podcast=podcast_id)
    whole = call_dashboard(demo_client, [("overview-downloads-chart", "figure")], "overview")[1]
    one = sum(_bars(out["podcast-downloads-chart"]["figure"])[1])
    assert 0 < one < sum(_bars(whole["overview-downloads-chart"]["figure"])[1])


def test_url_follows_the_controls(demo_client):
    status, out = call_dashboard(demo_client, [("overview-url", "search")], "overview", range_="90d",
                                 compare="none", podcast=2, granularity="week")
    assert out["overview-url"]["search"] == "?range=90d&compare=none&podcast=2&granularity=week"
    status, out = call_dashboard(demo_client, [("overview-url", "search")], "overview")
    assert out["overview-url"]["search"] == ""  # the default view keeps a clean URL
    status, out = call_dashboard(demo_client, [("podcast-url", "search")], "podcast", podcast_id="podcast-show",
                                 podcast=3, range_="7d")
    assert out["podcast-url"]["search"] == "?range=7d"  # the podcast is in the path
    status, out = call_dashboard(demo_client, [("audience-url", "search")], "audience",
                                 after=[("audience-country", "data", "GB")])
    assert out["audience-url"]["search"] == "?country=GB"
    status, out = call_dashboard(demo_client, [("episode-url", "search")], "episode",
                                 after=[("episode-compare-episodes", "value", [4, 5])])
    assert out["episode-url"]["search"] == "?episodes=4,5"


def test_reloaded_url_rebuilds_the_controls(demo_client):
    from pages.overview import layout

    tree = json.dumps(layout(range="custom", **{"from": "2026-01-01", "to": "2026-02-01"}, compare="year",
                             granularity="month").to_plotly_json(), default=lambda o: o.to_plotly_json())
    assert '"value": "custom"' in tree and '"start_date": "2026-01-01"' in tree
    assert '"value": "year"' in tree and '"value": "month"' in tree


def test_episodes_grid_search_export_and_open(demo_client):
    ids = _episode_ids(demo_client)
    assert len(ids) > 100
    status, out = call_dashboard(demo_client, [("episodes-grid", "rowData"), ("episodes-message", "children"),
                                               ("episodes-stream-link", "href")], "episodes", range_="7d")
    assert out["episodes-stream-link"]["href"] == "/api/v1/exports/episodes.csv?range=7d"
    status, out = call_callback(demo_client, [("episodes-nav", "data")],
                                [("episodes-grid", "cellClicked", {"rowId": str(ids[0]), "colId": "episode"})],
                                state=[("episodes-url", "search", "?range=7d")])
    assert out["episodes-nav"]["data"] == f"/episodes/{ids[0]}?range=7d"
    status, out = call_callback(demo_client, [("episodes-grid", "exportDataAsCsv")],
                                [("episodes-export", "n_clicks", 1)])
    assert out["episodes-grid"]["exportDataAsCsv"] is True


def test_episode_page_launch_and_breakdown_csvs(demo_client):
    ids = _episode_ids(demo_client)
    episode, others = ids[3], ids[4:6]
    status, out = call_callback(demo_client, [("episode-launch-chart", "figure"), ("episode-message", "children")],
                                [("episode-id", "data", episode), ("episode-compare-episodes", "value", others)])
    traces = out["episode-launch-chart"]["figure"]["data"]
    curves = [t for t in traces if not t["name"].startswith("Forecast")]
    assert len(curves) == 3 + 3  # the episode, two compared, median, average, best (and a recent one's forecast band)
    frame = _csv(call_csv(demo_client, "episode", "launch", extra_state=[("episode-id", "data", episode),
                                                                        ("episode-compare-episodes", "value", others)])[1])
    for trace in curves:
        rows = frame[frame["series"] == trace["name"]]
        assert list(rows["downloads"]) == pytest.approx(list(figure_values(trace["y"])))
    band = {t["name"]: t for t in traces if t["name"].startswith("Forecast")}
    rows = frame[frame["kind"] == "forecast"]
    if band:  # the band's point, lower and upper edges are the CSV's forecast rows
        assert list(rows["downloads"]) == pytest.approx(list(figure_values(band["Forecast"]["y"])))
        assert list(rows["lower"]) == pytest.approx(list(figure_values(band["Forecast: 80% interval"]["y"])))
        assert list(rows["upper"]) == pytest.approx(list(figure_values(band["Forecast: upper"]["y"])))
    else:
        assert rows.empty
    status, out = call_dashboard(demo_client, [("episode-apps", "figure"), ("episode-devices", "figure"),
                                               ("episode-countries", "figure")], "episode",
                                 before=[("episode-id", "data", episode)], range_="all")
    for output, chart, key in [("episode-apps", "apps", "app"), ("episode-countries", "countries", "country")]:
        x, y = _bars(out[output]["figure"])
        data = call_csv(demo_client, "episode", chart, extra_state=[("episode-id", "data", episode),
                                                                    ("episode-compare-episodes", "value", [])],
                        range_="all")[1]
        frame = _csv(data)
        assert list(frame["downloads"]) == [int(v) for v in x] and list(frame[key]) == y and sum(x) > 0


def test_audience_callbacks_and_csvs(demo_client):
    outputs = [("audience-map", "figure"), ("audience-message", "children")]
    status, out = call_dashboard(demo_client, outputs, "audience", range_="90d")
    trace = out["audience-map"]["figure"]["data"][0]
    frame = _csv(call_csv(demo_client, "audience", "countries", extra_state=[("audience-country", "data", None)],
                          range_="90d")[1])
    known = frame[frame["country"] != "ZZ"]
    assert list(trace["customdata"]) == list(known["country"])
    assert [int(v) for v in figure_values(trace["z"])] == list(known["downloads"])
    status, out = call_callback(demo_client, [("audience-country", "data")],
                                [("audience-map", "clickData", {"points": [{"customdata": "US"}]})],
                                state=[("audience-country", "data", None)])
    assert out["audience-country"]["data"] == "US"
    status, out = call_dashboard(demo_client, [("audience-regions", "figure")], "audience",
                                 before=[("audience-country", "data", "US")], range_="90d")
    regions = _csv(call_csv(demo_client, "audience", "regions", extra_state=[("audience-country", "data", "US")],
                            range_="90d")[1])
    figure = out["audience-regions"]["figure"]["data"][0]
    assert list(figure["locations"]) == list(regions["region"].fillna("")[regions["region"].fillna("") != ""])
    status, out = call_dashboard(demo_client, [("audience-heatmap", "figure")], "audience", range_="30d")
    heat = _csv(call_csv(demo_client, "audience", "heatmap", extra_state=[("audience-country", "data", None)],
                         range_="30d")[1])
    z = out["audience-heatmap"]["figure"]["data"][0]["z"]
    cells = z if isinstance(z, list) else figure_values(z).reshape(7, 24)
    assert int(pd.DataFrame(cells).to_numpy().sum()) == heat["downloads"].sum() > 0
    status, out = call_dashboard(demo_client, [("audience-apps", "figure"), ("audience-devices", "figure"),
                                               ("audience-os", "figure"), ("audience-referrers", "figure")],
                                 "audience", range_="90d")
    for output, chart, key in [("audience-apps", "apps", "app"), ("audience-os", "os", "os")]:
        x, y = _bars(out[output]["figure"])
        frame = _csv(call_csv(demo_client, "audience", chart, extra_state=[("audience-country", "data", None)],
                              range_="90d")[1])
        assert list(frame["downloads"]) == [int(v) for v in x] and list(frame[key]) == y


@pytest.fixture
def acme_client(app, db):
    """A logged-in owner of another tenant, with one podcast of its own."""
    accounts.create_tenant(db, "acme", "Acme")
    accounts.create_user(db, "o@acme.test", "acme", "owner", password="password-1")
    client = app.test_client()
    assert client.post("/login", data={"email": "o@acme.test", "password": "password-1"}).status_code == 302
    return client


def _no_demo_data(out) -> None:
    text = json.dumps(out)
    assert not any(name in text for name in DEMO_TEXT), text[:400]


def test_another_tenants_ids_get_nothing(acme_client, demo_client):
    demo_episode = _episode_ids(demo_client)[0]
    outs = [
        call_dashboard(acme_client, [("overview-downloads-chart", "figure")], "overview", podcast=1, range_="all"),
        call_dashboard(acme_client, [("podcast-downloads-chart", "figure")], "podcast", podcast_id="podcast-show",
                       podcast=1),
        call_callback(acme_client, [("podcast-header", "children")], [("podcast-show", "data", 1)]),
        call_callback(acme_client, [("episode-launch-chart", "figure"), ("episode-message", "children")],
                      [("episode-id", "data", demo_episode), ("episode-compare-episodes", "value", [])]),
        call_dashboard(acme_client, [("episode-apps", "figure"), ("episode-devices", "figure"),
                                     ("episode-countries", "figure")], "episode",
                       before=[("episode-id", "data", demo_episode)], range_="all"),
        call_dashboard(acme_client, [("episodes-grid", "rowData"), ("episodes-message", "children"),
                                     ("episodes-stream-link", "href")], "episodes", podcast=1),
        call_dashboard(acme_client, [("audience-map", "figure"), ("audience-message", "children")], "audience",
                       podcast=1),
        call_dashboard(acme_client, [("audience-apps", "figure"), ("audience-devices", "figure"),
                                     ("audience-os", "figure"), ("audience-referrers", "figure")], "audience",
                       range_="all"),
    ]
    for status, out in outs:
        assert status == 200
        _no_demo_data(out)
    assert "no podcast 1" in json.dumps(outs[0][1]) and f"no episode {demo_episode}" in json.dumps(outs[3][1])
    status, data = call_csv(acme_client, "episode", "launch", extra_state=[("episode-id", "data", demo_episode),
                                                                          ("episode-compare-episodes", "value", [])])
    assert status == 204 and data is None  # refused: no CSV at all
    status, data = call_csv(acme_client, "overview", "top-apps", range_="all")
    assert status == 200 and _csv(data).empty  # its own, empty tenant


def test_sponsor_session_gets_nothing(app, db):
    tenant = accounts.get_tenant_by_slug(db, "demo")
    from services.models import Sponsor

    with db.session(tenant.id) as s:
        sponsor = Sponsor(tenant_id=tenant.id, name="Sponsor Co")
        s.add(sponsor)
        s.commit()
        sponsor_id = sponsor.id
    accounts.create_user(db, "s@sponsor.test", "demo", "sponsor", password="password-1", sponsor_id=sponsor_id)
    client = app.test_client()
    assert client.post("/login", data={"email": "s@sponsor.test", "password": "password-1"}).status_code == 302
    for outputs, prefix in [([("overview-kpis", "children"), ("overview-message", "children")], "overview"),
                            ([("overview-downloads-chart", "figure")], "overview"),
                            ([("episodes-grid", "rowData"), ("episodes-message", "children"),
                              ("episodes-stream-link", "href")], "episodes"),
                            ([("audience-heatmap", "figure")], "audience")]:
        status, out = call_dashboard(client, outputs, prefix, range_="all")
        assert status == 200
        _no_demo_data(out)
        assert "sponsor users see only" in json.dumps(out)
    assert call_csv(client, "overview", "timeline")[0] == 204
    assert client.get("/api/v1/exports/episode-days.csv?range=all").status_code == 403


def test_more_than_eight_compared_episodes_are_cut_with_a_note(demo_client):
    ids = _episode_ids(demo_client)
    status, out = call_callback(demo_client, [("episode-launch-chart", "figure"), ("episode-message", "children")],
                                [("episode-id", "data", ids[0]), ("episode-compare-episodes", "value", ids[1:11])])
    names = [t["name"] for t in out["episode-launch-chart"]["figure"]["data"]]
    curves = [n for n in names if not n.startswith("Forecast")]  # the newest episode also has its forecast band
    assert len(curves) == 1 + 8 + 3 and "first 8" in json.dumps(out["episode-message"])


def _acme_episode(db) -> int:
    """An episode of acme's own, released a week ago, so its launch page and compare picker have something."""
    from datetime import datetime, timedelta, timezone

    from services.models import Episode, Podcast

    tenant = accounts.get_tenant_by_slug(db, "acme")
    with db.session(tenant.id) as s:
        podcast = Podcast(tenant_id=tenant.id, title="Acme Hour", prefix_key="kacme")
        s.add(podcast)
        s.flush()
        episode = Episode(tenant_id=tenant.id, podcast_id=podcast.id, guid="acme-1", title="Acme Hour #1",
                          published_at=datetime.now(timezone.utc) - timedelta(days=7))
        s.add(episode)
        s.commit()
        return episode.id


def test_foreign_ids_in_the_episode_header_compare_audience_and_csvs_get_nothing(acme_client, demo_client, db):
    demo_episodes = _episode_ids(demo_client)
    own = _acme_episode(db)
    header = [("episode-header", "children"), ("episode-compare-episodes", "options")]
    status, out = call_callback(acme_client, header, [("episode-id", "data", demo_episodes[0])])
    assert status == 200 and out["episode-compare-episodes"]["options"] == []
    _no_demo_data(out)
    status, out = call_callback(acme_client, header, [("episode-id", "data", own)])
    assert "Acme Hour #1" in json.dumps(out["episode-header"])
    assert out["episode-compare-episodes"]["options"] == []  # its only episode: demo's are never offered
    launch = [("episode-launch-chart", "figure"), ("episode-message", "children")]
    status, out = call_callback(acme_client, launch, [("episode-id", "data", own),
                                                      ("episode-compare-episodes", "value", demo_episodes[:2])])
    assert status == 200 and f"no episode {demo_episodes[0]}" in json.dumps(out)
    _no_demo_data(out)
    status, data = call_csv(acme_client, "episode", "launch", extra_state=[
        ("episode-id", "data", own), ("episode-compare-episodes", "value", demo_episodes[:2])])
    assert status == 204 and data is None
    outs = [
        call_dashboard(acme_client, [("audience-regions", "figure")], "audience",
                       before=[("audience-country", "data", "US")], podcast=1, range_="all"),
        call_dashboard(acme_client, [("audience-heatmap", "figure")], "audience", podcast=1, range_="all"),
    ]
    for status, out in outs:
        assert status == 200 and "no podcast 1" in json.dumps(out)
        _no_demo_data(out)
    status, out = call_dashboard(acme_client, [("audience-regions", "figure")], "audience",
                                 before=[("audience-country", "data", "US")], range_="all")
    assert "No downloads from US" in json.dumps(out)  # its own tenant's (empty) rollups, not demo's
    status, out = call_dashboard(acme_client, [("audience-heatmap", "figure")], "audience", range_="all")
    z = out["audience-heatmap"]["figure"]["data"][0]["z"]
    assert int(pd.DataFrame(z if isinstance(z, list) else figure_values(z).reshape(7, 24)).to_numpy().sum()) == 0
    refused = [("audience", chart, [("audience-country", "data", "US")], {"podcast": 1})
               for chart in ("countries", "regions", "heatmap", "apps", "referrers")]
    foreign_episode = [("episode-id", "data", demo_episodes[0]), ("episode-compare-episodes", "value", [])]
    refused += [("episode", chart, foreign_episode, {}) for chart in ("apps", "devices", "countries", "launch")]
    refused += [("overview", chart, [], {"podcast": 1}) for chart in ("timeline", "top-episodes", "top-countries")]
    for page, chart, extra, controls in refused:
        status, data = call_csv(acme_client, page, chart, extra_state=extra, range_="all", **controls)
        assert (status, data) == (204, None), (page, chart)
    for chart in ("regions", "heatmap"):  # unfiltered, acme's CSVs are its own: empty
        status, data = call_csv(acme_client, "audience", chart, extra_state=[("audience-country", "data", "US")],
                                range_="all")
        frame = _csv(data)
        assert status == 200 and int(frame["downloads"].sum()) == 0, chart
