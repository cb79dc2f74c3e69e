"""The workflow as data: which handlers each event type goes to, in one table, and what each handler name runs.

Each row of WORKFLOW is a chain: its handlers run in order, each after the one before it has succeeded. "*" is a
chain every event goes through as well. A handler is `callable(db, event)`, idempotent by `event.id`, and owns its
transactions. Handlers of other domains are named by import path and resolved when first run, so this table
imports none of them."""
from __future__ import annotations

from collections.abc import Callable
from importlib import import_module

from services.db import Database
from services.events.outbox import Event

Handler = Callable[[Database, Event], None]



WORKFLOW: dict[str, tuple[str, ...]] = {
    "*":                      ("webhooks.fan_out",),
    "campaign.created":       ("matchmaking.recommend", "notify.recommendations_ready"),
    "campaign.status_changed": ("notify.campaign_live",),         # acts on a move to live; other moves pass
    "delivery.under_pacing":  ("notify.under_pacing",),
    "alert.triggered":        ("notify.alert",),
    "webhook.disabled":       ("notify.webhook_disabled",),
    "import.failed":          ("notify.import_failed",),
    "feed.failed":            ("notify.import_failed",),
}

HANDLERS: dict[str, str] = {
    "webhooks.fan_out": "services.notify.webhooks:on_event",
    "matchmaking.recommend": "services.sponsorship.matchmaking:on_campaign_created",
    "notify.recommendations_ready": "services.notify.handlers:recommendations_ready",
    "notify.campaign_live": "services.notify.handlers:campaign_live",
    "notify.under_pacing": "services.notify.handlers:under_pacing",
    "notify.alert": "services.notify.handlers:alert_triggered",
    "notify.webhook_disabled": "services.notify.handlers:webhook_disabled",
    "notify.import_failed": "services.notify.handlers:import_failed",
}


def chains_for(event_type: str, workflow: dict[str, tuple[str, ...]] | None = None) -> list[tuple[str, ...]]:
    """The chains an event of this type runs: its own row (if any), then the "*" row."""
    workflow = WORKFLOW if workflow is None else workflow
    return [chain for chain in (workflow.get(event_type), workflow.get("*")) if chain]


def handlers_for(event_type: str, workflow: dict[str, tuple[str, ...]] | None = None) -> list[str]:
    """Every handler name an event of this type goes to, in order."""
    return [name for chain in chains_for(event_type, workflow) for name in chain]


def resolve(name: str, handlers: dict[str, str | Handler] | None = None) -> Handler:
    """The callable behind a handler name; an import path ("module:function") is imported now."""
    target = (HANDLERS if handlers is None else handlers).get(name)
    if target is None:
        raise LookupError(f"no handler named {name!r} in the workflow")
    if callable(target):
        return target
    module, _, attribute = target.partition(":")
    return getattr(import_module(module), attribute)  # a missing module is a handler failure: retried, then parked
