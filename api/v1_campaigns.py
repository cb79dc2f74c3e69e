"""REST API /api/v1 for sponsors, campaigns, placements and delivery: a sibling of api.v1's blueprint, with its
key authentication and problem documents (422 names each bad field; a forbidden status move is 409)."""
from __future__ import annotations

import logging

from flask import Blueprint, Response, jsonify, request

from api.v1 import jsonable, not_allowed_response, not_found_response, service_error_response, api_context, require_key
from api.state import current_db
from jobs.campaigns import refresh_campaign_delivery
from jobs.queues import enqueue
from services.sponsorship import campaigns, delivery, pacing, placements, sponsors
from services.errors import ServiceError, ValidationError

logger = logging.getLogger(__name__)

bp = Blueprint("api_v1_campaigns", __name__, url_prefix="/api/v1")
bp.register_error_handler(ServiceError, service_error_response)
bp.register_error_handler(404, not_found_response)
bp.register_error_handler(405, not_allowed_response)


def _body() -> dict:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise ValidationError("the request body must be a JSON object", {"body": "a JSON object"})
    return body


def _record(data: dict) -> dict:
    return {key: jsonable(value) for key, value in data.items()}


def _created(data: dict, location: str):
    response = jsonify(data)
    response.status_code = 201
    response.headers["Location"] = location
    return response


@bp.get("/sponsors")
@require_key("read")
def list_sponsors_route():
    return jsonify(data=[row.as_dict() for row in sponsors.list_sponsors(current_db(), api_context())])


@bp.get("/sponsors/<int:sponsor_id>")
@require_key("read")
def get_sponsor_route(sponsor_id: int):
    return jsonify(sponsors.get_sponsor(current_db(), api_context(), sponsor_id).as_dict())


@bp.post("/sponsors")
@require_key("write")
def create_sponsor_route():
    row = sponsors.create_sponsor(current_db(), api_context(), _body())
    return _created(row.as_dict(), f"/api/v1/sponsors/{row.id}")


@bp.get("/campaigns")
@require_key("read")
def list_campaigns_route():
    return jsonify(data=[c.as_dict() for c in campaigns.list_campaign_details(current_db(), api_context())])


@bp.post("/campaigns")
@require_key("write")
def create_campaign_route():
    detail = campaigns.create_campaign(current_db(), api_context(), _body())
    return _created(detail.as_dict(), f"/api/v1/campaigns/{detail.id}")


@bp.get("/campaigns/<int:campaign_id>")
@require_key("read")
def get_campaign_route(campaign_id: int):
    ctx, db = api_context(), current_db()
    detail = campaigns.get_campaign(db, ctx, campaign_id).as_dict()
    detail["placements"] = [p.as_dict() for p in placements.list_placements(db, ctx, campaign_id)]
    detail["status_history"] = [{"at": h.at.isoformat(), "who": h.who, "from": h.from_status, "to": h.to_status}
                                for h in campaigns.status_history(db, ctx, campaign_id)]
    return jsonify(detail)


@bp.patch("/campaigns/<int:campaign_id>")
@require_key("write")
def update_campaign_route(campaign_id: int):
    ctx, body = api_context(), _body()
    detail = campaigns.update_campaign(current_db(), ctx, campaign_id, body)
    if "target_countries" in body:  # dynamically inserted ads count only in the targets: measure again
        enqueue(refresh_campaign_delivery, ctx.tenant_id, campaign_id, queue="measure")
    return jsonify(detail.as_dict())


@bp.post("/campaigns/<int:campaign_id>/placements")
@require_key("write")
def create_placement_route(campaign_id: int):
    ctx = api_context()
    row = placements.create_placement(current_db(), ctx, campaign_id, _body())
    enqueue(refresh_campaign_delivery, ctx.tenant_id, campaign_id, queue="measure")
    return _created(row.as_dict(), f"/api/v1/campaigns/{campaign_id}")


@bp.get("/campaigns/<int:campaign_id>/delivery")
@require_key("read")
def delivery_route(campaign_id: int):
    ctx, db = api_context(), current_db()
    first = delivery.parse_day(request.args.get("from"), "from")
    last = delivery.parse_day(request.args.get("to"), "to")
    group_by = request.args.get("group_by", "day")
    fmt = request.args.get("format", "json")
    if fmt not in ("json", "csv"):
        raise ValidationError("format must be json or csv", {"format": "json or csv"})
    frame = delivery.delivery_by(db, ctx, campaign_id, group_by, first, last)
    if fmt == "csv":
        return Response(frame.to_csv(index=False), mimetype="text/csv", headers={
            "Content-Disposition": f"attachment; filename=campaign_{campaign_id}_delivery_by_{group_by}.csv"})
    return jsonify(data=[_record(r) for r in frame.to_dict("records")], group_by=group_by,
                   summary=pacing.pacing(db, ctx, campaign_id).as_dict())
