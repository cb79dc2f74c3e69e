"""REST API /api/v1 for attribution: conversion inputs (`POST /sponsors/<id>/conversions`, server to server, write
scope) and results (`GET /campaigns/<id>/attribution`, read scope)."""
from __future__ import annotations

import logging

from flask import Blueprint, Response, jsonify, request

from api.state import current_db
from api.v1 import api_context, jsonable, not_allowed_response, not_found_response, problem, require_key, service_error_response
from jobs.attribution import conversions_arrived
from services.errors import ServiceError, ValidationError
from services.sponsorship.attribution import inputs, report

logger = logging.getLogger(__name__)

bp = Blueprint("api_v1_attribution", __name__, url_prefix="/api/v1")
bp.register_error_handler(ServiceError, service_error_response)
bp.register_error_handler(404, not_found_response)
bp.register_error_handler(405, not_allowed_response)


@bp.post("/sponsors/<int:sponsor_id>/conversions")
@require_key("write")
def post_conversions(sponsor_id: int):
    """200 when every event was taken (new or a duplicate), 422 when any was refused; the valid events of a mixed
    batch are stored either way."""
    body = request.get_json(silent=True)
    if body is None:
        return problem(400, "BadRequest", "the request body is not JSON (Content-Type: application/json)",
                       errors={"body": "not JSON"})
    if not isinstance(body, dict) or "events" not in body:
        return problem(422, "ValidationError", 'the body must be {"events": [...]}',
                       errors={"events": "required: a list of event objects"})
    ctx = api_context()
    result = inputs.record_conversions(current_db(), ctx, sponsor_id, body["events"])
    if result.accepted:
        conversions_arrived(ctx.tenant_id, sponsor_id)
    if result.errors:
        return problem(422, "ValidationError", f"{len(result.errors)} problem(s) in the events; the valid events "
                       f"were stored", **result.as_dict())
    return jsonify(result.as_dict())


@bp.get("/campaigns/<int:campaign_id>/attribution")
@require_key("read")
def campaign_attribution(campaign_id: int):
    """The campaign's stored attribution under one model, grouped by show, placement, episode or day."""
    model = request.args.get("model") or None
    group_by = request.args.get("group_by", "podcast")
    fmt = request.args.get("format", "json")
    if fmt not in ("json", "csv"):
        raise ValidationError("format must be json or csv", {"format": "json or csv"})
    result = report.attribution_report(current_db(), api_context(), campaign_id, model, group_by)
    if fmt == "csv":
        return Response(result.rows.to_csv(index=False), mimetype="text/csv", headers={
            "Content-Disposition": f"attachment; filename=campaign_{campaign_id}_attribution_{result.model}_by_"
                                   f"{group_by}.csv"})
    rows = [{key: jsonable(value) for key, value in row.items()} for row in result.rows.to_dict("records")]
    return jsonify(data=rows, model=result.model, group_by=group_by, summary=result.summary)
