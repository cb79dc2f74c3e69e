"""Email reports: the signed-in user's own report subscriptions (network, a show, or a sponsor user's campaigns),
weekly or monthly; add, edit or delete them, preview the email exactly as it would be sent, and see what was sent."""
from dash import dcc, html, register_page

from components.reports import Reports, subscription_form

register_page(__name__, path="/settings/reports", name="Reports", title="Email reports · Podcast Analytics",
              order=92, portal=True)


def layout(**_kwargs):
    return html.Div([
        dcc.Location(id=Reports.URL),
        dcc.Store(id=Reports.EDITING),
        html.Div(html.H1("Email reports"), className="page-header"),
        html.P("Reports are emailed to you on the day and hour you choose, in the network's time zone: a weekly "
               "report covers the 7 days before it, a monthly one the previous calendar month, each compared with "
               "the period before. Charts are attached as images and the daily figures as a CSV file.",
               className="muted"),
        html.Div(id=Reports.MESSAGE),
        html.Div([
            html.H2("New report", id=Reports.FORM_TITLE),
            subscription_form(),
            html.Div([html.Button("Save", id=Reports.SAVE, className="primary-button"),
                      html.Button("New report instead", id=Reports.CANCEL, className="link-button")],
                     className="button-row"),
        ], className="panel"),
        dcc.Loading(html.Div(id=Reports.TABLE)),
        html.Div(id=Reports.PREVIEW_MESSAGE),
        dcc.Loading(html.Div(id=Reports.PREVIEW)),
        html.Div(id=Reports.HISTORY),
    ])
