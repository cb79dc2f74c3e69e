"""Team page: one callback lists members, changes a role or sends an invitation (whichever was clicked); another
removes the member whose Remove was clicked, once their email is typed to confirm."""
from __future__ import annotations

import dash
from dash import ALL, Dash, Input, Output, State, ctx, dcc, html
from dash.exceptions import PreventUpdate

from api.auth import current_context
from api.state import app_state, current_db
from components import kpi
from components.ids import Team
from components.tables import simple_table
from services import account_links, accounts, user_deletion
from services.errors import ServiceError
from services.sponsorship import sponsors as sponsor_service

STAFF = ("owner", "admin", "editor", "viewer")


def _fmt(moment) -> str:
    return moment.strftime("%Y-%m-%d %H:%M") if moment else "never"


def _members_table(members, manage: bool):
    rows = []
    for m in members:
        if manage and m.role != "sponsor":
            role = html.Div([dcc.Dropdown([{"label": r, "value": r} for r in STAFF], m.role, clearable=False,
                                          id={"type": Team.ROLE, "index": m.user_id}, className="inline-dropdown"),
                             html.Button("Save", id={"type": Team.SAVE, "index": m.user_id}, className="link-button",
                                         title=f"Save the role of {m.email}")], className="button-row")
        else:
            role = m.role
        row = [m.email, m.name, role, m.sponsor or "", _fmt(m.last_login_at)]
        if manage:
            row.append(html.Button("Remove", id={"type": Team.REMOVE, "index": m.user_id},
                                   className="link-button", title=f"Remove {m.email}"))
        rows.append(row)
    return simple_table(["Email", "Name", "Role", "Sponsor", "Last sign-in"] + (["Remove"] if manage else []), rows,
                        "No members.")


def manage_team(_save_clicks, _invite_clicks, roles, email, invite_role, invite_sponsor):
    """(members table, pending invitations, sponsor options, message)."""
    db, message = current_db(), None
    try:
        tenant_ctx = current_context()
        trigger = ctx.triggered_id if ctx.triggered else None
        if trigger == Team.INVITE:
            account_links.invite(db, tenant_ctx, email or "", invite_role or "viewer",
                                 int(invite_sponsor) if invite_role == "sponsor" and invite_sponsor else None)
            message = kpi.message(f"Invitation sent to {email}.", "info")
        elif isinstance(trigger, dict) and trigger.get("type") == Team.SAVE and any(_save_clicks or []):
            user_id = int(trigger["index"])
            chosen = {s["id"]["index"]: v for s, v in zip(ctx.states_list[0], roles)}.get(user_id)
            accounts.change_role(db, tenant_ctx, user_id, chosen)
            message = kpi.message("Role saved; that member signs in again to use it.", "info")
        members = accounts.list_members(db, tenant_ctx)
        manage = tenant_ctx.can("admin")
        pending = account_links.pending_invites(db, tenant_ctx) if manage else []
        sponsors = [{"label": r.name, "value": r.id}
                    for r in sponsor_service.list_sponsors(db, tenant_ctx, include_archived=False)] if manage else []
    except ServiceError as exc:
        return None, None, [], kpi.message(exc.message)
    pending_table = simple_table(["Email", "Role", "Expires"], [[p.email, p.role, _fmt(p.expires_at)]
                                                                 for p in pending], "No pending invitations.")
    return _members_table(members, manage), pending_table, sponsors, message


def remove_member(remove_clicks, typed_email):
    """(status message, members table) after removing the member whose Remove was clicked."""
    trigger = ctx.triggered_id if ctx.triggered else None
    if not isinstance(trigger, dict) or trigger.get("type") != Team.REMOVE or not any(remove_clicks or []):
        raise PreventUpdate
    db = current_db()
    try:
        tenant_ctx = current_context()
        removed = user_deletion.remove_member(db, tenant_ctx, app_state().settings.secret_key, int(trigger["index"]),
                                              typed_email or "")
        members = accounts.list_members(db, tenant_ctx)
    except ServiceError as exc:
        return kpi.message(exc.message), dash.no_update
    text = ("Removed from this network; they keep their other memberships." if removed == "membership"
            else "Member deleted, with their personal data.")
    return kpi.message(text, "info"), _members_table(members, tenant_ctx.can("admin"))


def register(app: Dash) -> None:
    app.callback(Output(Team.TABLE, "children"), Output(Team.PENDING, "children"),
                 Output(Team.INVITE_SPONSOR, "options"), Output(Team.MESSAGE, "children"),
                 Input({"type": Team.SAVE, "index": ALL}, "n_clicks"), Input(Team.INVITE, "n_clicks"),
                 State({"type": Team.ROLE, "index": ALL}, "value"), State(Team.INVITE_EMAIL, "value"),
                 State(Team.INVITE_ROLE, "value"), State(Team.INVITE_SPONSOR, "value"))(manage_team)
    app.callback(Output(Team.REMOVE_STATUS, "children"), Output(Team.TABLE, "children", allow_duplicate=True),
                 Input({"type": Team.REMOVE, "index": ALL}, "n_clicks"), State(Team.REMOVE_CONFIRM, "value"),
                 prevent_initial_call=True)(remove_member)
