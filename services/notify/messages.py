"""Notify people of something: in-app and by email, as each recipient's preferences for that kind allow. This is
what other domains call (or what an event's handler calls) to reach users."""
from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass

from sqlalchemy.orm import Session

from services.db import Database
from services.models import CHANNELS
from services.notify import email, inapp, preferences
from services.notify.recipients import Recipient


@dataclass(frozen=True)
class Message:
    kind: str  # the event kind, as preferences name it ("delivery.under_pacing" ...)
    title: str
    body: str = ""
    link: str | None = None  # a path in the app, e.g. "/campaigns/3"


@dataclass(frozen=True)
class Delivered:
    in_app: int = 0
    email: int = 0


def notify_in_session(s: Session, tenant_id: int, recipients: Collection[Recipient], message: Message,
                      event_id: int | None = None, channels: Collection[str] = CHANNELS) -> Delivered:
    """Add the in-app notifications and queue the emails in `s` (they commit with the caller). With an event id,
    a recipient is notified of that event once per channel, however often this runs."""
    unknown = set(channels) - set(CHANNELS)
    if unknown:
        raise ValueError(f"unknown channel(s) {', '.join(sorted(unknown))}; expected {', '.join(CHANNELS)}")
    by_id = {r.user_id: r for r in recipients}
    in_app = sent = 0
    if "in_app" in channels and by_id:
        wanted = preferences.recipients_wanting(s, tenant_id, by_id, message.kind, "in_app")
        in_app = inapp.add(s, tenant_id, [by_id[u] for u in sorted(wanted)], message.kind, message.title,
                           message.body, message.link, event_id)
    if "email" in channels and by_id:
        for user_id in sorted(preferences.recipients_wanting(s, tenant_id, by_id, message.kind, "email")):
            key = f"event:{event_id}:user:{user_id}" if event_id is not None else None
            email.queue_email(s, tenant_id, by_id[user_id].email, message.title, message.body or message.title,
                              dedupe_key=key, link=message.link)
            sent += 1
    return Delivered(in_app, sent)


def notify(db: Database, tenant_id: int, pick: Callable[[Session], Collection[Recipient]], message: Message,
           event_id: int | None = None, channels: Collection[str] = CHANNELS) -> Delivered:
    """Notify the recipients `pick(session)` returns (see services.notify.recipients), in one transaction."""
    with db.session(tenant_id) as s:
        delivered = notify_in_session(s, tenant_id, pick(s), message, event_id, channels)
        s.commit()
    return delivered
