"""Shell callbacks: the tenant name and user shown in the header, and the navigation the user's role may use."""
from __future__ import annotations

import dash
from dash import Dash, Input, Output
from flask_login import current_user

from api.auth import current_context
from components.ids import Shell
from components.shell import nav_links
from services.errors import ServiceError


def show_identity(_pathname: str | None) -> tuple[str, str, list]:
    portal_only = True  # without a tenant context, show no more than a sponsor would see
    try:
        tenant_ctx = current_context()
        tenant_name, portal_only = tenant_ctx.tenant_name, tenant_ctx.is_sponsor
    except ServiceError as exc:
        tenant_name = exc.message
    return tenant_name, current_user.email, nav_links(list(dash.page_registry.values()), portal_only)


def register(app: Dash) -> None:
    app.callback(Output(Shell.TENANT, "children"), Output(Shell.USER, "children"), Output(Shell.NAV, "children"),
                 Input(Shell.URL, "pathname"))(show_identity)
