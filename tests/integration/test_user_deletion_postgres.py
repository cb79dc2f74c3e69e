"""User deletion on PostgreSQL (row-level security on, the web role): an admin deletes a member of their own
network and afterwards no table holds that user's id or email while their audit entries stay, pseudonymised; an
admin of another network and a sponsor user delete nobody; a member of two networks removed from one keeps the
other; users delete their own account with their password; the last owner stays."""
from __future__ import annotations

import pytest
from sqlalchemy import func, select

from app import create_app
from services import accounts, user_deletion
from services.db import Database
from services.models import AuditLog, Sponsor, User
from tests.conftest import make_settings
from tests.user_data import plant_personal_data, remove_member, traces_of
from tests.worlds import login

PASSWORD = "password-123"


@pytest.fixture
def world(pg_url, tmp_path):
    server = create_app(make_settings(tmp_path, DATABASE_URL=pg_url))
    server.config["TESTING"] = True
    db = server.extensions["podcast_platform"].db
    owner_db = Database(pg_url)  # the database owner: the scan reads every table whatever its policy
    tenants = {slug: accounts.create_tenant(db, slug, slug.title()).id for slug in ("alpha", "beta")}
    with db.session(tenants["alpha"]) as s:
        sponsor = Sponsor(tenant_id=tenants["alpha"], name="Alpha sponsor", contact_email="buyer@brand.test")
        s.add(sponsor)
        s.commit()
        sponsor_id = sponsor.id
    users = {}
    for email, slug, role in (("owner@alpha.test", "alpha", "owner"), ("admin@alpha.test", "alpha", "admin"),
                              ("viewer@alpha.test", "alpha", "viewer"), ("owner@beta.test", "beta", "owner"),
                              ("admin@beta.test", "beta", "admin")):
        users[email] = accounts.create_user(db, email, slug, role, password=PASSWORD)[0].id
    users["buyer@alpha.test"] = accounts.create_user(db, "buyer@alpha.test", "alpha", "sponsor", password=PASSWORD,
                                                     sponsor_id=sponsor_id)[0].id
    clients = {email: login(server, email, PASSWORD) for email in users}
    yield {"app": server, "db": db, "owner_db": owner_db, "tenants": tenants, "users": users, "clients": clients,
           "secret": server.extensions["podcast_platform"].settings.secret_key}
    owner_db.dispose()
    db.dispose()


def _exists(world, email: str) -> bool:
    with world["owner_db"].session() as s:
        return s.scalar(select(func.count(User.id)).where(User.email == email)) == 1


def test_an_admin_deletes_a_member_and_only_a_pseudonym_is_left(world):
    alpha, viewer = world["tenants"]["alpha"], world["users"]["viewer@alpha.test"]
    plant_personal_data(world["db"], alpha, viewer, "viewer@alpha.test",
                        colleague_id=world["users"]["owner@alpha.test"])
    assert len(traces_of(world["owner_db"], viewer, "viewer@alpha.test")) >= 10
    # Another network's admin and a sponsor user of this network delete nobody.
    assert "no member" in remove_member(world["clients"]["admin@beta.test"], viewer, "viewer@alpha.test")
    assert "sponsor users see only" in remove_member(world["clients"]["buyer@alpha.test"], viewer,
                                                     "viewer@alpha.test")
    assert "type the member's email" in remove_member(world["clients"]["admin@alpha.test"], viewer, "viewer@")
    assert _exists(world, "viewer@alpha.test")
    with world["owner_db"].session() as s:
        acted = s.scalar(select(func.count(AuditLog.id)).where(AuditLog.user_id == viewer))
        total = s.scalar(select(func.count(AuditLog.id)))
    assert acted >= 2
    assert "Member deleted" in remove_member(world["clients"]["admin@alpha.test"], viewer, "viewer@alpha.test")
    assert traces_of(world["owner_db"], viewer, "viewer@alpha.test") == []
    alias = user_deletion.pseudonym(world["secret"], viewer)
    with world["owner_db"].session() as s:
        assert s.scalar(select(func.count(AuditLog.id)).where(AuditLog.user_pseudonym == alias)) == acted
        assert s.scalar(select(func.count(AuditLog.id))) == total + 1
        deleted = s.execute(select(AuditLog.tenant_id, AuditLog.user_id, AuditLog.detail)
                            .where(AuditLog.action == "user.deleted")).all()
    assert deleted == [(alpha, world["users"]["admin@alpha.test"], {"user": alias, "by": "admin"})]
    assert world["clients"]["viewer@alpha.test"].get("/settings/team").status_code == 302


def test_the_last_owner_stays_and_a_sponsor_user_deletes_nobody(world):
    owner, admin = world["users"]["owner@alpha.test"], world["users"]["admin@alpha.test"]
    assert "sponsor users see only" in remove_member(world["clients"]["buyer@alpha.test"], admin,
                                                     "admin@alpha.test")
    assert "only an owner may remove an owner" in remove_member(world["clients"]["admin@alpha.test"], owner,
                                                                 "owner@alpha.test")
    assert "last owner of Alpha" in remove_member(world["clients"]["owner@alpha.test"], owner, "owner@alpha.test")
    response = world["clients"]["owner@alpha.test"].post("/account/security/delete", data={"password": PASSWORD})
    assert response.status_code == 409 and "last owner of Alpha" in response.get_data(as_text=True)
    assert _exists(world, "owner@alpha.test") and _exists(world, "admin@alpha.test")


def test_membership_removal_then_self_deletion(world):
    alpha, beta = world["tenants"]["alpha"], world["tenants"]["beta"]
    both = accounts.create_user(world["db"], "both@alpha.test", "alpha", "editor", password=PASSWORD)[0].id
    accounts.create_user(world["db"], "both@alpha.test", "beta", "viewer")
    plant_personal_data(world["db"], alpha, both, "both@alpha.test")
    plant_personal_data(world["db"], beta, both, "both@alpha.test")
    assert "keep their other memberships" in remove_member(world["clients"]["owner@alpha.test"], both,
                                                           "both@alpha.test")
    assert [m.tenant_id for m in accounts.memberships_for_user(world["db"], both)] == [beta]
    client = login(world["app"], "both@alpha.test", PASSWORD)
    assert client.post("/account/security/delete", data={"password": "not-it"}).status_code == 401
    response = client.post("/account/security/delete", data={"password": PASSWORD})
    assert response.status_code == 200 and "Account deleted" in response.get_data(as_text=True)
    assert traces_of(world["owner_db"], both, "both@alpha.test") == []
    alias = user_deletion.pseudonym(world["secret"], both)
    with world["owner_db"].session() as s:
        deleted = s.execute(select(AuditLog.tenant_id, AuditLog.user_pseudonym)
                            .where(AuditLog.action == "user.deleted")).all()
    assert deleted == [(beta, alias)]
