"""Shell callbacks: the tenant name and user shown in the header."""
from __future__ import annotations

from dash import Dash, Input, Output
from flask_login import current_user

from api.auth import current_context
from components.ids import Shell
from services.errors import ServiceError


def show_identity(_pathname: str | None) -> tuple[str, str]:
    try:
        tenant_name = current_context().tenant_name
    except ServiceError as exc:
        tenant_name = exc.message
    return tenant_name, current_user.email


def register(app: Dash) -> None:
    app.callback(Output(Shell.TENANT, "children"), Output(Shell.USER, "children"),
                 Input(Shell.URL, "pathname"))(show_identity)
