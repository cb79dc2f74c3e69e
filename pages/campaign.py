"""One campaign: status workflow, placements, delivery against the goal, pacing and makegoods, reach and frequency,
spend, attribution (conversions, revenue, ROAS, lift), status history and CSVs; sponsor users see their own campaigns here without the management parts."""
from dash import dcc, html, register_page

from components.attribution import attribution_section
from components.campaigns import campaign_form, placement_form
from components.controls import period_controls
from components.embeds import share_form
from components.share import share_button
from components.ids import CampaignPage
from components.matchmaking import recommendations_panel
from services.sponsorship.report_window import WHOLE_FLIGHT, parse_range

register_page(__name__, path_template="/campaigns/<campaign_id>", name="Campaign", title="Campaign · Podcast Analytics",
              portal=True)


def _csv_button(view: str, label: str):
    return html.Button(label, id={"type": CampaignPage.CSV, "view": view}, className="link-button")


def layout(campaign_id=None, **query):
    # Called without an id when Dash validates callbacks against every page's layout: the full layout then.
    if campaign_id is not None and not str(campaign_id).isdigit():
        return html.Div([html.H1("Campaign"), html.P(f"There is no campaign {campaign_id!r}.", className="muted"),
                         dcc.Link("All campaigns", href="/campaigns")])
    campaign = None if campaign_id is None else int(campaign_id)
    preset, first, last = parse_range(query)
    return html.Div([
        dcc.Store(id=CampaignPage.ID, data=campaign),
        html.Div(id=CampaignPage.HEADER, className="page-header"),
        html.Div(id=CampaignPage.STATUS, className="button-row"),
        period_controls(CampaignPage, preset, first, last, {WHOLE_FLIGHT: "Whole flight"}),
        html.Div(id=CampaignPage.MESSAGE),
        dcc.Loading(html.Div(id=CampaignPage.KPIS), type="dot"),
        html.Div(id=CampaignPage.SUMMARY),
        html.Div(id=CampaignPage.PACING),
        html.Div(share_button("campaign", "campaign_delivery"), className="button-row"),
        dcc.Graph(id=CampaignPage.CHART, config={"displaylogo": False}),
        html.Div([_csv_button("day", "CSV: delivery by day"), _csv_button("podcast", "CSV: by show"),
                  _csv_button("episode", "CSV: by episode"), _csv_button("reach", "CSV: reach and frequency"),
                  _csv_button("history", "CSV: status history")],
                 className="button-row"),
        dcc.Download(id=CampaignPage.DOWNLOAD),
        html.Div([html.Div([html.H2("By show"), html.Div(id=CampaignPage.BY_SHOW)]),
                  html.Div([html.H2("Reach and frequency"), html.Div(id=CampaignPage.REACH)])], className="two-col"),
        html.H2("By episode"),
        html.Div(id=CampaignPage.BY_EPISODE),
        attribution_section(),
        recommendations_panel(),
        html.H2("Placements"),
        html.Div(id=CampaignPage.PLACEMENTS),
        html.Div([html.H2("Add a placement"),
                  placement_form(CampaignPage.PLACEMENT_FIELD, CampaignPage.PLACEMENT_ERROR),
                  html.Button("Add placement", id=CampaignPage.ADD_PLACEMENT, className="primary-button")],
                 id=CampaignPage.PLACEMENT_BOX, className="panel", style={"display": "none"}),
        html.Div([html.H2("Edit campaign"), campaign_form(CampaignPage.EDIT_FIELD, CampaignPage.EDIT_ERROR),
                  html.Button("Save changes", id=CampaignPage.SAVE, className="primary-button")],
                 id=CampaignPage.EDIT_BOX, className="panel", style={"display": "none"}),
        html.H2("Status history"),
        html.Div(id=CampaignPage.HISTORY),
        share_form("campaign"),
    ])
