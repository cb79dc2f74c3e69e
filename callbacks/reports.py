"""Email reports callbacks: save a subscription, new or edited (messages beside the fields), edit or delete one, list
them with the run history; the form's choices follow the chosen report and frequency; a preview on request."""
from __future__ import annotations

from dash import ALL, Dash, Input, Output, State, ctx, no_update
from dash.exceptions import PreventUpdate

from api.auth import current_context
from api.state import app_state, current_db
from components import kpi
from components.reports import (
    FIELDS, NEW_VALUES, Reports, day_options, history_table, options, preview_frame, subscriptions_table,
)
from services.errors import ServiceError, ValidationError
from services.notify.reports import sending
from services.notify.reports import subscriptions as subs
from services.notify.reports.charts import ChartRenderError

NO_ERRORS = [None] * len(FIELDS)
KEEP_FORM = (no_update, no_update, [no_update] * len(FIELDS))  # editing id, form title, field values
NEW_FORM = (None, "New report", NEW_VALUES)
BUTTONS = (Reports.EDIT, Reports.DELETE)


def _clicked() -> bool:
    return bool(ctx.triggered and ctx.triggered[0].get("value"))


def _act(db, tenant_ctx, trigger, editing, values) -> tuple:
    """The clicked button's (message, field errors, form change)."""
    try:
        if trigger == Reports.SAVE:
            data = dict(zip(FIELDS, values))
            saved = (subs.update_subscription(db, tenant_ctx, int(editing), data) if editing
                     else subs.create_subscription(db, tenant_ctx, data))
            return kpi.message(f"Saved “{saved.title}”: {saved.schedule}.", "info"), NO_ERRORS, NEW_FORM
        if trigger == Reports.CANCEL:
            return None, NO_ERRORS, NEW_FORM
        subscription_id = int(trigger["index"])
        if trigger["type"] == Reports.EDIT:
            row = subs.get_subscription(db, tenant_ctx, subscription_id)
            return None, NO_ERRORS, (row.id, f"Edit “{row.title}”", [row.values()[f] for f in FIELDS])
        subs.delete_subscription(db, tenant_ctx, subscription_id)
        return kpi.message("Report deleted.", "info"), NO_ERRORS, NEW_FORM
    except ValidationError as exc:
        return kpi.message("Check the fields marked below."), [exc.fields.get(f) for f in FIELDS], KEEP_FORM
    except ServiceError as exc:
        return kpi.message(exc.message), NO_ERRORS, KEEP_FORM


def _acting(trigger) -> bool:
    named = trigger in (Reports.SAVE, Reports.CANCEL)
    return (named or (isinstance(trigger, dict) and trigger.get("type") in BUTTONS)) and _clicked()


def reports_view(_pathname, _save, _cancel, _edit, _delete, editing, *values):
    """Returns the subscriptions table, the run history, the message, the report kinds this user may choose, the
    subscription being edited, the form's title, its values and a message per form field."""
    db, trigger = current_db(), ctx.triggered_id if ctx.triggered else None
    message, errors, form = None, NO_ERRORS, KEEP_FORM
    try:
        tenant_ctx = current_context()
        if _acting(trigger):
            message, errors, form = _act(db, tenant_ctx, trigger, editing, values)
        rows = subs.list_subscriptions(db, tenant_ctx)
        runs = subs.list_runs(db, tenant_ctx)
        kinds = options(subs.kind_choices(tenant_ctx))
    except ServiceError as exc:
        return None, None, kpi.message(exc.message), [], *KEEP_FORM[:2], *KEEP_FORM[2], *NO_ERRORS
    if form is NEW_FORM and tenant_ctx.is_sponsor:
        form = (None, "New report", ["campaign", *NEW_VALUES[1:]])
    return (subscriptions_table(rows), history_table(runs, {r.id: r.title for r in rows}), message, kinds,
            form[0], form[1], *form[2], *errors)


def form_choices(kind, frequency):
    """The shows or campaigns a report of this kind may be about, and the days the frequency allows."""
    try:
        targets = subs.target_choices(current_db(), current_context(), kind)
    except ServiceError:
        targets = []
    return options(targets), kind == "network", day_options(frequency)


def preview_view(_clicks):
    """The email of the clicked subscription's latest period, as it would be sent (charts inlined)."""
    trigger = ctx.triggered_id if ctx.triggered else None
    if not (isinstance(trigger, dict) and trigger.get("type") == Reports.SHOW_PREVIEW and _clicked()):
        raise PreventUpdate
    state = app_state()
    try:
        subject, page = sending.preview(state.db, current_context(), state.settings, int(trigger["index"]))
    except ChartRenderError as exc:
        return None, kpi.message(f"This report could not be drawn, so it would not be sent: {exc}")
    except ServiceError as exc:
        return None, kpi.message(exc.message)
    return preview_frame(subject, page), None


def register(app: Dash) -> None:
    app.callback(
        Output(Reports.TABLE, "children"), Output(Reports.HISTORY, "children"), Output(Reports.MESSAGE, "children"),
        Output(Reports.FIELD + "kind", "options"), Output(Reports.EDITING, "data"),
        Output(Reports.FORM_TITLE, "children"),
        [Output(Reports.FIELD + name, "value") for name in FIELDS],
        [Output(Reports.ERROR + name, "children") for name in FIELDS],
        Input(Reports.URL, "pathname"), Input(Reports.SAVE, "n_clicks"), Input(Reports.CANCEL, "n_clicks"),
        *[Input({"type": kind, "index": ALL}, "n_clicks") for kind in BUTTONS],
        State(Reports.EDITING, "data"), *[State(Reports.FIELD + name, "value") for name in FIELDS],
    )(reports_view)
    app.callback(Output(Reports.FIELD + "target_id", "options"), Output(Reports.FIELD + "target_id", "disabled"),
                 Output(Reports.FIELD + "day", "options"),
                 Input(Reports.FIELD + "kind", "value"), Input(Reports.FIELD + "frequency", "value"))(form_choices)
    app.callback(Output(Reports.PREVIEW, "children"), Output(Reports.PREVIEW_MESSAGE, "children"),
                 Input({"type": Reports.SHOW_PREVIEW, "index": ALL}, "n_clicks"))(preview_view)
