"""Audit log page: list the filtered entries, the filter's choices, and the CSV of exactly what is listed."""
from __future__ import annotations

from dash import Dash, Input, Output, State, dcc, html, no_update

from api.auth import current_context
from api.state import current_db
from components import kpi
from components.ids import Audit
from components.tables import simple_table
from services import audit
from services.errors import ServiceError

SHOWN = 500  # rows on the page; the CSV has up to audit.MAX_ROWS


def _filters(family, who, start, end) -> dict:
    return {"family": family or None, "who": who or None, "start": start, "end": end}


def show_entries(family, who, start, end):
    """(table, count line, message, family options) for the filters."""
    db = current_db()
    try:
        ctx = current_context()
        frame = audit.entries(db, ctx, limit=SHOWN, **_filters(family, who, start, end))
        options = [{"label": f, "value": f} for f in audit.families(db, ctx)]
    except ServiceError as exc:
        return None, None, kpi.message(exc.message), []
    rows = [[when.strftime("%Y-%m-%d %H:%M:%S"), who_, action, f"{entity} {entity_id}" if entity_id else entity,
             html.Code(detail) if detail != "{}" else ""]
            for when, who_, action, entity, entity_id, detail in frame.itertuples(index=False)]
    count = f"{len(rows)} entries" + (f" (the newest {SHOWN}; the CSV has more)" if len(rows) == SHOWN else "")
    table = simple_table(["When (UTC)", "Who", "Action", "On", "Detail"], rows, "No entries match these filters.")
    return table, count, None, options


def download_csv(n_clicks, family, who, start, end):
    """The CSV of the filtered entries (up to audit.MAX_ROWS); nothing for a role that may not see them (the list
    beside the button already says why)."""
    if not n_clicks:
        return no_update
    try:
        frame = audit.entries(current_db(), current_context(), limit=audit.MAX_ROWS,
                              **_filters(family, who, start, end))
    except ServiceError:
        return no_update
    return dcc.send_data_frame(frame.to_csv, "audit_log.csv", index=False)


def register(app: Dash) -> None:
    app.callback(Output(Audit.TABLE, "children"), Output(Audit.COUNT, "children"), Output(Audit.MESSAGE, "children"),
                 Output(Audit.FAMILY, "options"),
                 Input(Audit.FAMILY, "value"), Input(Audit.WHO, "value"), Input(Audit.START, "value"),
                 Input(Audit.END, "value"))(show_entries)
    app.callback(Output(Audit.DOWNLOAD, "data"), Input(Audit.CSV, "n_clicks"), State(Audit.FAMILY, "value"), State(Audit.WHO, "value"),
                 State(Audit.START, "value"), State(Audit.END, "value"),
                 prevent_initial_call=True)(download_csv)
