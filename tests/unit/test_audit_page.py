"""The audit log page on the demo network (SQLite): owners and admins see their own tenant's entries (sign-ins and
failed sign-ins included), filtered and as CSV; every other role, another tenant's owner and anonymous users get
nothing of it."""
from __future__ import annotations

import base64
import io
from datetime import date, timedelta

import pandas as pd
import pytest

from services import accounts, audit
from services.errors import PermissionDenied, ValidationError
from services.tenancy import TenantContext
from tests.dash_client import call_callback
from tests.worlds import ROLES, demo_world

OUTPUTS = [("audit-table", "children"), ("audit-count", "children"), ("audit-message", "children"),
           ("audit-family", "options")]


@pytest.fixture(scope="module")
def world(tmp_path_factory, seeded_sqlite):
    with demo_world(tmp_path_factory, seeded_sqlite, "audit") as w:
        # one failed sign-in of the viewer, one of an unknown address
        for email in ("viewer@demo.test", "nobody@demo.test"):
            assert w["app"].test_client().post("/login", data={"email": email, "password": "wrong-password"}
                                               ).status_code == 401
        yield w


def _list(client, family=None, who=None, start=None, end=None):
    status, out = call_callback(client, OUTPUTS, [("audit-family", "value", family), ("audit-who", "value", who),
                                                   ("audit-start", "value", start),
                                                   ("audit-end", "value", end)])
    assert status == 200
    return out


def _text(node) -> str:
    if isinstance(node, dict):
        return _text(node.get("props", {}).get("children"))
    if isinstance(node, list):
        return " ".join(_text(n) for n in node)
    return "" if node is None else str(node)


def _csv(client, family=None, who=None) -> pd.DataFrame:
    status, out = call_callback(client, [("audit-download", "data")], [("audit-csv", "n_clicks", 1)],
                                [("audit-family", "value", family), ("audit-who", "value", who),
                                 ("audit-start", "value", None), ("audit-end", "value", None)])
    assert status == 200
    data = out["audit-download"]["data"]
    raw = base64.b64decode(data["content"]).decode() if data.get("base64") else data["content"]
    return pd.read_csv(io.StringIO(raw))


@pytest.mark.parametrize("role", ["owner", "admin"])
def test_owners_and_admins_see_sign_ins_and_failures(world, role):
    out = _list(world["clients"][role])
    table = _text(out["audit-table"]["children"])
    assert "login.succeeded" in table and "login.failed" in table
    assert "viewer@demo.test" in table and "coffee@demo.test" in table
    assert "owner@acme.test" not in table and "nobody@demo.test" not in table
    assert {"label": "login", "value": "login"} in out["audit-family"]["options"]


@pytest.mark.parametrize("role", [r for r in ROLES if r not in ("owner", "admin", "other_tenant")])
def test_other_roles_get_no_entries(world, role):
    out = _list(world["clients"][role])
    assert out["audit-table"]["children"] is None and out["audit-family"]["options"] == []
    assert "may not do this" in _text(out["audit-message"]["children"])


def test_another_tenants_owner_sees_only_their_own(world):
    table = _text(_list(world["clients"]["other_tenant"])["audit-table"]["children"])
    assert "owner@acme.test" in table
    assert "demo@example.com" not in table and "viewer@demo.test" not in table


def test_filters_narrow_the_list(world):
    owner = world["clients"]["owner"]
    failed = _csv(owner, family="login", who="viewer@")
    assert set(failed["who"]) == {"viewer@demo.test"}
    assert set(failed["action"]) == {"login.succeeded", "login.failed"}
    assert failed["detail"].str.contains('"reason": "password"').sum() == 1
    today = date.today()
    assert "No entries" in _text(_list(owner, start=(today + timedelta(days=1)).isoformat(),
                                       end=(today + timedelta(days=2)).isoformat())["audit-table"]["children"])
    assert "login.succeeded" in _text(_list(owner, family="login", start=today.isoformat(),
                                            end=today.isoformat())["audit-table"]["children"])


def test_csv_lists_the_same_entries_as_the_page(world):
    frame = _csv(world["clients"]["admin"], family="login")
    assert list(frame.columns) == audit.COLUMNS
    listed = _list(world["clients"]["admin"], family="login")["audit-count"]["children"]
    assert listed == f"{len(frame)} entries" and len(frame) >= 7  # a sign-in per demo role, and the failure
    assert frame["action"].str.startswith("login.").all()
    status, out = call_callback(world["clients"]["viewer"], [("audit-download", "data")], [("audit-csv", "n_clicks", 1)],
                                [("audit-family", "value", None), ("audit-who", "value", None),
                                 ("audit-start", "value", None), ("audit-end", "value", None)])
    assert status == 204 or (status == 200 and "audit-download" not in out)


def test_service_checks_role_and_dates(world):
    db, demo = world["db"], world["demo"]
    with pytest.raises(PermissionDenied):
        audit.entries(db, TenantContext(demo, "editor"))
    with pytest.raises(ValidationError):
        audit.entries(db, TenantContext(demo, "owner"), start="not-a-date")
    with pytest.raises(ValidationError):
        audit.entries(db, TenantContext(demo, "owner"), start="2026-02-01", end="2026-01-01")


def test_unknown_address_writes_nothing_and_page_needs_login(world):
    db = world["db"]
    with pytest.raises(Exception):
        accounts.authenticate(db, "nobody@demo.test", "x")
    anonymous = world["app"].test_client()
    assert anonymous.get("/settings/audit").status_code == 302
    status, _ = call_callback(anonymous, OUTPUTS, [("audit-family", "value", None), ("audit-who", "value", None),
                                                    ("audit-start", "value", None),
                                                    ("audit-end", "value", None)])
    assert status == 401
