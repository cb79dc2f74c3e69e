"""Log import callbacks: start an import job from an upload; poll its progress; list recent imports."""
from __future__ import annotations

from pathlib import Path

from dash import Dash, Input, Output, State, html
from dash.exceptions import PreventUpdate

from api.auth import current_context
from api.state import app_state, current_db
from components import kpi
from components.ids import Logs
from components.tables import simple_table
from jobs.imports import import_log_file
from jobs.queues import enqueue, job_status
from services.errors import ServiceError
from services.measurement import log_import
from services.measurement.uploads import store_upload
from services.tenancy import require_role


def start_import(clicks, contents, filename, fmt, host):
    """Save the upload and queue the import; the job id goes to the store the poller watches."""
    if not clicks:
        raise PreventUpdate
    try:
        ctx = current_context()
        require_role(ctx, "editor")
        settings = app_state().settings
        path = store_upload(Path(settings.instance_path) / "uploads", filename, contents)
        handle = enqueue(import_log_file, ctx.tenant_id, ctx.user_id, str(path), fmt, (host or "").strip() or None,
                         filename, queue="imports", settings=settings)
    except ServiceError as exc:
        return {"error": exc.message}
    return {"job": handle.id}


def _imports_table(ctx):
    rows = [[r.filename, r.format, r.status, r.lines_total, r.lines_imported, r.lines_rejected,
             f"{r.created_at:%Y-%m-%d %H:%M}", r.message or ""] for r in log_import.list_imports(current_db(), ctx)]
    return simple_table(["File", "Format", "Status", "Lines", "Stored", "Bad lines", "When", "Note"], rows,
                        "No logs imported yet.")


def _summary(result: dict):
    if result.get("already_imported"):
        return kpi.message(f"{result['filename']} was imported before: nothing was counted twice.", "info")
    lines = [f"{result['filename']}: {result['lines']} lines, {result['imported']} requests stored, "
             f"{result['unmatched']} matched no episode, {result['rejected']} bad lines"
             + (f"; the days it covers now count {result['downloads']} downloads."
                if result.get("downloads") is not None else ".")]
    errors = [html.Li(f"line {e['line']}: {e['reason']}") for e in result.get("errors", [])]
    return html.Div([html.P(lines), html.Ul(errors) if errors else None], className="message message-info")


def poll_import(_n, data):
    """Returns (progress, status, interval disabled, imports table)."""
    try:
        ctx = current_context()
        table = _imports_table(ctx)
        if not data:
            return 0, None, True, table
        if "error" in data:
            return 0, kpi.message(data["error"]), True, table
        handle = job_status(data["job"], app_state().settings)
        if handle is None or handle.meta.get("tenant_id", ctx.tenant_id) != ctx.tenant_id:
            return 0, kpi.message("That import is not known here."), True, table
        if handle.status == "failed":
            return 0, kpi.message(f"The import failed: {handle.error or 'see the list below'}"), True, table
        if handle.status == "finished":
            return 1, _summary(handle.result), True, table
        return handle.progress or 0, html.Div(handle.meta.get("message") or "queued", className="muted"), False, table
    except ServiceError as exc:
        return 0, kpi.message(exc.message), True, None


def register(app: Dash) -> None:
    app.callback(Output(Logs.JOB, "data"), Input(Logs.IMPORT, "n_clicks"), State(Logs.UPLOAD, "contents"),
                 State(Logs.UPLOAD, "filename"), State(Logs.FORMAT, "value"), State(Logs.HOST, "value"))(start_import)
    app.callback(Output(Logs.PROGRESS, "value"), Output(Logs.STATUS, "children"), Output(Logs.POLL, "disabled"),
                 Output(Logs.TABLE, "children"), Input(Logs.POLL, "n_intervals"), Input(Logs.JOB, "data"))(poll_import)
