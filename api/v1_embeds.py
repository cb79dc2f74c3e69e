"""REST API /api/v1/embeds: share a chart as a signed iframe link (write scope), list the tenant's embeds (read),
revoke one (write; DELETE answers 204 and the link stops at once). Bodies are api/schemas/embeds.py's models."""
from __future__ import annotations

import logging

import pydantic
from flask import Blueprint, request

from api.schemas.embeds import EmbedCreate, EmbedCreated, EmbedList, EmbedOut
from api.state import app_state, current_db
from api.v1 import api_context, not_allowed_response, not_found_response, require_key, service_error_response
from services.embeds import store
from services.errors import ServiceError, ValidationError

logger = logging.getLogger(__name__)

bp = Blueprint("api_v1_embeds", __name__, url_prefix="/api/v1")
bp.register_error_handler(ServiceError, service_error_response)
bp.register_error_handler(404, not_found_response)
bp.register_error_handler(405, not_allowed_response)


def embed_url(token: str) -> str:
    return f"{app_state().settings.public_base_url}/embed/{token}"


def _field(loc) -> str:
    name = ""
    for part in loc:
        name += f"[{part}]" if isinstance(part, int) else (f".{part}" if name else str(part))
    return name.replace("from_", "from") or "body"


def _parse(model: type[pydantic.BaseModel]):
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise ValidationError("the request body must be a JSON object", {"body": "a JSON object"})
    try:
        return model.model_validate(body)
    except pydantic.ValidationError as exc:
        fields = {_field(err["loc"]): err["msg"] for err in exc.errors()}
        raise ValidationError("bad request body: " + ", ".join(fields), fields) from None


def _out(info: store.EmbedInfo) -> dict:
    url = embed_url(store.embed_token(info.id, app_state().settings.embed_keys))
    return EmbedOut(**{k: v for k, v in vars(info).items() if k in EmbedOut.model_fields}, state=info.state(),
                    url=url).model_dump(mode="json")


@bp.post("/embeds")
@require_key("write")
def create_embed_route():
    body = _parse(EmbedCreate)
    data = body.model_dump(by_alias=True, exclude_none=True)
    data["filters"] = body.filters.model_dump(mode="json", by_alias=True, exclude_none=True)
    info = store.create_embed(current_db(), api_context(), data)
    token = store.embed_token(info.id, app_state().settings.embed_keys)
    created = EmbedCreated(id=info.id, url=embed_url(token), token=token)
    return created.model_dump(), 201, {"Location": f"/api/v1/embeds/{info.id}"}


@bp.get("/embeds")
@require_key("read")
def list_embeds_route():
    rows = store.list_embeds(current_db(), api_context())
    return EmbedList(data=[_out(row) for row in rows]).model_dump(mode="json")


@bp.delete("/embeds/<int:embed_id>")
@require_key("write")
def revoke_embed_route(embed_id: int):
    store.revoke_embed(current_db(), api_context(), embed_id)
    return "", 204
