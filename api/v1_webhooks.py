"""REST API /api/v1/webhooks: a tenant's webhook endpoints (create answers the secret once; lists never show it)
and each endpoint's delivery log. Reads need the read scope, changes the write scope."""
from __future__ import annotations

import logging

from flask import Blueprint, jsonify, request

from api.state import app_state, current_db
from api.v1 import api_context, not_allowed_response, not_found_response, require_key, service_error_response
from services.errors import ServiceError, ValidationError
from services.notify.webhooks import deliveries, endpoints

logger = logging.getLogger(__name__)

bp = Blueprint("api_v1_webhooks", __name__, url_prefix="/api/v1")
bp.register_error_handler(ServiceError, service_error_response)
bp.register_error_handler(404, not_found_response)
bp.register_error_handler(405, not_allowed_response)


def _body() -> dict:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise ValidationError("the request body must be a JSON object", {"body": "a JSON object"})
    return body


@bp.post("/webhooks")
@require_key("write")
def create_webhook_route():
    allow_private = app_state().settings.webhook_allow_private
    row, secret = endpoints.create_endpoint(current_db(), api_context(), _body(), allow_private)
    response = jsonify({"id": row.id, "secret": secret, **row.as_dict()})
    response.status_code = 201
    response.headers["Location"] = f"/api/v1/webhooks/{row.id}"
    return response


@bp.get("/webhooks")
@require_key("read")
def list_webhooks_route():
    return jsonify(data=[row.as_dict() for row in endpoints.list_endpoints(current_db(), api_context())])


@bp.get("/webhooks/<int:endpoint_id>/deliveries")
@require_key("read")
def list_deliveries_route(endpoint_id: int):
    rows = deliveries.list_deliveries(current_db(), api_context(), endpoint_id)
    return jsonify(data=[row.as_dict() for row in rows])


@bp.delete("/webhooks/<int:endpoint_id>")
@require_key("write")
def delete_webhook_route(endpoint_id: int):
    endpoints.delete_endpoint(current_db(), api_context(), endpoint_id)
    return "", 204
