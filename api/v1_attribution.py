"""REST API /api/v1 for attribution: conversion inputs (`POST /sponsors/<id>/conversions`, server to server, write
scope) and results (`GET /campaigns/<id>/attribution`, read scope)."""
from __future__ import annotations

import logging

from flask import Blueprint, Response, jsonify

from api.state import current_db
from api.schemas.attribution import Attribution, AttributionQuery, ConversionsIn, ConversionsResult
from api.spec import operation
from api.v1_campaigns import visible_campaign, visible_sponsor
from api.v1 import api_context, jsonable, not_allowed_response, not_found_response, problem, service_error_response
from jobs.attribution import conversions_arrived
from services.errors import ServiceError
from services.sponsorship.attribution import inputs, report

logger = logging.getLogger(__name__)

bp = Blueprint("api_v1_attribution", __name__, url_prefix="/api/v1")
bp.register_error_handler(ServiceError, service_error_response)
bp.register_error_handler(404, not_found_response)
bp.register_error_handler(405, not_allowed_response)


@operation(bp, "POST", "/sponsors/<int:sponsor_id>/conversions", summary="Record conversions server to server",
           tags="attribution", scope="write", body=ConversionsIn, responses={200: ConversionsResult},
           resource=visible_sponsor)
def post_conversions(sponsor_id: int, body: dict):
    """200 when every event was taken (new or a duplicate), 422 when any was refused; the valid events of a mixed
    batch are stored either way. Event ids make a retry count once."""
    ctx = api_context()
    result = inputs.record_conversions(current_db(), ctx, sponsor_id, body["events"])
    if result.accepted:
        conversions_arrived(ctx.tenant_id, sponsor_id)
    if result.errors:
        return problem(422, "ValidationError", f"{len(result.errors)} problem(s) in the events; the valid events "
                       f"were stored", **result.as_dict())
    return jsonify(result.as_dict())


@operation(bp, "GET", "/campaigns/<int:campaign_id>/attribution", summary="A campaign's attributed conversions "
           "under one credit model", tags="attribution", query=AttributionQuery, responses={200: Attribution},
           sponsor=True, csv=True, resource=visible_campaign)
def campaign_attribution(campaign_id: int, query: AttributionQuery):
    """The campaign's stored attribution under one model, grouped by show, placement, episode or day."""
    group_by = query.group_by
    result = report.attribution_report(current_db(), api_context(), campaign_id, query.model, group_by)
    if query.format == "csv":
        return Response(result.rows.to_csv(index=False), mimetype="text/csv", headers={
            "Content-Disposition": f"attachment; filename=campaign_{campaign_id}_attribution_{result.model}_by_"
                                   f"{group_by}.csv"})
    rows = [{key: jsonable(value) for key, value in row.items()} for row in result.rows.to_dict("records")]
    return jsonify(data=rows, model=result.model, group_by=group_by, summary=result.summary)
