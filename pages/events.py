"""Events: the network's domain events and what each handler did with them; parked ones with their error and a
Replay button (owners and admins)."""
from dash import dcc, html, register_page

from components.ids import Events

register_page(__name__, path="/settings/events", name="Events", title="Events · Podcast Analytics", order=92)

STATUSES = [{"label": "All", "value": ""}, {"label": "Pending", "value": "pending"},
            {"label": "Done", "value": "done"}, {"label": "Parked", "value": "parked"}]


def layout(**_kwargs):
    return html.Div([
        html.Div(html.H1("Events"), className="page-header"),
        html.P("What happened in this network, and what the workflow did about it: in-app notifications, emails, "
               "webhooks. An event whose handler keeps failing is parked with its error until it is replayed.",
               className="muted"),
        html.Div([
            dcc.Dropdown(STATUSES, "", id=Events.STATUS, clearable=False, className="dropdown"),
            dcc.Input(id=Events.TYPE, placeholder="Type begins with, e.g. campaign.", className="text-input",
                      debounce=True),
        ], className="form-row"),
        html.Div(id=Events.MESSAGE),
        dcc.Loading(html.Div(id=Events.TABLE)),
        html.H2("Emails"),
        html.Div(id=Events.EMAILS),
    ])
