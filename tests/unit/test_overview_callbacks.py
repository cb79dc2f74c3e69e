"""Overview callbacks called as plain functions inside a request, and the page through Dash's own routes."""
import base64
import json

import numpy as np

import pytest
from dash.exceptions import PreventUpdate
from flask_login import login_user
from sqlalchemy import delete, select

from api.auth import SessionUser
from callbacks.overview import update_kpis, update_timeline, update_tops
from services import accounts, demo
from services.models import Anomaly, User
from tests.dash_client import call_overview

CONTROLS_30D = ("30d", None, None, "previous", None, "day")


def figure_values(values) -> np.ndarray:
    """Plotly sends numeric arrays as typed base64 ({"dtype", "bdata"}) or as plain lists."""
    if isinstance(values, dict):
        return np.frombuffer(base64.b64decode(values["bdata"]), dtype=values["dtype"])
    return np.asarray(values)


def _as_user(app, email):
    """Log `email` in for the current test request, as the login route would."""
    db = app.extensions["podcast_platform"].db
    with db.session(system=True) as s:
        user = s.scalar(select(User).where(User.email == email))
    login_user(SessionUser(user.id, user.email, user.name))


def test_overview_callbacks_build_cards_and_charts(app):
    db = app.extensions["podcast_platform"].db
    with db.session(system=True) as s:  # the demo's own anomalies depend on the hour it was seeded; markers are
        s.execute(delete(Anomaly))      # tested with known findings in tests/unit/insights
        s.commit()
    with app.test_request_context("/_dash-update-component", method="POST"):
        _as_user(app, demo.DEMO_EMAIL)
        cards, message = update_kpis(*CONTROLS_30D)
        figure = update_timeline(*CONTROLS_30D)
        episodes, apps, countries = update_tops(*CONTROLS_30D)
    assert message is None
    labels = [card.children[0].children for card in cards.children]
    assert labels == ["Downloads", "Listeners (avg per day)", "Episodes released", "Median downloads, first 7 days",
                      "Median downloads, first 30 days"]
    assert [t.name for t in figure.data] == ["Downloads", "Comparison period", "Episode released"]
    assert len(figure.data[0].x) == 30
    assert "Apple Podcasts" in list(apps.data[0].y) and "US" in list(countries.data[0].y)
    assert len(episodes.data[0].y) == 10


def test_empty_input_prevents_update(app):
    with app.test_request_context("/"), pytest.raises(PreventUpdate):
        update_kpis(None, None, None, None, None, None)


def test_another_tenants_user_sees_only_their_empty_tenant(app):
    db = app.extensions["podcast_platform"].db
    accounts.create_tenant(db, "acme", "Acme")
    accounts.create_user(db, "o@acme.test", "acme", "owner", password="password-1")
    with app.test_request_context("/_dash-update-component", method="POST"):
        _as_user(app, "o@acme.test")
        cards, message = update_kpis("12m", None, None, "previous", None, "day")
        figure = update_timeline("12m", None, None, "previous", None, "day")
    assert cards.children[0].children[1].children == "0"
    assert "No podcasts yet" in json.dumps(message.to_plotly_json(), default=str)  # tells a new tenant what to do
    assert all(len(t.x or ()) == 0 for t in figure.data)  # nothing of the demo tenant


def test_overview_over_dash_http(demo_client):
    status, body = call_overview(demo_client, 90)
    assert status == 200
    traces = body["overview-downloads-chart"]["figure"]["data"]
    assert traces[0]["name"] == "Downloads" and figure_values(traces[0]["y"]).sum() > 0
    layout = demo_client.get("/_dash-layout").get_json()
    assert "Overview" in json.dumps(layout)
