"""REST API /api/v1 for sponsors, campaigns, placements and delivery: a sibling of api.v1's blueprint, with its
key authentication and problem documents (422 names each bad field; a forbidden status move is 409)."""
from __future__ import annotations

import logging

from flask import Blueprint, Response, jsonify

from api.schemas.campaigns import (Campaign, CampaignChange, CampaignDetail, CampaignIn, CampaignList, Delivery,
                                   DeliveryQuery, Placement, PlacementIn, Sponsor, SponsorIn, SponsorList)
from api.schemas.common import PageQuery, paginate
from api.spec import operation
from api.v1 import jsonable, not_allowed_response, not_found_response, service_error_response, api_context
from api.state import current_db
from jobs.campaigns import refresh_campaign_delivery
from jobs.queues import enqueue
from services.sponsorship import campaigns, delivery, pacing, placements, sponsors
from services.errors import NotFound, ServiceError

logger = logging.getLogger(__name__)

bp = Blueprint("api_v1_campaigns", __name__, url_prefix="/api/v1")
bp.register_error_handler(ServiceError, service_error_response)
bp.register_error_handler(404, not_found_response)
bp.register_error_handler(405, not_allowed_response)


def _record(data: dict) -> dict:
    return {key: jsonable(value) for key, value in data.items()}


def _created(data: dict, location: str):
    response = jsonify(data)
    response.status_code = 201
    response.headers["Location"] = location
    return response


def visible_campaign(db, ctx, campaign_id: int) -> None:
    campaigns.get_campaign(db, ctx, campaign_id)


def visible_sponsor(db, ctx, sponsor_id: int):
    if ctx.is_sponsor and sponsor_id != ctx.sponsor_id:
        raise NotFound(f"no sponsor {sponsor_id}")
    return sponsors.get_sponsor(db, ctx, sponsor_id)


@operation(bp, "GET", "/sponsors", summary="The tenant's sponsors (a sponsor key: its own)", tags="sponsors",
           query=PageQuery, responses={200: SponsorList}, sponsor=True)
def list_sponsors_route(query: PageQuery):
    ctx = api_context()
    rows = [row.as_dict() for row in sponsors.list_sponsors(current_db(), ctx)
            if not ctx.is_sponsor or row.id == ctx.sponsor_id]
    return jsonify(paginate(rows, query))


@operation(bp, "GET", "/sponsors/<int:sponsor_id>", summary="One sponsor", tags="sponsors",
           responses={200: Sponsor}, sponsor=True)
def get_sponsor_route(sponsor_id: int):
    return jsonify(visible_sponsor(current_db(), api_context(), sponsor_id).as_dict())


@operation(bp, "POST", "/sponsors", summary="Create a sponsor", tags="sponsors", scope="write", body=SponsorIn,
           responses={201: Sponsor}, extra_errors=(409,))
def create_sponsor_route(body: dict):
    row = sponsors.create_sponsor(current_db(), api_context(), body)
    return _created(row.as_dict(), f"/api/v1/sponsors/{row.id}")


@operation(bp, "GET", "/campaigns", summary="Campaigns (a sponsor key: its sponsor's)", tags="campaigns",
           query=PageQuery, responses={200: CampaignList}, sponsor=True)
def list_campaigns_route(query: PageQuery):
    return jsonify(paginate([c.as_dict() for c in campaigns.list_campaign_details(current_db(), api_context())],
                            query))


@operation(bp, "POST", "/campaigns", summary="Create a campaign (it starts the campaign workflow)",
           tags="campaigns", scope="write", body=CampaignIn, responses={201: Campaign}, extra_errors=(409,))
def create_campaign_route(body: dict):
    detail = campaigns.create_campaign(current_db(), api_context(), body)
    return _created(detail.as_dict(), f"/api/v1/campaigns/{detail.id}")


@operation(bp, "GET", "/campaigns/<int:campaign_id>", summary="One campaign with its placements and status history",
           tags="campaigns", responses={200: CampaignDetail}, sponsor=True)
def get_campaign_route(campaign_id: int):
    ctx, db = api_context(), current_db()
    detail = campaigns.get_campaign(db, ctx, campaign_id).as_dict()
    detail["placements"] = [p.as_dict() for p in placements.list_placements(db, ctx, campaign_id)]
    detail["status_history"] = [{"at": h.at.isoformat(), "who": h.who, "from": h.from_status, "to": h.to_status}
                                for h in campaigns.status_history(db, ctx, campaign_id)]
    return jsonify(detail)


@operation(bp, "PATCH", "/campaigns/<int:campaign_id>", summary="Change fields, or move the status",
           tags="campaigns", scope="write", body=CampaignChange, responses={200: Campaign}, extra_errors=(409,),
           resource=visible_campaign)
def update_campaign_route(campaign_id: int, body: dict):
    ctx = api_context()
    detail = campaigns.update_campaign(current_db(), ctx, campaign_id, body)
    if "target_countries" in body:  # dynamically inserted ads count only in the targets: measure again
        enqueue(refresh_campaign_delivery, ctx.tenant_id, campaign_id, queue="measure")
    return jsonify(detail.as_dict())


@operation(bp, "POST", "/campaigns/<int:campaign_id>/placements", summary="Place the campaign on a show or episode",
           tags="campaigns", scope="write", body=PlacementIn, responses={201: Placement}, extra_errors=(409,),
           resource=visible_campaign)
def create_placement_route(campaign_id: int, body: dict):
    ctx = api_context()
    row = placements.create_placement(current_db(), ctx, campaign_id, body)
    enqueue(refresh_campaign_delivery, ctx.tenant_id, campaign_id, queue="measure")
    return _created(row.as_dict(), f"/api/v1/campaigns/{campaign_id}")


@operation(bp, "GET", "/campaigns/<int:campaign_id>/delivery", summary="Impressions by day, show or episode, with "
           "pacing", tags="campaigns", query=DeliveryQuery, responses={200: Delivery}, sponsor=True, csv=True,
           resource=visible_campaign)
def delivery_route(campaign_id: int, query: DeliveryQuery):
    ctx, db = api_context(), current_db()
    first = delivery.parse_day(query.from_, "from")
    last = delivery.parse_day(query.to, "to")
    frame = delivery.delivery_by(db, ctx, campaign_id, query.group_by, first, last)
    if query.format == "csv":
        return Response(frame.to_csv(index=False), mimetype="text/csv", headers={
            "Content-Disposition": f"attachment; filename=campaign_{campaign_id}_delivery_by_{query.group_by}.csv"})
    return jsonify(data=[_record(r) for r in frame.to_dict("records")], group_by=query.group_by,
                   summary=pacing.pacing(db, ctx, campaign_id).as_dict())
