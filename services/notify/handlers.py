"""The notification steps of the workflow (services/events/workflow.py): each turns one event into a message for the
right people. Idempotent by event id: a rerun adds no second notification or email."""
from __future__ import annotations

from services.db import Database
from services.events.outbox import Event
from services.notify import recipients
from services.notify.messages import Message, notify
from services.sponsorship import matchmaking


def _campaign_link(payload: dict) -> str | None:
    return f"/campaigns/{int(payload['campaign_id'])}" if payload.get("campaign_id") is not None else None


def recommendations_ready(db: Database, event: Event) -> None:
    """campaign.created, after matchmaking: the team hears the campaign's recommendations are ready, with the top
    shows; the sponsor's users hear that shows are being chosen (the rankings stay with the network's staff)."""
    name = event.payload.get("name") or f"campaign {event.payload.get('campaign_id')}"
    title = f"Recommendations ready for {name}"
    _, ranked, link = matchmaking.recommendations_ready_message(db, event.tenant_id, int(event.payload["campaign_id"]))
    notify(db, event.tenant_id, lambda s: recipients.with_roles(s, event.tenant_id, recipients.TEAM),
           Message(event.type, title, ranked, link), event.id)
    if event.payload.get("sponsor_id") is not None:
        notify(db, event.tenant_id,
               lambda s: recipients.sponsor_users(s, event.tenant_id, int(event.payload["sponsor_id"])),
               Message(event.type, title, f"The network has ranked its shows for {name} and will propose placements.",
                       _campaign_link(event.payload)), event.id)


def campaign_live(db: Database, event: Event) -> None:
    """campaign.status_changed to live: the sponsor's users hear their campaign is live (other moves pass)."""
    if event.payload.get("to") != "live" or event.payload.get("sponsor_id") is None:
        return
    name = event.payload.get("name") or "Your campaign"
    message = Message(event.type, f"{name} is live", f"{name} is now live; delivery and pacing show in the portal.",
                      _campaign_link(event.payload))
    notify(db, event.tenant_id,
           lambda s: recipients.sponsor_users(s, event.tenant_id, int(event.payload["sponsor_id"])), message, event.id)


def under_pacing(db: Database, event: Event) -> None:
    """delivery.under_pacing: the team hears which campaign is behind, by how much, and the makegood suggestions
    (the payload's own title, body and link when it carries them)."""
    p = event.payload
    name = p.get("name") or f"campaign {p.get('campaign_id')}"
    body = p.get("body") or (f"{name} has delivered {p.get('delivered', '?')} of the {p.get('expected', '?')} "
                             f"impressions expected by now (short by {p.get('shortfall', '?')}).")
    makegoods = p.get("makegoods")
    if makegoods and makegoods not in body:
        body += f"\n\nSuggested makegoods: {makegoods}"
    message = Message(event.type, p.get("title") or f"{name} is behind pacing", body,
                      p.get("link") or _campaign_link(p))
    notify(db, event.tenant_id, lambda s: recipients.with_roles(s, event.tenant_id, recipients.TEAM), message,
           event.id)


def alert_triggered(db: Database, event: Event) -> None:
    """alert.triggered: the channels named in the payload, to the users it names or else the owners and admins."""
    p = event.payload
    channels = [c for c in p.get("channels") or ("in_app",) if c in ("in_app", "email")]
    message = Message(event.type, p.get("title") or f"Alert: {p.get('name', 'a rule')} triggered",
                      p.get("body") or f"{p.get('metric', 'value')} is {p.get('value')} "
                                       f"(threshold {p.get('threshold')}).", p.get("link"))

    def pick(s):
        if p.get("user_ids"):
            return recipients.named(s, event.tenant_id, p["user_ids"])
        return recipients.with_roles(s, event.tenant_id, recipients.ADMINS)

    notify(db, event.tenant_id, pick, message, event.id, channels)


def webhook_disabled(db: Database, event: Event) -> None:
    """webhook.disabled: the tenant's owners get an email."""
    p = event.payload
    url = p.get("url") or f"endpoint {p.get('endpoint_id')}"
    body = (f"The webhook endpoint {url} was disabled after failing for days"
            f"{': ' + str(p['reason']) if p.get('reason') else ''}. Fix the receiver, then enable it again.")
    notify(db, event.tenant_id, lambda s: recipients.with_roles(s, event.tenant_id, recipients.OWNERS),
           Message(event.type, "A webhook endpoint was disabled", body, "/settings/webhooks"), event.id, ("email",))


def import_failed(db: Database, event: Event) -> None:
    """import.failed / feed.failed: owners and admins hear what failed and why."""
    p = event.payload
    what = p.get("filename") or p.get("feed_url") or p.get("source") or "an import"
    link = "/logs" if event.type == "import.failed" else "/podcasts"
    notify(db, event.tenant_id, lambda s: recipients.with_roles(s, event.tenant_id, recipients.ADMINS),
           Message(event.type, f"Import failed: {what}", str(p.get("error") or "The import failed."), link), event.id)
