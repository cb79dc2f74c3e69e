"""Sending reports on SQLite with a real local SMTP server: due runs are recorded once per subscription per period
(a second tick or a retried job sends nothing twice); the email goes only to its subscriber, with KPIs that match the
REST API, inline chart images and a CSV; a chart that fails fails the run, notifies the subscriber in-app and sends
nothing; an empty period says so in words."""
from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime, timezone
from email import message_from_bytes, policy

from sqlalchemy import select

from jobs import context as job_context
from jobs import reports as report_jobs
from services import api_keys
from services.models import Notification
from services.notify import inapp
from services.notify.reports import content, sending
from services.notify.reports import subscriptions as subs
from services.notify.reports.png import check_chart_png
from services.notify.reports.schedule import latest_occurrence
from tests.unit.notify.smtp_server import Inbox, free_port, smtp_server
from tests.unit.reports.conftest import WEEKLY_NETWORK, backdate, campaign_of, runs
from tests.unit.reports.pngs import blank_renderer, crashing_renderer, good_renderer


def _parse(raw: bytes):
    return message_from_bytes(raw, policy=policy.default)


def _images(message) -> dict[str, bytes]:
    return {part["Content-ID"].strip("<>"): part.get_content() for part in message.walk()
            if part.get_content_type() == "image/png"}


def test_a_due_report_is_recorded_once_and_sent_once_to_its_subscriber_only(db, client, people, demo_settings,
                                                                           monkeypatch):
    owner, admin = people.ctx("owner"), people.ctx("admin")
    sub = subs.create_subscription(db, owner, WEEKLY_NETWORK)
    other = subs.create_subscription(db, admin, {**WEEKLY_NETWORK, "day": 3})
    fresh = subs.create_subscription(db, people.ctx("editor"), WEEKLY_NETWORK)  # not backdated: not due yet
    backdate(db, sub.id)
    backdate(db, other.id)
    now = datetime.now(timezone.utc)
    first_tick = sending.record_due_runs(db, now)
    assert sending.record_due_runs(db, now) == []  # a second tick records nothing new
    assert len(first_tick) == 2 and runs(db, fresh.id) == []
    (run,) = runs(db, sub.id)
    expected = latest_occurrence("weekly", 1, 7, "UTC", now)
    assert (run.period_start, run.period_end, run.status) == (expected.period_start, expected.period_end, "queued")

    inbox = Inbox()
    monkeypatch.setattr("services.notify.reports.charts.kaleido_renderer", good_renderer)
    with smtp_server(inbox) as url:
        settings = replace(demo_settings, smtp_url=url, mail_from="Reports <reports@network.test>")
        assert sending.send_run(db, settings, run.id).status == "sent"
        assert sending.send_run(db, settings, run.id).status == "sent"  # a retried job sends nothing twice
    assert len(inbox.messages) == 1
    recipients, raw = inbox.messages[0]
    assert recipients == ["demo@example.com"]
    message = _parse(raw)
    assert message["Subject"].startswith("Weekly report: Demo Network")
    html = message.get_body(("html",)).get_content()
    images = _images(message)
    assert set(images) == {"downloads-per-day", "top-apps"}
    for cid, data in images.items():
        assert f'src="cid:{cid}"' in html
        check_chart_png(data, 640, 300)
    attachments = [p for p in message.iter_attachments() if p.get_content_type() == "text/csv"]
    assert len(attachments) == 1
    csv_rows = attachments[0].get_content().strip().splitlines()
    assert csv_rows[0] == "day,downloads" and len(csv_rows) == 8

    # The figures match the REST API's for the same days.
    _, key = api_keys.create_api_key(db, owner, "reports test")
    api = client.get(f"/api/v1/downloads?from={run.period_start}&to={run.period_end}",
                     headers={"Authorization": f"Bearer {key}"}).get_json()["data"]
    total = sum(r["downloads"] for r in api)
    assert total > 0
    assert 'data-kpi="Downloads"' in html and f">{total:,}<" in html
    assert [f"{r['day']},{r['downloads']}" for r in api] == csv_rows[1:]
    logged = runs(db, sub.id)[0]
    assert (logged.status, logged.attempts, logged.to_address, logged.error) == ("sent", 1, "demo@example.com", None)
    assert [r.status for r in runs(db, other.id)] == ["queued"]  # the admin's is a separate run, sent separately


def test_a_chart_that_fails_fails_the_run_notifies_the_subscriber_and_sends_nothing(db, people, demo_settings,
                                                                                   outbox):
    owner = people.ctx("owner")
    sub = subs.create_subscription(db, owner, WEEKLY_NETWORK)
    backdate(db, sub.id, days=400)
    inbox = Inbox()
    with smtp_server(inbox) as url:
        settings = replace(demo_settings, smtp_url=url)
        for renderer, problem in ((blank_renderer, "image is blank"), (crashing_renderer, "Chromium exited")):
            (run_id,) = sending.record_due_runs(db, datetime.now(timezone.utc))
            outcome = sending.send_run(db, settings, run_id, renderer=renderer)
            assert outcome.status == "failed" and problem in outcome.error
            assert sending.send_run(db, settings, run_id, renderer=good_renderer).status == "failed"  # stays failed
            _shift_back_a_week(db, run_id)  # the next tick's period is another one
    assert inbox.messages == [] and not outbox.exists()
    history = subs.list_runs(db, owner)
    assert [r.status for r in history] == ["failed", "failed"]
    assert "Top apps by downloads" in history[1].error and "blank" in history[1].error
    notices = [n for n in inapp.list_notifications(db, owner) if n.kind == "report.failed"]
    assert len(notices) == 2 and notices[0].link == "/settings/reports" and "Chromium" in notices[0].body
    assert not [n for n in inapp.list_notifications(db, people.ctx("admin")) if n.kind == "report.failed"]


def _shift_back_a_week(db, run_id: int) -> None:
    """Make this run look like last week's, so the same moment records a new one."""
    from services.models import ReportRun

    with db.session(system=True) as s:
        run = s.get(ReportRun, run_id)
        run.period_key = "week:old-" + str(run_id)
        s.commit()


def test_a_sponsor_users_campaign_report_holds_only_their_campaign_and_goes_to_them(db, people, demo_settings,
                                                                                    monkeypatch):
    coffee = people.ctx("coffee")
    campaign_id = campaign_of(db, people.tenant_id, people.sponsors["Northwind Coffee"])
    sub = subs.create_subscription(db, coffee, {"kind": "campaign", "target_id": campaign_id,
                                                "frequency": "monthly", "day": 1, "hour": 0})
    backdate(db, sub.id, days=80)
    monkeypatch.setattr("services.notify.reports.charts.kaleido_renderer", good_renderer)
    (run_id,) = sending.record_due_runs(db, datetime.now(timezone.utc))
    assert sending.send_run(db, demo_settings, run_id).status == "written"  # no SMTP_URL: the outbox folder
    (eml,) = (demo_settings.instance_path / "outbox").glob("report-*.eml")
    message = _parse(eml.read_bytes())
    assert message["To"] == "coffee@demo.test"
    html = message.get_body(("html",)).get_content()
    others = [name for cid, name in subs.target_choices(db, people.ctx("owner"), "campaign") if cid != campaign_id]
    assert others and not any(name.rsplit(" (", 1)[0] in html for name in others)
    assert 'data-kpi="Impressions"' in html and 'data-kpi="Attributed conversions"' in html
    assert f"/campaigns/{campaign_id}" in html


def test_an_empty_period_says_so_in_words_and_draws_no_chart(db, people):
    occurrence = latest_occurrence("weekly", 1, 0, "UTC", datetime(2019, 6, 5, tzinfo=timezone.utc))
    report = content.audience_report(db, people.ctx("owner"), "Weekly report: Demo Network", occurrence)
    assert report.empty and report.charts == []
    assert report.notes == ["No downloads were counted from 27 May to 02 Jun 2019."]
    assert report.kpis[0].value == 0 and report.period_start == date(2019, 5, 27)


def test_the_periodic_job_queues_and_sends_due_reports_in_process(db, people, demo_settings, monkeypatch):
    job_context.set_settings(demo_settings)
    job_context.set_db(db)
    monkeypatch.setattr("services.notify.reports.charts.kaleido_renderer", good_renderer)
    sub = subs.create_subscription(db, people.ctx("owner"), WEEKLY_NETWORK)
    backdate(db, sub.id)
    assert report_jobs.queue_due_reports() == 1
    assert report_jobs.queue_due_reports() == 0
    assert [r.status for r in runs(db, sub.id)] == ["written"]
    with db.session(people.tenant_id) as s:
        assert s.scalars(select(Notification).where(Notification.kind == "report.failed")).all() == []


def test_an_unreachable_server_is_retried_and_the_report_sent_once_after(db, people, demo_settings, monkeypatch):
    monkeypatch.setattr("services.notify.reports.charts.kaleido_renderer", good_renderer)
    sub = subs.create_subscription(db, people.ctx("owner"), WEEKLY_NETWORK)
    backdate(db, sub.id)
    (run_id,) = sending.record_due_runs(db, datetime.now(timezone.utc))
    closed = replace(demo_settings, smtp_url=f"smtp://127.0.0.1:{free_port()}")  # nothing listens there
    outcome = sending.send_run(db, closed, run_id, final_attempt=False)
    assert outcome.status == "retrying" and "127.0.0.1" in outcome.error
    inbox = Inbox()
    with smtp_server(inbox) as url:
        assert sending.send_run(db, replace(demo_settings, smtp_url=url), run_id).status == "sent"
        assert sending.send_run(db, replace(demo_settings, smtp_url=url), run_id).status == "sent"
    assert len(inbox.messages) == 1
    (run,) = runs(db, sub.id)
    assert (run.status, run.attempts, run.error) == ("sent", 2, None)
    subs.delete_subscription(db, people.ctx("owner"), sub.id)  # its runs go with it
    assert sending.send_run(db, demo_settings, run_id).status == "gone"
