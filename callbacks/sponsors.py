"""Sponsors callbacks: list, create or edit (messages beside the fields), archive, invite a sponsor's user, and the
sponsor's pixel panel."""
from __future__ import annotations

from dash import ALL, Dash, Input, Output, State, ctx, html, no_update
from dash.exceptions import PreventUpdate

from api.auth import current_context
from api.state import app_state, current_db
from components import kpi
from components.campaigns import SPONSOR_FIELDS
from components.ids import SponsorPixel, Sponsors
from components.pixel import pixel_panel
from components.tables import simple_table
from services.sponsorship import sponsors
from services.errors import ServiceError, ValidationError
from services.sponsorship.attribution import pixel_status

FIELDS = tuple(name for name, _, _ in SPONSOR_FIELDS)
BLANK = [None] * len(FIELDS)
HIDDEN, SHOWN = {"display": "none"}, {}


def _table(entries):
    rows = [[e.sponsor.name, e.sponsor.industry or "—", e.sponsor.website or "—",
             e.sponsor.contact_email or e.sponsor.contact_name or "—", e.sponsor.campaigns,
             ", ".join(e.users) or "—", "archived" if e.sponsor.archived else "active",
             html.Div([html.Button("Edit", id={"type": Sponsors.EDIT, "index": e.sponsor.id}, className="link-button"),
                       html.Button("Restore" if e.sponsor.archived else "Archive",
                                   id={"type": Sponsors.ARCHIVE, "index": e.sponsor.id}, className="link-button")],
                      className="button-row")]
            for e in entries]
    return simple_table(["Sponsor", "Industry", "Website", "Contact", "Campaigns", "Portal users", "State", ""], rows,
                        "No sponsors yet.")


def _clicked() -> bool:
    return bool(ctx.triggered and ctx.triggered[0].get("value"))


def sponsors_view(_pathname, _save, _cancel, _edit, _archive, editing, *values):
    """Returns table, message, editing id, form title, field values, field errors, invite choices, and whether the
    form (editors and above) and the invite panel (admins and above) show."""
    db, trigger = current_db(), ctx.triggered_id if ctx.triggered else None
    message, new_values, errors, title = None, [no_update] * len(FIELDS), [None] * len(FIELDS), no_update
    try:
        tenant_ctx = current_context()
        if tenant_ctx.is_sponsor:  # a sponsor user comes here for its pixel only: no directory, no forms
            return (None, None, None, no_update, *[no_update] * len(FIELDS), *[None] * len(FIELDS), [], HIDDEN,
                    HIDDEN)
        if trigger == Sponsors.SAVE and _clicked():
            data = dict(zip(FIELDS, values))
            try:
                if editing:
                    saved = sponsors.update_sponsor(db, tenant_ctx, int(editing), data)
                else:
                    saved = sponsors.create_sponsor(db, tenant_ctx, data)
            except ValidationError as exc:
                errors = [exc.fields.get(name) for name in FIELDS]
                message = kpi.message("Check the fields marked below.")
            else:
                message = kpi.message(f"Saved “{saved.name}”.", "info")
                editing, new_values, title = None, BLANK, "New sponsor"
        elif trigger == Sponsors.CANCEL and _clicked():
            editing, new_values, title = None, BLANK, "New sponsor"
        elif isinstance(trigger, dict) and trigger.get("type") == Sponsors.EDIT and _clicked():
            row = sponsors.get_sponsor(db, tenant_ctx, int(trigger["index"]))
            editing, title = row.id, f"Edit “{row.name}”"
            new_values = [getattr(row, name) for name in FIELDS]
        elif isinstance(trigger, dict) and trigger.get("type") == Sponsors.ARCHIVE and _clicked():
            row = sponsors.get_sponsor(db, tenant_ctx, int(trigger["index"]))
            row = sponsors.archive_sponsor(db, tenant_ctx, row.id, archived=not row.archived)
            message = kpi.message(f"“{row.name}” {'archived' if row.archived else 'restored'}.", "info")
        entries = sponsors.sponsor_directory(db, tenant_ctx)
    except ServiceError as exc:
        return (None, kpi.message(exc.message), None, no_update, *[no_update] * len(FIELDS), *[None] * len(FIELDS), [],
                HIDDEN, HIDDEN)
    options = [{"label": e.sponsor.name, "value": e.sponsor.id} for e in entries if not e.sponsor.archived]
    return (_table(entries), message, editing, title, *new_values, *errors, options,
            SHOWN if tenant_ctx.can("editor") else HIDDEN, SHOWN if tenant_ctx.can("admin") else HIDDEN)


def invite_user(clicks, sponsor_id, email):
    """Returns the result panel, the email field's message and the sponsor field's message."""
    if not clicks:
        raise PreventUpdate
    if not sponsor_id:
        return None, None, "choose a sponsor"
    try:
        invitation = sponsors.invite_sponsor_user(current_db(), current_context(), int(sponsor_id), email or "")
    except ValidationError as exc:
        return None, exc.fields.get("email"), exc.fields.get("sponsor_id")
    except ServiceError as exc:
        return kpi.message(exc.message), None, None
    if invitation.password:
        panel = html.Div([html.Strong(f"{invitation.email} can now sign in. Their password, shown only now:"),
                          html.Pre(invitation.password, className="secret")], className="message message-info")
    else:
        panel = kpi.message(f"{invitation.email} already had a login: they now also see this sponsor's portal.",
                            "info")
    return panel, None, None


def pixel_choices(_pathname):
    """The sponsors whose pixel this user may see (a sponsor user: its own), the first chosen; the panel hides when
    there are none (viewers)."""
    try:
        choices = pixel_status.pixel_sponsors(current_db(), current_context())
    except ServiceError:
        choices = []
    if not choices:
        return [], None, HIDDEN
    return [{"label": name, "value": sid} for sid, name in choices], choices[0][0], SHOWN


def pixel_view(sponsor_id, _refresh):
    """The chosen sponsor's key, snippet, last events and refused calls (Refresh reads them again)."""
    if not sponsor_id:
        raise PreventUpdate
    db, tenant_ctx = current_db(), current_context()
    try:
        setup = pixel_status.pixel_setup(db, tenant_ctx, int(sponsor_id), app_state().settings.public_base_url)
        events = pixel_status.recent_events(db, tenant_ctx, setup.sponsor_id)
        rejections = pixel_status.recent_rejections(db, tenant_ctx, setup.sponsor_id)
    except ServiceError as exc:
        return kpi.message(exc.message)
    return pixel_panel(setup, events, rejections, pixel_status.REASON_LABELS, SponsorPixel.SNIPPET,
                       SponsorPixel.IMAGE)


def register(app: Dash) -> None:
    app.callback(
        Output(Sponsors.TABLE, "children"), Output(Sponsors.MESSAGE, "children"), Output(Sponsors.EDITING, "data"),
        Output(Sponsors.FORM_BOX + "-title", "children"),
        [Output(Sponsors.FIELD + name, "value") for name in FIELDS],
        [Output(Sponsors.ERROR + name, "children") for name in FIELDS],
        Output(Sponsors.INVITE_SPONSOR, "options"), Output(Sponsors.FORM_BOX, "style"),
        Output(Sponsors.INVITE_BOX, "style"),
        Input(Sponsors.URL, "pathname"), Input(Sponsors.SAVE, "n_clicks"), Input(Sponsors.CANCEL, "n_clicks"),
        Input({"type": Sponsors.EDIT, "index": ALL}, "n_clicks"),
        Input({"type": Sponsors.ARCHIVE, "index": ALL}, "n_clicks"),
        State(Sponsors.EDITING, "data"), *[State(Sponsors.FIELD + name, "value") for name in FIELDS],
    )(sponsors_view)
    app.callback(Output(Sponsors.INVITE_RESULT, "children"), Output(Sponsors.INVITE_ERROR, "children"),
                 Output(Sponsors.INVITE_ERROR + "-sponsor", "children"),
                 Input(Sponsors.INVITE, "n_clicks"), State(Sponsors.INVITE_SPONSOR, "value"),
                 State(Sponsors.INVITE_EMAIL, "value"))(invite_user)
    app.callback(Output(SponsorPixel.SPONSOR, "options"), Output(SponsorPixel.SPONSOR, "value"),
                 Output(SponsorPixel.BOX, "style"), Input(Sponsors.URL, "pathname"))(pixel_choices)
    app.callback(Output(SponsorPixel.BODY, "children"), Input(SponsorPixel.SPONSOR, "value"),
                 Input(SponsorPixel.REFRESH, "n_clicks"))(pixel_view)
