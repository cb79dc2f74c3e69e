"""Builders for the email reports page: its ids, the subscription form, the subscriptions table, the run history and
the preview frame."""
from __future__ import annotations

from dash import dcc, html

from components.forms import field, form_grid
from components.tables import simple_table
from services.notify.reports.schedule import WEEKDAYS

FIELDS = ("kind", "target_id", "frequency", "day", "hour")
NEW_VALUES = ["network", None, "weekly", 1, 8]  # in FIELDS order
STATUS_LABELS = {"queued": "Queued", "sending": "Sending", "retrying": "Retrying", "sent": "Sent",
                 "written": "Written to the outbox", "failed": "Failed"}


class Reports:
    URL = "reports-url"
    FIELD = "reports-field-"  # + field name
    ERROR = "reports-error-"  # + field name
    SAVE = "reports-save"
    CANCEL = "reports-cancel"
    EDITING = "reports-editing"  # store: the subscription id being edited, or None for a new one
    FORM_TITLE = "reports-form-title"
    MESSAGE = "reports-message"
    TABLE = "reports-table"
    HISTORY = "reports-history"
    PREVIEW = "reports-preview"  # iframe: the email's HTML
    PREVIEW_MESSAGE = "reports-preview-message"
    # pattern-matching buttons: {"type": ..., "index": subscription id}
    EDIT = "reports-edit"
    DELETE = "reports-delete"
    SHOW_PREVIEW = "reports-show-preview"


def options(choices) -> list[dict]:
    return [{"label": label, "value": value} for value, label in choices]


def day_options(frequency: str | None) -> list[dict]:
    if frequency == "monthly":
        return [{"label": f"Day {d}" + (" (or the month's last day)" if d > 28 else ""), "value": d}
                for d in range(1, 32)]
    return [{"label": name, "value": n} for n, name in enumerate(WEEKDAYS, start=1)]


def hour_options() -> list[dict]:
    return [{"label": f"{h:02d}:00", "value": h} for h in range(24)]


def subscription_form() -> html.Div:
    f, e = Reports.FIELD, Reports.ERROR
    return form_grid([
        field("Report", dcc.Dropdown(id=f + "kind", options=[], value="network", clearable=False), e + "kind"),
        field("Of", dcc.Dropdown(id=f + "target_id", options=[], placeholder="Show or campaign"), e + "target_id",
              "for a show or campaign report"),
        field("How often", dcc.RadioItems(id=f + "frequency", value="weekly", inline=True,
                                          options=[{"label": " weekly ", "value": "weekly"},
                                                   {"label": " monthly", "value": "monthly"}]), e + "frequency"),
        field("On", dcc.Dropdown(id=f + "day", options=day_options("weekly"), value=1, clearable=False), e + "day"),
        field("At", dcc.Dropdown(id=f + "hour", options=hour_options(), value=8, clearable=False), e + "hour",
              "in the network's time zone"),
    ])


def subscriptions_table(rows) -> html.Table | html.P:
    def buttons(row):
        return html.Div([
            html.Button("Preview", id={"type": Reports.SHOW_PREVIEW, "index": row.id}, className="link-button"),
            html.Button("Edit", id={"type": Reports.EDIT, "index": row.id}, className="link-button"),
            html.Button("Delete", id={"type": Reports.DELETE, "index": row.id}, className="link-button"),
        ], className="button-row")

    return simple_table(["Report", "Schedule", ""], [[row.title, row.schedule, buttons(row)] for row in rows],
                        empty="You are not subscribed to any report yet.")


def history_table(runs, titles: dict[int, str]) -> html.Div:
    rows = [[titles.get(r.subscription_id, ""), f"{r.period_start:%d %b %Y} – {r.period_end:%d %b %Y}",
             STATUS_LABELS.get(r.status, r.status), r.attempts, r.to_address or "",
             r.finished_at.strftime("%Y-%m-%d %H:%M") if r.finished_at else "",
             html.Span(r.error or "", className="field-error" if r.error else "")] for r in runs]
    return html.Div([html.H2("Sent reports"),
                     simple_table(["Report", "Period", "Status", "Attempts", "To", "Finished (UTC)", "Error"], rows,
                                  empty="No report has been sent yet.")])


def preview_frame(subject: str | None = None, page: str | None = None) -> html.Div:
    if page is None:
        return html.Div()
    return html.Div([html.H2("Preview"), html.P(["Subject: ", html.Strong(subject)]),
                     html.Iframe(srcDoc=page, id=Reports.PREVIEW + "-frame", title="Report preview",
                                 style={"width": "100%", "height": "1100px", "border": "1px solid #e5e7eb"})])
