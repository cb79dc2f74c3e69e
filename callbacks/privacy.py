"""Privacy page callbacks: start and follow the tenant export, show and save the tenant's retention, and confirm and
queue the tenant's deletion."""
from __future__ import annotations

import dash
from dash import Dash, Input, Output, State, html
from dash.exceptions import PreventUpdate

from api.auth import current_context
from api.state import app_state, current_db
from components import kpi
from components.ids import Privacy
from jobs import privacy as privacy_jobs
from jobs.queues import enqueue, job_status
from services import audit, privacy, retention_settings
from services.errors import ServiceError
from services.tenancy import require_role


def start_export(clicks):
    if not clicks:
        raise PreventUpdate
    try:
        ctx = current_context()
        require_role(ctx, "admin")
        db = current_db()
        with db.session(ctx.tenant_id) as s:
            audit.record(s, ctx, "tenant.exported", "tenant", ctx.tenant_id)
            s.commit()
        handle = enqueue(privacy_jobs.export_tenant, ctx.tenant_id, queue="default", settings=app_state().settings)
    except ServiceError as exc:
        return {"error": exc.message}
    return {"job": handle.id}


def poll_export(_n, data):
    """(progress, status, interval disabled)."""
    if not data:
        return 0, None, True
    if "error" in data:
        return 0, kpi.message(data["error"]), True
    try:
        ctx = current_context()
        require_role(ctx, "admin")
    except ServiceError as exc:
        return 0, kpi.message(exc.message), True
    settings = app_state().settings
    handle = job_status(data["job"], settings)
    if handle is None or handle.meta.get("tenant_id") != ctx.tenant_id:
        return 0, kpi.message("That export is not known here."), True
    if handle.status == "failed":
        return 0, kpi.message("The export failed; nothing was kept. Try again."), True
    if handle.status == "finished":
        token = privacy.export_link_token(settings, ctx.tenant_id, handle.result["file"])
        size = handle.result["bytes"] / 1e6
        return 1, html.P([html.A(f"Download the export ({size:.1f} MB)", href=f"/exports/tenant/{token}"),
                          " — the link works for 24 hours."]), True
    return handle.progress or 0, html.Div(handle.meta.get("message") or "queued", className="muted"), False


def request_deletion(clicks, typed_slug):
    if not clicks:
        raise PreventUpdate
    try:
        ctx = current_context()
        tenant = privacy.check_deletion(current_db(), ctx, typed_slug)
        enqueue(privacy_jobs.delete_tenant, tenant.id, queue="default", settings=app_state().settings)
    except ServiceError as exc:
        return kpi.message(exc.message)
    return html.Div([f"{tenant.name} is being deleted. ", html.A("Sign out", href="/login")],
                    className="message message-info")


def _days(value: int | None) -> str:
    return "" if value is None else str(value)


def retention(clicks, raw_days, conversion_days):
    """(raw days, conversion days, status): the stored values on load, saved (owners) on a click."""
    try:
        ctx = current_context()
        db = current_db()
        if clicks:
            kept = retention_settings.set_retention(db, ctx, raw_days, conversion_days)
            status = kpi.message("Retention saved; the daily retention job applies it.", "info")
        else:
            kept, status = retention_settings.get_retention(db, ctx), None
    except ServiceError as exc:
        return dash.no_update, dash.no_update, kpi.message(exc.message)
    return _days(kept.raw_request_retention_days), _days(kept.conversion_retention_days), status


def register(app: Dash) -> None:
    app.callback(Output(Privacy.EXPORT_JOB, "data"), Input(Privacy.EXPORT, "n_clicks"))(start_export)
    app.callback(Output(Privacy.EXPORT_PROGRESS, "value"), Output(Privacy.EXPORT_STATUS, "children"),
                 Output(Privacy.EXPORT_POLL, "disabled"),
                 Input(Privacy.EXPORT_POLL, "n_intervals"), Input(Privacy.EXPORT_JOB, "data"))(poll_export)
    app.callback(Output(Privacy.DELETE_STATUS, "children"), Input(Privacy.DELETE, "n_clicks"),
                 State(Privacy.SLUG, "value"))(request_deletion)
    app.callback(Output(Privacy.RAW_DAYS, "value"), Output(Privacy.CONVERSION_DAYS, "value"),
                 Output(Privacy.RETENTION_STATUS, "children"), Input(Privacy.RETENTION_SAVE, "n_clicks"),
                 State(Privacy.RAW_DAYS, "value"), State(Privacy.CONVERSION_DAYS, "value"))(retention)
