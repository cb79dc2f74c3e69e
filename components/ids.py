"""Component ids, one namespace per page, so two pages never collide."""


class Shell:
    URL = "shell-url"
    TENANT = "shell-tenant"
    USER = "shell-user"
    NAV = "shell-nav"
    BELL = "shell-bell"
    BELL_COUNT = "shell-bell-count"
    BELL_POLL = "shell-bell-poll"


class ApiKeys:
    NAME = "apikeys-name"
    SCOPES = "apikeys-scopes"
    CREATE = "apikeys-create"
    NEW_KEY = "apikeys-new-key"
    MESSAGE = "apikeys-message"
    TABLE = "apikeys-table"
    REVOKE = "apikeys-revoke"  # pattern-matching: {"type": REVOKE, "index": key id}


class Welcome:
    URL = "welcome-url"
    BODY = "welcome-body"


class Methodology:
    BODY = "methodology-body"
    URL = "methodology-url"


class Settings:
    WINDOW = "settings-window"
    TIMEZONE = "settings-timezone"
    SAVE = "settings-save"
    MESSAGE = "settings-message"
    REQUIRE_MFA = "settings-require-mfa"
    MFA_SAVE = "settings-mfa-save"
    MFA_MESSAGE = "settings-mfa-message"


class Podcasts:
    URL = "podcasts-url"
    FEED = "podcasts-feed"
    IMPORT = "podcasts-import"
    MESSAGE = "podcasts-message"
    TABLE = "podcasts-table"


class Logs:
    UPLOAD = "logs-upload"
    FORMAT = "logs-format"
    HOST = "logs-host"
    IMPORT = "logs-import"
    JOB = "logs-job"
    POLL = "logs-poll"
    PROGRESS = "logs-progress"
    STATUS = "logs-status"
    TABLE = "logs-table"


class Sponsors:
    URL = "sponsors-url"
    EDITING = "sponsors-editing"  # store: the sponsor id being edited, or None for a new one
    FIELD = "sponsors-field-"  # + field name
    ERROR = "sponsors-error-"  # + field name
    SAVE = "sponsors-save"
    CANCEL = "sponsors-cancel"
    MESSAGE = "sponsors-message"
    TABLE = "sponsors-table"
    FORM_BOX = "sponsors-form-box"
    EDIT = "sponsors-edit"  # pattern-matching: {"type": EDIT, "index": sponsor id}
    ARCHIVE = "sponsors-archive"  # pattern-matching: {"type": ARCHIVE, "index": sponsor id}
    INVITE_SPONSOR = "sponsors-invite-sponsor"
    INVITE_EMAIL = "sponsors-invite-email"
    INVITE = "sponsors-invite"
    INVITE_RESULT = "sponsors-invite-result"
    INVITE_ERROR = "sponsors-invite-error"
    INVITE_BOX = "sponsors-invite-box"


class Campaigns:
    URL = "campaigns-url"
    FIELD = "campaigns-field-"  # + field name
    ERROR = "campaigns-error-"  # + field name
    CREATE = "campaigns-create"
    MESSAGE = "campaigns-message"
    TABLE = "campaigns-table"
    FORM_BOX = "campaigns-form-box"


class CampaignPage:
    ID = "campaign-id"
    HEADER = "campaign-header"
    STATUS = "campaign-status-buttons"
    MOVE = "campaign-move"  # pattern-matching: {"type": MOVE, "status": target status}
    MESSAGE = "campaign-message"
    KPIS = "campaign-kpis"
    PACING = "campaign-pacing"
    CHART = "campaign-delivery-chart"
    BY_SHOW = "campaign-by-show"
    BY_EPISODE = "campaign-by-episode"
    REACH = "campaign-reach"
    HISTORY = "campaign-history"
    URL = "campaign-url"  # its query string holds the report's period
    RANGE = "campaign-range"  # the period presets (the dashboards' own)
    DATES = "campaign-dates"  # a custom period's date pickers
    DATES_BOX = "campaign-dates-box"
    PLACEMENTS = "campaign-placements"
    REMOVE = "campaign-remove-placement"  # pattern-matching: {"type": REMOVE, "index": placement id}
    PLACEMENT_BOX = "campaign-placement-box"
    PLACEMENT_FIELD = "campaign-placement-field-"  # + field name
    PLACEMENT_ERROR = "campaign-placement-error-"  # + field name
    ADD_PLACEMENT = "campaign-add-placement"
    EDIT_BOX = "campaign-edit-box"
    EDIT_FIELD = "campaign-edit-field-"  # + field name
    EDIT_ERROR = "campaign-edit-error-"  # + field name
    SAVE = "campaign-save"
    CSV = "campaign-csv"  # pattern-matching: {"type": CSV, "view": day | podcast | episode}
    DOWNLOAD = "campaign-download"
    SUMMARY = "campaign-summary"


class CampaignAttribution:
    """The campaign page's Attribution section."""

    MODEL = "campaign-attribution-model"
    RECOMPUTE = "campaign-attribution-recompute"
    MESSAGE = "campaign-attribution-message"
    COMPUTED = "campaign-attribution-computed"
    KPIS = "campaign-attribution-kpis"
    USABLE_IP = "campaign-attribution-usable-ip"
    LIFT = "campaign-attribution-lift"
    LAG_CHART = "campaign-attribution-lag-chart"
    BY_SHOW = "campaign-attribution-by-show"
    BY_PLACEMENT = "campaign-attribution-by-placement"
    BY_EPISODE = "campaign-attribution-by-episode"
    CSV = "campaign-attribution-csv"  # pattern-matching: {"type": CSV, "view": lag | podcast | episode | placement | day}
    DOWNLOAD = "campaign-attribution-download"


class CampaignMatch:
    """The campaign page's Recommendations panel (matchmaking)."""

    BOX = "campaign-match-box"
    MESSAGE = "campaign-match-message"
    COMPUTED = "campaign-match-computed"
    LIST = "campaign-match-list"
    EXCLUDED = "campaign-match-excluded"
    RECOMPUTE = "campaign-match-recompute"
    ADD = "campaign-match-add"  # pattern-matching: {"type": ADD, "index": podcast id}
    WEIGHTS_BOX = "campaign-match-weights-box"
    WEIGHT = "campaign-match-weight-"  # + factor name
    WEIGHT_ERROR = "campaign-match-weight-error-"  # + factor name
    SAVE_WEIGHTS = "campaign-match-save-weights"


class PodcastMatch:
    """The podcast page's Sponsors for this show section (matchmaking)."""

    BOX = "podcast-match-box"
    LIST = "podcast-match-list"
    EXCLUDED = "podcast-match-excluded"


class _Dashboard:
    """Ids of the controls every dashboard page shares (date range, comparison, podcast, granularity), its URL
    and message; each dashboard page subclasses it with its own PREFIX, so two pages never collide."""

    PREFIX = "dashboard"
    NAMES = ("URL", "NAV", "RANGE", "DATES", "DATES_BOX", "COMPARE", "PODCAST", "GRANULARITY", "MESSAGE")

    def __init_subclass__(cls) -> None:
        for name in cls.NAMES:
            setattr(cls, name, f"{cls.PREFIX}-{name.lower()}")

    @classmethod
    def csv_button(cls, chart: str) -> dict:
        """Pattern-matching ids: one "Download CSV" button and its dcc.Download per chart."""
        return {"type": "csv-button", "page": cls.PREFIX, "chart": chart}

    @classmethod
    def csv_download(cls, chart: str) -> dict:
        return {"type": "csv-download", "page": cls.PREFIX, "chart": chart}


class Overview(_Dashboard):
    PREFIX = "overview"
    KPIS = "overview-kpis"
    CHART = "overview-downloads-chart"
    TOP_EPISODES = "overview-top-episodes"
    TOP_APPS = "overview-top-apps"
    TOP_COUNTRIES = "overview-top-countries"
    SUMMARY = "overview-summary"
    ONBOARDING = "overview-onboarding"  # the getting-started checklist, while the network is getting started


class PodcastPage(_Dashboard):
    PREFIX = "podcast"
    SHOW = "podcast-show"  # dcc.Store: the podcast id from the path, in place of the podcast filter
    HEADER = "podcast-header"
    KPIS = "podcast-kpis"
    CHART = "podcast-downloads-chart"
    TOP_EPISODES = "podcast-top-episodes"
    TOP_APPS = "podcast-top-apps"
    TOP_COUNTRIES = "podcast-top-countries"
    FORECAST = "podcast-forecast-chart"
    SUMMARY = "podcast-summary"


class Episodes(_Dashboard):
    PREFIX = "episodes"
    GRID = "episodes-grid"
    SEARCH = "episodes-search"
    EXPORT = "episodes-export"  # the grid's own CSV export of the rows it shows
    STREAM = "episodes-stream-link"


class EpisodePage(_Dashboard):
    PREFIX = "episode"
    HEADER = "episode-header"
    EPISODE = "episode-id"  # dcc.Store with the episode id from the path
    COMPARE_EPISODES = "episode-compare-episodes"
    LAUNCH = "episode-launch-chart"
    APPS = "episode-apps"
    DEVICES = "episode-devices"
    COUNTRIES = "episode-countries"


class Insights(_Dashboard):
    PREFIX = "insights"
    SUMMARY = "insights-summary"
    TABLE = "insights-table"


class Audience(_Dashboard):
    PREFIX = "audience"
    COUNTRY = "audience-country"  # dcc.Store: the country drilled into
    MAP = "audience-map"
    REGIONS = "audience-regions"
    APPS = "audience-apps"
    DEVICES = "audience-devices"
    OS = "audience-os"
    REFERRERS = "audience-referrers"
    HEATMAP = "audience-heatmap"


# --- Attribution inputs: the sponsor's pixel panel (sponsors page), tracking links and promo codes (campaigns page)

class SponsorPixel:
    BOX = "sponsor-pixel-box"
    SPONSOR = "sponsor-pixel-sponsor"  # dropdown: whose pixel
    REFRESH = "sponsor-pixel-refresh"
    BODY = "sponsor-pixel-body"
    SNIPPET = "sponsor-pixel-snippet"
    IMAGE = "sponsor-pixel-image"


class CampaignInputs:
    BOX = "campaign-inputs-box"
    CAMPAIGN = "campaign-inputs-campaign"  # dropdown: which campaign
    LABEL = "campaign-inputs-label"
    LABEL_ERROR = "campaign-inputs-label-error"
    CREATE_LINK = "campaign-inputs-create-link"
    LINK_MESSAGE = "campaign-inputs-link-message"
    LINKS = "campaign-inputs-links"
    UPLOAD = "campaign-inputs-upload"
    UPLOAD_RESULT = "campaign-inputs-upload-result"


class Webhooks:
    URL = "webhooks-url"
    DESCRIPTION = "webhooks-description"
    EVENTS = "webhooks-events"
    CREATE = "webhooks-create"
    MESSAGE = "webhooks-message"
    SECRET = "webhooks-secret"
    TABLE = "webhooks-table"
    SELECTED = "webhooks-selected"  # store: the endpoint whose delivery log shows
    LOG_TITLE = "webhooks-log-title"
    LOG = "webhooks-log"
    LOG_MESSAGE = "webhooks-log-message"
    REFRESH = "webhooks-refresh"
    # pattern-matching: {"type": <one of these>, "index": endpoint id (delivery id for REPLAY)}
    ENABLE = "webhooks-enable"
    DISABLE = "webhooks-disable"
    ROTATE = "webhooks-rotate"
    TEST = "webhooks-test"
    DELETE = "webhooks-delete"
    SHOW = "webhooks-show"
    REPLAY = "webhooks-replay"
class Notifications:
    LIST = "notifications-list"
    MARK_ALL = "notifications-mark-all"
    MARK_ONE = "notifications-mark-one"  # pattern-matching: {"type": MARK_ONE, "index": notification id}
    MESSAGE = "notifications-message"
    IN_APP = "notifications-pref-in-app"
    EMAIL = "notifications-pref-email"
    SAVE = "notifications-pref-save"
    PREF_MESSAGE = "notifications-pref-message"
    PREFS = "notifications-prefs"
    SAVED = "notifications-pref-saved"


class Events:
    STATUS = "events-status"
    TYPE = "events-type"
    TABLE = "events-table"
    EMAILS = "events-emails"
    MESSAGE = "events-message"
    REPLAY = "events-replay"  # pattern-matching: {"type": REPLAY, "index": event id}


class EmbedsPage:
    TABLE = "embeds-table"
    MESSAGE = "embeds-message"
    REFRESH = "embeds-refresh"
    # pattern-matching: {"type": <one of these>, "index": embed id}
    REVOKE = "embeds-revoke"
    DELETE = "embeds-delete"


class Audit:
    FAMILY = "audit-family"
    WHO = "audit-who"
    START = "audit-start"
    END = "audit-end"
    TABLE = "audit-table"
    MESSAGE = "audit-message"
    COUNT = "audit-count"
    CSV = "audit-csv"
    DOWNLOAD = "audit-download"


class Privacy:
    EXPORT = "privacy-export"
    EXPORT_JOB = "privacy-export-job"
    EXPORT_POLL = "privacy-export-poll"
    EXPORT_PROGRESS = "privacy-export-progress"
    EXPORT_STATUS = "privacy-export-status"
    SLUG = "privacy-slug"
    DELETE = "privacy-delete"
    DELETE_STATUS = "privacy-delete-status"
    RAW_DAYS = "privacy-raw-days"
    CONVERSION_DAYS = "privacy-conversion-days"
    RETENTION_SAVE = "privacy-retention-save"
    RETENTION_STATUS = "privacy-retention-status"


class Team:
    TABLE = "team-table"
    MESSAGE = "team-message"
    ROLE = "team-role"  # pattern-matching: {"type": ROLE, "index": user id}
    SAVE = "team-save"  # pattern-matching: {"type": SAVE, "index": user id}
    INVITE_EMAIL = "team-invite-email"
    INVITE_ROLE = "team-invite-role"
    INVITE_SPONSOR = "team-invite-sponsor"
    INVITE = "team-invite"
    PENDING = "team-pending"
    REMOVE = "team-remove"  # pattern-matching: {"type": REMOVE, "index": user id}
    REMOVE_CONFIRM = "team-remove-confirm"
    REMOVE_STATUS = "team-remove-status"

class Live:
    POLL = "live-poll"
    MESSAGE = "live-message"
    KPIS = "live-kpis"
    HITS_MINUTE = "live-hits-minute"
    HITS_NOW = "live-hits-now"
    HITS_HOUR = "live-hits-hour"
    CONVERSIONS_HOUR = "live-conversions-hour"
    CHART = "live-chart"
    EPISODES = "live-episodes"
    APPS = "live-apps"
    COUNTRIES = "live-countries"
    RECENT = "live-recent"
