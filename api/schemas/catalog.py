"""Models of the key, catalog and downloads operations: /me, /podcasts, /episodes, /downloads."""
from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from api.schemas.common import Day, FormatQuery, Id, Page, PageQuery


class TenantRef(BaseModel):
    id: int
    slug: str
    name: str


class KeyRef(BaseModel):
    id: int
    name: str
    prefix: str
    sponsor_id: int | None = Field(None, description="set on a sponsor-scoped key")


class Me(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [
        {"tenant": {"id": 1, "slug": "demo", "name": "Demo Network"}, "scopes": ["read"],
         "key": {"id": 3, "name": "reporting", "prefix": "pk_AbCdEfG", "sponsor_id": None}}]})

    tenant: TenantRef
    scopes: list[str]
    key: KeyRef


class Podcast(BaseModel):
    id: int
    title: str
    feed_url: str | None
    episodes: int = Field(description="how many episodes the show has")
    prefix_url: str = Field(description="the tracking prefix to put before the enclosure URLs")


class PodcastList(Page):
    data: list[Podcast]


class EpisodeQuery(PageQuery):
    podcast: Id | None = Field(None, description="only this show's episodes")


class Episode(BaseModel):
    id: int
    guid: str | None
    title: str | None
    podcast_id: int
    published_at: str | None
    enclosure_url: str | None
    duration_seconds: int | None


class EpisodeList(Page):
    data: list[Episode]


class DownloadsQuery(FormatQuery):
    from_: Day | None = Field(None, alias="from", description="first day (default: 29 days before `to`)")
    to: Day | None = Field(None, description="last day, inclusive (default: today)")
    group_by: Literal["day", "hour", "episode", "app", "device", "country"] = "day"
    podcast: Id | None = None
    episode: Id | None = None


class DownloadsRow(BaseModel):
    model_config = ConfigDict(extra="allow", json_schema_extra={
        "description": "the group key (day, hour, episode_id, app, device or country) with counts"})

    downloads: int
    listeners: int


class Downloads(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    data: list[DownloadsRow]
    from_: str = Field(alias="from")
    to: str
