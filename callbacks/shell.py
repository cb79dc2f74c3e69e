"""Shell callbacks: the tenant name and user shown in the header, and the navigation the user's role may use."""
from __future__ import annotations

import dash
from dash import Dash, Input, Output
from flask_login import current_user

from api.auth import current_context
from components.ids import Shell
from api.state import current_db
from components.shell import bell_count, nav_links
from services.dashboards.periods import carried_query
from services.errors import ServiceError
from services.notify import inapp


def show_identity(_pathname: str | None, search: str | None = None) -> tuple[str, str, list]:
    portal_only = True  # without a tenant context, show no more than a sponsor would see
    try:
        tenant_ctx = current_context()
        tenant_name, portal_only = tenant_ctx.tenant_name, tenant_ctx.is_sponsor
    except ServiceError as exc:
        tenant_name = exc.message
    return tenant_name, current_user.email, nav_links(list(dash.page_registry.values()), portal_only,
                                                      carried_query(search))


def show_unread(_pathname: str | None, _tick: int | None) -> tuple[str, str]:
    """The bell's count: on every page change and once a minute."""
    try:
        unread = inapp.unread_count(current_db(), current_context())
    except ServiceError:
        unread = 0
    return bell_count(unread), "bell-count" if unread else "bell-count bell-count-zero"


def register(app: Dash) -> None:
    app.callback(Output(Shell.BELL_COUNT, "children"), Output(Shell.BELL_COUNT, "className"),
                 Input(Shell.URL, "pathname"), Input(Shell.BELL_POLL, "n_intervals"))(show_unread)
    app.callback(Output(Shell.TENANT, "children"), Output(Shell.USER, "children"), Output(Shell.NAV, "children"),
                 Input(Shell.URL, "pathname"), Input(Shell.URL, "search"))(show_identity)
