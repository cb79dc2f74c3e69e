"""Getting-started callbacks: the checklist on the overview and the /welcome page, from the network's data."""
from __future__ import annotations

from dash import Dash, Input, Output, html

from api.auth import current_context
from api.state import app_state, current_db
from components import kpi
from components.ids import Overview, Welcome
from components.onboarding import checklist, host_instructions, onboarding_panel
from services.catalog.prefix import prefix_url
from services.dashboards.onboarding import onboarding_status
from services.errors import ServiceError

EXAMPLE_KEY = "<your show's key>"


def _prefix(status) -> str:
    return prefix_url(app_state().settings.public_base_url, status.first_prefix_key or EXAMPLE_KEY)


def overview_onboarding(_pathname):
    """The overview's checklist while the network is getting started; nothing for sponsor users or after."""
    try:
        status = onboarding_status(current_db(), current_context())
    except ServiceError:
        return None
    return onboarding_panel(status, _prefix(status))


def welcome_page(_pathname):
    try:
        status = onboarding_status(current_db(), current_context())
    except ServiceError as exc:
        return kpi.message(exc.message)
    return html.Div([
        checklist("Measure your show", status.podcast_steps, "onboarding-podcast"),
        host_instructions(_prefix(status)),
        checklist("Sell sponsorships", status.sponsor_steps, "onboarding-sponsor"),
    ])


def register(app: Dash) -> None:
    app.callback(Output(Overview.ONBOARDING, "children"), Input(Overview.URL, "pathname"))(overview_onboarding)
    app.callback(Output(Welcome.BODY, "children"), Input(Welcome.URL, "pathname"))(welcome_page)
