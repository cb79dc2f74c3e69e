"""Models of the webhook endpoint operations."""
from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from api.schemas.common import Page


class WebhookIn(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"url": "https://hooks.example.com/podcast", "events": ["campaign.created"], "description": "CRM"}]})

    url: str = Field(max_length=2000, description="https:// address that receives the signed events")
    events: list[str] | None = Field(None, description="'noun.verb' event types; empty or ['*'] means every event")
    description: str | None = None


class Webhook(BaseModel):
    id: int
    url: str
    description: str | None
    events: list[str]
    enabled: bool
    disabled_reason: str | None
    failing_since: str | None
    created_at: str | None
    rotating_until: str | None


class WebhookCreated(Webhook):
    secret: str = Field(description="the signing secret, shown this once")


class WebhookList(Page):
    data: list[Webhook]


class Delivery(BaseModel):
    model_config = ConfigDict(extra="allow")

    id: int
    endpoint_id: int
    event_id: int | None
    event_type: str
    status: str
    attempts: int


class DeliveryList(Page):
    data: list[Delivery]
