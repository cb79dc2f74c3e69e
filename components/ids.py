"""Component ids, one namespace per page, so two pages never collide."""


class Shell:
    URL = "shell-url"
    TENANT = "shell-tenant"
    USER = "shell-user"
    NAV = "shell-nav"


class Overview:
    PERIOD = "overview-period"
    KPIS = "overview-kpis"
    CHART = "overview-downloads-chart"
    MESSAGE = "overview-message"


class ApiKeys:
    NAME = "apikeys-name"
    SCOPES = "apikeys-scopes"
    CREATE = "apikeys-create"
    NEW_KEY = "apikeys-new-key"
    MESSAGE = "apikeys-message"
    TABLE = "apikeys-table"
    REVOKE = "apikeys-revoke"  # pattern-matching: {"type": REVOKE, "index": key id}


class Methodology:
    BODY = "methodology-body"
    URL = "methodology-url"


class Settings:
    WINDOW = "settings-window"
    TIMEZONE = "settings-timezone"
    SAVE = "settings-save"
    MESSAGE = "settings-message"


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
