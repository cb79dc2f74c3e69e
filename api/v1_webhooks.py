"""REST API /api/v1/webhooks: a tenant's webhook endpoints (create answers the secret once; lists never show it)
and each endpoint's delivery log. Reads need the read scope, changes the write scope."""
from __future__ import annotations

import logging

from flask import Blueprint, jsonify

from api.state import app_state, current_db
from api.schemas.common import PageQuery, paginate
from api.schemas.webhooks import DeliveryList, WebhookCreated, WebhookIn, WebhookList
from api.spec import operation
from api.v1 import api_context, not_allowed_response, not_found_response, service_error_response
from services.errors import ServiceError
from services.notify.webhooks import deliveries, endpoints

logger = logging.getLogger(__name__)

bp = Blueprint("api_v1_webhooks", __name__, url_prefix="/api/v1")
bp.register_error_handler(ServiceError, service_error_response)
bp.register_error_handler(404, not_found_response)
bp.register_error_handler(405, not_allowed_response)


@operation(bp, "POST", "/webhooks", summary="Add a webhook endpoint (answers its signing secret once)",
           tags="webhooks", scope="write", body=WebhookIn, responses={201: WebhookCreated})
def create_webhook_route(body: dict):
    allow_private = app_state().settings.webhook_allow_private
    row, secret = endpoints.create_endpoint(current_db(), api_context(), body, allow_private)
    response = jsonify({"id": row.id, "secret": secret, **row.as_dict()})
    response.status_code = 201
    response.headers["Location"] = f"/api/v1/webhooks/{row.id}"
    return response


@operation(bp, "GET", "/webhooks", summary="The tenant's webhook endpoints (never their secrets)", tags="webhooks",
           query=PageQuery, responses={200: WebhookList})
def list_webhooks_route(query: PageQuery):
    return jsonify(paginate([row.as_dict() for row in endpoints.list_endpoints(current_db(), api_context())], query))


@operation(bp, "GET", "/webhooks/<int:endpoint_id>/deliveries", summary="An endpoint's delivery log",
           tags="webhooks", query=PageQuery, responses={200: DeliveryList},
           resource=lambda db, ctx, endpoint_id: endpoints.get_endpoint(db, ctx, endpoint_id))
def list_deliveries_route(endpoint_id: int, query: PageQuery):
    rows = deliveries.list_deliveries(current_db(), api_context(), endpoint_id)
    return jsonify(paginate([row.as_dict() for row in rows], query))


@operation(bp, "DELETE", "/webhooks/<int:endpoint_id>", summary="Remove a webhook endpoint", tags="webhooks",
           scope="write", responses={204: None})
def delete_webhook_route(endpoint_id: int):
    endpoints.delete_endpoint(current_db(), api_context(), endpoint_id)
    return "", 204
