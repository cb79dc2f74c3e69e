"""Campaigns: the network's campaigns (a sponsor user's portal: only their own), the form that creates one, and
the campaign's tracking links and promo-code orders (editors and above)."""
from dash import dcc, html, register_page

from components.campaigns import campaign_form
from components.forms import field, text_input
from components.ids import CampaignInputs, Campaigns

# portal=True: sponsor users see this page in their navigation.
register_page(__name__, path="/campaigns", name="Campaigns", title="Campaigns · Podcast Analytics", order=31,
              portal=True)


def layout(**_kwargs):
    return html.Div([
        dcc.Location(id=Campaigns.URL),
        html.Div(html.H1("Campaigns"), className="page-header"),
        html.Div(id=Campaigns.MESSAGE),
        dcc.Loading(html.Div(id=Campaigns.TABLE)),
        html.Div([
            html.H2("New campaign"),
            html.P("A new campaign starts as a draft; add placements and move it along on its page.",
                   className="muted"),
            campaign_form(Campaigns.FIELD, Campaigns.ERROR),
            html.Button("Create campaign", id=Campaigns.CREATE, className="primary-button"),
        ], id=Campaigns.FORM_BOX, className="panel", style={"display": "none"}),
        inputs_box(),
        html.P([dcc.Link("Conversion pixel", href="/sponsors"), ": the snippet for the sponsor's site and the "
                "events it has sent."], className="muted"),
    ])


def inputs_box() -> html.Div:
    return html.Div([
        html.H2("Tracking links and promo codes"),
        field("Campaign", dcc.Dropdown(id=CampaignInputs.CAMPAIGN, options=[], placeholder="Choose a campaign"),
              CampaignInputs.CAMPAIGN + "-error"),
        html.H3("Tracking links"),
        html.P("A short link that records a click and redirects to the campaign's landing URL with utm_source, "
               "utm_medium and utm_campaign.", className="muted"),
        html.Div([field("Label", text_input(CampaignInputs.LABEL, "e.g. show notes, host read"),
                        CampaignInputs.LABEL_ERROR)], className="form-grid"),
        html.Button("Create tracking link", id=CampaignInputs.CREATE_LINK, className="primary-button"),
        html.Div(id=CampaignInputs.LINK_MESSAGE),
        html.Div(id=CampaignInputs.LINKS),
        html.H3("Promo-code orders"),
        html.P(["A CSV of the sponsor's orders that used one of its campaigns' codes, with the header ",
                html.Code("code,occurred_at,order_id,value"), " (occurred_at as ISO 8601, e.g. 2026-03-01T12:00:00Z). "
                "The order id counts once however often it is uploaded; a file with any bad row stores nothing."],
               className="muted"),
        dcc.Upload(id=CampaignInputs.UPLOAD, children=html.Div(["Drop a CSV here or ", html.A("choose a file")]),
                   className="upload-box", multiple=False, accept=".csv,text/csv",
                   max_size=20 * 1024 * 1024),
        dcc.Loading(html.Div(id=CampaignInputs.UPLOAD_RESULT)),
    ], id=CampaignInputs.BOX, className="panel", style={"display": "none"})
