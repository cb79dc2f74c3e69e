"""Notifications: the user's notifications in this network (newest first), mark as read, and what reaches them."""
from dash import html, register_page

from components.ids import Notifications
from components.notifications import preference_checklists
from services.notify.preferences import KINDS

register_page(__name__, path="/notifications", name="Notifications", title="Notifications · Podcast Analytics",
              nav=False, portal=True)


def layout(**_kwargs):
    return html.Div([
        html.Div([html.H1("Notifications"),
                  html.Button("Mark all read", id=Notifications.MARK_ALL, className="primary-button")],
                 className="page-header"),
        html.Div(id=Notifications.MESSAGE),
        html.Div(id=Notifications.LIST),
        html.H2("What reaches you"),
        html.P("Choose, for each kind of event, whether it shows here and whether it is emailed to you.",
               className="muted"),
        html.Div(id=Notifications.PREF_MESSAGE),
        html.Div(preference_checklists(KINDS), id=Notifications.PREFS),
        html.Div(html.Button("Save preferences", id=Notifications.SAVE, className="primary-button"),
                 className="form-row"),
        html.Div(id=Notifications.SAVED),
    ])
