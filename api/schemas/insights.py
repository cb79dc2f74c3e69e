"""Models of the insights operations: written summaries, anomalies and forecasts."""
from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic import ValidationError as PydanticCoreError

from api.schemas.common import Day, Id, Query
from services.insights.forecasts import SHOW_HORIZON


class PeriodQuery(Query):
    from_: Day | None = Field(None, alias="from", description="first day; give both from and to, or neither")
    to: Day | None = None


class SummaryQuery(PeriodQuery):
    scope: Literal["network", "podcast", "campaign"] = "network"
    id: Id | None = Field(None, description="the show or campaign the summary is about")


class Summary(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    text: str
    writer: str = Field(description="template or llm")
    facts: list[dict[str, Any]]
    from_: str = Field(alias="from")
    to: str


class AnomalyQuery(PeriodQuery):
    podcast: Id | None = None


class Anomaly(BaseModel):
    day: str
    podcast_id: int | None
    podcast: str | None
    dimension: str
    value: float | None
    expected: float | None
    kind: str
    cause: str | None = None


class Anomalies(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    data: list[Anomaly]
    from_: str = Field(alias="from")
    to: str


class ForecastQuery(Query):
    days: int = Field(56, ge=1, le=SHOW_HORIZON, description=f"days ahead, 1 to {SHOW_HORIZON}")

    @field_validator("days", mode="wrap")
    @classmethod
    def _whole_days(cls, value, handler):
        try:
            return handler(value)
        except PydanticCoreError:
            raise ValueError(f"a whole number from 1 to {SHOW_HORIZON}") from None


class Forecast(BaseModel):
    data: list[dict[str, Any]] = Field(description="per day: downloads (or cumulative downloads), lower, upper")
    interval: float
