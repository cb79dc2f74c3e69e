"""Bodies of /api/v1/embeds: the create request, what create answers, and the listed embed."""
from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, PositiveInt

from api.schemas.common import Page

Chart = Literal["downloads_timeline", "top_episodes", "top_apps", "top_countries", "world_map", "episode_launch",
                "campaign_delivery", "campaign_attribution"]
Period = Literal["last_7_days", "last_30_days", "last_90_days", "last_12_months", "all_time", "fixed"]


class EmbedFilters(BaseModel):
    """Locked when the embed is made: a preset period moves with the calendar; "fixed" needs from and to."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    period: Period | None = None
    from_: date | None = Field(default=None, alias="from")
    to: date | None = None
    podcast: PositiveInt | None = None
    episode: PositiveInt | None = None
    campaign: PositiveInt | None = None
    granularity: Literal["hour", "day", "week", "month"] | None = None
    compare: Literal["none", "previous", "year"] | None = None


class EmbedCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    chart: Chart
    filters: EmbedFilters = Field(default_factory=EmbedFilters)
    theme: Literal["light", "dark"] = "light"
    title: str = Field(default="", max_length=200)
    expires_at: AwareDatetime | None = None
    allowed_origins: list[str] = Field(default_factory=list, max_length=20)


class EmbedCreated(BaseModel):
    id: int
    url: str
    token: str


class EmbedOut(BaseModel):
    id: int
    chart: Chart
    filters: dict
    theme: Literal["light", "dark"]
    title: str
    expires_at: datetime | None
    allowed_origins: list[str]
    revoked_at: datetime | None
    views: int
    last_viewed_at: datetime | None
    created_at: datetime
    state: Literal["active", "expired", "revoked"]
    sponsor_id: int | None
    url: str


class EmbedList(Page):
    data: list[EmbedOut]
