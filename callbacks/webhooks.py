"""Webhooks page callbacks: one manages endpoints (add, enable/disable, rotate, test, delete) and lists them; the
other shows one endpoint's delivery log and replays a delivery."""
from __future__ import annotations

from dash import ALL, Dash, Input, Output, State, ctx, html, no_update

from api.auth import current_context
from api.state import app_state, current_db
from components import kpi
from components.ids import Webhooks
from components.webhooks import deliveries_table, endpoints_table, secret_panel
from jobs.webhooks import enqueue_deliveries
from services.errors import ServiceError
from services.notify.webhooks import deliveries, endpoints

ACTIONS = (Webhooks.ENABLE, Webhooks.DISABLE, Webhooks.ROTATE, Webhooks.TEST, Webhooks.DELETE)


def _clicked(trigger, kind: str, clicks_by_kind: dict) -> int | None:
    """The index of the `kind` button that was really clicked (re-rendered buttons fire with no clicks)."""
    if isinstance(trigger, dict) and trigger.get("type") == kind and any(clicks_by_kind.get(kind) or []):
        return int(trigger["index"])
    return None


def _act(trigger, clicks: dict, url, description, events) -> tuple:
    """Run the clicked action; returns (secret panel, message)."""
    db, tenant_ctx = current_db(), current_context()
    if trigger == Webhooks.CREATE:
        row, secret = endpoints.create_endpoint(db, tenant_ctx, {"url": url, "description": description,
                                                                 "events": events or []},
                                                app_state().settings.webhook_allow_private)
        return (secret_panel(f"Endpoint {row.url} added; its signing secret", secret),
                kpi.message("Endpoint added.", "info"))
    for kind in ACTIONS:
        endpoint_id = _clicked(trigger, kind, clicks)
        if endpoint_id is None:
            continue
        if kind in (Webhooks.ENABLE, Webhooks.DISABLE):
            row = endpoints.set_enabled(db, tenant_ctx, endpoint_id, kind == Webhooks.ENABLE)
            return None, kpi.message(f"Endpoint {'enabled' if row.enabled else 'disabled'}.", "info")
        if kind == Webhooks.ROTATE:
            secret = endpoints.rotate_secret(db, tenant_ctx, endpoint_id)
            return (secret_panel("New signing secret (the old one stays valid for 24 hours)", secret),
                    kpi.message("Secret rotated.", "info"))
        if kind == Webhooks.TEST:
            enqueue_deliveries(tenant_ctx.tenant_id, [deliveries.create_test_delivery(db, tenant_ctx, endpoint_id)])
            return None, kpi.message("Test event sent; see the endpoint's deliveries.", "info")
        endpoints.delete_endpoint(db, tenant_ctx, endpoint_id)
        return None, kpi.message("Endpoint deleted.", "info")
    return None, None


def manage_endpoints(_create, enable, disable, rotate, test, delete, url, description, events):
    """Whichever was clicked, then the list; returns (table, secret panel, message)."""
    clicks = {Webhooks.ENABLE: enable, Webhooks.DISABLE: disable, Webhooks.ROTATE: rotate, Webhooks.TEST: test,
              Webhooks.DELETE: delete}
    try:
        secret, message = _act(ctx.triggered_id if ctx.triggered else None, clicks, url, description, events)
    except ServiceError as exc:  # the form keeps its values; the list still shows
        secret, message = None, kpi.message(exc.message)
    try:
        table = endpoints_table(endpoints.list_endpoints(current_db(), current_context()))
    except ServiceError as exc:
        return None, None, kpi.message(exc.message)
    return table, secret, message


def show_log(show, replay, _refresh, selected):
    """The selected endpoint's deliveries, after a replay if one was clicked; (title, log, message, selected)."""
    trigger = ctx.triggered_id if ctx.triggered else None
    chosen = _clicked(trigger, Webhooks.SHOW, {Webhooks.SHOW: show})
    selected = chosen if chosen is not None else selected
    if selected is None:
        return "", None, None, no_update
    db, message = current_db(), None
    try:
        tenant_ctx = current_context()
        replayed = _clicked(trigger, Webhooks.REPLAY, {Webhooks.REPLAY: replay})
        if replayed is not None:
            enqueue_deliveries(tenant_ctx.tenant_id, [deliveries.replay_delivery(db, tenant_ctx, replayed)])
            message = kpi.message("Delivery replayed.", "info")
        endpoint = endpoints.get_endpoint(db, tenant_ctx, selected)
        log = deliveries_table(deliveries.list_deliveries(db, tenant_ctx, selected))
    except ServiceError as exc:
        return "", None, kpi.message(exc.message), None
    return html.Span(["Deliveries to ", html.Code(endpoint.url)]), log, message, selected


def register(app: Dash) -> None:
    app.callback(Output(Webhooks.TABLE, "children"), Output(Webhooks.SECRET, "children"),
                 Output(Webhooks.MESSAGE, "children"),
                 Input(Webhooks.CREATE, "n_clicks"),
                 *[Input({"type": kind, "index": ALL}, "n_clicks") for kind in ACTIONS],
                 State(Webhooks.URL, "value"), State(Webhooks.DESCRIPTION, "value"),
                 State(Webhooks.EVENTS, "value"))(manage_endpoints)
    app.callback(Output(Webhooks.LOG_TITLE, "children"), Output(Webhooks.LOG, "children"),
                 Output(Webhooks.LOG_MESSAGE, "children"), Output(Webhooks.SELECTED, "data"),
                 Input({"type": Webhooks.SHOW, "index": ALL}, "n_clicks"),
                 Input({"type": Webhooks.REPLAY, "index": ALL}, "n_clicks"), Input(Webhooks.REFRESH, "n_clicks"),
                 State(Webhooks.SELECTED, "data"))(show_log)
