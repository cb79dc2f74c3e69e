"""REST API /api/v1 for conversion inputs: `POST /sponsors/<id>/conversions` (server to server, write scope)."""
from __future__ import annotations

import logging

from flask import Blueprint, jsonify, request

from api.state import current_db
from api.v1 import api_context, not_allowed_response, not_found_response, problem, require_key, service_error_response
from services.errors import ServiceError
from services.sponsorship.attribution import inputs

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
    result = inputs.record_conversions(current_db(), api_context(), sponsor_id, body["events"])
    if result.errors:
        return problem(422, "ValidationError", f"{len(result.errors)} problem(s) in the events; the valid events "
                       f"were stored", **result.as_dict())
    return jsonify(result.as_dict())
