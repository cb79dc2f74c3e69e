"""Alerts callbacks: save a rule, new or edited (messages beside the fields), mute, unmute or delete one, list them;
the form's choices follow the chosen metric; a rule's history shows on request (or from ?rule=ID, the notices' link)."""
from __future__ import annotations

from urllib.parse import parse_qs

from dash import ALL, Dash, Input, Output, State, ctx, no_update
from dash.exceptions import PreventUpdate

from api.auth import current_context
from api.state import current_db
from components import kpi
from components.alerts import (
    MUTE_HOURS, NEW_RULE_VALUES, RULE_FIELDS, Alerts, choice_options, condition_options, history_panel, rule_values,
    rules_table,
)
from services.errors import ServiceError, ValidationError
from services.notify import alerts
from services.notify.alert_rules import CONDITIONS_FOR

HIDDEN, SHOWN = {"display": "none"}, {}
NO_ERRORS = [None] * len(RULE_FIELDS)
KEEP_FORM = (no_update, no_update, [no_update] * len(RULE_FIELDS))  # editing id, form title, field values
NEW_FORM = (None, "New rule", NEW_RULE_VALUES)


def _mute(db, tenant_ctx, rule_id: int) -> str:
    return f"“{alerts.mute_rule(db, tenant_ctx, rule_id, MUTE_HOURS).name}” muted for {MUTE_HOURS} hours."


def _unmute(db, tenant_ctx, rule_id: int) -> str:
    return f"“{alerts.unmute_rule(db, tenant_ctx, rule_id).name}” unmuted."


def _delete(db, tenant_ctx, rule_id: int) -> str:
    alerts.delete_rule(db, tenant_ctx, rule_id)
    return "Rule deleted."


ACTIONS = {Alerts.MUTE: _mute, Alerts.UNMUTE: _unmute, Alerts.DELETE: _delete}
BUTTONS = (Alerts.EDIT, *ACTIONS)


def _clicked() -> bool:
    return bool(ctx.triggered and ctx.triggered[0].get("value"))


def _save(db, tenant_ctx, editing, values) -> str:
    data = dict(zip(RULE_FIELDS, values))
    saved = (alerts.update_rule(db, tenant_ctx, int(editing), data) if editing
             else alerts.create_rule(db, tenant_ctx, data))
    return f"Saved “{saved.name}”."


def _act(db, tenant_ctx, trigger, editing, values) -> tuple:
    """The clicked button's (message, field errors, form change)."""
    try:
        if trigger == Alerts.SAVE:
            return kpi.message(_save(db, tenant_ctx, editing, values), "info"), NO_ERRORS, NEW_FORM
        if trigger == Alerts.CANCEL:
            return None, NO_ERRORS, NEW_FORM
        rule_id = int(trigger["index"])
        if trigger["type"] == Alerts.EDIT:
            rule = alerts.get_rule(db, tenant_ctx, rule_id)
            return None, NO_ERRORS, (rule.id, f"Edit “{rule.name}”", rule_values(rule))
        return kpi.message(ACTIONS[trigger["type"]](db, tenant_ctx, rule_id), "info"), NO_ERRORS, KEEP_FORM
    except ValidationError as exc:
        return kpi.message("Check the fields marked below."), [exc.fields.get(name) for name in RULE_FIELDS], KEEP_FORM
    except ServiceError as exc:
        return kpi.message(exc.message), NO_ERRORS, KEEP_FORM


def _acting(trigger) -> bool:
    named = trigger in (Alerts.SAVE, Alerts.CANCEL)
    return (named or (isinstance(trigger, dict) and trigger.get("type") in BUTTONS)) and _clicked()


def alerts_view(_pathname, _save, _cancel, _edit, _mute, _unmute, _delete, editing, *values):
    """Returns the rules table, the message, whether the form shows (editors and above), the recipient choices, the
    rule being edited, the form's title, its values and a message per form field."""
    db, trigger = current_db(), ctx.triggered_id if ctx.triggered else None
    message, errors, form = None, NO_ERRORS, KEEP_FORM
    try:
        tenant_ctx = current_context()
        if _acting(trigger):
            message, errors, form = _act(db, tenant_ctx, trigger, editing, values)
        rules = alerts.list_rules(db, tenant_ctx)
        recipients = alerts.recipient_choices(db, tenant_ctx)
    except ServiceError as exc:
        return None, kpi.message(exc.message), HIDDEN, [], *KEEP_FORM[:2], *KEEP_FORM[2], *NO_ERRORS
    can_manage = tenant_ctx.can("editor")
    return (rules_table(rules, can_manage), message, SHOWN if can_manage else HIDDEN, choice_options(recipients),
            form[0], form[1], *form[2], *errors)


def form_choices(metric):
    """What the chosen metric may watch, and the conditions it allows."""
    try:
        targets = alerts.target_choices(current_db(), current_context(), metric)
    except ServiceError:
        targets = []
    return choice_options(targets), condition_options(CONDITIONS_FOR.get(metric, ()))


def history_view(_clicks, search):
    """The history of the rule whose History button was clicked, or of ?rule=ID."""
    trigger = ctx.triggered_id if ctx.triggered else None
    if isinstance(trigger, dict) and trigger.get("type") == Alerts.SHOW_HISTORY and _clicked():
        rule_id = int(trigger["index"])
    else:
        wanted = parse_qs((search or "").lstrip("?")).get("rule", [""])[0]
        if not wanted.isdigit():
            raise PreventUpdate
        rule_id = int(wanted)
    db = current_db()
    try:
        tenant_ctx = current_context()
        rule, evaluations = alerts.get_rule(db, tenant_ctx, rule_id), alerts.rule_history(db, tenant_ctx, rule_id)
    except ServiceError as exc:
        return kpi.message(exc.message)
    return history_panel(rule, evaluations)


def register(app: Dash) -> None:
    app.callback(
        Output(Alerts.TABLE, "children"), Output(Alerts.MESSAGE, "children"), Output(Alerts.FORM_BOX, "style"),
        Output(Alerts.FIELD + "recipients", "options"), Output(Alerts.EDITING, "data"),
        Output(Alerts.FORM_TITLE, "children"),
        [Output(Alerts.FIELD + name, "value") for name in RULE_FIELDS],
        [Output(Alerts.ERROR + name, "children") for name in RULE_FIELDS],
        Input(Alerts.URL, "pathname"), Input(Alerts.SAVE, "n_clicks"), Input(Alerts.CANCEL, "n_clicks"),
        *[Input({"type": kind, "index": ALL}, "n_clicks") for kind in BUTTONS],
        State(Alerts.EDITING, "data"), *[State(Alerts.FIELD + name, "value") for name in RULE_FIELDS],
    )(alerts_view)
    app.callback(Output(Alerts.FIELD + "target_id", "options"), Output(Alerts.FIELD + "condition", "options"),
                 Input(Alerts.FIELD + "metric", "value"))(form_choices)
    app.callback(Output(Alerts.HISTORY, "children"), Input({"type": Alerts.SHOW_HISTORY, "index": ALL}, "n_clicks"),
                 Input(Alerts.URL, "search"))(history_view)
