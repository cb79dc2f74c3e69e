"""Declarative base and column types shared by every model."""
from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import BigInteger, DateTime, Integer, MetaData
from sqlalchemy.orm import DeclarativeBase

# SQLite only auto-increments INTEGER PRIMARY KEY columns; PostgreSQL gets BIGINT identities.
BigId = BigInteger().with_variant(Integer, "sqlite")

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {datetime: DateTime(timezone=True)}


# Relational tables whose rows belong to one tenant; on PostgreSQL each carries a forced row-level security policy.
# (Time-series tables are isolated by security-barrier views instead: see services/models/measurement.py.)
TENANT_OWNED_TABLES = (
    "tenants",
    "memberships",
    "sponsors",
    "podcasts",
    "episodes",
    "campaigns",
    "placements",
    "api_keys",
    "audit_log",
    "log_imports",
    "counting_state",
    "campaign_metrics",
    "campaign_reach",
    "tracking_links",
    "attribution_event_ids",
    "attribution_rejections",
    "domain_events",
    "event_handlings",
    "alert_rules",
    "alert_evaluations",
    "pacing_notices",
    "campaign_recommendations",
    "matchmaking_weights",
    "webhook_endpoints",
    "webhook_deliveries",
    "notifications",
    "notification_preferences",
    "email_log",
    "forecasts",
    "anomalies",
    "insight_summaries",
    "counting_days",
    "report_subscriptions",
    "report_runs",
    "embeds",
    "account_tokens",
)
