"""Methodology callback: the tenant's statement, from the service."""
from __future__ import annotations

from dash import Dash, Input, Output

from api.auth import current_context
from api.state import current_db
from components import kpi
from components.ids import Methodology
from components.methodology import methodology_statement
from services.errors import ServiceError
from services.measurement.methodology import methodology


def show_methodology(_pathname):
    try:
        return methodology_statement(methodology(current_db(), current_context()))
    except ServiceError as exc:
        return kpi.message(exc.message)


def register(app: Dash) -> None:
    app.callback(Output(Methodology.BODY, "children"), Input(Methodology.URL, "pathname"))(show_methodology)
