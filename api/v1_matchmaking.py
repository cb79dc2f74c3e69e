"""REST API /api/v1 for matchmaking: a campaign's recommended shows and a show's recommended sponsors (tenant keys;
another tenant's ids are 404). Sponsor users see no matchmaking; the service answers NotFound for them."""
from __future__ import annotations

from flask import Blueprint, jsonify

from api.state import current_db
from api.schemas.matchmaking import CampaignRecommendations, SponsorRecommendations
from api.spec import operation
from api.v1 import api_context, not_allowed_response, not_found_response, service_error_response
from services.errors import ServiceError
from services.sponsorship import matchmaking

bp = Blueprint("api_v1_matchmaking", __name__, url_prefix="/api/v1")
bp.register_error_handler(ServiceError, service_error_response)
bp.register_error_handler(404, not_found_response)
bp.register_error_handler(405, not_allowed_response)


@operation(bp, "GET", "/campaigns/<int:campaign_id>/recommendations", summary="Shows ranked for a campaign",
           tags="matchmaking", responses={200: CampaignRecommendations})
def campaign_recommendations_route(campaign_id: int):
    result = matchmaking.campaign_recommendations(current_db(), api_context(), campaign_id)
    computed = result.computed_at.isoformat() if result.computed_at else None
    return jsonify(data=matchmaking.as_api_rows(result.rows, "podcast_id"), weights=result.weights,
                   computed_at=computed)


@operation(bp, "GET", "/podcasts/<int:podcast_id>/sponsor-recommendations", summary="Sponsors ranked for a show",
           tags="matchmaking", responses={200: SponsorRecommendations})
def sponsor_recommendations_route(podcast_id: int):
    rows = matchmaking.sponsor_recommendations(current_db(), api_context(), podcast_id)
    return jsonify(data=matchmaking.as_api_rows(rows, "sponsor_id"))
