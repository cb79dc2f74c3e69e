"""Campaign page callbacks: the report (status moves, placements and edits act first), the forms' choices and
values, the Attribution section (Recompute acts first), and the CSV for each view."""
from __future__ import annotations

from datetime import date

import pandas as pd
from dash import ALL, Dash, Input, Output, State, ctx, dcc, html, no_update
from dash.exceptions import PreventUpdate

from api.auth import current_context
from api.state import current_db
from callbacks.dashboard import custom_dates
from components import charts, kpi
from components.campaigns import (
    CAMPAIGN_FIELDS, PLACEMENT_FIELDS, delivery_figure, delivery_kpis, form_value, frame_table, history_table,
    pacing_panel, placements_table, status_badge,
)
from components.attribution import (
    attribution_kpis, computed_line, group_table, lag_figure, lift_panel, usable_ip_panel,
)
from components.forms import value_prop
from components.ids import CampaignAttribution, CampaignPage
from jobs.attribution import enqueue_campaign
from jobs.campaigns import refresh_campaign_delivery
from jobs.queues import enqueue
from services.sponsorship import campaigns, delivery, placements, sponsors
from services.catalog import podcasts
from services.errors import ServiceError, ValidationError
from services.sponsorship.attribution import report as attribution
from services.sponsorship.report_window import campaign_window, range_query

HIDDEN, SHOWN = {"display": "none"}, {}
N_REPORT = 13  # outputs before the field messages
TOP_EPISODES = 15  # the page shows the top episodes; the CSV has them all


def _clicked() -> bool:
    return bool(ctx.triggered and ctx.triggered[0].get("value"))


def _act(db, tenant_ctx, campaign_id, trigger, placement_values, edit_values):
    """Run the clicked action; returns (message, placement field messages, edit field messages)."""
    p_errors, e_errors = {}, {}
    if isinstance(trigger, dict) and trigger.get("type") == CampaignPage.MOVE and _clicked():
        row = campaigns.change_campaign_status(db, tenant_ctx, campaign_id, trigger["status"])
        return kpi.message(f"The campaign is now {row.status}.", "info"), p_errors, e_errors
    if isinstance(trigger, dict) and trigger.get("type") == CampaignPage.REMOVE and _clicked():
        placements.delete_placement(db, tenant_ctx, campaign_id, int(trigger["index"]))
        enqueue(refresh_campaign_delivery, tenant_ctx.tenant_id, campaign_id, queue="measure")
        return kpi.message("Placement removed; delivery is measured again.", "info"), p_errors, e_errors
    if trigger == CampaignPage.ADD_PLACEMENT and _clicked():
        try:
            placements.create_placement(db, tenant_ctx, campaign_id, dict(zip(PLACEMENT_FIELDS, placement_values)))
        except ValidationError as exc:
            return kpi.message("The placement was not added: check the fields marked."), exc.fields, e_errors
        enqueue(refresh_campaign_delivery, tenant_ctx.tenant_id, campaign_id, queue="measure")
        return kpi.message("Placement added; delivery is being measured.", "info"), p_errors, e_errors
    if trigger == CampaignPage.SAVE and _clicked():
        try:
            campaigns.update_campaign(db, tenant_ctx, campaign_id, dict(zip(CAMPAIGN_FIELDS, edit_values)))
        except ValidationError as exc:
            return kpi.message("Not saved: check the fields marked."), p_errors, exc.fields
        # The target countries decide which downloads a dynamically inserted ad reached: measure again.
        enqueue(refresh_campaign_delivery, tenant_ctx.tenant_id, campaign_id, queue="measure")
        return kpi.message("Saved.", "info"), p_errors, e_errors
    return None, p_errors, e_errors


def campaign_view(campaign_id, _moves, _removes, _add, _save, preset, start, end, *values):
    if campaign_id is None:
        raise PreventUpdate
    placement_values, edit_values = values[:len(PLACEMENT_FIELDS)], values[len(PLACEMENT_FIELDS):]
    db, trigger = current_db(), ctx.triggered_id if ctx.triggered else None
    blank_errors = [None] * len(PLACEMENT_FIELDS), [None] * len(CAMPAIGN_FIELDS)
    try:
        tenant_ctx = current_context()
        try:
            message, p_errors, e_errors = _act(db, tenant_ctx, campaign_id, trigger, placement_values, edit_values)
        except ServiceError as exc:  # a refused move or action: say so, and still show the campaign
            message, p_errors, e_errors = kpi.message(exc.message), {}, {}
        window = campaign_window(db, tenant_ctx, campaign_id, preset, start, end)
        report = delivery.campaign_report(db, tenant_ctx, campaign_id, as_of=_as_of(window),
                                          first=window.first, last=window.last)
    except ServiceError as exc:
        empty = [None] * N_REPORT
        empty[2], empty[5], empty[11], empty[12] = kpi.message(exc.message), charts.empty_figure(""), HIDDEN, HIDDEN
        return (*empty, *blank_errors[0], *blank_errors[1])
    c = report.campaign
    header = [html.H1(c.name), html.Div([status_badge(c.status), f" {c.sponsor} · {c.start_date} – {c.end_date}"]),
              html.P(window.note or ("Whole flight" if window.whole_flight else
                                     f"Delivery, pacing and attribution from {window.first} to {window.last}"),
                     className="muted period-line")]
    moves = [html.Button(f"Move to {s}", id={"type": CampaignPage.MOVE, "status": s}, className="link-button")
             for s in c.next_statuses] if report.can_manage else []
    figure = (delivery_figure(report.daily, c.goal_impressions, c.start_date, c.end_date, report.pacing.as_of)
              if len(report.daily) else charts.empty_figure("No delivery yet",
                                                            "add a placement, or wait for the next count of downloads"))
    by_show = frame_table(report.by_show, {"podcast": "Show", "impressions": "Impressions"}, "No impressions yet.")
    by_episode = frame_table(report.by_episode.head(TOP_EPISODES),
                             {"episode": "Episode", "podcast": "Show", "impressions": "Impressions"},
                             "No impressions yet.")
    reach = frame_table(report.reach, {"podcast": "Show", "impressions": "Impressions", "reach": "Reach",
                                       "frequency": "Frequency"}, "No reach yet.")
    open_lines = report.can_manage and c.status not in placements.CLOSED  # a closed campaign's placements are final
    return (header, moves, message, delivery_kpis(report.pacing), pacing_panel(report.pacing), figure, by_show,
            by_episode, reach, history_table(report.history),
            placements_table(report.placements, CampaignPage.REMOVE if open_lines else None),
            SHOWN if open_lines else HIDDEN,
            SHOWN if c.status in campaigns.EDITABLE_STATUSES and report.can_manage else HIDDEN,
            *[p_errors.get(name) for name in PLACEMENT_FIELDS], *[e_errors.get(name) for name in CAMPAIGN_FIELDS])


def _as_of(window):
    """Pacing as of the period's last day when that is in the past (today otherwise)."""
    return window.last if not window.whole_flight and window.last < date.today() else None


def sync_url(preset, start, end):
    return range_query(preset, start, end)


def load_forms(campaign_id):
    """The placement form's shows and the edit form's current values (staff who manage only)."""
    if campaign_id is None:
        raise PreventUpdate
    try:
        db, tenant_ctx = current_db(), current_context()
        choices = placements.placement_options(db, tenant_ctx)
        detail = campaigns.get_campaign(db, tenant_ctx, campaign_id)
        sponsor_choices = [{"label": s.name, "value": s.id} for s in sponsors.list_sponsors(db, tenant_ctx)
                           if not s.archived or s.id == detail.sponsor_id]
    except ServiceError:
        return ([], [], *[no_update] * len(CAMPAIGN_FIELDS))
    values = detail.as_dict()
    return ([{"label": title, "value": pid} for pid, title in choices["podcasts"]], sponsor_choices,
            *[values[name] if name in ("sponsor_id", "objective", "pricing") else form_value(values[name])
              for name in CAMPAIGN_FIELDS])


def episode_choices(podcast_id):
    if not podcast_id:
        return []
    try:
        rows = podcasts.list_episodes(current_db(), current_context(), int(podcast_id))
    except ServiceError:
        return []
    return [{"label": f"{r['title']} ({r['published_at']:%Y-%m-%d})" if r["published_at"] else r["title"],
             "value": r["id"]} for r in rows[:300]]


def download_csv(_clicks, campaign_id):
    if not _clicked() or campaign_id is None:
        raise PreventUpdate
    view = ctx.triggered_id["view"]
    try:
        db, tenant_ctx = current_db(), current_context()
        if view == "reach":
            frame = delivery.reach(db, tenant_ctx, campaign_id)
        elif view == "history":
            frame = pd.DataFrame([{"at": h.at.isoformat(), "who": h.who, "from": h.from_status, "to": h.to_status}
                                  for h in campaigns.status_history(db, tenant_ctx, campaign_id)],
                                 columns=["at", "who", "from", "to"])
        else:
            frame = delivery.delivery_by(db, tenant_ctx, campaign_id, view)
    except ServiceError:
        raise PreventUpdate from None
    return dcc.send_data_frame(frame.to_csv, f"campaign_{campaign_id}_{view}.csv", index=False)


def attribution_view(campaign_id, model, _recompute, preset=None, start=None, end=None):
    """The Attribution section: stored results under the chosen model; Recompute (staff) enqueues the job first."""
    if campaign_id is None:
        raise PreventUpdate
    db, message = current_db(), None
    blank = (None, None, None, None, None, charts.empty_figure(""), None, None, None, HIDDEN)
    try:
        tenant_ctx = current_context()
        if ctx.triggered_id == CampaignAttribution.RECOMPUTE and _clicked():
            attribution.check_recompute(db, tenant_ctx, campaign_id)
            handle = enqueue_campaign(tenant_ctx.tenant_id, campaign_id)
            message = (kpi.message("Recompute failed: " + (handle.error or ""), "error") if handle.status == "failed"
                       else kpi.message("Attribution is being recomputed.", "info"))
        window = campaign_window(db, tenant_ctx, campaign_id, preset, start, end)
        days = {} if window.whole_flight else {"first": window.first, "last": window.last}
        result = attribution.attribution_report(db, tenant_ctx, campaign_id, model or None,
                                                also=("episode", "placement"), **days)
        by_episode, by_placement = result.extra["episode"], result.extra["placement"]
    except ServiceError as exc:
        return (kpi.message(exc.message), *blank[1:])
    label = attribution.model_label(result.model, result.summary)
    return (message, computed_line(result.summary["computed_at"], result.status, result.error),
            attribution_kpis(result.summary), usable_ip_panel(result.summary), lift_panel(result.summary["lift"]),
            lag_figure(result.lag, label), group_table(result.rows, {"podcast": "Show"}),
            group_table(by_placement, {"placement": "Placement"}),
            group_table(by_episode.head(TOP_EPISODES), {"episode": "Episode", "podcast": "Show"}),
            SHOWN if result.can_recompute else HIDDEN)


def download_attribution_csv(_clicks, campaign_id, model):
    if not _clicked() or campaign_id is None:
        raise PreventUpdate
    view = ctx.triggered_id["view"]
    try:
        result = attribution.attribution_report(current_db(), current_context(), campaign_id, model or None,
                                                "podcast" if view == "lag" else view)
    except ServiceError:
        raise PreventUpdate from None
    frame = result.lag if view == "lag" else result.rows
    return dcc.send_data_frame(frame.to_csv, f"campaign_{campaign_id}_attribution_{result.model}_{view}.csv",
                               index=False)


def register(app: Dash) -> None:
    P, E = CampaignPage.PLACEMENT_FIELD, CampaignPage.EDIT_FIELD
    period = (Input(CampaignPage.RANGE, "value"), Input(CampaignPage.DATES, "start_date"),
              Input(CampaignPage.DATES, "end_date"))
    app.callback(Output(CampaignPage.DATES_BOX, "style"), Output(CampaignPage.DATES, "start_date"),
                 Output(CampaignPage.DATES, "end_date"), Input(CampaignPage.RANGE, "value"),
                 State(CampaignPage.DATES, "start_date"), State(CampaignPage.DATES, "end_date"))(custom_dates)
    app.callback(Output(CampaignPage.URL, "search"), *period)(sync_url)
    app.callback(
        Output(CampaignPage.HEADER, "children"), Output(CampaignPage.STATUS, "children"),
        Output(CampaignPage.MESSAGE, "children"), Output(CampaignPage.KPIS, "children"),
        Output(CampaignPage.PACING, "children"), Output(CampaignPage.CHART, "figure"),
        Output(CampaignPage.BY_SHOW, "children"), Output(CampaignPage.BY_EPISODE, "children"),
        Output(CampaignPage.REACH, "children"), Output(CampaignPage.HISTORY, "children"),
        Output(CampaignPage.PLACEMENTS, "children"), Output(CampaignPage.PLACEMENT_BOX, "style"),
        Output(CampaignPage.EDIT_BOX, "style"),
        [Output(CampaignPage.PLACEMENT_ERROR + name, "children") for name in PLACEMENT_FIELDS],
        [Output(CampaignPage.EDIT_ERROR + name, "children") for name in CAMPAIGN_FIELDS],
        Input(CampaignPage.ID, "data"), Input({"type": CampaignPage.MOVE, "status": ALL}, "n_clicks"),
        Input({"type": CampaignPage.REMOVE, "index": ALL}, "n_clicks"),
        Input(CampaignPage.ADD_PLACEMENT, "n_clicks"), Input(CampaignPage.SAVE, "n_clicks"), *period,
        *[State(P + name, value_prop(name)) for name in PLACEMENT_FIELDS],
        *[State(E + name, value_prop(name)) for name in CAMPAIGN_FIELDS],
    )(campaign_view)
    app.callback(Output(P + "podcast_id", "options"), Output(E + "sponsor_id", "options"),
                 [Output(E + name, value_prop(name)) for name in CAMPAIGN_FIELDS], Input(CampaignPage.ID, "data"))(load_forms)
    app.callback(Output(P + "episode_id", "options"), Input(P + "podcast_id", "value"))(episode_choices)
    app.callback(Output(CampaignPage.DOWNLOAD, "data"), Input({"type": CampaignPage.CSV, "view": ALL}, "n_clicks"),
                 State(CampaignPage.ID, "data"), prevent_initial_call=True)(download_csv)
    A = CampaignAttribution
    app.callback(Output(A.MESSAGE, "children"), Output(A.COMPUTED, "children"), Output(A.KPIS, "children"),
                 Output(A.USABLE_IP, "children"), Output(A.LIFT, "children"), Output(A.LAG_CHART, "figure"),
                 Output(A.BY_SHOW, "children"), Output(A.BY_PLACEMENT, "children"), Output(A.BY_EPISODE, "children"),
                 Output(A.RECOMPUTE, "style"),
                 Input(CampaignPage.ID, "data"), Input(A.MODEL, "value"), Input(A.RECOMPUTE, "n_clicks"),
                 *period)(attribution_view)
    app.callback(Output(A.DOWNLOAD, "data"), Input({"type": A.CSV, "view": ALL}, "n_clicks"),
                 State(CampaignPage.ID, "data"), State(A.MODEL, "value"), prevent_initial_call=True)(
        download_attribution_csv)
