"""Team: the network's members and their roles, role changes, and invitations by email; owners and admins manage,
other staff see the list."""
from dash import dcc, html, register_page

from components.ids import Team

register_page(__name__, path="/settings/team", name="Team", title="Team · Podcast Analytics", order=81)

ROLE_OPTIONS = [{"label": r, "value": r} for r in ("owner", "admin", "editor", "viewer", "sponsor")]


def layout(**_kwargs):
    return html.Div([
        html.Div(html.H1("Team"), className="page-header"),
        html.P("A role change ends that member's sessions, so it applies from their next sign-in. Invitations are "
               "emailed and work once, for 7 days.", className="muted"),
        html.Div(id=Team.MESSAGE),
        dcc.Loading(html.Div(id=Team.TABLE)),
        html.Div([html.Label("To remove a member, type their email here, then press Remove on their row",
                             htmlFor=Team.REMOVE_CONFIRM),
                  dcc.Input(id=Team.REMOVE_CONFIRM, type="email", className="text-input", maxLength=320,
                            autoComplete="off")], className="control"),
        html.P("A member who belongs to other networks too loses only this membership; anyone else is deleted with "
               "their personal data (the audit log keeps their entries under a pseudonym).", className="muted"),
        html.Div(id=Team.REMOVE_STATUS, role="status"),
        html.H2("Invite someone"),
        html.Div([
            html.Div([html.Label("Email", htmlFor=Team.INVITE_EMAIL),
                      dcc.Input(id=Team.INVITE_EMAIL, type="email", className="text-input", maxLength=320)],
                     className="control"),
            html.Div([html.Label("Role", htmlFor=Team.INVITE_ROLE),
                      dcc.Dropdown(ROLE_OPTIONS, "viewer", id=Team.INVITE_ROLE, clearable=False)],
                     className="control"),
            html.Div([html.Label("Sponsor (sponsor users)", htmlFor=Team.INVITE_SPONSOR),
                      dcc.Dropdown(id=Team.INVITE_SPONSOR, placeholder="None")], className="control"),
            html.Button("Send invitation", id=Team.INVITE, className="primary-button"),
        ], className="dashboard-controls"),
        html.H2("Pending invitations"),
        html.Div(id=Team.PENDING),
    ])
