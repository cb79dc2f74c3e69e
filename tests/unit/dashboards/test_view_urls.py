"""View state in the URL: the period, comparison and podcast follow the user to the other dashboard pages; the
episodes grid's search, sort and filters round-trip; the campaign page's period; and the date pickers (weeks from
Monday, "today" in the tenant's time zone)."""
import json
from datetime import date, timedelta
from urllib.parse import parse_qsl

from services import accounts
from services.dashboards.grid_view import GridView
from services.dashboards.periods import carried_query, today_in
from services.sponsorship.report_window import parse_range, range_query, report_window
from tests.dash_client import call_callback, call_dashboard

VIEW = "?range=90d&compare=none&podcast=3"


def _hrefs(nav) -> dict:
    return {link["props"]["children"]: link["props"]["href"] for link in nav}


def _tree(component) -> str:
    return json.dumps(component.to_plotly_json(), default=lambda o: o.to_plotly_json())


def test_the_shared_view_is_carried_and_a_pages_own_drill_down_is_not():
    assert carried_query(VIEW + "&granularity=week&country=GB&episodes=4,5") == VIEW
    assert carried_query("?range=custom&from=2026-01-01&to=2026-01-31") == "?range=custom&from=2026-01-01&to=2026-01-31"
    assert carried_query("?range=nonsense&podcast=x") == "" and carried_query(None) == ""


def test_the_navigation_opens_dashboard_pages_in_the_same_view(demo_client):
    _, out = call_callback(demo_client, [("shell-tenant", "children"), ("shell-user", "children"),
                                         ("shell-nav", "children")],
                           [("shell-url", "pathname", "/audience"), ("shell-url", "search", VIEW + "&country=GB")],
                           changed=["shell-url.search"])
    links = _hrefs(out["shell-nav"]["children"])
    assert links["Overview"] == "/" + VIEW and links["Audience"] == "/audience" + VIEW
    assert links["Episodes"] == "/episodes" + VIEW
    assert links["Campaigns"] == "/campaigns" and links["Podcasts"] == "/podcasts"  # not dashboards: no view


def test_a_control_change_rewrites_the_navigation(app, demo_client):
    deps = demo_client.get("/_dash-dependencies").get_json()
    carry = next(d for d in deps if d["output"].startswith("shell-nav.children@")
                 and d["inputs"] == [{"id": "overview-url", "property": "search"}])
    output_id, prop = carry["output"].split(".", 1)
    _, out = call_callback(demo_client, [(output_id, prop)], [("overview-url", "search", "?range=7d&compare=year")],
                           changed=["overview-url.search"])
    links = _hrefs(out["shell-nav"]["children"])
    assert links["Audience"] == "/audience?range=7d&compare=year" and links["Campaigns"] == "/campaigns"


GRID_AFTER = [("episodes-search", "value", "Long Way"),
              ("episodes-grid", "columnState", [{"colId": "released", "sort": None},
                                                {"colId": "podcast", "sort": "asc", "sortIndex": 1},
                                                {"colId": "downloads_7d", "sort": "desc", "sortIndex": 0}]),
              ("episodes-grid", "filterModel", {"downloads_all_time": {"filterType": "number", "type": "greaterThan",
                                                                        "filter": 100}})]


def test_episodes_grid_state_round_trips_through_the_url(demo_client):
    _, out = call_dashboard(demo_client, [("episodes-url", "search")], "episodes", range_="12m", after=GRID_AFTER)
    search = out["episodes-url"]["search"]
    query = dict(parse_qsl(search.lstrip("?")))
    assert query["range"] == "12m" and query["q"] == "Long Way" and query["sort"] == "downloads_7d:desc,podcast:asc"
    assert json.loads(query["filter"]) == GRID_AFTER[2][2]

    from pages.episodes import layout  # a copied link (or back/forward) rebuilds the same grid
    tree = json.loads(_tree(layout(**query)))
    text = json.dumps(tree)
    assert '"value": "Long Way"' in text and '"quickFilterText": "Long Way"' in text
    grid = _find(tree, "episodes-grid")
    assert grid["filterModel"] == GRID_AFTER[2][2]
    sorted_cols = {c["field"]: (c["sort"], c["sortIndex"]) for c in grid["columnDefs"] if c.get("sort")}
    assert sorted_cols == {"downloads_7d": ("desc", 0), "podcast": ("asc", 1)}

    _, out = call_dashboard(demo_client, [("episodes-url", "search")], "episodes",
                            after=[("episodes-search", "value", ""),
                                   ("episodes-grid", "columnState", [{"colId": "released", "sort": "desc"}]),
                                   ("episodes-grid", "filterModel", {})])
    assert out["episodes-url"]["search"] == ""  # the default grid keeps a clean URL


def _find(tree, component_id):
    if isinstance(tree, dict):
        if tree.get("props", {}).get("id") == component_id:
            return tree["props"]
        children = tree.get("props", {}).get("children")
        return _find(children, component_id) if children is not None else None
    if isinstance(tree, list):
        for item in tree:
            found = _find(item, component_id)
            if found is not None:
                return found
    return None


def test_a_malformed_grid_url_opens_the_default_grid():
    grid = GridView.from_query({"q": " x ", "sort": "nope:desc,released:sideways,podcast:asc,podcast:desc",
                                "filter": '{"evil": {"a": 1}, "podcast": "not a model"}'}, ("podcast", "released"))
    assert grid == GridView(search="x", sort=(("podcast", "asc"),), filters={})
    assert GridView.from_query({"filter": "{not json"}, ("podcast",)).filters == {}


def test_date_pickers_start_weeks_on_monday_and_carry_iso_dates():
    from components.campaigns import campaign_form, placement_form
    from components.controls import dashboard_controls
    from components.ids import Overview
    from services.dashboards.periods import ViewState

    for form, prefix in ((campaign_form("c-", "ce-"), "c-"), (placement_form("p-", "pe-"), "p-")):
        tree = json.loads(_tree(form))
        for name in ("start_date", "end_date"):
            picker = _find(tree, prefix + name)
            assert picker["first_day_of_week"] == 1 and picker["display_format"] == "YYYY-MM-DD"
    controls = json.loads(_tree(dashboard_controls(Overview, ViewState.from_query("?range=custom&from=2026-03-02"
                                                                                  "&to=2026-03-08"))))
    dates = _find(controls, "overview-dates")
    assert (dates["start_date"], dates["end_date"], dates["first_day_of_week"]) == ("2026-03-02", "2026-03-08", 1)


def test_a_custom_range_opens_on_today_in_the_tenants_time_zone(demo_client, db):
    accounts.configure_tenant(db, "demo", timezone="Pacific/Kiritimati")  # UTC+14: often a day ahead of UTC
    _, out = call_callback(demo_client, [("overview-dates_box", "style"), ("overview-dates", "start_date"),
                                         ("overview-dates", "end_date")],
                           [("overview-range", "value", "custom")],
                           [("overview-dates", "start_date", None), ("overview-dates", "end_date", None)],
                           changed=["overview-range.value"])
    today = today_in("Pacific/Kiritimati")
    assert out["overview-dates"]["end_date"] == today.isoformat()
    assert out["overview-dates"]["start_date"] == (today - timedelta(days=29)).isoformat()


def test_campaign_period_presets_cut_to_the_flight_and_round_trip():
    start, end, today = date(2026, 3, 1), date(2026, 3, 31), date(2026, 3, 20)
    week = report_window(start, end, "7d", None, None, today)
    assert (week.preset, week.first, week.last) == ("7d", date(2026, 3, 14), date(2026, 3, 20))
    quarter = report_window(start, end, "90d", None, None, today)
    assert (quarter.first, quarter.last) == (start, today)
    window = report_window(start, end, "all", None, None, today)
    assert window.whole_flight and (window.first, window.last) == (start, end)
    window = report_window(start, end, "custom", "2026-03-25", "2026-04-10", today)
    assert (window.first, window.last) == (date(2026, 3, 25), end)
    missed = report_window(start, end, "7d", None, None, date(2026, 6, 1))
    assert missed.whole_flight and "no days in that period" in missed.note
    assert range_query("custom", "2026-03-25", "2026-03-28") == "?range=custom&from=2026-03-25&to=2026-03-28"
    assert parse_range(dict(parse_qsl("range=custom&from=2026-03-25&to=2026-03-28"))) == (
        "custom", date(2026, 3, 25), date(2026, 3, 28))
    assert range_query("all", None, None) == "" and parse_range({}) == ("all", None, None)
    assert range_query("custom", None, None) == "" and parse_range({"range": "custom"}) == ("all", None, None)


def test_the_campaign_page_reports_on_the_chosen_period(demo_client, db):
    from services.sponsorship import campaigns
    from services.tenancy import TenantContext
    from tests import campaign_client as cc

    tenant_id = accounts.get_tenant_by_slug(db, "demo").id
    privacy = next(c for c in campaigns.list_campaigns(db, TenantContext(tenant_id, "owner"))
                   if c.name == "Privacy Month")
    _, whole = cc.campaign_view(demo_client, privacy.id)
    _, week = cc.campaign_view(demo_client, privacy.id, period=("7d", None, None))
    whole_days = whole["campaign-delivery-chart"]["figure"]["data"][0]["x"]
    week_days = week["campaign-delivery-chart"]["figure"]["data"][0]["x"]
    assert "Whole flight" in json.dumps(whole["campaign-header"])
    assert len(week_days) < len(whole_days) and len(week_days) <= 7 and set(week_days) <= set(whole_days)
    assert "from " in json.dumps(week["campaign-header"])
    _, out = call_callback(demo_client, [("campaign-url", "search")],
                           [("campaign-range", "value", "custom"), ("campaign-dates", "start_date", "2026-03-02"),
                            ("campaign-dates", "end_date", "2026-03-08")], changed=["campaign-range.value"])
    assert out["campaign-url"]["search"] == "?range=custom&from=2026-03-02&to=2026-03-08"

    from pages.campaign import layout  # the copied link reopens the same period
    tree = json.loads(_tree(layout(campaign_id=str(privacy.id), range="custom", **{"from": "2026-03-02",
                                                                                    "to": "2026-03-08"})))
    assert _find(tree, "campaign-range")["value"] == "custom"
    assert _find(tree, "campaign-dates")["start_date"] == "2026-03-02"
