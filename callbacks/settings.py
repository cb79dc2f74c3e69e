"""Settings callbacks: load the tenant's settings, save changes (owners and admins; the MFA policy: owners)."""
from __future__ import annotations

from dash import Dash, Input, Output, State, ctx, no_update

from api.auth import current_context
from api.state import current_db
from components import kpi
from components.ids import Settings
from services import accounts, mfa
from services.errors import ServiceError


def settings_form(save_clicks, window, timezone):
    """On load: the current settings. On save: validate and store, then show the stored values."""
    try:
        tenant_ctx = current_context()
        db = current_db()
        if ctx.triggered_id == Settings.SAVE and save_clicks:
            tenant = accounts.configure_tenant(db, tenant_ctx.tenant_slug, window, timezone or None, ctx=tenant_ctx)
            return tenant.dedupe_window, tenant.timezone, kpi.message("Saved.", "info")
        tenant = accounts.get_tenant_by_slug(db, tenant_ctx.tenant_slug, tenant_ctx)
        return tenant.dedupe_window, tenant.timezone, None
    except ServiceError as exc:
        return no_update, no_update, kpi.message(exc.message)


def require_mfa_form(save_clicks, value):
    """On load: whether the tenant requires MFA. On save: owners change it."""
    try:
        tenant_ctx = current_context()
        db = current_db()
        if ctx.triggered_id == Settings.MFA_SAVE and save_clicks:
            required = mfa.set_tenant_requirement(db, tenant_ctx, "required" in (value or []))
            return (["required"] if required else []), kpi.message("Saved.", "info")
        return (["required"] if mfa.tenant_requirement(db, tenant_ctx) else []), None
    except ServiceError as exc:
        return no_update, kpi.message(exc.message)


def register(app: Dash) -> None:
    app.callback(Output(Settings.WINDOW, "value"), Output(Settings.TIMEZONE, "value"), Output(Settings.MESSAGE, "children"),
                 Input(Settings.SAVE, "n_clicks"), State(Settings.WINDOW, "value"),
                 State(Settings.TIMEZONE, "value"))(settings_form)
    app.callback(Output(Settings.REQUIRE_MFA, "value"), Output(Settings.MFA_MESSAGE, "children"),
                 Input(Settings.MFA_SAVE, "n_clicks"), State(Settings.REQUIRE_MFA, "value"))(require_mfa_form)
