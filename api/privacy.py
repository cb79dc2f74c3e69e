"""The tenant export's download: /exports/tenant/<token>, for a logged-in owner or admin of that tenant while the
link is young (24 hours); a plain page says why otherwise."""
from __future__ import annotations

from flask import Blueprint, Flask, render_template_string, send_file

from api.auth import current_context
from api.state import app_state
from services import privacy
from services.errors import ServiceError

bp = Blueprint("privacy", __name__)

PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Export · Podcast Analytics</title>
<link rel="stylesheet" href="/assets/style.css"></head><body><main class="login-card"><h1>Export</h1>
<p role="alert">{{ message }}</p><p><a href="/settings/privacy">Back to export and deletion</a></p></main></body></html>"""


@bp.get("/exports/tenant/<token>")
def download_export(token: str):
    try:
        path = privacy.open_export(app_state().settings, current_context(), token)
    except ServiceError as exc:
        return render_template_string(PAGE, message=exc.message), exc.status
    return send_file(path, mimetype="application/zip", as_attachment=True, download_name=path.name, max_age=0)


def init_privacy(server: Flask) -> None:
    server.register_blueprint(bp)
