"""Integration: scheduled email reports on PostgreSQL with Redis, a real RQ worker, Chromium (kaleido) and a local
SMTP server (aiosmtpd). Two networks in different time zones each have a subscriber; the tick records one run each
(a second tick none), the worker draws and sends each report to its own subscriber only; the figures in each email
match that network's REST API, each attached PNG decodes to its size with something drawn on it; the report tables
are walled per tenant by row-level security."""
from __future__ import annotations

import io
from datetime import datetime, timedelta, timezone
from email import message_from_bytes, policy
from pathlib import Path
from zoneinfo import ZoneInfo

import psycopg
import pytest
from sqlalchemy import select, update

from app import create_app
from jobs.reports import queue_due_reports
from services import accounts, api_keys
from services.db import Database
from services.errors import NotFound
from services.models import (
    Episode, EpisodeDailyMetric, Podcast, PodcastAppDailyMetric, PodcastDailyMetric, PodcastGeoDailyMetric, ReportRun,
    ReportSubscription, Tenant,
)
from services.notify.reports import subscriptions as subs
from services.notify.reports.png import check_chart_png
from tests.conftest import make_settings
from tests.integration.workers import burst_worker
from tests.unit.notify.smtp_server import Inbox, smtp_server

CHROMIUM = Path("/usr/bin/chromium")
NETWORKS = {"eastcoast": ("America/New_York", 1), "tokyo": ("Asia/Tokyo", 3)}  # time zone, downloads multiplier


def _network(db: Database, admin: Database, slug: str, tz_name: str, scale: int) -> dict:
    """A tenant in `tz_name` with one show, its owner subscribed to a weekly network report (subscribed long ago),
    and 40 days of rollups written directly (the counting pipeline has its own tests)."""
    tenant = accounts.create_tenant(db, slug, slug.title())
    user, _ = accounts.create_user(db, f"owner@{slug}.test", slug, "owner", password="password-123")
    with admin.session(system=True) as s:
        s.execute(update(Tenant).where(Tenant.id == tenant.id).values(timezone=tz_name))
        podcast = Podcast(tenant_id=tenant.id, title=f"{slug.title()} Daily", prefix_key=f"k{slug}")
        s.add(podcast)
        s.flush()
        episode = Episode(tenant_id=tenant.id, podcast_id=podcast.id, guid=f"{slug}-1", title=f"{slug} pilot",
                          enclosure_url=f"https://media.example.com/{slug}/1.mp3",
                          published_at=datetime.now(timezone.utc) - timedelta(days=50))
        s.add(episode)
        s.flush()
        today = datetime.now(timezone.utc).date()
        for back in range(1, 41):
            day = today - timedelta(days=back)
            n = scale * (100 + back)
            s.add_all([
                PodcastDailyMetric(tenant_id=tenant.id, podcast_id=podcast.id, day=day, downloads=n, listeners=n - 5),
                EpisodeDailyMetric(tenant_id=tenant.id, podcast_id=podcast.id, episode_id=episode.id, day=day,
                                   downloads=n, listeners=n - 5),
                PodcastAppDailyMetric(tenant_id=tenant.id, podcast_id=podcast.id, day=day, app="Overcast",
                                      downloads=n - 20, listeners=n - 25),
                PodcastAppDailyMetric(tenant_id=tenant.id, podcast_id=podcast.id, day=day, app="Apple Podcasts",
                                      downloads=20, listeners=20),
                PodcastGeoDailyMetric(tenant_id=tenant.id, podcast_id=podcast.id, day=day, country="US", region="",
                                      downloads=n, listeners=n - 5)])
        s.commit()
    ctx = accounts.resolve_context(db, user.id, tenant.id)
    sub = subs.create_subscription(db, ctx, {"kind": "network", "frequency": "weekly", "day": 1, "hour": 8})
    with admin.session(system=True) as s:
        s.execute(update(ReportSubscription).where(ReportSubscription.id == sub.id)
                  .values(created_at=datetime.now(timezone.utc) - timedelta(days=30)))
        s.commit()
    _, key = api_keys.create_api_key(db, ctx, "reports")
    return {"tenant_id": tenant.id, "email": user.email, "subscription_id": sub.id, "key": key, "ctx": ctx}


@pytest.mark.timeout(400)
def test_reports_are_sent_once_each_to_their_subscriber_with_the_apis_figures(pg_jobs, monkeypatch, tmp_path):
    settings, db = pg_jobs
    admin = Database(settings.database_url)  # the login role: writes the fixtures' rollups
    networks = {slug: _network(db, admin, slug, tz, scale) for slug, (tz, scale) in NETWORKS.items()}

    assert queue_due_reports() == 2
    assert queue_due_reports() == 0  # a second tick queues nothing

    inbox = Inbox()
    with smtp_server(inbox) as url:
        monkeypatch.setenv("SMTP_URL", url)
        monkeypatch.setenv("MAIL_FROM", "Reports <reports@network.test>")
        if CHROMIUM.is_file():
            monkeypatch.setenv("CHART_BROWSER_PATH", str(CHROMIUM))
        burst_worker(settings, "notify")
        burst_worker(settings, "notify")  # nothing left to send twice
    assert len(inbox.messages) == 2, [r for r, _ in inbox.messages]

    client = create_app(make_settings(tmp_path / "web", DATABASE_URL=settings.database_url)).test_client()
    by_recipient = {tuple(rcpt): message_from_bytes(raw, policy=policy.default) for rcpt, raw in inbox.messages}
    for slug, net in networks.items():
        message = by_recipient[(net["email"],)]
        with admin.session(system=True) as s:
            (run,) = s.scalars(select(ReportRun).where(ReportRun.subscription_id == net["subscription_id"])).all()
        assert (run.status, run.attempts, run.error) == ("sent", 1, None)
        api = client.get(f"/api/v1/downloads?from={run.period_start}&to={run.period_end}",
                         headers={"Authorization": f"Bearer {net['key']}"}).get_json()["data"]
        previous = client.get(f"/api/v1/downloads?from={run.period_start - timedelta(days=7)}"
                              f"&to={run.period_start - timedelta(days=1)}",
                              headers={"Authorization": f"Bearer {net['key']}"}).get_json()["data"]
        total, before = sum(r["downloads"] for r in api), sum(r["downloads"] for r in previous)
        assert len(api) == 7 and total > 0
        html = message.get_body(("html",)).get_content()
        assert f">{total:,}<" in html and f"{abs(total - before) / before:.1%} vs previous period" in html
        assert all(f"{o.title()} Daily" not in html for o in NETWORKS if o != slug)
        csv_part = next(p for p in message.iter_attachments() if p.get_content_type() == "text/csv")
        rows = csv_part.get_content().strip().splitlines()
        assert rows[1:] == [f"{r['day']},{r['downloads']}" for r in api]
        images = {p["Content-ID"].strip("<>"): p.get_content() for p in message.walk()
                  if p.get_content_type() == "image/png"}
        assert set(images) == {"downloads-per-day", "top-apps"}
        for cid, data in images.items():
            assert f"cid:{cid}" in html
            image = check_chart_png(data, 640, 300)
            assert image.pixels.shape[:2] == (300, 640)
            _pillow_agrees(data)
    east, tokyo = networks["eastcoast"], networks["tokyo"]
    # Each run was due at Monday 08:00 in its own network's time zone and covers the 7 days before that Monday.
    for net, tz in ((east, "America/New_York"), (tokyo, "Asia/Tokyo")):
        with admin.session(system=True) as s:
            run = s.scalar(select(ReportRun).where(ReportRun.subscription_id == net["subscription_id"]))
        local = run.due_at.astimezone(ZoneInfo(tz))
        assert (local.isoweekday(), local.hour, local.minute) == (1, 8, 0)
        assert run.period_end == local.date() - timedelta(days=1) and run.due_at <= datetime.now(timezone.utc)

    # Row-level security: as the app role, one tenant's session sees only its own subscriptions and runs.
    with db.session(east["tenant_id"]) as s:
        assert {r.tenant_id for r in s.scalars(select(ReportRun))} == {east["tenant_id"]}
        assert {r.tenant_id for r in s.scalars(select(ReportSubscription))} == {east["tenant_id"]}
    assert subs.list_subscriptions(db, tokyo["ctx"])[0].id == tokyo["subscription_id"]
    with pytest.raises(NotFound):
        subs.list_runs(db, tokyo["ctx"], east["subscription_id"])
    with psycopg.connect(settings.database_url.replace("+psycopg", "")) as conn:
        forced = {r[0] for r in conn.execute("SELECT relname FROM pg_class WHERE relforcerowsecurity")}
    assert {"report_subscriptions", "report_runs"} <= forced
    admin.dispose()


def _pillow_agrees(data: bytes) -> None:
    """Where Pillow is installed, it decodes the image to the same size too (the project's decoder is the check)."""
    try:
        from PIL import Image
    except ImportError:
        return
    with Image.open(io.BytesIO(data)) as image:
        image.load()
        assert image.size == (640, 300)
