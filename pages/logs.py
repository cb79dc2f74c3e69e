"""Log import: upload a server or CDN access log; a job imports and counts it while a progress bar shows how far."""
from dash import dcc, html, register_page

from components.ids import Logs

register_page(__name__, path="/logs", name="Log import", title="Log import · Podcast Analytics", order=20)

FORMATS = [{"label": "nginx / Apache combined", "value": "combined"}, {"label": "CloudFront", "value": "cloudfront"},
           {"label": "CSV", "value": "csv"}]


def layout(**_kwargs):
    return html.Div([
        html.Div(html.H1("Log import"), className="page-header"),
        html.P(["Upload an access log from your host or CDN. Lines map to episodes by their enclosure URL; bad lines "
                "are listed with their line numbers; importing the same file again counts nothing twice. CSV "
                "columns: ", html.Code("timestamp, ip, user_agent, referer, method, url, status, bytes, range"),
                ". For very large files use ", html.Code("flask --app app import-logs"), "."], className="muted"),
        dcc.Upload(html.Div(["Drop a log file here or ", html.A("choose one")]), id=Logs.UPLOAD,
                   className="upload-box", max_size=200 * 1024 * 1024),
        html.Div([
            dcc.Dropdown(FORMATS, "combined", id=Logs.FORMAT, clearable=False, className="format-select"),
            dcc.Input(id=Logs.HOST, placeholder="media host, if the log has none", className="text-input"),
            html.Button("Import", id=Logs.IMPORT, className="primary-button"),
        ], className="form-row"),
        dcc.Store(id=Logs.JOB),
        dcc.Interval(id=Logs.POLL, interval=700, disabled=True),
        html.Progress(id=Logs.PROGRESS, max=1, value=0, className="progress"),
        html.Div(id=Logs.STATUS),
        html.H2("Recent imports"),
        dcc.Loading(html.Div(id=Logs.TABLE)),
    ])
