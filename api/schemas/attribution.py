"""Models of the attribution operations: server-to-server conversions in, a campaign's attribution out."""
from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from api.schemas.common import FormatQuery
from services.models.attribution import CREDIT_MODELS
from services.sponsorship.attribution.inputs import MAX_BATCH

CreditModel = Literal[CREDIT_MODELS]  # type: ignore[valid-type]


class ConversionsIn(BaseModel):
    """Each event is checked on its own (event_id, type, occurred_at, ip or household, value...); the valid events of
    a mixed batch are stored and the refused ones listed in the 422 answer."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"events": [
        {"event_id": "order-1001", "type": "purchase", "occurred_at": "2026-03-01T12:00:00Z", "ip": "203.0.113.7",
         "value": 49.5, "currency": "USD"}]}]})

    events: list[dict[str, Any]] = Field(max_length=MAX_BATCH)


class EventError(BaseModel):
    index: int
    field: str
    message: str


class ConversionsResult(BaseModel):
    accepted: int
    duplicates: int
    errors: list[EventError]


class AttributionQuery(FormatQuery):
    model: CreditModel | None = Field(None, description="credit model (default: the campaign's own)")
    group_by: Literal["podcast", "placement", "episode", "day"] = "podcast"


class Attribution(BaseModel):
    data: list[dict[str, Any]] = Field(description="conversions, credit and revenue per group")
    model: str
    group_by: str
    summary: dict[str, Any] = Field(description="conversions, revenue, spend, CPA, ROAS and lift of the campaign")
