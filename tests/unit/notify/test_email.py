"""Email: sent over SMTP to a real local server (aiosmtpd) as HTML plus plain text by the notify job; a refusal and
an unreachable server are recorded in the email log; without SMTP_URL the email is written to instance/outbox/."""
import logging
from dataclasses import replace
from email import message_from_bytes, policy

import pytest

from jobs import context as job_context
from jobs import notify as notify_jobs
from services.errors import ConfigError, ValidationError
from services.models import EmailMessage
from services.notify import email
from services.settings import load_settings
from tests.unit.notify.people import quiet_trigger
from tests.unit.notify.smtp_server import Inbox, Refusing, free_port, smtp_server
from tests.unit.notify.people import fakes_fixture, people_fixture  # noqa: F401 (fixtures)


def _log(db, email_id) -> EmailMessage:
    with db.session(system=True) as s:
        return s.get(EmailMessage, email_id)


def _queue(db, people, to="someone@example.com", **kwargs) -> int:
    quiet_trigger(db)
    return email.send_email(db, people.tenant_id, to, "Morning Ritual is live",
                            "Your campaign is live.\n\nDelivery shows in the portal.", link="/campaigns/7", **kwargs)


def test_the_job_sends_html_and_text_to_a_real_smtp_server(db, people, demo_settings):
    inbox = Inbox()
    with smtp_server(inbox) as url:
        job_context.set_settings(replace(demo_settings, smtp_url=url, mail_from="Network <alerts@network.test>"))
        email_id = _queue(db, people)
        assert notify_jobs.send_email(email_id) == "sent"
        assert notify_jobs.send_email(email_id) == "sent"  # a retried job sends nothing twice
    assert len(inbox.messages) == 1
    recipients, raw = inbox.messages[0]
    message = message_from_bytes(raw, policy=policy.default)
    assert recipients == ["someone@example.com"]
    assert message["Subject"] == "Morning Ritual is live" and "alerts@network.test" in message["From"]
    text = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    assert "Your campaign is live." in text and f"{demo_settings.public_base_url}/campaigns/7" in text
    assert "<p>Your campaign is live.</p>" in html and f'href="{demo_settings.public_base_url}/campaigns/7"' in html
    logged = _log(db, email_id)
    assert (logged.status, logged.attempts, logged.error) == ("sent", 1, None) and logged.sent_at is not None


def test_a_refusal_is_recorded_as_a_bounce_and_not_retried(db, people, demo_settings):
    with smtp_server(Refusing()) as url:
        email_id = _queue(db, people, to="nobody@example.com")
        status = email.deliver(db, replace(demo_settings, smtp_url=url), email_id, final_attempt=False)
    logged = _log(db, email_id)
    assert status == "bounced" and logged.status == "bounced" and logged.attempts == 1
    assert "550" in logged.error and "No such user" in logged.error


def test_an_unreachable_server_is_retried_then_recorded_as_failed(db, people, demo_settings):
    closed = replace(demo_settings, smtp_url=f"smtp://127.0.0.1:{free_port()}")  # nothing listens there
    email_id = _queue(db, people)
    assert email.deliver(db, closed, email_id, final_attempt=False) == "retrying"
    assert _log(db, email_id).status == "retrying"
    assert email.deliver(db, closed, email_id, final_attempt=True) == "failed"
    logged = _log(db, email_id)
    assert logged.attempts == 2 and "Connection" in logged.error and "127.0.0.1" in logged.error


def test_without_smtp_url_the_email_is_written_to_the_outbox_folder(db, people, demo_settings, caplog):
    email_id = _queue(db, people)
    with caplog.at_level(logging.INFO, logger="services.notify.email"):
        assert email.deliver(db, demo_settings, email_id) == "written"
    files = list((demo_settings.instance_path / "outbox").glob("*.eml"))
    assert len(files) == 1
    message = message_from_bytes(files[0].read_bytes(), policy=policy.default)
    assert message.get_body(("html",)) is not None and "Your campaign is live." in message.get_body(("plain",)).get_content()
    assert any("no SMTP_URL" in r.getMessage() for r in caplog.records)
    assert _log(db, email_id).status == "written"


def test_one_cause_queues_one_email_and_a_bad_address_is_refused(db, people):
    first = _queue(db, people, dedupe_key="event:1:user:1")
    assert _queue(db, people, dedupe_key="event:1:user:1") == first
    with pytest.raises(ValidationError, match="not an email address"):
        _queue(db, people, to="not-an-address")


@pytest.mark.parametrize("env, variable", [({"SMTP_URL": "http://mail.example.com"}, "SMTP_URL"),
                                          ({"SMTP_URL": "smtp://"}, "SMTP_URL"),
                                          ({"MAIL_FROM": "nobody"}, "MAIL_FROM")])
def test_bad_mail_settings_name_the_variable(tmp_path, env, variable):
    with pytest.raises(ConfigError, match=variable):
        load_settings({"INSTANCE_PATH": str(tmp_path), "SECRET_KEY": "k" * 20, **env})


def test_smtp_url_parts():
    target = email.parse_smtp_url("smtps://me%40x.test:p%3Ass@mail.example.com")
    assert (target.host, target.port, target.implicit_tls, target.username, target.password) == (
        "mail.example.com", 465, True, "me@x.test", "p:ss")
    assert email.parse_smtp_url("smtp://mail.example.com:2525").port == 2525
