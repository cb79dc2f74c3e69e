"""Models of the sponsor, campaign, placement and delivery operations. Bodies list each field the service reads;
the service checks the values (dates, money, flights) and names every bad field."""
from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from api.schemas.common import Day, FormatQuery, Page

Text = str | None
Number = float | str | None  # 1500, 1500.50 or "1500.50"
Whole = int | str | None
TextList = list[str] | str | None  # a list, or one comma-separated string


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SponsorIn(Body):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"name": "Acme Mattresses", "industry": "retail", "website": "https://acme.example",
         "contact_email": "ads@acme.example"}]})

    name: str = Field(max_length=200)
    industry: Text = Field(None, max_length=100)
    website: Text = Field(None, max_length=2000, pattern=r"^(https?://\S+)?\s*$",
                          description="an http:// or https:// address")
    contact_name: Text = Field(None, max_length=200)
    contact_email: Text = Field(None, max_length=320)


class Sponsor(BaseModel):
    id: int
    name: str
    industry: str | None
    website: str | None
    contact_name: str | None
    contact_email: str | None
    archived: bool
    campaigns: int
    pixel_key: str = Field(description="what the sponsor's site puts in /px.gif?k=")


class SponsorList(Page):
    data: list[Sponsor]


class CampaignFields(Body):
    objective: Text = Field(None, description="awareness, consideration or conversion")
    budget: Number = None
    pricing: Text = Field(None, description="cpm (default) or flat")
    cpm: Number = None
    flat_fee: Number = None
    goal_impressions: Whole = None
    target_categories: TextList = None
    target_countries: TextList = Field(None, description="two-letter country codes")
    excluded_categories: TextList = None
    landing_url: Text = None
    promo_code: Text = None
    lookback_days: Whole = None
    attribution_model: Text = None
    exclude_prior_customers: bool | str | list[Any] | None = None
    decay_half_life_days: Number = None
    markov_order: Whole = None


class CampaignIn(CampaignFields):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"sponsor_id": 1, "name": "Spring sale", "start_date": "2026-04-01", "end_date": "2026-04-30",
         "pricing": "cpm", "cpm": 25, "goal_impressions": 100000}]})

    sponsor_id: int | str
    name: str
    start_date: str
    end_date: str


class CampaignChange(CampaignFields):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"status": "booked"}, {"cpm": 22.5}]})

    sponsor_id: int | str | None = None
    name: Text = None
    start_date: Text = None
    end_date: Text = None
    status: Text = Field(None, description="moves the campaign along its workflow (a forbidden move is 409)")


class Campaign(BaseModel):
    id: int
    sponsor_id: int
    sponsor: str
    name: str
    objective: str | None
    status: str
    start_date: str
    end_date: str
    budget: float | None
    pricing: str
    cpm: float | None
    flat_fee: float | None
    goal_impressions: int | None
    target_categories: list[str]
    target_countries: list[str]
    excluded_categories: list[str]
    landing_url: str | None
    promo_code: str | None
    lookback_days: int
    attribution_model: str
    exclude_prior_customers: bool
    decay_half_life_days: float
    markov_order: int


class CampaignList(Page):
    data: list[Campaign]


class PlacementIn(Body):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"podcast_id": 1, "position": "mid", "read_type": "host_read", "price": 500}]})

    podcast_id: int | str
    episode_id: Whole = None
    position: Text = Field(None, description="pre, mid or post")
    read_type: Text = None
    price: Number = None
    start_date: Text = Field(None, description="default: the campaign's flight")
    end_date: Text = None
    insertion: Text = Field(None, description="dynamic (default: counted only in the campaign's target countries) "
                                               "or baked (baked into the audio: every download)")


class Placement(BaseModel):
    id: int
    campaign_id: int
    podcast_id: int
    podcast: str
    episode_id: int | None
    episode: str | None
    position: str
    read_type: str
    price: float | None
    start_date: str
    end_date: str
    insertion: str = "dynamic"
    conflicts: list[str]


class StatusChange(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    at: str
    who: str | None
    from_: str | None = Field(alias="from")
    to: str


class CampaignDetail(Campaign):
    placements: list[Placement]
    status_history: list[StatusChange]


class DeliveryQuery(FormatQuery):
    from_: Day | None = Field(None, alias="from")
    to: Day | None = None
    group_by: Literal["day", "podcast", "episode", "country"] = "day"


class Pacing(BaseModel):
    model_config = ConfigDict(extra="allow")

    as_of: str
    goal: int | None
    delivered: int
    expected: float
    pace: float | None
    forecast: float
    shortfall: int
    under_delivery: bool
    reach: int
    frequency: float
    spend: float


class Delivery(BaseModel):
    data: list[dict[str, Any]] = Field(description="impressions (and listeners per day) by the chosen group")
    group_by: str
    summary: Pacing
