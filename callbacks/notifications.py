"""Notifications callbacks: list and mark as read (one or all) in one callback, so the list is always current; load
and save the user's preferences."""
from __future__ import annotations

from dash import ALL, Dash, Input, Output, State, ctx, no_update

from api.auth import current_context
from api.state import current_db
from components import kpi
from components.ids import Notifications
from components.notifications import chosen_kinds, notification_list
from services.errors import ServiceError
from services.notify import inapp, preferences


def manage_notifications(_mark_all, _mark_one):
    """Mark read (whichever was clicked), then list; returns (list, message)."""
    try:
        tenant_ctx, db = current_context(), current_db()
        trigger = ctx.triggered_id if ctx.triggered else None
        if trigger == Notifications.MARK_ALL and _mark_all:
            inapp.mark_all_read(db, tenant_ctx)
        elif isinstance(trigger, dict) and trigger.get("type") == Notifications.MARK_ONE and any(_mark_one or []):
            inapp.mark_read(db, tenant_ctx, int(trigger["index"]))
        return notification_list(inapp.list_notifications(db, tenant_ctx)), None
    except ServiceError as exc:
        return None, kpi.message(exc.message)


def load_preferences(_id):
    """The user's choices, into the two checklists."""
    try:
        chosen = preferences.get_preferences(current_db(), current_context())
    except ServiceError as exc:
        return no_update, no_update, kpi.message(exc.message)
    return chosen_kinds(chosen, "in_app"), chosen_kinds(chosen, "email"), None


def save_preferences(clicks, in_app, email):
    if not clicks:
        return no_update
    try:
        enabled = [(k, "in_app") for k in in_app or []] + [(k, "email") for k in email or []]
        preferences.save_preferences(current_db(), current_context(), enabled)
    except ServiceError as exc:
        return kpi.message(exc.message)
    return kpi.message("Preferences saved.", "info")


def register(app: Dash) -> None:
    app.callback(Output(Notifications.LIST, "children"), Output(Notifications.MESSAGE, "children"),
                 Input(Notifications.MARK_ALL, "n_clicks"),
                 Input({"type": Notifications.MARK_ONE, "index": ALL}, "n_clicks"))(manage_notifications)
    app.callback(Output(Notifications.IN_APP, "value"), Output(Notifications.EMAIL, "value"),
                 Output(Notifications.PREF_MESSAGE, "children"), Input(Notifications.PREFS, "id"))(load_preferences)
    app.callback(Output(Notifications.SAVED, "children"),
                 Input(Notifications.SAVE, "n_clicks"), State(Notifications.IN_APP, "value"),
                 State(Notifications.EMAIL, "value"), prevent_initial_call=True)(save_preferences)
