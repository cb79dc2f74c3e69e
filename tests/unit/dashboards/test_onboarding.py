"""The getting-started checklists on SQLite: each step ticks from the tenant's own data only; the overview and the
/welcome page show them (with each host's instructions), and stop once the network is running."""
import json

from services import accounts
from services.dashboards.onboarding import onboarding_status
from services.tenancy import TenantContext
from tests.dash_client import call_callback
from tests.onboarding_data import walk_through_checklists


def test_each_step_ticks_from_this_tenants_data_only(db):
    demo_id = accounts.get_tenant_by_slug(db, "demo").id
    fresh = accounts.create_tenant(db, "fresh", "Fresh Network")
    walk_through_checklists(db, fresh.id, demo_id)


def test_the_demo_network_sees_no_checklist_on_its_overview(demo_client, db):
    demo = TenantContext(accounts.get_tenant_by_slug(db, "demo").id, "owner")
    status = onboarding_status(db, demo)
    assert not status.podcast_side_open and not status.sponsor_side_open
    _, out = call_callback(demo_client, [("overview-onboarding", "children")], [("overview-url", "pathname", "/")],
                           changed=["overview-url.pathname"])
    assert out["overview-onboarding"]["children"] is None


def test_a_fresh_network_sees_the_checklist_and_the_host_instructions(app, db):
    accounts.create_tenant(db, "newshow", "New Show Network")
    accounts.create_user(db, "o@newshow.test", "newshow", "owner", password="password-1")
    client = app.test_client()
    assert client.post("/login", data={"email": "o@newshow.test", "password": "password-1"}).status_code == 302
    _, out = call_callback(client, [("overview-onboarding", "children")], [("overview-url", "pathname", "/")],
                           changed=["overview-url.pathname"])
    text = json.dumps(out)
    assert "Add your show&#x27;s feed" in text or "Add your show's feed" in text
    assert "onboarding-podcast" in text and '"/welcome"' in text
    assert "Signal & Noise" not in text  # nothing of the demo network
    _, out = call_callback(client, [("welcome-body", "children")], [("welcome-url", "pathname", "/welcome")],
                           changed=["welcome-url.pathname"])
    text = json.dumps(out)
    for host in ("Libsyn", "Buzzsprout", "Transistor", "Podbean", "Captivate", "nginx", "return 302"):
        assert host in text, host
    assert "/e/<your show's key>/" in text  # no podcast yet: the prefix's shape
    assert text.count('"check-mark"') == 8 and "✓" not in text.encode().decode("unicode_escape")
