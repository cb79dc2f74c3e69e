"""Tenant export and deletion on the demo network (SQLite, jobs in-process): owners and admins export a zip of only
their tenant's rows behind a link that expires; only an owner deletes, by typing the slug, and afterwards no table
holds a row of that tenant while the other tenant keeps all of its own."""
from __future__ import annotations

import io
import json
import re
import zipfile

import pandas as pd
import pytest
from sqlalchemy import inspect, select, text

from services import accounts, privacy
from services.models import Podcast, User
from tests.dash_client import call_callback
from tests.worlds import demo_world

ROLES = ("owner", "admin", "viewer", "sponsor_own", "other_tenant")


def _add_acme_podcast(world) -> int:
    with world["db"].session(world["acme"]) as s:
        podcast = Podcast(tenant_id=world["acme"], title="Acme show", prefix_key="kacme")
        s.add(podcast)
        s.commit()
        return podcast.id


@pytest.fixture(scope="module")
def world(tmp_path_factory, seeded_sqlite):
    with demo_world(tmp_path_factory, seeded_sqlite, "privacy", ROLES) as w:
        w["acme_podcast"] = _add_acme_podcast(w)
        yield w


def _export(client) -> tuple[dict, str]:
    status, out = call_callback(client, [("privacy-export-job", "data")], [("privacy-export", "n_clicks", 1)])
    assert status == 200
    job = out["privacy-export-job"]["data"]
    status, out = call_callback(client, [("privacy-export-progress", "value"), ("privacy-export-status", "children"),
                                         ("privacy-export-poll", "disabled")],
                                [("privacy-export-poll", "n_intervals", 1), ("privacy-export-job", "data", job)])
    assert status == 200
    return job, json.dumps(out["privacy-export-status"]["children"])


def _link(status_json: str) -> str:
    match = re.search(r'/exports/tenant/[A-Za-z0-9_.\-]+', status_json)
    assert match, status_json
    return match.group(0)


def test_an_export_holds_only_the_tenants_rows(world):
    job, status = _export(world["clients"]["owner"])
    assert "job" in job and "Download the export" in status
    response = world["clients"]["owner"].get(_link(status))
    assert response.status_code == 200 and response.mimetype == "application/zip"
    archive = zipfile.ZipFile(io.BytesIO(response.data))
    about = json.loads(archive.read("tenant.json"))
    assert about["slug"] == "demo" and "viewer@demo.test" in {m["email"] for m in about["members"]}
    names = set(archive.namelist())
    assert {"downloads.csv", "download_requests.csv", "campaigns.csv", "audit_log.csv", "podcasts.csv"} <= names
    downloads = pd.read_csv(archive.open("downloads.csv"))
    assert len(downloads) == about["rows"]["downloads"] > 1000
    for name in names - {"tenant.json"}:
        frame = pd.read_csv(archive.open(name), dtype=str)
        assert set(frame["tenant_id"]) <= {str(world["demo"])}, name
    podcasts = pd.read_csv(archive.open("podcasts.csv"))
    assert world["acme_podcast"] not in set(podcasts["id"])


def test_the_link_is_for_this_tenants_owners_and_admins_while_young(world, monkeypatch):
    _job, status = _export(world["clients"]["admin"])
    link = _link(status)
    assert world["clients"]["admin"].get(link).status_code == 200
    assert world["clients"]["viewer"].get(link).status_code == 403
    assert world["clients"]["sponsor_own"].get(link).status_code == 403
    assert world["clients"]["other_tenant"].get(link).status_code == 404
    assert world["app"].test_client().get(link).status_code == 302  # to the login page
    assert world["clients"]["owner"].get(link[:-2] + ("A" if link[-2] != "A" else "B") + link[-1]).status_code == 404
    monkeypatch.setattr(privacy, "EXPORT_LINK_SECONDS", -1)
    expired = world["clients"]["owner"].get(link)
    assert expired.status_code == 410 and "expired" in expired.get_data(as_text=True)


@pytest.mark.parametrize("role", ["viewer", "sponsor_own"])
def test_other_roles_cannot_export(world, role):
    status, out = call_callback(world["clients"][role], [("privacy-export-job", "data")],
                                [("privacy-export", "n_clicks", 1)])
    assert status == 200 and "may not do this" in out["privacy-export-job"]["data"]["error"]


def _delete(client, slug):
    status, out = call_callback(client, [("privacy-delete-status", "children")], [("privacy-delete", "n_clicks", 1)],
                                [("privacy-slug", "value", slug)])
    assert status == 200
    return json.dumps(out["privacy-delete-status"]["children"])


def _rows_of(db, tenant_id) -> dict[str, int]:
    found = {}
    with db.session(system=True) as s:
        for table in inspect(db.engine).get_table_names():
            columns = {c["name"] for c in inspect(db.engine).get_columns(table)}
            if "tenant_id" in columns:
                found[table] = s.execute(text(f"SELECT count(*) FROM {table} WHERE tenant_id = :t"),
                                         {"t": tenant_id}).scalar()
        found["tenants"] = s.execute(text("SELECT count(*) FROM tenants WHERE id = :t"), {"t": tenant_id}).scalar()
    return found


def test_deleting_the_tenant_leaves_nothing_of_it(tmp_path_factory, seeded_sqlite):
    with demo_world(tmp_path_factory, seeded_sqlite, "deletion", ("owner", "admin", "viewer", "other_tenant")) as w:
        db, demo, acme = w["db"], w["demo"], w["acme"]
        _add_acme_podcast(w)
        accounts.create_user(db, "viewer@demo.test", "acme", "viewer")  # a member of both networks
        before_demo, before_acme = _rows_of(db, demo), _rows_of(db, acme)
        assert before_demo["downloads"] > 1000 and before_demo["campaigns"] > 0
        assert "type the network's slug (demo)" in _delete(w["clients"]["owner"], "dem")
        assert "may not do this" in _delete(w["clients"]["admin"], "demo")
        assert _rows_of(db, demo) == before_demo
        assert "is being deleted" in _delete(w["clients"]["owner"], "demo")
        assert set(_rows_of(db, demo).values()) == {0}
        assert _rows_of(db, acme) == before_acme and before_acme["memberships"] == 2
        with db.session(system=True) as s:
            emails = set(s.scalars(select(User.email)))
        assert {"viewer@demo.test", "owner@acme.test"} <= emails
        assert not emails & {"demo@example.com", "admin@demo.test"}
