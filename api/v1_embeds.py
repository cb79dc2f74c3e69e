"""REST API /api/v1/embeds: share a chart as a signed iframe link (write scope), list the tenant's embeds (read),
revoke one (write; DELETE answers 204 and the link stops at once). Bodies are api/schemas/embeds.py's models."""
from __future__ import annotations

import logging

from flask import Blueprint

from api.schemas.common import PageQuery, paginate
from api.schemas.embeds import EmbedCreate, EmbedCreated, EmbedList, EmbedOut
from api.spec import operation
from api.state import app_state, current_db
from api.v1 import api_context, not_allowed_response, not_found_response, service_error_response
from services.sharing import store
from services.errors import ServiceError

logger = logging.getLogger(__name__)

bp = Blueprint("api_v1_embeds", __name__, url_prefix="/api/v1")
bp.register_error_handler(ServiceError, service_error_response)
bp.register_error_handler(404, not_found_response)
bp.register_error_handler(405, not_allowed_response)


def embed_url(token: str) -> str:
    return f"{app_state().settings.public_base_url}/embed/{token}"


def _out(info: store.EmbedInfo) -> dict:
    url = embed_url(store.embed_token(info.id, app_state().settings.embed_keys))
    return EmbedOut(**{k: v for k, v in vars(info).items() if k in EmbedOut.model_fields}, state=info.state(),
                    url=url).model_dump(mode="json")


@operation(bp, "POST", "/embeds", summary="Share a chart as a signed iframe link", tags="embeds", scope="write",
           body=EmbedCreate, responses={201: EmbedCreated})
def create_embed_route(body: dict):
    model = EmbedCreate.model_validate(body)
    data = model.model_dump(by_alias=True, exclude_none=True)
    data["filters"] = model.filters.model_dump(mode="json", by_alias=True, exclude_none=True)
    info = store.create_embed(current_db(), api_context(), data)
    token = store.embed_token(info.id, app_state().settings.embed_keys)
    created = EmbedCreated(id=info.id, url=embed_url(token), token=token)
    return created.model_dump(), 201, {"Location": f"/api/v1/embeds/{info.id}"}


@operation(bp, "GET", "/embeds", summary="The tenant's embeds, with their state and views", tags="embeds",
           query=PageQuery, responses={200: EmbedList})
def list_embeds_route(query: PageQuery):
    rows = store.list_embeds(current_db(), api_context())
    return paginate([_out(row) for row in rows], query)


@operation(bp, "DELETE", "/embeds/<int:embed_id>", summary="Revoke an embed: its link answers 410 at once",
           tags="embeds", scope="write", responses={204: None})
def revoke_embed_route(embed_id: int):
    store.revoke_embed(current_db(), api_context(), embed_id)
    return "", 204
