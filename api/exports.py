"""CSV exports streamed from the dashboards' services: /api/v1/exports/<name>.csv with the dashboard's own query
string (range, from, to, compare, podcast). Authenticated by the session (the dashboards' links) or by an API key
with the read scope, like /api/v1."""
from __future__ import annotations

import logging
from itertools import chain

from flask import Blueprint, Response, request, stream_with_context

from api.auth import current_context
from api.state import current_db
from api.v1 import service_error_response
from api.schemas.common import Id, Query
from api.spec import operation
from pydantic import ConfigDict, Field
from services import api_keys
from services.dashboards import exports
from services.dashboards.periods import ViewState
from services.errors import PermissionDenied, ServiceError, ValidationError
from services.tenancy import TenantContext

logger = logging.getLogger(__name__)

bp = Blueprint("api_exports", __name__, url_prefix="/api/v1/exports")

EXPORTS = {"episodes": exports.episode_grid_csv, "episode-days": exports.episode_days_csv}


def request_context() -> TenantContext:
    header = request.headers.get("Authorization", "")
    if header.lower().startswith("bearer "):
        ctx, _key = api_keys.authenticate_api_key(current_db(), header[7:].strip())
        if "read" not in ctx.scopes:
            raise PermissionDenied("this key lacks the 'read' scope")
        return ctx
    return current_context()


bp.register_error_handler(ServiceError, service_error_response)


class ExportQuery(Query):
    model_config = ConfigDict(extra="allow")

    range: str | None = Field(None, max_length=20, description="the dashboards' period, e.g. 7d, 30d, 90d, all")
    podcast: Id | None = None


@operation(bp, "GET", "/<name>.csv", summary="A dashboard grid as CSV (episodes, or episodes by day)",
           tags="downloads", query=ExportQuery, responses={200: None}, csv=True, self_authenticated=True,
           path_schemas={"name": {"type": "string", "enum": list(EXPORTS)}})
def export_csv(name: str, query: ExportQuery):
    """Streamed; also answers a logged-in session (the dashboards' download links)."""
    build = EXPORTS.get(name)
    if build is None:
        raise ValidationError(f"no export {name!r}; one of {', '.join(EXPORTS)}", {"name": "unknown export"})
    state = ViewState.from_query(request.args.to_dict())
    chunks = build(current_db(), request_context(), state)
    first = next(chunks)  # access checks and the query run before the response starts
    filename = f"{name}{'_' + str(state.podcast) if state.podcast else ''}_{state.range}.csv"
    return Response(stream_with_context(chain([first], chunks)), mimetype="text/csv",
                    headers={"Content-Disposition": f"attachment; filename={filename}"})
