"""Webhook deliveries: one per (endpoint, event), attempted with the retry schedule, logged with status, attempts,
latency and the reply's first kilobyte. An attempt claims its delivery first, so two workers never send it at once."""
from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import and_, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from services.db import Database
from services.errors import NotFound
from services.events import outbox
from services.events.outbox import Event
from services.models import WebhookDelivery, WebhookEndpoint
from services.models.base import utcnow
from services.notify.webhooks import retries
from services.notify.webhooks.endpoints import aware, load_endpoint, matches, require_manager, signing_secrets
from services.notify.webhooks.guard import Resolver, UnsafeUrl, check_url, system_resolver
from services.notify.webhooks.signing import message_body, new_message_id, signed_headers
from services.notify.webhooks.transport import DeliveryFailed, Reply, post
from services.tenancy import TenantContext

TEST_EVENT_TYPE = "webhook.test"
CLAIM_SLACK = timedelta(seconds=1)  # a job scheduled for the due time may start a hair early by another clock
LEASE_EXTRA = timedelta(seconds=60)  # a claimed attempt is retried by the sweep if its worker vanished this long
LOG_LIMIT = 100


@dataclass(frozen=True)
class SendOptions:
    """How attempts reach the network: the SSRF switch, the per-attempt timeout, and (for tests) DNS and jitter."""

    allow_private: bool = False
    timeout: float = 15.0
    resolver: Resolver = system_resolver
    rng: random.Random | None = field(default=None, compare=False)

    @classmethod
    def from_settings(cls, settings) -> SendOptions:
        return cls(allow_private=settings.webhook_allow_private, timeout=settings.webhook_timeout_seconds)


@dataclass(frozen=True)
class AttemptResult:
    delivery_id: int
    status: str  # succeeded | pending (a retry is due in `retry_in` seconds) | failed | skipped (not claimable)
    retry_in: float | None = None

    def as_dict(self) -> dict:
        return {"delivery_id": self.delivery_id, "status": self.status, "retry_in": self.retry_in}


@dataclass(frozen=True)
class DeliveryInfo:
    id: int
    endpoint_id: int
    event_id: int | None
    message_id: str
    event_type: str
    status: str
    attempts: int
    next_attempt_at: datetime | None
    last_attempt_at: datetime | None
    response_status: int | None
    latency_ms: int | None
    response_excerpt: str | None
    error: str | None
    created_at: datetime
    succeeded_at: datetime | None

    def as_dict(self) -> dict:
        return {name: (value.isoformat() if isinstance(value, datetime) else value)
                for name, value in self.__dict__.items()}


def _info(row: WebhookDelivery) -> DeliveryInfo:
    return DeliveryInfo(row.id, row.endpoint_id, row.event_id, row.message_id, row.event_type, row.status,
                        row.attempts, row.next_attempt_at, row.last_attempt_at, row.response_status, row.latency_ms,
                        row.response_excerpt, row.error, row.created_at, row.succeeded_at)


def _new_delivery(endpoint: WebhookEndpoint, event_id: int | None, event_type: str, body: str,
                  now: datetime) -> WebhookDelivery:
    return WebhookDelivery(tenant_id=endpoint.tenant_id, endpoint_id=endpoint.id, event_id=event_id,
                           message_id=new_message_id(), event_type=event_type, body=body, status="pending",
                           attempts=0, next_attempt_at=now, created_at=now)


@dataclass(frozen=True)
class Claimed:
    """A delivery claimed for one attempt (no other worker sends it until the lease runs out), with what it sends."""

    delivery_id: int
    url: str
    body: str
    headers: dict[str, str]
    at: datetime


def _lease(now: datetime, timeout: float) -> datetime:
    return now + timedelta(seconds=timeout) + LEASE_EXTRA


def create_deliveries(db: Database, event: Event) -> list[int]:
    """A delivery per enabled endpoint of the event's tenant whose filters match, once per (endpoint, event);
    returns the event's deliveries still waiting to be sent (so a repeated call sends what the first did not)."""
    return start_deliveries(db, event)[1]


def start_deliveries(db: Database, event: Event, claim: int = 0,
                     timeout: float = 15.0) -> tuple[list[Claimed], list[int]]:
    """As create_deliveries, in one transaction; the first `claim` new deliveries are created claimed for their
    first attempt (a lease of `timeout` plus LEASE_EXTRA: a worker that dies before recording it leaves it to the
    sweep). Returns those claimed ones, and the ids of the event's other deliveries waiting to be sent."""
    now = utcnow()
    body = message_body(event.type, event.occurred_at, event.payload)
    with db.session(event.tenant_id) as s:
        rows = s.execute(select(WebhookEndpoint, WebhookDelivery.id, WebhookDelivery.status).outerjoin(
            WebhookDelivery, and_(WebhookDelivery.endpoint_id == WebhookEndpoint.id,
                                  WebhookDelivery.event_id == event.id, WebhookDelivery.tenant_id == event.tenant_id))
            .where(WebhookEndpoint.tenant_id == event.tenant_id).order_by(WebhookEndpoint.id)).all()
        waiting = [delivery_id for _, delivery_id, status in rows if status == "pending"]
        new = [(ep, _new_delivery(ep, event.id, event.type, body, now)) for ep, delivery_id, _ in rows
               if delivery_id is None and matches(ep, event.type)]
        claimed = []
        for n, (endpoint, delivery) in enumerate(new):
            if n < claim:
                delivery.next_attempt_at = _lease(now, timeout)
                claimed.append((endpoint, delivery))
        s.add_all(delivery for _, delivery in new)
        try:
            s.commit()
        except IntegrityError:  # a concurrent run of the same handler made them first
            s.rollback()
            return [], list(s.scalars(select(WebhookDelivery.id).where(
                WebhookDelivery.event_id == event.id, WebhookDelivery.tenant_id == event.tenant_id,
                WebhookDelivery.status == "pending").order_by(WebhookDelivery.id)))
        return ([Claimed(d.id, ep.url, d.body, _headers(ep, d, now), now) for ep, d in claimed],
                sorted(waiting + [d.id for _, d in new[claim:]]))


def _headers(endpoint: WebhookEndpoint, delivery: WebhookDelivery, now: datetime) -> dict[str, str]:
    return signed_headers(signing_secrets(endpoint, now), delivery.message_id, int(now.timestamp()), delivery.body)


def create_test_delivery(db: Database, ctx: TenantContext, endpoint_id: int) -> int:
    """A `webhook.test` message for one endpoint (enabled or not); returns the delivery id to send."""
    require_manager(ctx, write=True)
    now = utcnow()
    with db.session(ctx.tenant_id) as s:
        endpoint = load_endpoint(s, ctx.tenant_id, endpoint_id)
        body = message_body(TEST_EVENT_TYPE, now, {"endpoint_id": endpoint.id, "message": "a test event"})
        row = _new_delivery(endpoint, None, TEST_EVENT_TYPE, body, now)
        s.add(row)
        s.commit()
        return row.id


def replay_delivery(db: Database, ctx: TenantContext, delivery_id: int) -> int:
    """Send a delivery again with the same `webhook-id`, on a fresh retry schedule; returns its id."""
    require_manager(ctx, write=True)
    with db.session(ctx.tenant_id) as s:
        row = s.scalar(select(WebhookDelivery).where(WebhookDelivery.id == delivery_id,
                                                     WebhookDelivery.tenant_id == ctx.tenant_id))
        if row is None:
            raise NotFound(f"no webhook delivery {delivery_id}")
        row.status, row.attempts, row.next_attempt_at, row.error = "pending", 0, utcnow(), None
        s.commit()
        return row.id


def list_deliveries(db: Database, ctx: TenantContext, endpoint_id: int, limit: int = LOG_LIMIT) -> list[DeliveryInfo]:
    """One endpoint's delivery log, newest first."""
    require_manager(ctx, write=False)
    with db.session(ctx.tenant_id) as s:
        load_endpoint(s, ctx.tenant_id, endpoint_id)
        rows = s.scalars(select(WebhookDelivery).where(WebhookDelivery.endpoint_id == endpoint_id,
                                                       WebhookDelivery.tenant_id == ctx.tenant_id)
                         .order_by(WebhookDelivery.id.desc()).limit(limit)).all()
        return [_info(row) for row in rows]


def due_deliveries(db: Database, now: datetime, overdue: timedelta = timedelta(0), limit: int = 500) -> list[tuple]:
    """(tenant_id, delivery_id) of every tenant's pending deliveries due at least `overdue` ago (the sweep)."""
    with db.session(system=True) as s:
        rows = s.execute(select(WebhookDelivery.tenant_id, WebhookDelivery.id)
                         .where(WebhookDelivery.status == "pending", WebhookDelivery.next_attempt_at <= now - overdue)
                         .order_by(WebhookDelivery.next_attempt_at).limit(limit)).all()
        return [(row.tenant_id, row.id) for row in rows]


def attempt_delivery(db: Database, tenant_id: int, delivery_id: int, options: SendOptions,
                     now: datetime | None = None) -> AttemptResult:
    """Claim a due delivery, POST it (outside any transaction), and record the reply and what comes next."""
    now = now or utcnow()
    with db.session(tenant_id) as s:
        if not _claim(s, tenant_id, delivery_id, now, options.timeout):
            return AttemptResult(delivery_id, "skipped")
        delivery, endpoint = _load(s, tenant_id, delivery_id)
        if not endpoint.enabled and delivery.event_type != TEST_EVENT_TYPE:
            return _give_up(s, delivery, "the endpoint is disabled")
        claimed = Claimed(delivery_id, endpoint.url, delivery.body, _headers(endpoint, delivery, now), now)
        s.commit()  # the claim: no other worker sends it while this request is out
    return send_claimed(db, tenant_id, claimed, options)


def send_claimed(db: Database, tenant_id: int, claimed: Claimed, options: SendOptions) -> AttemptResult:
    """POST a claimed delivery (outside any transaction) and record the reply and what comes next."""
    reply, error = _send(claimed.url, claimed.body, claimed.headers, options)
    with db.session(tenant_id) as s:
        loaded = _load(s, tenant_id, claimed.delivery_id)
        if loaded is None:  # its endpoint was deleted while the request was out
            return AttemptResult(claimed.delivery_id, "skipped")
        return _record_attempt(s, *loaded, reply, error, claimed.at, options)


def _claim(s: Session, tenant_id: int, delivery_id: int, now: datetime, timeout: float) -> bool:
    """Move a due pending delivery's next attempt past this one's lease (the caller commits); False when it is not
    due or not pending."""
    result = s.execute(update(WebhookDelivery).where(
        WebhookDelivery.id == delivery_id, WebhookDelivery.tenant_id == tenant_id,
        WebhookDelivery.status == "pending",
        or_(WebhookDelivery.next_attempt_at.is_(None), WebhookDelivery.next_attempt_at <= now + CLAIM_SLACK),
    ).values(next_attempt_at=_lease(now, timeout))
        .execution_options(synchronize_session=False))
    return result.rowcount == 1


def _load(s: Session, tenant_id: int, delivery_id: int) -> tuple[WebhookDelivery, WebhookEndpoint] | None:
    """A delivery with its endpoint, in one statement."""
    row = s.execute(select(WebhookDelivery, WebhookEndpoint)
                    .join(WebhookEndpoint, WebhookEndpoint.id == WebhookDelivery.endpoint_id)
                    .where(WebhookDelivery.id == delivery_id, WebhookDelivery.tenant_id == tenant_id)).first()
    return None if row is None else (row[0], row[1])


def _send(url: str, body: str, headers: dict, options: SendOptions) -> tuple[Reply | None, str | None]:
    """The reply, or why there was none; the address is checked again here (DNS may have changed since creation)."""
    try:
        target = check_url(url, options.allow_private, options.resolver)
        return post(target, body, headers, options.timeout), None
    except (UnsafeUrl, DeliveryFailed) as exc:
        return None, str(exc)


def _give_up(s: Session, delivery: WebhookDelivery, error: str) -> AttemptResult:
    delivery.status, delivery.next_attempt_at, delivery.error = "failed", None, error
    s.commit()
    return AttemptResult(delivery.id, "failed")


def _record_attempt(s: Session, delivery: WebhookDelivery, endpoint: WebhookEndpoint, reply: Reply | None,
                    error: str | None, now: datetime, options: SendOptions) -> AttemptResult:
    delivery.attempts += 1
    delivery.last_attempt_at = now
    delivery.response_status = reply.status if reply else None
    delivery.latency_ms = reply.latency_ms if reply else None
    delivery.response_excerpt = reply.excerpt if reply else None
    delivery.error = error if reply is None else (None if reply.status < 300 else f"HTTP {reply.status}")
    outcome = retries.outcome_of(reply.status) if reply else retries.RETRY
    if outcome == retries.SUCCEEDED:
        delivery.status, delivery.next_attempt_at, delivery.succeeded_at = "succeeded", None, now
        endpoint.failing_since = None
        s.commit()
        return AttemptResult(delivery.id, "succeeded")
    if outcome == retries.GONE:
        disable_endpoint(s, endpoint, "the endpoint answered 410 Gone", now)
        return _give_up(s, delivery, delivery.error)
    endpoint.failing_since = endpoint.failing_since or now
    if now - aware(endpoint.failing_since) >= retries.DISABLE_AFTER:
        disable_endpoint(s, endpoint, "failing for 5 days", now)
        return _give_up(s, delivery, delivery.error)
    return _schedule_retry(s, delivery, reply, now, options)


def _schedule_retry(s: Session, delivery: WebhookDelivery, reply: Reply | None, now: datetime,
                    options: SendOptions) -> AttemptResult:
    retry_after = None
    if reply is not None and retries.honours_retry_after(reply.status):
        retry_after = retries.parse_retry_after(reply.retry_after, now)
    delay = retries.retry_delay(delivery.attempts, retry_after, options.rng)
    if delay is None:
        return _give_up(s, delivery, delivery.error)
    delivery.next_attempt_at = now + timedelta(seconds=delay)
    s.commit()
    return AttemptResult(delivery.id, "pending", delay)


def disable_endpoint(s: Session, endpoint: WebhookEndpoint, reason: str, now: datetime) -> None:
    """Disable an endpoint the system gave up on, and record `webhook.disabled` so its owners are told."""
    if not endpoint.enabled:
        return
    endpoint.enabled, endpoint.disabled_reason = False, reason
    outbox.record(s, endpoint.tenant_id, "webhook.disabled", {
        "endpoint_id": endpoint.id, "url": endpoint.url, "reason": reason, "disabled_at": now.isoformat(),
        "failing_since": aware(endpoint.failing_since).isoformat() if endpoint.failing_since else None})
