"""The getting-started checklists on PostgreSQL as the web's role (RLS and the tenant views): another tenant's
podcasts, prefix hits, log imports, downloads and sponsors never tick this tenant's steps."""
from services import accounts, migrate
from services.db import Database
from tests.onboarding_data import add, walk_through_checklists


def test_checklist_steps_are_per_tenant_on_postgres(pg_url):
    migrate.upgrade(pg_url)
    admin, app_db = Database(pg_url), Database(pg_url, "podcast_app")
    try:
        other = accounts.create_tenant(app_db, "running", "Running Network")
        fresh = accounts.create_tenant(app_db, "fresh", "Fresh Network")
        show = add(admin, other.id, "feed")
        for step in ("prefix", "logs", "downloads"):
            add(admin, other.id, step, show)
        walk_through_checklists(app_db, fresh.id, other.id, writer=admin)
    finally:
        app_db.dispose()
        admin.dispose()
