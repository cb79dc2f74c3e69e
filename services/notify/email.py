"""Email: queue a message in the email log (it commits with the caller's change), then a job on the `notify` queue
sends it over SMTP (SMTP_URL) as HTML plus plain text, retried with backoff. A refusal (bounce) or an unreachable
server is recorded with its error, never dropped. Without SMTP_URL each email is written to instance/outbox/ as an
.eml file instead."""
from __future__ import annotations

import html as html_lib
import logging
import smtplib
import ssl
from dataclasses import dataclass
from email.message import EmailMessage as MimeMessage
from email.utils import formatdate
from pathlib import Path
from urllib.parse import unquote, urlparse

from sqlalchemy import select
from sqlalchemy.orm import Session

from services.db import Database
from services.errors import NotFound, ValidationError
from services.events.outbox import announce_after_commit
from services.models import EmailMessage
from services.models.base import utcnow
from services.settings import Settings
from services.tenancy import TenantContext, require_role

logger = logging.getLogger(__name__)

SMTP_TIMEOUT = 15  # seconds for the connection and each SMTP command
SETTLED = ("sent", "written", "bounced", "failed")
MAX_SUBJECT = 300


@dataclass(frozen=True)
class SmtpTarget:
    host: str
    port: int
    implicit_tls: bool
    username: str | None = None
    password: str | None = None


class DeliveryFailure(Exception):
    """Sending failed; `permanent` when the server refused the message (5xx), so retrying cannot help."""

    def __init__(self, message: str, permanent: bool):
        super().__init__(message)
        self.permanent = permanent


def parse_smtp_url(url: str) -> SmtpTarget:
    parsed = urlparse(url)
    implicit_tls = parsed.scheme == "smtps"
    return SmtpTarget(host=parsed.hostname or "", port=parsed.port or (465 if implicit_tls else 25),
                      implicit_tls=implicit_tls, username=unquote(parsed.username) if parsed.username else None,
                      password=unquote(parsed.password) if parsed.password else None)


def render_html(title: str, body: str) -> str:
    """A plain, escaped HTML version of a text email."""
    paragraphs = "".join(f"<p>{html_lib.escape(p)}</p>" for p in body.split("\n\n") if p.strip())
    return (f"<!doctype html><html><body style=\"font-family: sans-serif\"><h2>{html_lib.escape(title)}</h2>"
            f"{paragraphs}</body></html>")


def _with_link(text: str, html: str, url: str) -> tuple[str, str]:
    anchor = f'<p><a href="{html_lib.escape(url, quote=True)}">Open in Podcast Analytics</a></p>'
    html = html.replace("</body>", anchor + "</body>", 1) if "</body>" in html else html + anchor
    return f"{text}\n\nOpen: {url}\n", html


def queue_email(s: Session, tenant_id: int, to: str, subject: str, text: str, html: str | None = None,
                dedupe_key: str | None = None, link: str | None = None) -> int:
    """Add an email to the log in `s`; once the caller commits, a job sends it. With `dedupe_key`, an email already
    queued under that key is not queued again (its id is returned). `link` is a path in the app (e.g.
    "/campaigns/3"), sent as a full URL under PUBLIC_BASE_URL; `html` defaults to an escaped copy of `text`."""
    if not to or "@" not in to or "\n" in to:
        raise ValidationError(f"{to!r} is not an email address", {"to": "an email address"})
    if dedupe_key is not None:
        existing = s.scalar(select(EmailMessage.id).where(EmailMessage.tenant_id == tenant_id,
                                                         EmailMessage.dedupe_key == dedupe_key))
        if existing is not None:
            return existing
    row = EmailMessage(tenant_id=tenant_id, dedupe_key=dedupe_key, to_address=to,
                       subject=" ".join(subject.split())[:MAX_SUBJECT], text_body=text,
                       html_body=html or render_html(subject, text), link=link, status="queued", attempts=0)
    s.add(row)
    s.flush()
    announce_after_commit(s, "email", row.id)
    return row.id


def send_email(db: Database, tenant_id: int, to: str, subject: str, text: str, html: str | None = None,
               dedupe_key: str | None = None, link: str | None = None) -> int:
    """Queue one email in its own transaction and have it sent (a job on the `notify` queue); returns its log id."""
    with db.session(tenant_id) as s:
        email_id = queue_email(s, tenant_id, to, subject, text, html, dedupe_key, link)
        s.commit()
    return email_id


def build_message(row: EmailMessage, settings: Settings) -> MimeMessage:
    mail_from = settings.mail_from
    text, html = row.text_body, row.html_body
    if row.link:
        text, html = _with_link(text, html, settings.public_base_url + row.link)
    message = MimeMessage()
    message["From"] = mail_from
    message["To"] = row.to_address
    message["Subject"] = row.subject
    message["Date"] = formatdate(usegmt=True)
    domain = mail_from.rsplit("@", 1)[-1].strip(" >") or "localhost"
    message["Message-ID"] = f"<email-{row.tenant_id}-{row.id}@{domain}>"  # stable: a resend is recognisable
    message.set_content(text)
    message.add_alternative(html, subtype="html")
    return message


def _smtp_send(target: SmtpTarget, message: MimeMessage) -> None:
    try:
        if target.implicit_tls:
            smtp = smtplib.SMTP_SSL(target.host, target.port, timeout=SMTP_TIMEOUT,
                                    context=ssl.create_default_context())
        else:
            smtp = smtplib.SMTP(target.host, target.port, timeout=SMTP_TIMEOUT)
        with smtp:
            smtp.ehlo()
            if not target.implicit_tls and smtp.has_extn("starttls"):
                smtp.starttls(context=ssl.create_default_context())
                smtp.ehlo()
            if target.username:
                smtp.login(target.username, target.password or "")
            smtp.send_message(message)
    except smtplib.SMTPRecipientsRefused as exc:
        codes = [code for code, _ in exc.recipients.values()]
        detail = "; ".join(f"{addr}: {code} {msg.decode(errors='replace') if isinstance(msg, bytes) else msg}"
                           for addr, (code, msg) in exc.recipients.items())
        raise DeliveryFailure(f"refused: {detail}", permanent=all(code >= 500 for code in codes)) from exc
    except smtplib.SMTPResponseException as exc:
        text = exc.smtp_error.decode(errors="replace") if isinstance(exc.smtp_error, bytes) else str(exc.smtp_error)
        raise DeliveryFailure(f"SMTP {exc.smtp_code}: {text}", permanent=exc.smtp_code >= 500) from exc
    except (OSError, smtplib.SMTPException) as exc:  # unreachable, timed out, disconnected
        raise DeliveryFailure(f"{type(exc).__name__}: {exc} ({target.host}:{target.port})", permanent=False) from exc


def _write_to_outbox(instance_path: Path, row: EmailMessage, message: MimeMessage) -> Path:
    folder = instance_path / "outbox"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"email-{row.tenant_id}-{row.id}.eml"
    path.write_bytes(message.as_bytes())
    return path


def deliver(db: Database, settings: Settings, email_id: int, final_attempt: bool = True) -> str:
    """Send one logged email (the job's work) and record the outcome; returns the status. "retrying" means a
    transient failure with attempts left: the caller retries later. Sent or settled emails are not sent again."""
    with db.session(system=True) as s:
        row = s.get(EmailMessage, email_id)
        if row is None:
            raise NotFound(f"no email {email_id}")
        if row.status in SETTLED:
            return row.status
    message = build_message(row, settings)
    status, error = "sent", None
    try:
        if settings.smtp_url is None:
            path = _write_to_outbox(settings.instance_path, row, message)
            status = "written"
            logger.info("no SMTP_URL: email written to the outbox folder", extra={"email_id": email_id,
                                                                                 "path": str(path)})
        else:
            _smtp_send(parse_smtp_url(settings.smtp_url), message)
    except DeliveryFailure as exc:
        status = "bounced" if exc.permanent else ("failed" if final_attempt else "retrying")
        error = str(exc)[:2000]
        logger.warning("email not sent", extra={"email_id": email_id, "status": status, "error": error})
    with db.session(system=True) as s:
        row = s.get(EmailMessage, email_id)
        row.attempts += 1
        row.status, row.error = status, error
        if status in ("sent", "written"):
            row.sent_at = utcnow()
        s.commit()
    return status


@dataclass(frozen=True)
class EmailRow:
    id: int
    to: str
    subject: str
    status: str
    attempts: int
    error: str | None
    created_at: object
    sent_at: object


def list_emails(db: Database, ctx: TenantContext, limit: int = 100) -> list[EmailRow]:
    """The tenant's latest emails and what became of them (owners and admins)."""
    require_role(ctx, "admin")
    with db.session(ctx.tenant_id) as s:
        rows = s.scalars(select(EmailMessage).where(EmailMessage.tenant_id == ctx.tenant_id)
                         .order_by(EmailMessage.id.desc()).limit(limit)).all()
    return [EmailRow(r.id, r.to_address, r.subject, r.status, r.attempts, r.error, r.created_at, r.sent_at)
            for r in rows]


def transmit(settings: Settings, message: MimeMessage, outbox_name: str) -> str:
    """Send a message built elsewhere (e.g. a report with attachments) over SMTP_URL, or without it write it to
    instance/outbox/<outbox_name>.eml; returns "sent" or "written". Raises DeliveryFailure as `deliver` records it."""
    if settings.smtp_url is None:
        folder = settings.instance_path / "outbox"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{outbox_name}.eml").write_bytes(message.as_bytes())
        return "written"
    _smtp_send(parse_smtp_url(settings.smtp_url), message)
    return "sent"
