"""Login, logout, and login protection of every Dash route."""
import json

import pytest

from services import accounts
from tests.conftest import DEMO_PASSWORD
from tests.dash_client import call_overview


def test_anonymous_page_visit_redirects_to_login(client):
    response = client.get("/")
    assert response.status_code == 302 and response.headers["Location"].startswith("/login")
    assert client.get("/login").status_code == 200


@pytest.mark.parametrize("path,method", [("/_dash-layout", "get"), ("/_dash-dependencies", "get"),
                                         ("/_dash-update-component", "post")])
def test_anonymous_dash_requests_get_401(client, path, method):
    assert getattr(client, method)(path, json={}).status_code == 401


def test_login_sets_a_safe_session_cookie(client):
    response = client.post("/login", data={"email": "demo@example.com", "password": DEMO_PASSWORD, "next": "/"})
    assert response.status_code == 302 and response.headers["Location"] == "/"
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert client.get("/_dash-layout").status_code == 200
    assert client.get("/_dash-dependencies").status_code == 200


def test_wrong_password_is_refused(client):
    response = client.post("/login", data={"email": "demo@example.com", "password": "nope"})
    assert response.status_code == 401 and b"wrong email or password" in response.data
    assert client.get("/_dash-layout").status_code == 401


def test_next_must_be_local(client):
    response = client.post("/login", data={"email": "demo@example.com", "password": DEMO_PASSWORD,
                                           "next": "//evil.example.com/"})
    assert response.headers["Location"] == "/"


def test_cross_site_login_post_is_refused(client):
    response = client.post("/login", data={"email": "demo@example.com", "password": DEMO_PASSWORD},
                           headers={"Origin": "https://evil.example.com"})
    assert response.status_code == 403


def test_logout_ends_the_session(demo_client):
    assert demo_client.get("/_dash-layout").status_code == 200
    assert demo_client.post("/logout").status_code == 302
    assert demo_client.get("/_dash-layout").status_code == 401


def test_user_without_tenant_gets_no_data(client, db):
    accounts.create_tenant(db, "lonely", "Lonely")
    user, _ = accounts.create_user(db, "l@x.test", "lonely", "viewer", password="password-1")
    with db.session(system=True) as s:
        from services.models import Membership
        s.query(Membership).filter(Membership.user_id == user.id).delete()
        s.commit()
    client.post("/login", data={"email": "l@x.test", "password": "password-1"})
    status, out = call_overview(client, 30)
    assert status == 200 and "belongs to no tenant" in json.dumps(out)

