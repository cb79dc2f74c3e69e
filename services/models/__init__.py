"""The product's relational and time-series models, one module per domain."""
from services.models.accounts import DEDUPE_WINDOWS, ROLES, ApiKey, AuditLog, Membership, Tenant, User
from services.models.base import TENANT_OWNED_TABLES, Base
from services.models.campaigns import CAMPAIGN_STATUSES, Campaign, Placement, Sponsor
from services.models.catalog import Episode, Podcast
from services.models.metrics import Download, EpisodeDailyMetric, PodcastDailyMetric

__all__ = [
    "Base", "TENANT_OWNED_TABLES", "ROLES", "DEDUPE_WINDOWS", "CAMPAIGN_STATUSES",
    "Tenant", "User", "Membership", "ApiKey", "AuditLog",
    "Podcast", "Episode", "Sponsor", "Campaign", "Placement",
    "Download", "PodcastDailyMetric", "EpisodeDailyMetric",
]
