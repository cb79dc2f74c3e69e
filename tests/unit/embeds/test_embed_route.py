"""/embed/<token>: the chart with its filters locked (query strings ignored), plotly.js served locally (which bundle
and how: test_embed_assets.py), views counted; 404 for a tampered or unknown link or a chart no longer the embed's,
410 for an expired or revoked one, all decided before the first byte; the page streamed (its head first), a failure
after the head told in the page; frame-ancestors on every response."""
from __future__ import annotations

import json
from datetime import timedelta

from sqlalchemy import select, update

from api.embed import BUNDLES
from api.framing import DENY, frame_ancestors_of
from services.catalog import podcasts
from services.dashboards import overview
from services.errors import NotFound
from services.models import Campaign
from services.sharing import chart_data, store
from services.sharing.filters import view_state
from services.models.base import utcnow
from tests.unit.embeds.conftest import owner, sponsor_ctx
from tests.unit.embeds.helpers import FIGURE, bars, make

ORIGIN = "http://127.0.0.1:8123"


def test_renders_the_locked_chart_with_minimal_chrome(world):
    podcast = world["podcasts"][0]
    info, token = make(world, owner(world), "top_countries", {"podcast": podcast, "period": "last_90_days"},
                       title="Where we are heard", theme="dark", allowed_origins=[ORIGIN])
    response = world["app"].test_client().get(f"/embed/{token}")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "Where we are heard" in html and 'class="theme-dark"' in html
    assert "Powered by" in html and "/methodology" in html
    assert '<script src="/embed/assets/plotly/plotly-' in html and "cdn" not in html.lower()
    expected = overview.top_countries(world["db"], store.embed_context(info), view_state(info.filters))
    assert bars(response) == dict(zip(expected["country"], expected["downloads"])) != {}
    assert frame_ancestors_of(response.headers["Content-Security-Policy"]) == f"frame-ancestors {ORIGIN}"
    assert "X-Frame-Options" not in response.headers
    assert response.headers["Cache-Control"] == "no-store"


def test_query_strings_never_widen_an_embed(world):
    first, second = world["podcasts"][:2]
    _, token = make(world, owner(world), "top_episodes", {"podcast": first, "period": "last_7_days"})
    client = world["app"].test_client()
    plain = bars(client.get(f"/embed/{token}"))
    widened = bars(client.get(f"/embed/{token}?podcast={second}&range=all&period=all_time&tenant_id=999"
                              f"&from=2000-01-01&to=2100-01-01&chart=top_apps"))
    assert widened == plain != {}
    _, other_token = make(world, owner(world), "top_episodes", {"podcast": second, "period": "last_7_days"})
    assert bars(client.get(f"/embed/{other_token}")) != plain  # the podcast filter does narrow what it shows


def test_every_chart_draws_or_says_why_not(world):
    ctx, c = owner(world), world["campaigns"]
    episode = podcasts.list_episodes(world["db"], ctx)[0]["id"]
    cases = {"downloads_timeline": {"granularity": "week"}, "top_apps": {}, "world_map": {},
             "episode_launch": {"episode": episode},
             "campaign_delivery": {"campaign": c["Morning Ritual Q3"]},
             "campaign_attribution": {"campaign": c["Morning Ritual Q3"]}}
    client = world["app"].test_client()
    for chart, filters in cases.items():
        _, token = make(world, ctx, chart, filters)
        response = client.get(f"/embed/{token}")
        html = response.get_data(as_text=True)
        assert response.status_code == 200, chart
        assert 'id="figure"' in html or 'class="empty"' in html, chart


def test_an_embed_with_no_data_says_so(world):
    _, token = make(world, owner(world), "top_apps", {"period": "fixed", "from": "2001-01-01", "to": "2001-01-31"})
    response = world["app"].test_client().get(f"/embed/{token}")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "No downloads in this period yet." in html and 'id="figure"' not in html


def test_tampered_expired_and_revoked_links(world):
    client = world["app"].test_client()
    info, token = make(world, owner(world), "top_apps", allowed_origins=[ORIGIN])
    for position in (3, len(token) // 2, len(token) - 1):
        changed = token[:position] + ("A" if token[position] != "A" else "B") + token[position + 1:]
        response = client.get(f"/embed/{changed}")
        assert response.status_code == 404
        assert "not valid" in response.get_data(as_text=True)
    _, expired = make(world, owner(world), "top_apps", now=utcnow() - timedelta(days=3),
                      expires_at=utcnow() - timedelta(days=2), allowed_origins=[ORIGIN])
    response = client.get(f"/embed/{expired}")
    assert response.status_code == 410 and "expired" in response.get_data(as_text=True)
    # the message still shows inside the frame
    assert frame_ancestors_of(response.headers["Content-Security-Policy"]) == f"frame-ancestors {ORIGIN}"
    other, other_token = make(world, owner(world), "top_apps")
    store.revoke_embed(world["db"], owner(world), info.id)
    response = client.get(f"/embed/{token}")
    assert response.status_code == 410 and "revoked" in response.get_data(as_text=True)
    assert client.get(f"/embed/{other_token}").status_code == 200  # revoking one leaves the others
    store.delete_embed(world["db"], owner(world), other.id)
    assert client.get(f"/embed/{other_token}").status_code == 404
    for response in (client.get(f"/embed/{token}"), client.get(f"/embed/{changed}")):
        assert "Traceback" not in response.get_data(as_text=True)


def test_views_are_counted_for_drawn_charts_only(world):
    info, token = make(world, owner(world), "top_apps")
    client = world["app"].test_client()
    for path in (f"/embed/{token}", f"/embed/{token}?x=1", f"/embed/{token[:-1]}x"):
        client.get(path).get_data()  # the page streams: the chart, and its view, come after the head
    seen = store.get_embed(world["db"], owner(world), info.id)
    assert seen.views == 2 and seen.last_viewed_at is not None
    store.revoke_embed(world["db"], owner(world), info.id)
    client.get(f"/embed/{token}").get_data()
    assert store.get_embed(world["db"], owner(world), info.id).views == 2


def test_plotly_is_served_by_the_app_without_a_login(world):
    client = world["app"].test_client()
    _, token = make(world, owner(world), "top_apps")
    html = client.get(f"/embed/{token}").get_data(as_text=True)
    src = html.split('<script src="', 1)[1].split('"', 1)[0]
    name = html.split('data-plotly-bundle="', 1)[1].split('"', 1)[0]
    assert src.startswith(f"/embed/assets/plotly/plotly-{name}.") and name in world["app"].extensions[BUNDLES]
    response = client.get(src)
    assert response.status_code == 200 and len(response.data) > 1_000_000
    assert response.mimetype == "text/javascript" and b"plotly" in response.data[:2000].lower()
    assert client.get("/embed/assets/embed.js").status_code == 200
    assert client.get("/embed/assets/plotly/plotly-full.0000000000000000.min.js").status_code == 404


def test_every_other_response_refuses_framing(world):
    client, owner_client = world["app"].test_client(), world["clients"]["owner"]
    for response in (client.get("/login"), client.get("/healthz"), client.get("/api/v1/me"), owner_client.get("/"),
                     owner_client.get("/embeds"), client.get("/assets/style.css")):
        assert frame_ancestors_of(response.headers["Content-Security-Policy"]) == DENY, response.request.path
        assert response.headers["X-Frame-Options"] == "DENY"
    _, token = make(world, owner(world), "top_apps")  # no allowed origins: the link opens, no site may frame it
    response = client.get(f"/embed/{token}")
    assert response.status_code == 200
    assert frame_ancestors_of(response.headers["Content-Security-Policy"]) == DENY
    assert response.headers["X-Frame-Options"] == "DENY"


def test_title_and_data_cannot_break_out_of_the_page(world):
    _, token = make(world, owner(world), "top_apps", title='</script><script>alert("x")</script>')
    html = world["app"].test_client().get(f"/embed/{token}").get_data(as_text=True)
    assert '<script>alert("x")</script>' not in html and "&lt;/script&gt;" in html
    block = html.split('<script id="figure" type="application/json">', 1)[1].split("</script>", 1)[0]
    assert "<" not in block  # the figure's JSON escapes <, > and & (episode titles are publisher data)


def test_the_head_is_sent_before_the_chart_is_read(world, monkeypatch):
    """The browser fetches plotly.js while the chart's query runs: the page's first chunk names the bundle, and the
    chart is read only once that chunk has gone; the whole page is the same as before, with one view counted."""
    info, token = make(world, owner(world), "top_apps", title="Apps", allowed_origins=[ORIGIN])
    reads = []
    read_chart = chart_data.read_chart
    monkeypatch.setattr(chart_data, "read_chart", lambda db, embed: reads.append(embed.id) or read_chart(db, embed))
    response = world["app"].test_client().get(f"/embed/{token}")
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store" and response.headers["Referrer-Policy"] == "no-referrer"
    assert frame_ancestors_of(response.headers["Content-Security-Policy"]) == f"frame-ancestors {ORIGIN}"
    assert response.headers["X-Content-Type-Options"] == "nosniff"  # the app's after_request hooks ran
    chunks = iter(response.response)
    head = next(chunks).decode()
    assert reads == [] and '<script src="/embed/assets/plotly/plotly-' in head and "<h1>Apps</h1>" in head
    assert 'id="figure"' not in head
    rest = b"".join(chunks).decode()
    assert reads == [info.id] and 'id="figure"' in rest and rest.rstrip().endswith("</html>")
    assert json.loads(FIGURE.search(rest).group(1))["data"]
    assert store.get_embed(world["db"], owner(world), info.id).views == 1


def test_a_chart_that_fails_after_the_head_says_so_in_the_page(world, monkeypatch, caplog):
    info, token = make(world, owner(world), "top_apps", allowed_origins=[ORIGIN])
    client = world["app"].test_client()

    def broken(db, embed):
        raise RuntimeError("the database went away mid-page")

    monkeypatch.setattr(chart_data, "read_chart", broken)
    response = client.get(f"/embed/{token}")
    html = response.get_data(as_text=True)
    assert response.status_code == 200  # sent with the head, before the failure
    assert "This chart could not be drawn just now." in html and 'role="alert"' in html
    assert 'id="figure"' not in html and 'id="chart"' not in html and html.rstrip().endswith("</html>")
    assert "Traceback" not in html and "database went away" not in html and "RuntimeError" not in html
    assert "the database went away mid-page" in caplog.text  # the log keeps what the page does not show
    assert frame_ancestors_of(response.headers["Content-Security-Policy"]) == f"frame-ancestors {ORIGIN}"
    assert response.headers["Cache-Control"] == "no-store"

    def gone(db, embed):  # the target went between the check before the head and the read
        raise NotFound("no campaign 1")

    monkeypatch.setattr(chart_data, "read_chart", gone)
    html = client.get(f"/embed/{token}").get_data(as_text=True)
    assert "The chart this link shows is no longer available." in html and 'id="figure"' not in html
    assert store.get_embed(world["db"], owner(world), info.id).views == 0  # nothing was drawn


def test_a_target_no_longer_the_embeds_to_see_is_404_before_any_byte(world):
    coffee = sponsor_ctx(world, "Northwind Coffee")
    campaign = world["campaigns"]["Morning Ritual Q3"]
    info, token = make(world, coffee, "campaign_delivery", {"campaign": campaign}, allowed_origins=[ORIGIN])
    client = world["app"].test_client()
    drawn = client.get(f"/embed/{token}")
    assert drawn.status_code == 200 and 'id="figure"' in drawn.get_data(as_text=True)
    with world["db"].session(world["demo"]) as s:
        sponsor = s.scalar(select(Campaign.sponsor_id).where(Campaign.id == campaign))
        s.execute(update(Campaign).where(Campaign.id == campaign).values(sponsor_id=world["sponsors"]["Lumen VPN"]))
        s.commit()
    try:
        response = client.get(f"/embed/{token}")
        assert response.status_code == 404
        assert "no longer available" in response.get_data(as_text=True)
        assert frame_ancestors_of(response.headers["Content-Security-Policy"]) == f"frame-ancestors {ORIGIN}"
        assert response.headers["Cache-Control"] == "no-store"
    finally:
        with world["db"].session(world["demo"]) as s:
            s.execute(update(Campaign).where(Campaign.id == campaign).values(sponsor_id=sponsor))
            s.commit()
    assert store.get_embed(world["db"], coffee, info.id).views == 1
