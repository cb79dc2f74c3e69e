"""Events page callbacks: list the events (filtered) with their handlers, replay a parked one; the email log."""
from __future__ import annotations

from dash import ALL, Dash, Input, Output, ctx

from api.auth import current_context
from api.state import current_db
from components import kpi
from components.ids import Events
from components.notifications import emails_table, events_table
from services.errors import ServiceError
from services.events import dispatch
from services.notify import email


def manage_events(status, type_prefix, _replay_clicks):
    """Replay (when a Replay button was clicked), then list; returns (events table, emails table, message)."""
    message = None
    try:
        tenant_ctx, db = current_context(), current_db()
        trigger = ctx.triggered_id if ctx.triggered else None
        if isinstance(trigger, dict) and trigger.get("type") == Events.REPLAY and any(_replay_clicks or []):
            dispatch.replay(db, tenant_ctx, int(trigger["index"]))
            message = kpi.message(f"Event {int(trigger['index'])} replayed.", "info")
        rows = dispatch.list_events(db, tenant_ctx, status or None, (type_prefix or "").strip() or None)
        emails = email.list_emails(db, tenant_ctx)
    except ServiceError as exc:
        return None, None, kpi.message(exc.message)
    return events_table(rows), emails_table(emails), message


def register(app: Dash) -> None:
    app.callback(Output(Events.TABLE, "children"), Output(Events.EMAILS, "children"), Output(Events.MESSAGE, "children"),
                 Input(Events.STATUS, "value"), Input(Events.TYPE, "value"),
                 Input({"type": Events.REPLAY, "index": ALL}, "n_clicks"))(manage_events)
