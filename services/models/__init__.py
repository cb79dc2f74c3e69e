"""The product's relational and time-series models, one module per domain."""
from services.models.accounts import (
    DEDUPE_WINDOWS, ROLES, AccountToken, ApiKey, AuditLog, Membership, MfaRecoveryCode, Tenant, User,
    UserIdentity,
)
from services.models.alerts import (
    ALERT_CHANNELS,
    ALERT_CONDITIONS,
    ALERT_METRICS,
    ALERT_STATES,
    AlertEvaluation,
    AlertRule,
    PacingNotice,
)
from services.models.attribution import (
    EVENT_SOURCES,
    EVENT_TYPES,
    AttributionEvent,
    AttributionEventId,
    AttributionRejection,
    HouseholdSecret,
    TrackingLink,
)
from services.models.base import TENANT_OWNED_TABLES, Base
from services.models.campaigns import (
    ATTRIBUTION_MODELS,
    CAMPAIGN_STATUSES,
    POSITIONS,
    PRICING,
    READ_TYPES,
    INSERTIONS,
    Campaign,
    CampaignMetric,
    CampaignReach,
    Placement,
    Sponsor,
)
from services.models.catalog import Episode, Podcast
from services.models.embeds import EMBED_CHARTS, EMBED_THEMES, Embed
from services.models.events import DomainEvent, EventHandling
from services.models.matchmaking import CampaignRecommendation, MatchmakingWeights
from services.models.forecasts import FORECAST_KINDS, Forecast
from services.models.insights import NETWORK, Anomaly, InsightSummary
from services.models.measurement import (
    FIRST_EPISODE_DAY, FIRST_PODCAST_DAY, FIRST_PODCAST_HOUR, ROLLUPS, TIME_SERIES_TABLES, CountingDay, CountingState, Download, DownloadRequest, EpisodeAppDailyMetric, EpisodeDailyMetric,
    EpisodeDeviceDailyMetric, EpisodeGeoDailyMetric, HashSecret, LogImport,
    PodcastAppDailyMetric, PodcastDailyMetric, PodcastDeviceDailyMetric, PodcastGeoDailyMetric, PodcastHourlyMetric,
    PodcastReferrerDailyMetric,
)
from services.models.notify import CHANNELS, EMAIL_STATUSES, EmailMessage, Notification, NotificationPreference
from services.models.reports import REPORT_FREQUENCIES, REPORT_KINDS, RUN_STATUSES, ReportRun, ReportSubscription
from services.models.webhooks import DELIVERY_STATUSES, WebhookDelivery, WebhookEndpoint

__all__ = [
    "Base", "TENANT_OWNED_TABLES", "TIME_SERIES_TABLES", "ROLLUPS", "ROLES", "DEDUPE_WINDOWS", "CAMPAIGN_STATUSES",
    "Tenant", "User", "Membership", "ApiKey", "AuditLog", "AccountToken", "MfaRecoveryCode", "UserIdentity",
    "Podcast", "Episode", "Sponsor", "Campaign", "Placement", "CampaignMetric", "CampaignReach",
    "PRICING", "POSITIONS", "READ_TYPES", "INSERTIONS",
    "DownloadRequest", "Download", "PodcastHourlyMetric", "PodcastDailyMetric", "EpisodeDailyMetric",
    "PodcastAppDailyMetric", "PodcastDeviceDailyMetric", "PodcastGeoDailyMetric", "PodcastReferrerDailyMetric",
    "EpisodeAppDailyMetric", "EpisodeDeviceDailyMetric", "EpisodeGeoDailyMetric",
    "LogImport", "HashSecret", "CountingState", "FIRST_PODCAST_DAY", "FIRST_EPISODE_DAY", "FIRST_PODCAST_HOUR",
    "ATTRIBUTION_MODELS", "EVENT_SOURCES", "EVENT_TYPES", "TrackingLink", "HouseholdSecret", "AttributionEventId",
    "AttributionEvent", "AttributionRejection", "DomainEvent", "EventHandling",
    "ALERT_METRICS", "ALERT_CONDITIONS", "ALERT_STATES", "ALERT_CHANNELS", "AlertRule", "AlertEvaluation", "PacingNotice",
    "CampaignRecommendation", "MatchmakingWeights",
    "WebhookEndpoint", "WebhookDelivery", "DELIVERY_STATUSES",
    "CHANNELS", "EMAIL_STATUSES", "Notification", "NotificationPreference", "EmailMessage",
    "AttributionEvent", "AttributionRejection", "Forecast", "FORECAST_KINDS",
    "AttributionEvent", "AttributionRejection",
    "NETWORK", "Anomaly", "InsightSummary", "CountingDay",
    "REPORT_KINDS", "REPORT_FREQUENCIES", "RUN_STATUSES", "ReportSubscription", "ReportRun",
    "Embed", "EMBED_CHARTS", "EMBED_THEMES",
]
