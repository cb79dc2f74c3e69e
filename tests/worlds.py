"""The demo network as the access tests see it: one app on a copy of the seeded demo database, a second tenant
("acme"), a user per role and a logged-in test client for each.

Roles: owner (the demo login), admin, editor and viewer of the demo tenant; sponsor_own (Northwind Coffee's user),
sponsor_other (Lumen VPN's user) and other_tenant (acme's owner)."""
from __future__ import annotations

import shutil
from contextlib import contextmanager
from typing import Iterator

from sqlalchemy import select

from jobs import context as job_context
from services import accounts
from services.models import Sponsor
from tests.conftest import DEMO_PASSWORD, make_settings

ROLES = ("owner", "admin", "editor", "viewer", "sponsor_own", "sponsor_other", "other_tenant")
PASSWORD = "password-123"
OWN_SPONSOR, OTHER_SPONSOR = "Northwind Coffee", "Lumen VPN"


def login(server, email: str, password: str):
    """A test client logged in as `email` (the login must succeed)."""
    client = server.test_client()
    response = client.post("/login", data={"email": email, "password": password})
    assert response.status_code == 302, (email, response.status_code)
    return client


@contextmanager
def demo_world(tmp_path_factory, seeded_sqlite, name: str, roles: tuple[str, ...] = ROLES) -> Iterator[dict]:
    """Yield {"app", "db", "settings", "demo", "acme", "sponsors", "emails", "clients"} for the given roles;
    the app and its jobs' context are torn down afterwards."""
    from app import create_app

    instance = tmp_path_factory.mktemp(name)
    shutil.copy(seeded_sqlite, instance / "podcast.db")
    server = create_app(make_settings(instance))
    server.config["TESTING"] = True
    db = server.extensions["podcast_platform"].db
    demo = accounts.get_tenant_by_slug(db, "demo")
    with db.session(demo.id) as s:
        sponsors = dict(s.execute(select(Sponsor.name, Sponsor.id)).all())
    acme = accounts.create_tenant(db, "acme", "Acme")
    emails = {"owner": "demo@example.com"}
    for role in ("admin", "editor", "viewer"):
        if role in roles:
            accounts.create_user(db, f"{role}@demo.test", "demo", role, password=PASSWORD)
            emails[role] = f"{role}@demo.test"
    for role, email, sponsor in (("sponsor_own", "coffee@demo.test", OWN_SPONSOR),
                                 ("sponsor_other", "vpn@demo.test", OTHER_SPONSOR)):
        if role in roles:
            accounts.create_user(db, email, "demo", "sponsor", password=PASSWORD, sponsor_id=sponsors[sponsor])
            emails[role] = email
    if "other_tenant" in roles:
        accounts.create_user(db, "owner@acme.test", "acme", "owner", password=PASSWORD)
        emails["other_tenant"] = "owner@acme.test"
    clients = {role: login(server, emails[role], DEMO_PASSWORD if role == "owner" else PASSWORD)
               for role in roles}
    try:
        yield {"app": server, "db": db, "settings": server.extensions["podcast_platform"].settings,
               "demo": demo.id, "acme": acme.id, "sponsors": sponsors, "emails": emails, "clients": clients}
    finally:
        db.dispose()
        job_context.reset()
