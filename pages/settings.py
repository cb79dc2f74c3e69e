"""Settings: the network's measurement settings (dedupe window, time zone), its sign-in policy, and the user's own
sessions."""
from dash import dcc, html, register_page

from components.ids import Settings

register_page(__name__, path="/settings", name="Settings", title="Settings · Podcast Analytics", order=80)

WINDOWS = [
    {"label": "Calendar day (UTC): one download per listener per episode per day", "value": "calendar"},
    {"label": "Rolling 24 hours, first touch", "value": "first-touch"},
    {"label": "Rolling 24 hours, last touch", "value": "last-touch"},
]


def layout(**_kwargs):
    return html.Div([
        html.Div(html.H1("Settings"), className="page-header"),
        html.H2("Download deduplication"),
        html.P("How repeat requests of one episode by one listener are merged (IAB v2.3). A change applies to "
               "counting from now on; recount past days from the command line.", className="muted"),
        dcc.RadioItems(WINDOWS, id=Settings.WINDOW, className="stacked-radio"),
        html.H2("Time zone"),
        dcc.Input(id=Settings.TIMEZONE, placeholder="e.g. Europe/Berlin", className="text-input", debounce=True),
        html.Div(html.Button("Save", id=Settings.SAVE, className="primary-button"), className="form-row"),
        html.Div(id=Settings.MESSAGE),
        html.H2("Sign-in"),
        html.P(["Owners can require two-factor sign-in: members without it are sent to set it up after they sign "
                "in and reach nothing else until they have. Your own: ",
                html.A("Account security", href="/account/security"), "."], className="muted"),
        dcc.Checklist([{"label": "Require two-factor sign-in for every member", "value": "required"}],
                      id=Settings.REQUIRE_MFA, className="stacked-radio"),
        html.Div(html.Button("Save sign-in policy", id=Settings.MFA_SAVE, className="primary-button"),
                 className="form-row"),
        html.Div(id=Settings.MFA_MESSAGE),
        sessions_section(),
    ])


def sessions_section() -> html.Section:
    """A plain form post (not a callback): the answer signs this browser out and goes to the login page."""
    return html.Section([
        html.H2("Your sessions"),
        html.P("Signed in on a device you no longer use, or worried someone else is? Sign out everywhere ends every "
               "session of your account, this one included.", className="muted"),
        html.Form(html.Button("Sign out everywhere", type="submit", className="primary-button"),
                  method="post", action="/account/sign-out-everywhere", className="form-row"),
    ], **{"aria-label": "Your sessions"})
