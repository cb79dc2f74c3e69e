"""REST API /api/v1 for forecasts: a show's daily downloads for the coming days and an episode's launch curve, each
with its 80% interval; a sibling of api.v1's blueprint, with its key authentication and problem documents."""
from __future__ import annotations

import logging

from flask import Blueprint, jsonify

from api.state import current_db
from api.schemas.insights import Forecast, ForecastQuery
from api.spec import operation
from api.v1 import api_context, jsonable, not_allowed_response, not_found_response, service_error_response
from services.errors import ServiceError
from services.insights import forecast_store

logger = logging.getLogger(__name__)

bp = Blueprint("api_v1_insights_forecasts", __name__, url_prefix="/api/v1")
bp.register_error_handler(ServiceError, service_error_response)
bp.register_error_handler(404, not_found_response)
bp.register_error_handler(405, not_allowed_response)


def _records(frame) -> list[dict]:
    return [{key: jsonable(value) for key, value in row.items()} for row in frame.to_dict("records")]


@operation(bp, "GET", "/podcasts/<int:podcast_id>/forecast", summary="A show's daily downloads for the coming days",
           tags="insights", query=ForecastQuery, responses={200: Forecast}, invalid_status=400)
def podcast_forecast_route(podcast_id: int, query: ForecastQuery):
    """`days` (1..91, default 56) days from today: {"data": [{"day", "downloads", "lower", "upper"}]}, 80% interval."""
    frame = forecast_store.podcast_forecast(current_db(), api_context(), podcast_id, query.days)
    return jsonify(data=_records(frame), interval=0.8)


@operation(bp, "GET", "/episodes/<int:episode_id>/forecast", summary="An episode's launch curve, observed then "
           "forecast", tags="insights", responses={200: Forecast})
def episode_forecast_route(episode_id: int):
    """Cumulative downloads by day since release (day 1..90): observed days as counted, later days forecast."""
    frame = forecast_store.episode_forecast(current_db(), api_context(), episode_id)
    return jsonify(data=_records(frame), interval=0.8)
