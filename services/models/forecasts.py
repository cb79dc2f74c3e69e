"""Stored forecasts: one row per show or episode, replaced whole by the forecasting job after each count; pages and
the API read them (services.insights.forecast_store). Carries the forced tenant policy of migration 0002."""
from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, BigInteger, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from services.models.base import Base, utcnow

FORECAST_KINDS = ("podcast", "episode")


class Forecast(Base):
    """A show's daily downloads after `as_of`, or an episode's cumulative downloads by day since release; `points`
    is a list of services.insights.forecasts.ForecastPoint dicts."""

    __tablename__ = "forecasts"

    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), primary_key=True)
    kind: Mapped[str] = mapped_column(String(8), primary_key=True)  # FORECAST_KINDS
    subject_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)  # the podcast's or the episode's id
    as_of: Mapped[date]  # the last complete UTC day the forecast has seen
    computed_at: Mapped[datetime] = mapped_column(default=utcnow)
    points: Mapped[list] = mapped_column(JSON, default=list)
