"""Overview callbacks called as plain functions inside a request, and the page through Dash's own routes."""
import base64
import json

import numpy as np

import pytest
from dash.exceptions import PreventUpdate
from flask_login import login_user
from sqlalchemy import select

from api.auth import SessionUser
from callbacks.overview import update_overview
from services import accounts, demo
from services.models import User
from tests.dash_client import call_overview


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


def test_overview_callback_builds_cards_and_chart(app):
    with app.test_request_context("/_dash-update-component", method="POST"):
        _as_user(app, demo.DEMO_EMAIL)
        cards, figure, message = update_overview(30)
    assert message is None
    labels = [card.children[0].children for card in cards.children]
    assert labels == ["Downloads", "Avg daily listeners", "Episodes released", "Podcasts"]
    assert {trace.name for trace in figure.data} == {"Signal & Noise", "Market Hours", "The Long Way Round"}


def test_empty_input_prevents_update(app):
    with app.test_request_context("/"), pytest.raises(PreventUpdate):
        update_overview(None)


def test_another_tenants_user_sees_only_their_empty_tenant(app):
    db = app.extensions["podcast_platform"].db
    accounts.create_tenant(db, "acme", "Acme")
    accounts.create_user(db, "o@acme.test", "acme", "owner", password="password-1")
    with app.test_request_context("/_dash-update-component", method="POST"):
        _as_user(app, "o@acme.test")
        cards, figure, _ = update_overview(365)
    assert cards.children[0].children[1].children == "0"
    assert figure.data == ()  # no bars: nothing of the demo tenant


def test_overview_over_dash_http(demo_client):
    status, body = call_overview(demo_client, 90)
    assert status == 200
    traces = body["overview-downloads-chart"]["figure"]["data"]
    assert len(traces) == 3 and sum(figure_values(t["y"]).sum() for t in traces) > 0
    layout = demo_client.get("/_dash-layout").get_json()
    assert "Overview" in json.dumps(layout)
